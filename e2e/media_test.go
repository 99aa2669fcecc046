package e2e

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strconv"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/internal/dbtest"
	"github.com/matrix-cpim/matrix-cpim/internal/devbridge"
)

// TestMedia carries files both ways (docs/extensions.md §5): an image inline; a file over
// network.media.inline_max as a link the bridge serves (public_media), which the gateway fetches;
// a gateway's link, which the bridge fetches before it accepts the message. Files over
// network.media.max_size, and links that do not work, are refused before they are accepted.
func TestMedia(t *testing.T) {
	db := dbtest.Backends(t)[0]
	gw := newTestGateway(t)
	const inlineMax, maxSize = 1024, 4096
	hs, b := startWithPartner(t, db, gw.srv.URL, map[string]any{"media": map[string]any{
		"inline_max": inlineMax, "max_size": maxSize, "large": "link",
		// The gateway's file server below is on loopback, over http.
		"fetch": map[string]any{"allow_http": true, "allow_private": []any{"127.0.0.1"}},
	}}, publicMedia)

	alice := hs.RegisterUser(t, "alice")
	aliceIM := "im:alice@" + hs.ServerName
	bob := cpim.Address{Name: "Bob Example", URI: "im:bob@example.net"}
	bobGhost := id.NewUserID("cpim_bob=40example.net", hs.ServerName)
	seen := map[id.RoomID]bool{}
	mgmt := openManagementRoom(t, alice, id.NewUserID("cpimbot", hs.ServerName))
	seen[mgmt] = true
	sendText(t, alice, mgmt, "start-chat im:bob@example.net")
	room := waitInvite(t, alice, seen)

	// Outbound: the file inline in base64, with its type and name.
	sent := testPNG(t, color.RGBA{R: 200, A: 255})
	up, err := alice.UploadBytes(t.Context(), sent, "image/png")
	if err != nil {
		t.Fatal(err)
	}
	if _, err = alice.SendMessageEvent(t.Context(), room, event.EventMessage, &event.MessageEventContent{
		MsgType: event.MsgImage, Body: "dot.png", URL: up.ContentURI.CUString(),
		Info: &event.FileInfo{MimeType: "image/png", Size: len(sent)},
	}); err != nil {
		t.Fatal(err)
	}
	m := nextCPIM(t, gw)
	_, disp, _ := mime.ParseMediaType(m.Content.Get("Content-Disposition"))
	if m.Content.Type() != "image/png" || m.Content.Get("Content-Transfer-Encoding") != "base64" || disp["filename"] != "dot.png" {
		t.Errorf("image went out with %+v", m.Content.Header)
	}
	if got, err := base64.StdEncoding.DecodeString(string(m.Content.Body)); err != nil || !bytes.Equal(got, sent) {
		t.Errorf("image bytes differ after decoding (%v)", err)
	}

	// Inbound: the ghost's m.image, whose bytes are the ones the gateway sent.
	posted := testPNG(t, color.RGBA{B: 200, A: 255})
	in := inlineFile(bob, aliceIM, "BOBIMG1", "image/png", "bob.png", posted)
	postCPIM(t, b, in)
	img := waitMessage(t, alice, room, "image from bob", func(e *event.Event, c *event.MessageEventContent) bool {
		return e.Sender == bobGhost && c.MsgType == event.MsgImage
	})
	c := img.Content.AsMessage()
	if c.Body != "bob.png" || c.Info == nil || c.Info.MimeType != "image/png" || c.Info.Size != len(posted) {
		t.Errorf("bob's image: body %q info %+v", c.Body, c.Info)
	}
	mxc, err := c.URL.Parse()
	if err != nil {
		t.Fatalf("bob's image URL %q: %v", c.URL, err)
	}
	got, err := alice.DownloadBytes(t.Context(), mxc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, posted) {
		t.Errorf("downloaded %d bytes, want the %d the gateway sent", len(got), len(posted))
	}

	// Over network.media.max_size: refused, not accepted and lost.
	big := inlineFile(bob, aliceIM, "BOBIMG2", "application/octet-stream", "big.bin", make([]byte, maxSize+1))
	if code, resp := post(t, b.URL+"/_cpim/v1/message", tokenIn, "message/cpim", "", big.Bytes()); code != http.StatusRequestEntityTooLarge {
		t.Errorf("file over max_size: %d %s, want 413", code, resp)
	}

	// Outbound over inline_max: a link the gateway can fetch, after the caption.
	large := bytes.Repeat([]byte("large file "), 200)
	up, err = alice.UploadBytes(t.Context(), large, "application/octet-stream")
	if err != nil {
		t.Fatal(err)
	}
	if _, err = alice.SendMessageEvent(t.Context(), room, event.EventMessage, &event.MessageEventContent{
		MsgType: event.MsgFile, Body: "the large one", FileName: "large.bin", URL: up.ContentURI.CUString(),
		Info: &event.FileInfo{MimeType: "application/octet-stream", Size: len(large)},
	}); err != nil {
		t.Fatal(err)
	}
	caption, link, inner := linkParts(t, nextCPIM(t, gw))
	if caption != "the large one" {
		t.Errorf("caption %q", caption)
	}
	_, disp, _ = mime.ParseMediaType(inner.Get("Content-Disposition"))
	if link.params["size"] != strconv.Itoa(len(large)) || inner.Get("Content-Type") != "application/octet-stream" || inner.Get("Content-ID") == "" || disp["filename"] != "large.bin" {
		t.Errorf("link parameters %v, encapsulated header %v", link.params, inner)
	}
	if got := fetch(t, link.url); !bytes.Equal(got, large) {
		t.Errorf("the link %s gave %d bytes, want the %d sent", link.url, len(got), len(large))
	}

	// Inbound link: fetched by the bridge, uploaded by the ghost.
	doc := bytes.Repeat([]byte("%PDF-1.7 "), 300)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/doc.pdf" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(doc)
	}))
	defer files.Close()
	postCPIM(t, b, linkedFile(bob, aliceIM, "BOBDOC1", files.URL+"/doc.pdf", "application/pdf", "doc.pdf"))
	file := waitMessage(t, alice, room, "file from bob", func(e *event.Event, c *event.MessageEventContent) bool {
		return e.Sender == bobGhost && c.MsgType == event.MsgFile
	})
	c = file.Content.AsMessage()
	if c.Body != "doc.pdf" || c.Info == nil || c.Info.MimeType != "application/pdf" || c.Info.Size != len(doc) {
		t.Errorf("bob's file: body %q info %+v", c.Body, c.Info)
	}
	if mxc, err = c.URL.Parse(); err != nil {
		t.Fatalf("bob's file URL %q: %v", c.URL, err)
	}
	if got, err = alice.DownloadBytes(t.Context(), mxc); err != nil || !bytes.Equal(got, doc) {
		t.Errorf("downloaded %d bytes (%v), want the %d the link served", len(got), err, len(doc))
	}

	// A link that does not work is refused, with the reason.
	dead := linkedFile(bob, aliceIM, "BOBDOC2", files.URL+"/missing.pdf", "application/pdf", "missing.pdf")
	if code, resp := post(t, b.URL+"/_cpim/v1/message", tokenIn, "message/cpim", "", dead.Bytes()); code != http.StatusBadRequest || !strings.Contains(resp, "404") {
		t.Errorf("dead link: %d %s, want 400 naming the 404", code, resp)
	}
}

