package portal

import (
	"bufio"
	"bytes"
	"errors"
	"net/textproto"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

const base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="

// mediaFixture is 300 bytes of every octet value, so that base64 needs several lines.
func mediaFixture() []byte {
	b := make([]byte, 300)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestMediaBothWays(t *testing.T) {
	from := cpim.Address{URI: "im:alice@im.example.org"}
	to := cpim.Address{URI: "im:bob@example.net"}
	data := mediaFixture()
	for _, tc := range []struct {
		name        string
		in          event.MessageEventContent
		wireType    string
		disposition string
		back        event.MessageType
		body        string
	}{
		{"image without caption",
			event.MessageEventContent{MsgType: event.MsgImage, Body: "cat.png", Info: &event.FileInfo{MimeType: "image/png"}},
			"image/png", `attachment; filename=cat.png`, event.MsgImage, "cat.png"},
		{"file with caption and non-ASCII name",
			event.MessageEventContent{MsgType: event.MsgFile, Body: "the report", FileName: "Bericht für 2026.pdf", Info: &event.FileInfo{MimeType: "application/pdf"}},
			"multipart/mixed", `attachment; filename*=utf-8''Bericht%20f%C3%BCr%202026.pdf`, event.MsgFile, "the report"},
		{"audio without mimetype is sniffed",
			event.MessageEventContent{MsgType: event.MsgAudio, Body: "noise.bin"},
			"application/octet-stream", `attachment; filename=noise.bin`, event.MsgFile, "noise.bin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire := MediaToCPIM(from, to, OutgoingMedia(&tc.in, data), Relation{}).Bytes()
			m, err := cpim.Parse(wire)
			if err != nil {
				t.Fatalf("not conformant: %v\n%s", err, wire)
			}
			if got := m.Content.Type(); got != tc.wireType {
				t.Errorf("Content-Type %q, want %q", got, tc.wireType)
			}
			if !bytes.Contains(wire, []byte("Content-Disposition: "+tc.disposition+"\r\n")) {
				t.Errorf("no Content-Disposition: %s in\n%s", tc.disposition, wire)
			}
			// Base64 lines are at most 76 characters (RFC 2045 §6.8); header fields may be longer.
			for _, line := range strings.Split(string(wire), "\r\n") {
				if strings.Trim(line, base64Alphabet) == "" && len(line) > base64Line {
					t.Errorf("base64 line of %d characters: %q", len(line), line)
				}
			}
			in, err := FromCPIM(m)
			if err != nil {
				t.Fatal(err)
			}
			if in.Kind != KindMessage || in.Media == nil || !bytes.Equal(in.Media.Data, data) {
				t.Fatalf("FromCPIM = %+v, want the file back", in)
			}
			c := in.Content
			wantName := tc.in.FileName
			if wantName == "" {
				wantName = tc.in.Body
			}
			if c.MsgType != tc.back || c.Body != tc.body || c.FileName != wantName || c.Info.Size != len(data) || c.URL != "" {
				t.Errorf("content = %+v, want %s %q named %q", c, tc.back, tc.body, wantName)
			}
		})
	}
}

func TestEncodeBase64Lines(t *testing.T) {
	for _, n := range []int{0, 1, 56, 57, 58, 114, 1000} {
		data := bytes.Repeat([]byte{0xfb}, n)
		enc := encodeBase64(data)
		if !bytes.HasSuffix(enc, []byte("\r\n")) {
			t.Errorf("%d bytes: encoding does not end in CRLF", n)
		}
		lines := strings.Split(strings.TrimSuffix(string(enc), "\r\n"), "\r\n")
		for i, l := range lines {
			if len(l) > base64Line || i < len(lines)-1 && len(l) != base64Line {
				t.Errorf("%d bytes: line %d has %d characters", n, i+1, len(l))
			}
		}
		md, err := fileEntity("image/png", "base64", "", enc)
		if err != nil || !bytes.Equal(md.Data, data) {
			t.Errorf("%d bytes: round trip = %v, %v", n, md, err)
		}
	}
}

func TestIncomingMedia(t *testing.T) {
	mixedBody := "--b\r\nContent-Type: text/plain\r\n\r\nlook\r\n--b\r\nContent-Type: image/jpeg\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Disposition: attachment; filename=\"a b.jpg\"\r\n\r\n=FF=D8x\r\n--b--\r\n"
	for _, tc := range []struct {
		name    string
		header  []cpim.Field
		body    string
		msgType event.MessageType
		file    string
		caption string
		data    string
		err     error // nil: no error; ErrUnsupported: wraps it; other: any other error
	}{
		{"binary image without name", []cpim.Field{{Name: "Content-Type", Value: "image/gif"}}, "GIF89a", event.MsgImage, "image.gif", "", "GIF89a", nil},
		{"base64 video", []cpim.Field{{Name: "Content-Type", Value: "video/mp4"}, {Name: "Content-Transfer-Encoding", Value: "BASE64"}, {Name: "Content-Disposition", Value: "inline; filename=clip.mp4"}}, "AAEC\r\nAw==\r\n", event.MsgVideo, "clip.mp4", "", "\x00\x01\x02\x03", nil},
		{"mixed caption and quoted-printable file", []cpim.Field{{Name: "Content-Type", Value: "multipart/mixed; boundary=b"}}, mixedBody, event.MsgImage, "a b.jpg", "look", "\xff\xd8x", nil},
		{"unknown encoding", []cpim.Field{{Name: "Content-Type", Value: "audio/ogg"}, {Name: "Content-Transfer-Encoding", Value: "x-uuencode"}}, "x", "", "", "", "", ErrUnsupported},
		{"bad base64", []cpim.Field{{Name: "Content-Type", Value: "application/pdf"}, {Name: "Content-Transfer-Encoding", Value: "base64"}}, "!!!!", "", "", "", "", errors.New("any")},
		{"mixed without file", []cpim.Field{{Name: "Content-Type", Value: "multipart/mixed; boundary=b"}}, "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n", "", "", "", "", ErrUnsupported},
		{"mixed with two files", []cpim.Field{{Name: "Content-Type", Value: "multipart/mixed; boundary=b"}}, "--b\r\nContent-Type: image/png\r\n\r\n1\r\n--b\r\nContent-Type: image/png\r\n\r\n2\r\n--b--\r\n", "", "", "", "", ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := cpim.NewText(cpim.Address{URI: "im:bob@example.net"}, cpim.Address{URI: "im:alice@im.example.org"}, "")
			m.Content = cpim.Content{Header: tc.header, Body: []byte(tc.body)}
			in, err := FromCPIM(m)
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("FromCPIM: %v", err)
			case tc.err != nil && err == nil:
				t.Fatalf("FromCPIM = %+v, want an error", in)
			case errors.Is(tc.err, ErrUnsupported) && !errors.Is(err, ErrUnsupported):
				t.Fatalf("FromCPIM: %v, want ErrUnsupported", err)
			case tc.err != nil:
				return
			}
			c := in.Content
			if in.Media == nil || string(in.Media.Data) != tc.data || c.MsgType != tc.msgType || c.FileName != tc.file || in.Media.Caption != tc.caption {
				t.Errorf("FromCPIM = %+v %+v, want %s %q caption %q data %q", in.Media, c, tc.msgType, tc.file, tc.caption, tc.data)
			}
		})
	}
}

