package portal

import (
	"strings"
	"testing"

	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

var (
	alice = cpim.Address{URI: "im:alice@im.example.org"}
	bob   = cpim.Address{URI: "im:bob@example.net"}
)

// roundTrip serializes m, parses it strictly as a peer would, and converts it back.
func roundTrip(t *testing.T, m *cpim.Message) (*cpim.Message, *Incoming) {
	t.Helper()
	wire := m.Bytes()
	parsed, err := cpim.Parse(wire)
	if err != nil {
		t.Fatalf("not conformant CPIM: %v\n%s", err, wire)
	}
	in, err := FromCPIM(parsed)
	if err != nil {
		t.Fatalf("FromCPIM: %v\n%s", err, wire)
	}
	return parsed, in
}

func TestFormattedBothWays(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   event.MessageEventContent
	}{
		{"text", event.MessageEventContent{MsgType: event.MsgText, Body: "bold and plain", Format: event.FormatHTML, FormattedBody: "<b>bold</b> and plain"}},
		{"emote", event.MessageEventContent{MsgType: event.MsgEmote, Body: "waves", Format: event.FormatHTML, FormattedBody: "<i>waves</i>"}},
	} {
		parsed, in := roundTrip(t, must(ToCPIM(alice, bob, &tc.in, Relation{})))
		if parsed.Content.Type() != "multipart/alternative" {
			t.Errorf("%s: content type %q, want multipart/alternative", tc.name, parsed.Content.Type())
		}
		plain, rich, err := alternatives(parsed.Content.TypeParams()["boundary"], parsed.Content.Body)
		if err != nil || !strings.HasSuffix(plain, tc.in.Body) || !strings.HasSuffix(rich, tc.in.FormattedBody) {
			t.Errorf("%s: parts %q %q %v", tc.name, plain, rich, err)
		}
		if i := strings.Index(string(parsed.Content.Body), "text/plain"); i < 0 || i > strings.Index(string(parsed.Content.Body), "text/html") {
			t.Errorf("%s: text/plain is not the first part:\n%s", tc.name, parsed.Content.Body)
		}
		c := in.Content
		if c.MsgType != tc.in.MsgType || c.Body != tc.in.Body || c.Format != event.FormatHTML || c.FormattedBody != tc.in.FormattedBody {
			t.Errorf("%s: back %v %q %q %q", tc.name, c.MsgType, c.Body, c.Format, c.FormattedBody)
		}
	}
}

