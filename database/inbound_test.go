package database_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/matrix-cpim/matrix-cpim/database"
)

func TestInboundIdempotentInsert(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		now := time.UnixMilli(time.Now().UnixMilli())
		first := &database.Inbound{Gateway: "gw", Key: "k1", Recipient: "@alice:hs", Body: []byte("first\x00\xff"), ReceivedAt: now}
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
		got, err := db.Inbound.Get(ctx, "gw", "k1")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Body, first.Body) || got.Recipient != first.Recipient || !got.ReceivedAt.Equal(now) || !got.DeliveredAt.IsZero() {
			t.Fatalf("stored %+v, want the first copy %+v", got, first)
		}
		if missing, err := db.Inbound.Get(ctx, "gw", "nope"); missing != nil || err != nil {
			t.Fatalf("Get(missing) = %v, %v", missing, err)
		}
	})
}

func TestInboundPendingAndExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		base := time.UnixMilli(1_700_000_000_000)
		for i, key := range []string{"a", "b", "c"} {
			_, err := db.Inbound.Insert(ctx, &database.Inbound{Gateway: "gw", Key: key, Recipient: "@u:hs", Body: []byte(key), ReceivedAt: base.Add(time.Duration(i) * time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Inbound.MarkAttempted(ctx, "gw", "b", base.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := db.Inbound.MarkDelivered(ctx, "gw", "a", base.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		pending, err := db.Inbound.Pending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) != 2 || pending[0].Key != "b" || pending[1].Key != "c" {
			t.Fatalf("pending = %+v, want b then c", pending)
		}
		if !pending[0].AttemptedAt.Equal(base.Add(time.Minute)) || !pending[1].AttemptedAt.IsZero() {
			t.Fatalf("attempted: b %v, c %v; want b at %v, c never", pending[0].AttemptedAt, pending[1].AttemptedAt, base.Add(time.Minute))
		}
		// Acceptance order wins over timestamps and keys: two messages in the same millisecond,
		// the second with the smaller key, are delivered as they came.
		for _, key := range []string{"z-first", "a-second"} {
			if _, err = db.Inbound.Insert(ctx, &database.Inbound{Gateway: "gw2", Key: key, Recipient: "@u:hs", Body: []byte(key), ReceivedAt: base}); err != nil {
				t.Fatal(err)
			}
		}
		if pending, err = db.Inbound.Pending(ctx); err != nil || len(pending) != 4 || pending[2].Key != "z-first" || pending[3].Key != "a-second" {
			t.Fatalf("pending after same-millisecond inserts = %+v, %v", pending, err)
		}
		stats, err := db.Inbound.Stats(ctx)
		if err != nil || len(stats) != 2 || stats[0].Depth+stats[1].Depth != 4 {
			t.Fatalf("Stats = %+v, %v; want 4 pending in 2 gateways", stats, err)
		}
		// Only delivered rows expire: a pending message must never be forgotten.
		n, err := db.Inbound.DeleteExpired(ctx, base.Add(24*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
		}
		if got, _ := db.Inbound.Get(ctx, "gw", "a"); got != nil {
			t.Fatal("delivered row survived expiry")
		}
		if got, _ := db.Inbound.Get(ctx, "gw", "b"); got == nil {
			t.Fatal("pending row was expired")
		}
	})
}