func TestMediaEditRefused(t *testing.T) {
	m := cpim.NewText(cpim.Address{URI: "im:bob@example.net"}, cpim.Address{URI: "im:alice@im.example.org"}, "")
	m.Content = cpim.Content{Header: []cpim.Field{{Name: "Content-Type", Value: "image/png"}}, Body: []byte("x")}
	m.Add(Namespace, Prefix, HeaderReplaces, "M1")
	if _, err := FromCPIM(m); !errors.Is(err, ErrUnsupported) {
		t.Errorf("edit with a file: %v, want ErrUnsupported", err)
	}
}

func TestMediaLinkBothWays(t *testing.T) {
	from := cpim.Address{URI: "im:alice@im.example.org"}
	to := cpim.Address{URI: "im:bob@example.net"}
	const link = "https://bridge.example.org/_mautrix/publicmedia/im.example.org/AbCdEfGhIjKlMnOpQrStUvWx/bU9yZS1ieXRlcy1vZi1jaGVja3N1bQ/Bericht%20f%C3%BCr%202026.pdf"
	for _, tc := range []struct {
		name    string
		in      event.MessageEventContent
		size    int
		caption string
	}{
		{"video without caption", event.MessageEventContent{MsgType: event.MsgVideo, Body: "clip.mp4", Info: &event.FileInfo{MimeType: "video/mp4"}}, 5 << 20, ""},
		{"file with caption", event.MessageEventContent{MsgType: event.MsgFile, Body: "the report", FileName: "Bericht für 2026.pdf", Info: &event.FileInfo{MimeType: "application/pdf"}}, 300000, "the report"},
		{"unknown size and type", event.MessageEventContent{MsgType: event.MsgFile, Body: "blob"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := OutgoingMedia(&tc.in, nil)
			md.URL, md.Size = link, tc.size
			wire := MediaToCPIM(from, to, md, Relation{InReplyTo: "M1"}).Bytes()
			m, err := cpim.Parse(wire)
			if err != nil {
				t.Fatalf("not conformant: %v\n%s", err, wire)
			}
			// The URL is split so that the Content-Type field stays within 78-character lines.
			inField := false
			for _, line := range strings.Split(string(wire), "\r\n") {
				inField = strings.HasPrefix(line, "Content-Type: message/external-body") || inField && strings.HasPrefix(line, " ")
				if inField && len(line) > 78 {
					t.Errorf("line of %d characters: %q", len(line), line)
				}
			}
			if !bytes.Contains(wire, []byte("Content-Type: message/external-body; access-type=URL")) || !bytes.Contains(wire, []byte("\r\nContent-ID: <")) {
				t.Errorf("no external-body with a Content-ID in\n%s", wire)
			}
			if bytes.Contains(wire, []byte("Content-Transfer-Encoding")) {
				t.Errorf("a link has no transfer encoding:\n%s", wire)
			}
			in, err := FromCPIM(m)
			if err != nil {
				t.Fatal(err)
			}
			got := in.Media
			wantType := "application/octet-stream"
			if tc.in.Info != nil {
				wantType = tc.in.Info.MimeType
			}
			if got == nil || got.URL != link || got.Size != tc.size || got.Data != nil || got.MimeType != wantType || got.Filename != md.Filename || got.Caption != tc.caption || in.InReplyTo != "M1" {
				t.Fatalf("FromCPIM media = %+v, want %+v", got, md)
			}
		})
	}
}

