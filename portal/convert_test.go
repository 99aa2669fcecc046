package portal

import (
	"errors"
	"testing"

	"maunium.net/go/mautrix/event"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

func TestTextBothWays(t *testing.T) {
	from := cpim.Address{URI: "im:alice@im.example.org"}
	to := cpim.Address{URI: "im:bob@example.net"}
	for _, tc := range []struct {
		in   event.MessageEventContent
		wire string
		back event.MessageType
	}{
		{event.MessageEventContent{MsgType: event.MsgText, Body: "hello\nworld ✓"}, "hello\nworld ✓", event.MsgText},
		{event.MessageEventContent{MsgType: event.MsgNotice, Body: "notice"}, "notice", event.MsgText},
		{event.MessageEventContent{MsgType: event.MsgEmote, Body: "waves"}, "/me waves", event.MsgEmote},
	} {
		m, err := ToCPIM(from, to, &tc.in, Relation{})
		if err != nil {
			t.Fatalf("ToCPIM(%v): %v", tc.in.MsgType, err)
		}
		wire := m.Bytes()
		parsed, err := cpim.Parse(wire)
		if err != nil {
			t.Fatalf("ToCPIM(%v) is not conformant: %v\n%s", tc.in.MsgType, err, wire)
		}
		if parsed.From != from || len(parsed.To) != 1 || parsed.To[0] != to || string(parsed.Content.Body) != tc.wire || parsed.Content.Type() != "text/plain" {
			t.Errorf("ToCPIM(%v) = %s", tc.in.MsgType, wire)
		}
		in, err := FromCPIM(parsed)
		if err != nil {
			t.Fatal(err)
		}
		got := in.Content
		want := tc.in.Body
		if got.MsgType != tc.back || got.Body != want {
			t.Errorf("FromCPIM(ToCPIM(%v)) = %v %q, want %v %q", tc.in.MsgType, got.MsgType, got.Body, tc.back, want)
		}
	}
}

func TestToCPIMUnsupported(t *testing.T) {
	_, err := ToCPIM(cpim.Address{URI: "im:a@b"}, cpim.Address{URI: "im:c@d"}, &event.MessageEventContent{MsgType: event.MsgImage, Body: "x.png"}, Relation{})
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("image: err = %v, want ErrUnsupported", err)
	}
}

func TestFromCPIMContent(t *testing.T) {
	msg := func(ctype string, body string) *cpim.Message {
		m := &cpim.Message{From: cpim.Address{URI: "im:bob@example.net"}, To: []cpim.Address{{URI: "im:alice@im.example.org"}}}
		if ctype != "" {
			m.Content.Header = []cpim.Field{{Name: "Content-Type", Value: ctype}}
		}
		m.Content.Body = []byte(body)
		return m
	}
	for _, tc := range []struct {
		name    string
		m       *cpim.Message
		msgType event.MessageType
		body    string
		wantErr bool
	}{
		{"crlf becomes lf", msg("text/plain; charset=utf-8", "a\r\nb"), event.MsgText, "a\nb", false},
		{"no content type is text", msg("", "plain"), event.MsgText, "plain", false},
		{"us-ascii", msg("Text/Plain; charset=US-ASCII", "ascii"), event.MsgText, "ascii", false},
		{"other type becomes a notice", msg("model/vrml", "#VRML"), event.MsgNotice, "(a model/vrml message that this bridge cannot show)", false},
		{"latin-1 refused", msg("text/plain; charset=iso-8859-1", "caf\xe9"), "", "", true},
		{"invalid utf-8 refused", msg("text/plain; charset=utf-8", "caf\xe9"), "", "", true},
	} {
		in, err := FromCPIM(tc.m)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%s: no error", tc.name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if c := in.Content; c.MsgType != tc.msgType || c.Body != tc.body {
			t.Errorf("%s: got %v %q, want %v %q", tc.name, c.MsgType, c.Body, tc.msgType, tc.body)
		}
	}
}
