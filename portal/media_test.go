package portal

import (
	"bytes"
	"errors"
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
			wire := MediaToCPIM(from, to, &tc.in, data, Relation{}).Bytes()
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
