package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/internal/dbtest"
)

// TestUndeliverableInbound has the bridge restart with a stored message it can no longer take to
// Matrix: a group message, pending when the admin turned on split_portals, which leaves groups out.
// The bridge drops it instead of retrying it for good, answers the sender's request for a negative
// delivery notification, and goes on (docs/reliability.md §1).
func TestUndeliverableInbound(t *testing.T) {
	db := dbtest.Backends(t)[0]
	gw := newTestGateway(t)
	hs, b := startWithPartner(t, db, gw.srv.URL, nil)
	alice := hs.RegisterUser(t, "alice")
	hs.RegisterUser(t, "dave")
	aliceIM := cpim.Address{URI: "im:alice@" + hs.ServerName}
	bob := cpim.Address{URI: "im:bob@example.net"}
	bobGhost := id.NewUserID("cpim_bob=40example.net", hs.ServerName)

	// A DM first: it gives alice her login and shows the row the bridge stores for a message.
	postCPIM(t, b, cpim.NewText(bob, aliceIM, "hi alice"))
	room := waitChatInvite(t, alice, map[id.RoomID]bool{})
	waitMessage(t, alice, room, "bob's DM", func(e *event.Event, c *event.MessageEventContent) bool {
		return e.Sender == bobGhost && c.Body == "hi alice"
	})
	b.Stop()

	group := groupMessage(bob, []string{aliceIM.URI}, []cpim.Address{{URI: "im:dave@" + hs.ServerName}}, "BOB-G1", "all of you")
	group.DateTime = time.Now().UTC().Truncate(time.Second)
	if err := imdn.Request(group, "BOB-G1", imdn.PositiveDelivery, imdn.NegativeDelivery); err != nil {
		t.Fatal(err)
	}
	sqlDB := db.Open(t)
	if _, err := sqlDB.Exec(t.Context(), `
		INSERT INTO cpim_inbound (bridge_id, gateway, idem_key, recipient, body, received_at, lane)
		SELECT bridge_id, gateway, 'imdn:BOB-G1', recipient, $1, $2, 'group of three' FROM cpim_inbound`,
		group.Bytes(), time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	b.editConfig(t, func(cfg map[string]any) { cfg["bridge"].(map[string]any)["split_portals"] = true })
	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}

	n := nextCPIM(t, gw)
	checkNotification(t, n, "BOB-G1", aliceIM, bob, imdn.KindDelivery, imdn.StatusFailed)
	waitQueuesEmpty(t, b.URL, "after the failure notification")
	// A retry of the message gets the final answer Accept now gives, the reason the message was
	// dropped.
	if code, resp := post(t, b.URL+"/_cpim/v1/message", tokenIn, "message/cpim", "", group.Bytes()); code != http.StatusBadRequest || !strings.Contains(resp, "split portals") {
		t.Errorf("the gateway's retry: %d %s, want 400 naming split portals", code, resp)
	}
}