func TestIncomingLink(t *testing.T) {
	inner := "Content-Type: image/jpeg\r\nContent-ID: <x@gw.example.net>\r\nContent-Disposition: attachment; filename=\"a b.jpg\"\r\n\r\n"
	for _, tc := range []struct {
		name, ctype, body string
		url, mimeType     string
		size              int
		file              string
		err               error // nil: no error; ErrUnsupported: wraps it; other: any other error
	}{
		{"split URL, size", `message/external-body; access-type=url; size=1234; URL="https://gw.example.net/f/ 0123456789	/a.jpg"`, inner,
			"https://gw.example.net/f/0123456789/a.jpg", "image/jpeg", 1234, "a b.jpg", nil},
		{"no encapsulated header, bad size", `message/external-body; access-type=URL; size=-3; url="http://gw.example.net/x"`, "",
			"http://gw.example.net/x", "text/plain", 0, "", nil},
		{"header without blank line", `message/external-body; access-type=URL; URL="https://gw.example.net/x"`, "Content-Type: audio/ogg\r\n",
			"https://gw.example.net/x", "audio/ogg", 0, "", nil},
		{"other access-type", `message/external-body; access-type=anon-ftp; site=gw.example.net; name=a.jpg`, inner, "", "", 0, "", ErrUnsupported},
		{"ftp URL", `message/external-body; access-type=URL; URL="ftp://gw.example.net/a.jpg"`, inner, "", "", 0, "", ErrUnsupported},
		{"unquoted URL", `message/external-body; access-type=URL; URL=https://gw.example.net/a.jpg`, inner, "", "", 0, "", errors.New("any")},
		{"relative URL", `message/external-body; access-type=URL; URL="/a.jpg"`, inner, "", "", 0, "", errors.New("any")},
		{"no URL", `message/external-body; access-type=URL`, inner, "", "", 0, "", errors.New("any")},
		{"linked multipart", `message/external-body; access-type=URL; URL="https://gw.example.net/x"`, "Content-Type: multipart/mixed; boundary=b\r\n\r\n", "", "", 0, "", ErrUnsupported},
		{"bad encapsulated header", `message/external-body; access-type=URL; URL="https://gw.example.net/x"`, "not a header\r\n\r\n", "", "", 0, "", errors.New("any")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := cpim.NewText(cpim.Address{URI: "im:bob@example.net"}, cpim.Address{URI: "im:alice@im.example.org"}, "")
			m.Content = cpim.Content{Header: []cpim.Field{{Name: "Content-Type", Value: tc.ctype}}, Body: []byte(tc.body)}
			in, err := FromCPIM(m)
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("FromCPIM: %v", err)
			case tc.err != nil && err == nil:
				t.Fatalf("FromCPIM = %+v, want an error", in.Media)
			case errors.Is(tc.err, ErrUnsupported) && !errors.Is(err, ErrUnsupported):
				t.Fatalf("FromCPIM: %v, want ErrUnsupported", err)
			case tc.err != nil:
				return
			}
			md := in.Media
			if md == nil || md.URL != tc.url || md.MimeType != tc.mimeType || md.Size != tc.size || md.Filename != tc.file || md.Data != nil {
				t.Errorf("FromCPIM media = %+v, want %s %s size %d named %q", md, tc.url, tc.mimeType, tc.size, tc.file)
			}
		})
	}
}

