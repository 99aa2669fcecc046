package e2e

import (
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/internal/dbtest"
)

// TestInterruptedDelivery puts the database in the states a crash can leave an inbound message in
// while it is handed to Matrix, and checks that the restarted bridge neither sends it again nor
// stalls its conversation (docs/reliability.md §1, "Across restarts"):
//   - "known": bridgev2 stored the message, but the bridge died before marking it delivered;
//   - "unrecorded": the homeserver has the event, but the bridge died before bridgev2 stored it,
//     so the bridge finds it in the room;
//   - "unsearched": the same, but the bridge does not know it tried (as when the homeserver is
//     still handling the send when the bridge restarts and the search comes too early): only the
//     send's transaction ID keeps the homeserver from making a second event.
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
	send := func(text string) {
		postCPIM(t, b, cpim.NewText(bob, cpim.Address{URI: "im:alice@" + hs.ServerName}, text))
	}
	fromBob := func(text string) func(*event.Event, *event.MessageEventContent) bool {
		return func(e *event.Event, c *event.MessageEventContent) bool { return e.Sender == ghost && c.Body == text }
	}

	sent := []string{"known", "unrecorded", "unsearched"}
	for _, text := range sent {
		send(text)
	}
	room := waitChatInvite(t, alice, map[id.RoomID]bool{})
	waitMessage(t, alice, room, "the last message", fromBob("unsearched"))
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
	if err = rows.Err(); err != nil || len(keys) != len(sent) {
		t.Fatalf("inbound keys %v, %v; want %d", keys, err, len(sent))
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
	for _, k := range keys[1:] {
		exec(`DELETE FROM message WHERE id=$1`, k)
	}

	if err = b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	send("after")
	waitMessage(t, alice, room, "the message after the restart", fromBob("after"))

	checkSequence(t, "bob's messages", messagesFrom(t, alice, room, ghost), append(sent, "after"), func(string) string { return "" })

	for i, k := range keys {
		var n int
		if err = sqlDB.QueryRow(t.Context(), `SELECT COUNT(*) FROM message WHERE id=$1`, k).Scan(&n); err != nil || n != 1 {
			t.Errorf("bridgev2 message rows for %q: %d (%v), want 1", sent[i], n, err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for !queuesEmpty(b.URL) {
		if time.Now().After(deadline) {
			t.Fatal("inbound messages still pending 30 s after the last one reached Matrix")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