// publicMedia turns on bridgev2's public media, served at the bridge's own address, so that large
// files go out as links (docs/extensions.md §5.2). It fits startWithPartner's adjust.
func publicMedia(t *testing.T, b *bridgeProc) {
	b.editConfig(t, func(cfg map[string]any) {
		devbridge.Set(cfg, b.URL, "appservice", "public_address")
		cfg["public_media"] = map[string]any{"enabled": true, "signing_key": "generate", "hash_length": 32, "use_database": true, "path_prefix": "/_mautrix/publicmedia"}
	})
}

// externalLink is a message/external-body with access-type URL as a gateway reads it.
type externalLink struct {
	params map[string]string
	url    string
}

// linkParts reads an outbound message of a caption and a linked file as a gateway would, without
// the bridge's code: the caption, the link (its URL put back together, RFC 2017 §3.1) and the
// encapsulated header.
func linkParts(t *testing.T, m *cpim.Message) (string, externalLink, textproto.MIMEHeader) {
	t.Helper()
	if m.Content.Type() != "multipart/mixed" {
		t.Fatalf("a captioned link went out as %s", m.Content.Type())
	}
	r := multipart.NewReader(bytes.NewReader(m.Content.Body), m.Content.TypeParams()["boundary"])
	var caption string
	var link externalLink
	var inner textproto.MIMEHeader
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(p)
		mt, params, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			t.Fatalf("part Content-Type %q: %v", p.Header.Get("Content-Type"), err)
		}
		switch mt {
		case "text/plain":
			caption = string(body)
		case "message/external-body":
			if !strings.EqualFold(params["access-type"], "URL") {
				t.Fatalf("access-type %q", params["access-type"])
			}
			link = externalLink{params: params, url: strings.Join(strings.Fields(params["url"]), "")}
			if inner, err = textproto.NewReader(bufio.NewReader(bytes.NewReader(body))).ReadMIMEHeader(); err != nil {
				t.Fatalf("encapsulated header: %v\n%s", err, body)
			}
		default:
			t.Fatalf("unexpected part %s", mt)
		}
	}
	if link.url == "" {
		t.Fatalf("no message/external-body in\n%s", m.Bytes())
	}
	return caption, link, inner
}

// fetch gets a URL as a gateway would, without credentials.
func fetch(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", u, resp.Status, err)
	}
	return data
}

// linkedFile is a message from a gateway that links to a file (RFC 2046 §5.2.3, RFC 2017).
func linkedFile(from cpim.Address, to, mid, link, ctype, name string) *cpim.Message {
	m := cpim.NewText(from, cpim.Address{URI: to}, "")
	m.Content = cpim.Content{
		Header: []cpim.Field{{Name: "Content-Type", Value: `message/external-body; access-type=URL; URL="` + link + `"`}},
		Body:   []byte("Content-Type: " + ctype + "\r\nContent-ID: <" + mid + "@example.net>\r\nContent-Disposition: attachment; filename=" + name + "\r\n\r\n"),
	}
	m.Set(imdn.Namespace, imdn.Prefix, imdn.HeaderMessageID, mid)
	return m
}

// inlineFile is a message from a gateway that carries a file inline in base64.
func inlineFile(from cpim.Address, to, mid, ctype, name string, data []byte) *cpim.Message {
	m := cpim.NewText(from, cpim.Address{URI: to}, "")
	m.Content = cpim.Content{Header: []cpim.Field{
		{Name: "Content-Type", Value: ctype},
		{Name: "Content-Transfer-Encoding", Value: "base64"},
		{Name: "Content-Disposition", Value: mime.FormatMediaType("attachment", map[string]string{"filename": name})},
	}, Body: []byte(base64.StdEncoding.EncodeToString(data))}
	m.Set(imdn.Namespace, imdn.Prefix, imdn.HeaderMessageID, mid)
	return m
}

// testPNG encodes a 4×4 image of one colour.
func testPNG(t *testing.T, c color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for i := range 16 {
		img.Set(i%4, i/4, c)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