func TestLinkInMixed(t *testing.T) {
	body := "--b\r\nContent-Type: text/plain\r\n\r\nthe slides\r\n--b\r\nContent-Type: message/external-body; access-type=URL;\r\n URL=\"https://gw.example.net/\r\n s.pdf\"\r\n\r\nContent-Type: application/pdf\r\n\r\n\r\n--b--\r\n"
	m := cpim.NewText(cpim.Address{URI: "im:bob@example.net"}, cpim.Address{URI: "im:alice@im.example.org"}, "")
	m.Content = cpim.Content{Header: []cpim.Field{{Name: "Content-Type", Value: "multipart/mixed; boundary=b"}}, Body: []byte(body)}
	in, err := FromCPIM(m)
	if err != nil {
		t.Fatal(err)
	}
	if md := in.Media; md == nil || md.URL != "https://gw.example.net/s.pdf" || md.MimeType != "application/pdf" || md.Caption != "the slides" {
		t.Errorf("FromCPIM media = %+v", md)
	}
}

func TestQuoteURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://a.example/x?y=1&z=%20": "https://a.example/x?y=1&z=%20",
		"https://a.example/a b\"c\\d":   "https://a.example/a%20b%22c%5Cd",
		"https://a.example/ü\t":         "https://a.example/%C3%BC%09",
	} {
		if got := quoteURL(in); got != want {
			t.Errorf("quoteURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzIncomingMedia: any content a gateway sends either fails cleanly or gives a file that is
// inline or a link to an absolute http(s) URL without whitespace.
func FuzzIncomingMedia(f *testing.F) {
	f.Add(`message/external-body; access-type=URL; size=10; URL="https://gw.example.net/ a"`, "Content-Type: image/png\r\n\r\n")
	f.Add("multipart/mixed; boundary=b", "--b\r\nContent-Type: message/external-body; access-type=URL; URL=\"http://x/y\"\r\n\r\n\r\n--b--\r\n")
	f.Add("image/png", "x")
	f.Fuzz(func(t *testing.T, ctype, body string) {
		md, err := incomingMedia(&cpim.Content{Header: []cpim.Field{{Name: "Content-Type", Value: ctype}}, Body: []byte(body)})
		if err != nil || md == nil {
			return
		}
		if md.URL != "" && (md.Data != nil || strings.ContainsAny(md.URL, " \t\r\n") || !strings.HasPrefix(strings.ToLower(md.URL), "http")) {
			t.Errorf("link %+v", md)
		}
	})
}

func TestLinkContentID(t *testing.T) {
	for link, want := range map[string]string{
		"https://bridge.example.org/f": "@bridge.example.org>",
		"https://[2001:db8::1]:8443/f": "@[2001:db8::1]>",
	} {
		c := (&Media{URL: link, MimeType: "image/png"}).Content()
		if id := mustHeader(t, c.Body).Get("Content-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, want) {
			t.Errorf("%s: Content-ID %q, want one ending in %q", link, id, want)
		}
	}
}

// mustHeader reads the encapsulated header of a message/external-body.
func mustHeader(t *testing.T, body []byte) textproto.MIMEHeader {
	t.Helper()
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(body))).ReadMIMEHeader()
	if err != nil {
		t.Fatal(err)
	}
	return h
}
