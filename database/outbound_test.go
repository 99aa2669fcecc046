package database_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/matrix-cpim/matrix-cpim/database"
)

func outbound(trans, conv string, at time.Time) *database.Outbound {
	return &database.Outbound{
		TransID: trans, Conversation: conv, Domain: "example.net", Body: []byte("body of " + trans),
		RoomID: "!r:hs", EventID: "$" + trans, Sender: "@alice:hs", EventType: "m.room.message", MsgType: "m.text",
		CreatedAt: at,
	}
}

func TestOutboundQueueOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		t0 := time.UnixMilli(1_700_000_000_000)
		for i, o := range []*database.Outbound{
			outbound("a1", "conv-a", t0), outbound("b1", "conv-b", t0.Add(time.Second)),
			outbound("a2", "conv-a", t0.Add(2*time.Second)), outbound("b2", "conv-b", t0.Add(3*time.Second)),
		} {
			if ok, err := db.Outbound.Enqueue(ctx, o); err != nil || !ok {
				t.Fatalf("enqueue %d: %v %v", i, ok, err)
			}
		}
		// The homeserver sending an event again must not queue it twice.
		if ok, err := db.Outbound.Enqueue(ctx, outbound("a1", "conv-a", t0)); err != nil || ok {
			t.Fatalf("duplicate enqueue = %v, %v; want false, nil", ok, err)
		}
		heads := transIDs(t, db)
		if heads != "a1 b1" {
			t.Fatalf("heads = %q, want the oldest of each conversation: a1 b1", heads)
		}
		// A failing head is pushed back but still blocks its own conversation.
		h, _ := db.Outbound.Heads(ctx, 10)
		if err := db.Outbound.Reschedule(ctx, h[0].Seq, 1, t0.Add(time.Hour), "503 busy"); err != nil {
			t.Fatal(err)
		}
		if heads = transIDs(t, db); heads != "b1 a1" {
			t.Fatalf("after rescheduling a1: heads = %q, want b1 a1", heads)
		}
		h, _ = db.Outbound.Heads(ctx, 10)
		if h[1].Attempts != 1 || h[1].LastError != "503 busy" || !h[1].NextAttemptAt.Equal(t0.Add(time.Hour)) || string(h[1].Body) != "body of a1" {
			t.Fatalf("rescheduled row = %+v", h[1])
		}
		if err := db.Outbound.Delete(ctx, h[0].Seq); err != nil {
			t.Fatal(err)
		}
		if heads = transIDs(t, db); heads != "b2 a1" {
			t.Fatalf("after delivering b1: heads = %q, want b2 a1", heads)
		}
		n, oldest, err := db.Outbound.Stats(ctx)
		if err != nil || n != 3 || !oldest.Equal(t0) {
			t.Fatalf("Stats = %d, %v, %v; want 3, %v", n, oldest, err, t0)
		}
	})
}

func transIDs(t *testing.T, db *database.Database) string {
	t.Helper()
	heads, err := db.Outbound.Heads(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(heads))
	for i, h := range heads {
		ids[i] = h.TransID
	}
	return strings.Join(ids, " ")
}
