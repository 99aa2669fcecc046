package e2e

import (
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/internal/dbtest"
)

// TestReceipts carries RFC 5438 delivery and display notifications both ways: the contact's
// displayed notification becomes its ghost's read receipt, and the Matrix user's read receipt a
// display notification to the contact.
func TestReceipts(t *testing.T) {
	db := dbtest.Backends(t)[0]
	gw := newTestGateway(t)
	hs, b := startWithPartner(t, db, gw.srv.URL, nil)

	alice := hs.RegisterUser(t, "alice")
	aliceIM := cpim.Address{URI: "im:alice@" + hs.ServerName}
	bob := cpim.Address{Name: "Bob Example", URI: "im:bob@example.net"}
	bobGhost := id.NewUserID("cpim_bob=40example.net", hs.ServerName)
	seen := map[id.RoomID]bool{}
	mgmt := openManagementRoom(t, alice, id.NewUserID("cpimbot", hs.ServerName))
	seen[mgmt] = true
	sendText(t, alice, mgmt, "start-chat im:bob@example.net")
	room := waitInvite(t, alice, seen)

	// Outbound: alice's message asks for delivery and display; bob's side answers both.
	hello := sendText(t, alice, room, "hello bob")
	m := nextCPIM(t, gw)
	if got := imdn.Requested(m); !slices.Equal(got, []imdn.Disposition{imdn.PositiveDelivery, imdn.Display}) {
		t.Fatalf("alice's message requests %q, want positive-delivery and display", got)
	}
	for _, n := range []imdn.Notification{
		{Kind: imdn.KindDelivery, Status: imdn.StatusDelivered},
		{Kind: imdn.KindDisplay, Status: imdn.StatusDisplayed},
	} {
		reply, err := imdn.NewNotification(m, bob, n)
		if err != nil {
			t.Fatal(err)
		}
		postCPIM(t, b, reply)
	}
	waitReceipt(t, alice, room, bobGhost, hello)
	if got := messagesFrom(t, alice, room, bobGhost); len(got) != 0 {
		t.Errorf("notifications showed up as messages from bob: %q", got)
	}

	// Inbound: bob's message asks for both; the bridge answers delivery once the message is in
	// Matrix, and display once alice has read it.
	in := bobMessage(bob, aliceIM.URI, "BOB-R1", "text/plain; charset=utf-8", "did you get it?")
	in.DateTime = time.Now().UTC().Truncate(time.Second)
	if err := imdn.Request(in, "BOB-R1", imdn.PositiveDelivery, imdn.Display); err != nil {
		t.Fatal(err)
	}
	postCPIM(t, b, in)
	evt := waitMessage(t, alice, room, "bob's message", func(e *event.Event, c *event.MessageEventContent) bool {
		return e.Sender == bobGhost && c.Body == "did you get it?"
	})
	checkNotification(t, nextCPIM(t, gw), "BOB-R1", aliceIM, bob, imdn.KindDelivery, imdn.StatusDelivered)
	if err := alice.MarkRead(t.Context(), room, evt.ID); err != nil {
		t.Fatal(err)
	}
	checkNotification(t, nextCPIM(t, gw), "BOB-R1", aliceIM, bob, imdn.KindDisplay, imdn.StatusDisplayed)

	// In a group, every member who reads bob's message answers its display request, as itself.
	dave := hs.RegisterUser(t, "dave")
	daveIM := cpim.Address{URI: "im:dave@" + hs.ServerName}
	group := groupMessage(bob, []string{aliceIM.URI}, []cpim.Address{daveIM}, "BOB-R2", "both of you?")
	group.DateTime = time.Now().UTC().Truncate(time.Second)
	if err := imdn.Request(group, "BOB-R2", imdn.Display); err != nil {
		t.Fatal(err)
	}
	postCPIM(t, b, group)
	seen[room] = true
	groupRoom := waitInvite(t, alice, seen)
	if daveRoom := waitInvite(t, dave, map[id.RoomID]bool{}); daveRoom != groupRoom {
		t.Fatalf("alice is in %s, dave in %s; want one group room", groupRoom, daveRoom)
	}
	evt = waitMessage(t, alice, groupRoom, "bob's group message", func(e *event.Event, c *event.MessageEventContent) bool {
		return e.Sender == bobGhost && c.Body == "both of you?"
	})
	ids := map[string]bool{}
	for _, r := range []struct {
		cli  *mautrix.Client
		addr cpim.Address
	}{{alice, aliceIM}, {dave, daveIM}} {
		if err := r.cli.MarkRead(t.Context(), groupRoom, evt.ID); err != nil {
			t.Fatal(err)
		}
		n := nextCPIM(t, gw)
		checkNotification(t, n, "BOB-R2", r.addr, bob, imdn.KindDisplay, imdn.StatusDisplayed)
		ids[imdn.MessageID(n)] = true
	}
	if len(ids) != 2 {
		t.Errorf("alice's and dave's display notifications have Message-IDs %v, want two different ones", ids)
	}
}

// checkNotification checks that m is an IMDN from user to contact about the message mid with the
// given kind and status.
func checkNotification(t *testing.T, m *cpim.Message, mid string, user, contact cpim.Address, kind imdn.Kind, status imdn.Status) {
	t.Helper()
	ns, err := imdn.Notifications(m)
	if err != nil {
		t.Fatalf("want a %s notification, got %s: %v\n%s", kind, m.Content.Type(), err, m.Bytes())
	}
	if len(ns) != 1 || ns[0].MessageID != mid || ns[0].Kind != kind || ns[0].Status != status {
		t.Fatalf("notifications = %+v, want one %s %s about %s", ns, kind, status, mid)
	}
	if m.From.URI != user.URI || len(m.To) != 1 || m.To[0].URI != contact.URI {
		t.Errorf("notification goes from %s to %v, want %s to %s", m.From.URI, m.To, user.URI, contact.URI)
	}
}

// waitReceipt syncs until user's read receipt is on the event.
func waitReceipt(t *testing.T, cli *mautrix.Client, roomID id.RoomID, user id.UserID, evtID id.EventID) {
	t.Helper()
	ctx := waitCtx(t)
	since := ""
	for {
		resp, err := cli.SyncRequest(ctx, 5000, since, "", false, "")
		if err != nil {
			t.Fatalf("no read receipt from %s on %s: %v", user, evtID, err)
		}
		since = resp.NextBatch
		if room, ok := resp.Rooms.Join[roomID]; ok {
			for _, evt := range room.Ephemeral.Events {
				_ = evt.Content.ParseRaw(evt.Type)
				if c, ok := evt.Content.Parsed.(*event.ReceiptEventContent); ok {
					if _, ok = (*c)[evtID][event.ReceiptTypeRead][user]; ok {
						return
					}
				}
			}
		}
	}
}
