package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/cpim/iscomposing"
	"github.com/matrix-cpim/matrix-cpim/internal/dbtest"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// TestRichMessaging carries formatting, the sender's displayname, replies, edits, reactions and
// deletions both ways between a Matrix user and a contact behind an HTTP gateway.
func TestRichMessaging(t *testing.T) {
	db := dbtest.Backends(t)[0]
	gw := newTestGateway(t)
	hs, b := startWithPartner(t, db, gw.srv.URL, nil)

	alice := hs.RegisterUser(t, "alice")
	if err := alice.SetDisplayName(t.Context(), "Alice Liddell"); err != nil {
		t.Fatal(err)
	}
	aliceIM := "im:alice@" + hs.ServerName
	bob := cpim.Address{Name: "Bob Example", URI: "im:bob@example.net"}
	bobGhost := id.NewUserID("cpim_bob=40example.net", hs.ServerName)
	seen := map[id.RoomID]bool{}
	mgmt := openManagementRoom(t, alice, id.NewUserID("cpimbot", hs.ServerName))
	seen[mgmt] = true
	sendText(t, alice, mgmt, "start-chat im:bob@example.net")
	room := waitInvite(t, alice, seen)

	// Outbound formatting and profile: multipart/alternative, plain first; From carries the name.
	resp, err := alice.SendMessageEvent(t.Context(), room, event.EventMessage, &event.MessageEventContent{
		MsgType: event.MsgText, Body: "see you at 8", Format: event.FormatHTML, FormattedBody: "see you at <b>8</b>",
	})
	if err != nil {
		t.Fatal(err)
	}
	first := resp.EventID
	m := nextCPIM(t, gw)
	if m.From.Name != "Alice Liddell" || m.From.URI != aliceIM {
		t.Errorf("From = %+v, want Alice Liddell <%s>", m.From, aliceIM)
	}
	if body := string(m.Content.Body); m.Content.Type() != "multipart/alternative" ||
		strings.Index(body, "text/plain") > strings.Index(body, "text/html") || !strings.Contains(body, "see you at <b>8</b>") {
		t.Errorf("formatted message went out as %s:\n%s", m.Content.Type(), body)
	}
	firstID := imdn.MessageID(m)

	// Inbound formatting, sanitized.
	postCPIM(t, b, bobMessage(bob, aliceIM, "BOB1", "text/html; charset=utf-8", "<p>I'll <i>bring</i> cake</p><script>steal()</script>"))
	bob1 := waitMessage(t, alice, room, "formatted message from bob", func(e *event.Event, c *event.MessageEventContent) bool {
		return e.Sender == bobGhost && c.Format == event.FormatHTML && strings.Contains(c.FormattedBody, "<i>bring</i>")
	})
	if c := bob1.Content.AsMessage(); strings.Contains(c.FormattedBody, "script") || !strings.Contains(c.Body, "cake") {
		t.Errorf("bob's message = %q / %q, want sanitized HTML and a plain body", c.Body, c.FormattedBody)
	}

	// Outbound reply, reaction, edit, deletion: each names its target by Message-ID.
	reply := &event.MessageEventContent{MsgType: event.MsgText, Body: "great"}
	reply.RelatesTo = (&event.RelatesTo{}).SetReplyTo(bob1.ID)
	if _, err = alice.SendMessageEvent(t.Context(), room, event.EventMessage, reply); err != nil {
		t.Fatal(err)
	}
	m = nextCPIM(t, gw)
	if v, _ := m.Get(portal.Namespace, portal.HeaderInReplyTo); v != "BOB1" || !strings.HasPrefix(string(m.Content.Body), "> I'll") || !strings.Contains(string(m.Content.Body), "cake") || !strings.HasSuffix(string(m.Content.Body), "\n\ngreat") {
		t.Errorf("reply: In-Reply-To %q, body %q", v, m.Content.Body)
	}
	if _, err = alice.SendReaction(t.Context(), room, bob1.ID, "👍"); err != nil {
		t.Fatal(err)
	}
	m = nextCPIM(t, gw)
	if v, _ := m.Get(portal.Namespace, portal.HeaderReactionTo); v != "BOB1" || !strings.HasPrefix(string(m.Content.Body), "reacted 👍") {
		t.Errorf("reaction: Reaction-To %q, body %q", v, m.Content.Body)
	}
	edit := &event.MessageEventContent{MsgType: event.MsgText, Body: "see you at 9"}
	edit.SetEdit(first) // the event says "* see you at 9", its m.new_content "see you at 9"
	if _, err = alice.SendMessageEvent(t.Context(), room, event.EventMessage, edit); err != nil {
		t.Fatal(err)
	}
	m = nextCPIM(t, gw)
	if v, _ := m.Get(portal.Namespace, portal.HeaderReplaces); v != firstID || string(m.Content.Body) != "✏️ see you at 9" {
		t.Errorf("edit: Replaces %q (want %q), body %q", v, firstID, m.Content.Body)
	}
	// A subtest, so that the Dendrite pass of scripts/test.sh can leave out what Dendrite never
	// sends an appservice (redactions; typing below).
	t.Run("outbound_deletion", func(t *testing.T) {
		if _, err := alice.RedactEvent(t.Context(), room, first); err != nil {
			t.Fatal(err)
		}
		m := nextCPIM(t, gw)
		if v, _ := m.Get(portal.Namespace, portal.HeaderDeletes); v != firstID || string(m.Content.Body) != "deleted a message" {
			t.Errorf("deletion: Deletes %q (want %q), body %q", v, firstID, m.Content.Body)
		}
	})

	// Inbound reply to alice's message, edit, reaction, deletion.
	resp, err = alice.SendText(t.Context(), room, "bring forks")
	if err != nil {
		t.Fatal(err)
	}
	forks := resp.EventID
	forksID := imdn.MessageID(nextCPIM(t, gw))
	r := bobMessage(bob, aliceIM, "BOB2", "text/plain; charset=utf-8", "> bring forks\n\nsure")
	r.Add(portal.Namespace, portal.Prefix, portal.HeaderInReplyTo, forksID)
	postCPIM(t, b, r)
	bob2 := waitMessage(t, alice, room, "reply from bob", func(e *event.Event, c *event.MessageEventContent) bool {
		return e.Sender == bobGhost && c.Body == "sure"
	})
	if got := bob2.Content.AsMessage().RelatesTo.GetReplyTo(); got != forks {
		t.Errorf("bob's reply relates to %q, want %q", got, forks)
	}
	e := bobMessage(bob, aliceIM, "BOB3", "text/plain; charset=utf-8", "✏️ I'll bring pie")
	e.Add(portal.Namespace, portal.Prefix, portal.HeaderReplaces, "BOB1")
	postCPIM(t, b, e)
	waitEvent(t, alice, room, "bob's edit", func(evt *event.Event) bool {
		c, ok := evt.Content.Parsed.(*event.MessageEventContent)
		return ok && evt.Sender == bobGhost && c.RelatesTo.GetReplaceID() == bob1.ID && c.NewContent != nil && c.NewContent.Body == "I'll bring pie"
	})
	postCPIM(t, b, portalReaction(bob, aliceIM, "BOB4", forksID, "🎉"))
	waitEvent(t, alice, room, "bob's reaction", func(evt *event.Event) bool {
		c, ok := evt.Content.Parsed.(*event.ReactionEventContent)
		return ok && evt.Sender == bobGhost && c.RelatesTo.EventID == forks && c.RelatesTo.Key == "🎉"
	})
	d := portal.NewDeletion(bob, cpim.Address{URI: aliceIM}, "BOB2", "", "")
	d.Set(imdn.Namespace, imdn.Prefix, imdn.HeaderMessageID, "BOB5")
	postCPIM(t, b, d)
	waitEvent(t, alice, room, "bob's deletion", func(evt *event.Event) bool {
		return evt.ID == bob2.ID && evt.Unsigned.RedactedBecause != nil
	})

	// Typing (RFC 3994) both ways.
	t.Run("outbound_typing", func(t *testing.T) {
		if _, err := alice.UserTyping(t.Context(), room, true, 20*time.Second); err != nil {
			t.Fatal(err)
		}
		if m := nextCPIM(t, gw); m.Content.Type() != iscomposing.ContentType || !strings.Contains(string(m.Content.Body), "<state>active</state>") {
			t.Errorf("typing went out as %s: %s", m.Content.Type(), m.Content.Body)
		}
	})
	composing, err := portal.NewTyping(bob, cpim.Address{URI: aliceIM}, true)
	if err != nil {
		t.Fatal(err)
	}
	postCPIM(t, b, composing)
	waitTyping(t, alice, room, bobGhost)
}