func TestFromCPIMHTML(t *testing.T) {
	msg := func(ctype, body string) *cpim.Message {
		m := cpim.NewText(bob, alice, body)
		m.Content.Set("Content-Type", ctype)
		return m
	}
	for _, tc := range []struct {
		name            string
		m               *cpim.Message
		body, formatted string
	}{
		{"html only", msg("text/html; charset=utf-8", "<p>Hi <b>Alice</b></p><script>x()</script>"), "Hi **Alice**", "<p>Hi <b>Alice</b></p>"},
		{"alternative, html last wins", msg("multipart/alternative; boundary=b", "--b\r\nContent-Type: text/plain\r\n\r\nHi Alice\r\n--b\r\nContent-Type: image/png\r\n\r\nxx\r\n--b\r\nContent-Type: text/html\r\n\r\n<u>Hi</u> Alice\r\n--b--\r\n"), "Hi Alice", "<u>Hi</u> Alice"},
		{"alternative, plain only", msg("multipart/alternative; boundary=b", "--b\r\n\r\njust text\r\n--b--\r\n"), "just text", ""},
	} {
		in, err := FromCPIM(tc.m)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if c := in.Content; c.Body != tc.body || c.FormattedBody != tc.formatted || (tc.formatted != "") != (c.Format == event.FormatHTML) {
			t.Errorf("%s: got %q %q %q, want %q %q", tc.name, c.Body, c.Format, c.FormattedBody, tc.body, tc.formatted)
		}
	}
	for _, tc := range []struct{ name, ctype, body string }{
		{"no boundary", "multipart/alternative", "x"},
		{"no text part", "multipart/alternative; boundary=b", "--b\r\nContent-Type: image/png\r\n\r\nxx\r\n--b--\r\n"},
		{"base64 part", "multipart/alternative; boundary=b", "--b\r\nContent-Transfer-Encoding: base64\r\n\r\naGk=\r\n--b--\r\n"},
		{"latin-1 html", "text/html; charset=iso-8859-1", "caf\xe9"},
		{"truncated", "multipart/alternative; boundary=b", "--b\r\n\r\nno end"},
	} {
		if _, err := FromCPIM(msg(tc.ctype, tc.body)); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestReplyBothWays(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   event.MessageEventContent
	}{
		{"plain", event.MessageEventContent{MsgType: event.MsgText, Body: "yes"}},
		{"client fallback replaced", event.MessageEventContent{MsgType: event.MsgText, Body: "> <@bob:hs> old\n\nyes", Format: event.FormatHTML, FormattedBody: "<mx-reply><blockquote>old</blockquote></mx-reply><b>yes</b>"}},
	} {
		m := must(ToCPIM(alice, bob, &tc.in, Relation{InReplyTo: "MSG1", Quote: "are you\ncoming?"}))
		parsed, in := roundTrip(t, m)
		if v, _ := parsed.Get(Namespace, HeaderInReplyTo); v != "MSG1" {
			t.Errorf("%s: In-Reply-To = %q", tc.name, v)
		}
		plain := string(parsed.Content.Body)
		if parsed.Content.Type() == "multipart/alternative" {
			plain, _, _ = alternatives(parsed.Content.TypeParams()["boundary"], parsed.Content.Body)
		}
		if !strings.HasPrefix(plain, "> are you\n> coming?\n\n") {
			t.Errorf("%s: fallback body %q does not quote the message", tc.name, plain)
		}
		if in.Kind != KindMessage || in.InReplyTo != "MSG1" || in.Content.Body != "yes" || strings.Contains(in.Content.FormattedBody, "old") {
			t.Errorf("%s: back %v %q %q %q", tc.name, in.Kind, in.InReplyTo, in.Content.Body, in.Content.FormattedBody)
		}
	}
}

func TestEditBothWays(t *testing.T) {
	m := must(ToCPIM(alice, bob, &event.MessageEventContent{MsgType: event.MsgText, Body: "fixed", Format: event.FormatHTML, FormattedBody: "<b>fixed</b>"}, Relation{Replaces: "MSG1"}))
	parsed, in := roundTrip(t, m)
	plain, _, _ := alternatives(parsed.Content.TypeParams()["boundary"], parsed.Content.Body)
	if plain != "✏️ fixed" {
		t.Errorf("fallback %q", plain)
	}
	if in.Kind != KindEdit || in.Target != "MSG1" || in.Content.Body != "fixed" || in.Content.FormattedBody != "<b>fixed</b>" {
		t.Errorf("back %v %q %q %q", in.Kind, in.Target, in.Content.Body, in.Content.FormattedBody)
	}
}

func TestReactionBothWays(t *testing.T) {
	parsed, in := roundTrip(t, NewReaction(alice, bob, "MSG1", "👍", "see you\nat 8"))
	if got := string(parsed.Content.Body); got != `reacted 👍 to "see you at 8"` {
		t.Errorf("fallback %q", got)
	}
	if in.Kind != KindReaction || in.Target != "MSG1" || in.Reaction != "👍" {
		t.Errorf("back %+v", in)
	}
}

func TestDeletionBothWays(t *testing.T) {
	parsed, in := roundTrip(t, NewDeletion(alice, bob, "MSG1", "", ""))
	if string(parsed.Content.Body) != "deleted a message" || in.Kind != KindDeletion || in.Target != "MSG1" || in.ReactionTo != "" {
		t.Errorf("deletion: %q %+v", parsed.Content.Body, in)
	}
	parsed, in = roundTrip(t, NewDeletion(alice, bob, "REACT1", "MSG1", "👍"))
	if string(parsed.Content.Body) != "withdrew the reaction 👍" || in.Kind != KindDeletion || in.Target != "REACT1" || in.ReactionTo != "MSG1" {
		t.Errorf("withdrawn reaction: %q %+v", parsed.Content.Body, in)
	}
}

func TestFromCPIMBadReferences(t *testing.T) {
	for _, tc := range []struct{ name, header, value string }{
		{"reply to a non-token", HeaderInReplyTo, "a b"},
		{"edit of a non-token", HeaderReplaces, "<x>"},
		{"reaction without key", HeaderReactionTo, "MSG1"},
	} {
		m := cpim.NewText(bob, alice, "x")
		m.Add(Namespace, Prefix, tc.header, tc.value)
		if _, err := FromCPIM(m); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	m := NewReaction(bob, alice, "MSG1", "👍", "")
	m.Set(Namespace, Prefix, HeaderReaction, strings.Repeat("x", maxReactionKey+1))
	if _, err := FromCPIM(m); err == nil {
		t.Errorf("long reaction key: no error")
	}
}

func TestStripQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"> a\n> b\n\nreply", "reply"},
		{">\n> a\n\nreply", "reply"},
		{"> a\nno blank line", "> a\nno blank line"},
		{">not a quote\n\nx", ">not a quote\n\nx"},
		{"plain", "plain"},
	} {
		if got := stripQuote(tc.in); got != tc.want {
			t.Errorf("stripQuote(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func must(m *cpim.Message, err error) *cpim.Message {
	if err != nil {
		panic(err)
	}
	return m
}

func TestMessageIDs(t *testing.T) {
	const self, bobID, carolID = networkid.UserID("alice@im.example.org"), networkid.UserID("bob@example.net"), networkid.UserID("carol@example.net")
	for _, tc := range []struct {
		name   string
		id     networkid.MessageID
		sender networkid.UserID
		want   string
	}{
		{"own message", "$evt%3Ahs", self, "$evt%3Ahs"},
		{"contact's message", InboundMessageID(bobID, "34jk324j"), bobID, "34jk324j"},
		{"contact's message claimed by another", InboundMessageID(bobID, "34jk324j"), carolID, ""},
		{"idempotency key", "reply-1", bobID, ""},
		{"nested slash", InboundMessageID(bobID, "a/b"), bobID, ""},
	} {
		if got := WireMessageID(tc.id, tc.sender, self); got != tc.want {
			t.Errorf("%s: WireMessageID(%q, %q) = %q, want %q", tc.name, tc.id, tc.sender, got, tc.want)
		}
	}
}
