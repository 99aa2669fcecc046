package e2e

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"mime"
	"net/http"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/internal/dbtest"
)

// TestMedia carries an image both ways inline (docs/extensions.md §5) and checks that a file over
// network.media.max_size is refused with 413 before it is accepted.
func TestMedia(t *testing.T) {
	db := dbtest.Backends(t)[0]
	gw := newTestGateway(t)
	const maxSize = 4096
	hs, b := startWithPartner(t, db, gw.srv.URL, map[string]any{"media": map[string]any{"max_size": maxSize}})

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