// waitTyping syncs until user is among those typing in the room.
func waitTyping(t *testing.T, cli *mautrix.Client, roomID id.RoomID, user id.UserID) {
	t.Helper()
	ctx := waitCtx(t)
	since := ""
	for {
		resp, err := cli.SyncRequest(ctx, 5000, since, "", false, "")
		if err != nil {
			t.Fatalf("no typing from %s in %s: %v", user, roomID, err)
		}
		since = resp.NextBatch
		if room, ok := resp.Rooms.Join[roomID]; ok {
			for _, evt := range room.Ephemeral.Events {
				_ = evt.Content.ParseRaw(evt.Type)
				if c, ok := evt.Content.Parsed.(*event.TypingEventContent); ok && slices.Contains(c.UserIDs, user) {
					return
				}
			}
		}
	}
}

func bobMessage(from cpim.Address, to, mid, ctype, body string) *cpim.Message {
	m := cpim.NewText(from, cpim.Address{URI: to}, body)
	m.Content.Set("Content-Type", ctype)
	m.Set(imdn.Namespace, imdn.Prefix, imdn.HeaderMessageID, mid)
	return m
}

func portalReaction(from cpim.Address, to, mid, target, key string) *cpim.Message {
	m := portal.NewReaction(from, cpim.Address{URI: to}, target, key, "")
	m.Set(imdn.Namespace, imdn.Prefix, imdn.HeaderMessageID, mid)
	return m
}

