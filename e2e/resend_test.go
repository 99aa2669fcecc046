package e2e

import (
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/internal/dbtest"
	"github.com/matrix-cpim/matrix-cpim/internal/tesths"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// TestInterruptedDelivery puts the database in the states a crash can leave an inbound message in
// while it is handed to Matrix, and checks that the restarted bridge neither sends it again nor
// stalls its conversation (docs/reliability.md §1, "Across restarts"):
//   - "known": bridgev2 stored the message, but the bridge died before marking it delivered;
//   - "unrecorded": the homeserver has the event, but the bridge died before bridgev2 stored it,
//     so the bridge finds it in the room;
//   - "unsearched": the same, but the bridge does not know it tried (as when the homeserver is
//     still handling the send when the bridge restarts and the search comes too early): only the
//     send's transaction ID keeps the homeserver from making a second event;
//   - an edit and a reaction that were sent but not marked delivered, the reaction also unknown to
//     bridgev2: again only the transaction IDs keep them single;
//   - a second such reaction whose transaction ID the homeserver has forgotten (its key is changed
//     here): Synapse refuses it as a duplicate, which must count as delivered. Dendrite v0.13.8
//     takes a repeated reaction, so there the case is left out: it would show twice.
//
// TestFaultsExactlyOnce reaches these states by chance; this test reaches them every time.
func TestInterruptedDelivery(t *testing.T) {
	for _, db := range dbtest.Backends(t) {
		t.Run(db.Name, func(t *testing.T) { testInterruptedDelivery(t, db) })
	}
}

func testInterruptedDelivery(t *testing.T, db dbtest.Backend) {
	gw := newTestGateway(t)
	hs, b := startWithPartner(t, db, gw.srv.URL, nil)
	alice := hs.RegisterUser(t, "alice")
	bob := cpim.Address{URI: "im:bob@example.net"}
	ghost := id.NewUserID("cpim_bob=40example.net", hs.ServerName)
	aliceIM := "im:alice@" + hs.ServerName
	send := func(text string) {
		m := cpim.NewText(bob, cpim.Address{URI: aliceIM}, text)
		if text == "known" { // edited and reacted to below, which needs its Message-ID
			m.Set(imdn.Namespace, imdn.Prefix, imdn.HeaderMessageID, "BOB-K")
		}
		postCPIM(t, b, m)
	}
	fromBob := func(text string) func(*event.Event, *event.MessageEventContent) bool {
		return func(e *event.Event, c *event.MessageEventContent) bool { return e.Sender == ghost && c.Body == text }
	}

	sent := []string{"known", "unrecorded", "unsearched"}
	for _, text := range sent {
		send(text)
	}
	room := waitChatInvite(t, alice, map[id.RoomID]bool{})
	known := waitMessage(t, alice, room, "the first message", fromBob("known"))
	waitMessage(t, alice, room, "the last message", fromBob("unsearched"))
	edit := bobMessage(bob, aliceIM, "BOB-E", "text/plain; charset=utf-8", "✏️ known, edited")
	edit.Add(portal.Namespace, portal.Prefix, portal.HeaderReplaces, "BOB-K")
	postCPIM(t, b, edit)
	postCPIM(t, b, portalReaction(bob, aliceIM, "BOB-R", "BOB-K", "👍"))
	postCPIM(t, b, portalReaction(bob, aliceIM, "BOB-R2", "BOB-K", "🎉"))
	waitEvent(t, alice, room, "bob's second reaction", func(evt *event.Event) bool {
		c, ok := evt.Content.Parsed.(*event.ReactionEventContent)
		return ok && evt.Sender == ghost && c.RelatesTo.EventID == known.ID && c.RelatesTo.Key == "🎉"
	})
	if edits, _ := relatedFrom(t, alice, room, ghost); edits != 1 {
		t.Fatalf("bob's edits before the restart: %d, want 1", edits)
	}
	b.Stop()

	sqlDB := db.Open(t)
	var keys []string
	rows, err := sqlDB.Query(t.Context(), `SELECT idem_key FROM cpim_inbound ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		if err = rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if err = rows.Err(); err != nil || len(keys) != len(sent)+3 {
		t.Fatalf("inbound keys %v, %v; want %d", keys, err, len(sent)+3)
	}
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := sqlDB.Exec(t.Context(), query, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`UPDATE cpim_inbound SET delivered_at=NULL, attempted_at=received_at`)
	exec(`UPDATE cpim_inbound SET attempted_at=NULL WHERE idem_key=$1`, keys[2])
	// bridgev2's message ID is the inbound key, as the messages carry no imdn.Message-ID.
	for _, k := range keys[1:3] {
		exec(`DELETE FROM message WHERE id=$1`, k)
	}
	exec(`DELETE FROM reaction`)
	if hs.Kind != tesths.Dendrite {
		exec(`UPDATE cpim_inbound SET idem_key='forgotten' WHERE idem_key=$1`, keys[5])
	}

	if err = b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	send("after")
	waitMessage(t, alice, room, "the message after the restart", fromBob("after"))

	var got []string
	for _, evt := range roomEvents(t, alice, room) {
		if c := evt.Content.AsMessage(); evt.Sender == ghost && c.RelatesTo.GetReplaceID() == "" {
			got = append(got, c.Body)
		}
	}
	checkSequence(t, "bob's messages", got, append(sent, "after"), func(string) string { return "" })
	if edits, reactions := relatedFrom(t, alice, room, ghost); edits != 1 || reactions != 2 {
		t.Errorf("bob's edits and reactions after the restart: %d and %d, want 1 and 2", edits, reactions)
	}

	for i, k := range keys[1:3] {
		var n int
		if err = sqlDB.QueryRow(t.Context(), `SELECT COUNT(*) FROM message WHERE id=$1`, k).Scan(&n); err != nil || n != 1 {
			t.Errorf("bridgev2 message rows for %q: %d (%v), want 1", sent[i+1], n, err)
		}
	}
	waitQueuesEmpty(t, b.URL, "after the last message reached Matrix")
}

// relatedFrom counts the edits and reactions sender sent in the room.
func relatedFrom(t *testing.T, cli *mautrix.Client, roomID id.RoomID, sender id.UserID) (edits, reactions int) {
	t.Helper()
	resp, err := cli.Messages(t.Context(), roomID, "", "", mautrix.DirectionBackward, &mautrix.FilterPart{Senders: []id.UserID{sender}}, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, evt := range resp.Chunk {
		_ = evt.Content.ParseRaw(evt.Type)
		switch c := evt.Content.Parsed.(type) {
		case *event.MessageEventContent:
			if c.RelatesTo.GetReplaceID() != "" {
				edits++
			}
		case *event.ReactionEventContent:
			reactions++
		}
	}
	return edits, reactions
}
