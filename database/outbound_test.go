package database_test

import (
	"context"
	"slices"
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
		// The homeserver sending an event again must not queue it twice, nor tell the worker.
		var queued []string
		db.Outbound.OnQueued(func(conv string) { queued = append(queued, conv) })
		if ok, err := db.Outbound.Enqueue(ctx, outbound("a1", "conv-a", t0)); err != nil || ok {
			t.Fatalf("duplicate enqueue = %v, %v; want false, nil", ok, err)
		}
		if ok, err := db.Outbound.Enqueue(ctx, outbound("c1", "conv-c", t0)); err != nil || !ok {
			t.Fatalf("enqueue c1: %v %v", ok, err)
		}
		if !slices.Equal(queued, []string{"conv-c"}) {
			t.Fatalf("OnQueued saw %q, want only conv-c", queued)
		}
		c1, _ := db.Outbound.Head(ctx, "conv-c")
		if err := db.Outbound.Delete(ctx, c1.Seq); err != nil {
			t.Fatal(err)
		}
		if heads := headsOf(t, db); heads != "conv-a:a1 conv-b:b1" {
			t.Fatalf("heads = %q, want the oldest of each conversation: a1 b1", heads)
		}
		// A failing head is pushed back but still blocks its own conversation.
		a1, _ := db.Outbound.Head(ctx, "conv-a")
		if err := db.Outbound.Reschedule(ctx, a1.Seq, 1, t0.Add(time.Hour), "503 busy"); err != nil {
			t.Fatal(err)
		}
		a1, _ = db.Outbound.Head(ctx, "conv-a")
		if a1.TransID != "a1" || a1.Attempts != 1 || a1.LastError != "503 busy" || !a1.NextAttemptAt.Equal(t0.Add(time.Hour)) || string(a1.Body) != "body of a1" {
			t.Fatalf("rescheduled row = %+v", a1)
		}
		heads, err := db.Outbound.Heads(ctx)
		if err != nil || len(heads) != 2 {
			t.Fatalf("Heads = %+v, %v", heads, err)
		}
		for _, h := range heads {
			if h.Conversation == "conv-a" && !h.NextAttemptAt.Equal(t0.Add(time.Hour)) || h.Conversation == "conv-b" && !h.NextAttemptAt.Equal(t0.Add(time.Second)) {
				t.Errorf("head %+v: wrong due time", h)
			}
		}
		b1, _ := db.Outbound.Head(ctx, "conv-b")
		if err = db.Outbound.Delete(ctx, b1.Seq); err != nil {
			t.Fatal(err)
		}
		if heads := headsOf(t, db); heads != "conv-a:a1 conv-b:b2" {
			t.Fatalf("after delivering b1: heads = %q, want a1 b2", heads)
		}
		if none, err := db.Outbound.Head(ctx, "conv-c"); none != nil || err != nil {
			t.Fatalf("Head(empty conversation) = %+v, %v", none, err)
		}
		n, oldest, err := db.Outbound.Stats(ctx)
		if err != nil || n != 3 || !oldest.Equal(t0) {
			t.Fatalf("Stats = %d, %v, %v; want 3, %v", n, oldest, err, t0)
		}
	})
}

// headsOf lists "conversation:trans_id" of every conversation's head, sorted.
func headsOf(t *testing.T, db *database.Database) string {
	t.Helper()
	heads, err := db.Outbound.Heads(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, h := range heads {
		o, err := db.Outbound.Head(context.Background(), h.Conversation)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, h.Conversation+":"+o.TransID)
	}
	slices.Sort(ids)
	return strings.Join(ids, " ")
}