// postCPIM hands a message to the bridge as the gateway, keyed by its Message-ID.
func postCPIM(t *testing.T, b *bridgeProc, m *cpim.Message) {
	t.Helper()
	if code, resp := post(t, b.URL+"/_cpim/v1/message", tokenIn, "message/cpim", "", m.Bytes()); code != http.StatusAccepted {
		t.Fatalf("gateway post: %d %s\n%s", code, resp, m.Bytes())
	}
}

// nextCPIM returns the next message the gateway received, parsed strictly.
func nextCPIM(t *testing.T, gw *testGateway) *cpim.Message {
	t.Helper()
	_, body := gw.next(t)
	m, err := cpim.Parse(body)
	if err != nil {
		t.Fatalf("bridge sent non-conformant CPIM: %v\n%s", err, body)
	}
	return m
}

// waitEvent polls the room's latest events of any type until one matches ok.
func waitEvent(t *testing.T, cli *mautrix.Client, roomID id.RoomID, what string, ok func(*event.Event) bool) {
	t.Helper()
	ctx := waitCtx(t)
	for {
		resp, err := cli.Messages(ctx, roomID, "", "", mautrix.DirectionBackward, nil, 100)
		if err != nil {
			t.Fatalf("no %s in %s: %v", what, roomID, err)
		}
		for _, evt := range resp.Chunk {
			_ = evt.Content.ParseRaw(evt.Type)
			if ok(evt) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no %s in %s: %v", what, roomID, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
