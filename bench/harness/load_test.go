package harness

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestTracker(t *testing.T) {
	tr := NewTracker(3)
	t0 := time.Unix(100, 0)
	for i := range 3 {
		tr.Sent(i, t0)
	}
	tr.Arrived(0, t0.Add(time.Millisecond))
	tr.Arrived(0, t0.Add(2*time.Millisecond))
	tr.Arrived(7, t0)
	tr.Arrived(-1, t0)
	if err := tr.Wait(context.Background(), time.Millisecond); err == nil {
		t.Fatal("Wait returned nil with one of three messages arrived")
	}
	tr.Arrived(2, t0.Add(3*time.Millisecond))
	tr.Arrived(1, t0.Add(5*time.Millisecond))
	if err := tr.Wait(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	n, dups, unknown := tr.Arrivals()
	if n != 3 || dups != 1 || unknown != 2 {
		t.Errorf("Arrivals = %d, %d, %d; want 3, 1, 2", n, dups, unknown)
	}
	lat, span := tr.Latencies()
	if s := Summarize(lat); s.N != 3 || s.P50 != 3*time.Millisecond || s.Max != 5*time.Millisecond || span != 5*time.Millisecond {
		t.Errorf("latencies %v span %v", s, span)
	}
}

func TestTrackerWaitEmptyAndCancelled(t *testing.T) {
	if err := NewTracker(0).Wait(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Wait on an empty tracker: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewTracker(1).Wait(ctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a cancelled context = %v", err)
	}
}

func TestLoadRunCoversEveryMessageOnce(t *testing.T) {
	for _, l := range []Load{
		{N: 10},
		{N: 10, Batch: 3, Concurrency: 4},
		{N: 7, Batch: 10},
		{N: 20, Concurrency: 5, Rate: 1e6},
	} {
		tr := NewTracker(l.N)
		var mu sync.Mutex
		got := make([]int, l.N)
		res := l.Run(context.Background(), tr, func(_ context.Context, first, n int) error {
			mu.Lock()
			defer mu.Unlock()
			if n > max(l.Batch, 1) {
				t.Errorf("%+v: request of %d messages", l, n)
			}
			for i := first; i < first+n; i++ {
				got[i]++
			}
			return nil
		})
		for i, c := range got {
			if c != 1 {
				t.Errorf("%+v: message %d sent %d times", l, i, c)
			}
		}
		wantReqs := (l.N + max(l.Batch, 1) - 1) / max(l.Batch, 1)
		if res.Sent != l.N || res.Failed != 0 || len(res.Requests) != wantReqs || res.Err() != nil {
			t.Errorf("%+v: result %+v, want %d sent in %d requests", l, res, l.N, wantReqs)
		}
		if l.Rate == 0 && res.Behind != 0 {
			t.Errorf("%+v: Behind = %v without a rate", l, res.Behind)
		}
		for i := range l.N {
			if tr.sent[i].Load() == 0 {
				t.Errorf("%+v: message %d has no send time", l, i)
			}
		}
	}
}

func TestLoadRunFailures(t *testing.T) {
	l := Load{N: 6, Batch: 2}
	res := l.Run(context.Background(), NewTracker(6), func(_ context.Context, first, n int) error {
		if first == 0 {
			return nil
		}
		return errors.New("refused")
	})
	if res.Sent != 6 || res.Failed != 4 || len(res.Errors) != 1 || len(res.Requests) != 1 {
		t.Errorf("result %+v, want 4 of 6 failed with one distinct error", res)
	}
	if res.Err() == nil {
		t.Error("Err() = nil for a run with failures")
	}
}

func TestLoadRunStopsAtTimeout(t *testing.T) {
	l := Load{N: 1000, Rate: 10, Timeout: 50 * time.Millisecond}
	res := l.Run(context.Background(), NewTracker(1000), func(context.Context, int, int) error { return nil })
	if res.Sent >= 1000 || res.Err() == nil {
		t.Errorf("a run bounded far below its length sent %d messages, Err() = %v", res.Sent, res.Err())
	}
}
