package database_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/matrix-cpim/matrix-cpim/database"
)

func TestInboundIdempotentInsert(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		now := time.UnixMilli(time.Now().UnixMilli())
		first := &database.Inbound{Gateway: "gw", Key: "k1", Recipient: "@alice:hs", Body: []byte("first\x00\xff"), ReceivedAt: now}
		var stored []string
		db.Inbound.OnStored(func(lane string) { stored = append(stored, lane) })
		first.Lane = "lane-1"
		ok, err := db.Inbound.Insert(ctx, first)
		if err != nil || !ok {
			t.Fatalf("first insert: inserted=%v err=%v", ok, err)
		}
		retry := *first
		retry.Body = []byte("second")
		ok, err = db.Inbound.Insert(ctx, &retry)
		if err != nil || ok {
			t.Fatalf("retry insert: inserted=%v err=%v, want false, nil", ok, err)
		}
		// The same key from another gateway is another message.
		other := *first
		other.Gateway = "gw2"
		if ok, err = db.Inbound.Insert(ctx, &other); err != nil || !ok {
			t.Fatalf("other gateway insert: inserted=%v err=%v", ok, err)
		}
		if !slices.Equal(stored, []string{"lane-1", "lane-1"}) {
			t.Errorf("OnStored saw %q, want lane-1 for the first insert and the other gateway's, not the retry", stored)
		}
		got, err := db.Inbound.Get(ctx, "gw", "k1")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Body, first.Body) || got.Recipient != first.Recipient || got.Lane != "lane-1" || !got.ReceivedAt.Equal(now) || !got.DeliveredAt.IsZero() {
			t.Fatalf("stored %+v, want the first copy %+v", got, first)
		}
		if missing, err := db.Inbound.Get(ctx, "gw", "nope"); missing != nil || err != nil {
			t.Fatalf("Get(missing) = %v, %v", missing, err)
		}
	})
}

func TestInboundLanesAndExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		base := time.UnixMilli(1_700_000_000_000)
		insert := func(gw, key, lane string, at time.Time) {
			t.Helper()
			if _, err := db.Inbound.Insert(ctx, &database.Inbound{Gateway: gw, Key: key, Recipient: "@u:hs", Body: []byte(key), ReceivedAt: at, Lane: lane}); err != nil {
				t.Fatal(err)
			}
		}
		for i, key := range []string{"a", "b", "c"} {
			insert("gw", key, "x", base.Add(time.Duration(i)*time.Minute))
		}
		insert("gw", "y1", "y", base)
		if err := db.Inbound.MarkAttempted(ctx, "gw", "b", base.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := db.Inbound.MarkDelivered(ctx, "gw", "a", base.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		lanes, err := db.Inbound.PendingLanes(ctx)
		slices.Sort(lanes)
		if err != nil || !slices.Equal(lanes, []string{"x", "y"}) {
			t.Fatalf("PendingLanes = %q, %v; want x y", lanes, err)
		}
		next, err := db.Inbound.NextPending(ctx, "x")
		if err != nil || next.Key != "b" || next.Lane != "x" || !next.AttemptedAt.Equal(base.Add(time.Minute)) {
			t.Fatalf("NextPending(x) = %+v, %v; want b, attempted at %v", next, err, base.Add(time.Minute))
		}
		if err = db.Inbound.MarkDelivered(ctx, "gw", "y1", base.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if next, err = db.Inbound.NextPending(ctx, "y"); next != nil || err != nil {
			t.Fatalf("NextPending of a delivered lane = %+v, %v; want nil", next, err)
		}
		// Acceptance order wins over timestamps and keys: two messages in the same millisecond,
		// the second with the smaller key, are delivered as they came.
		insert("gw2", "z-first", "z", base)
		insert("gw2", "a-second", "z", base)
		if next, err = db.Inbound.NextPending(ctx, "z"); err != nil || next.Key != "z-first" || !next.AttemptedAt.IsZero() {
			t.Fatalf("NextPending after same-millisecond inserts = %+v, %v", next, err)
		}
		stats, err := db.Inbound.Stats(ctx)
		if err != nil || len(stats) != 2 || stats[0].Depth+stats[1].Depth != 4 {
			t.Fatalf("Stats = %+v, %v; want 4 pending in 2 gateways", stats, err)
		}
		// Only delivered rows expire: a pending message must never be forgotten.
		n, err := db.Inbound.DeleteExpired(ctx, base.Add(24*time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("DeleteExpired = %d, %v; want 2", n, err)
		}
		if got, _ := db.Inbound.Get(ctx, "gw", "a"); got != nil {
			t.Fatal("delivered row survived expiry")
		}
		if got, _ := db.Inbound.Get(ctx, "gw", "b"); got == nil {
			t.Fatal("pending row was expired")
		}
	})
}
