package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Tracker follows numbered messages from the moment they are sent until they arrive at the far end
// (the stand-in homeserver for inbound, the test gateway for outbound). Seq numbers run from 0 to
// the size given to NewTracker; all methods are safe for concurrent use.
type Tracker struct {
	sent     []atomic.Int64 // unix nanos; 0 = not sent
	arrived  []atomic.Int64
	count    atomic.Int64
	dups     atomic.Int64
	unknown  atomic.Int64
	all      chan struct{}
	allOnce  sync.Once
	expected int64
}

// NewTracker tracks n messages.
func NewTracker(n int) *Tracker {
	return &Tracker{sent: make([]atomic.Int64, n), arrived: make([]atomic.Int64, n), all: make(chan struct{}), expected: int64(n)}
}

// Sent records when seq left.
func (t *Tracker) Sent(seq int, at time.Time) {
	if seq >= 0 && seq < len(t.sent) {
		t.sent[seq].Store(at.UnixNano())
	}
}

// Arrived records that seq reached the far end. A second arrival counts as a duplicate, an
// out-of-range seq as unknown; neither moves the count.
func (t *Tracker) Arrived(seq int, at time.Time) {
	if seq < 0 || seq >= len(t.arrived) {
		t.unknown.Add(1)
		return
	}
	if !t.arrived[seq].CompareAndSwap(0, at.UnixNano()) {
		t.dups.Add(1)
		return
	}
	if t.count.Add(1) == t.expected {
		t.allOnce.Do(func() { close(t.all) })
	}
}

// Wait blocks until every message arrived, ctx ends or timeout passes.
func (t *Tracker) Wait(ctx context.Context, timeout time.Duration) error {
	if t.expected == 0 {
		return nil
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-t.all:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return fmt.Errorf("%d of %d messages arrived within %s", t.count.Load(), t.expected, timeout)
	}
}

// Arrivals reports how many distinct messages arrived, duplicates and unknown seq numbers.
func (t *Tracker) Arrivals() (n, dups, unknown int64) {
	return t.count.Load(), t.dups.Load(), t.unknown.Load()
}

// Latencies returns arrival minus send time of every message that was sent and arrived, and the
// span from the first send to the last arrival.
func (t *Tracker) Latencies() (lat []time.Duration, span time.Duration) {
	var first, last int64
	for i := range t.sent {
		s, a := t.sent[i].Load(), t.arrived[i].Load()
		if s == 0 {
			continue
		}
		if first == 0 || s < first {
			first = s
		}
		if a == 0 {
			continue
		}
		lat = append(lat, time.Duration(a-s))
		last = max(last, a)
	}
	if last > first {
		span = time.Duration(last - first)
	}
	return lat, span
}

// Load is one run of requests against the bridge.
type Load struct {
	N           int     // messages
	Batch       int     // messages per request; 0 means 1
	Concurrency int     // requests in flight; 0 means 1
	Rate        float64 // messages per second offered; 0 sends the next request as soon as one returns
	// Timeout bounds the run; requests not started by then are not sent.
	Timeout time.Duration
}

// Op sends messages first … first+n-1 in one request.
type Op func(ctx context.Context, first, n int) error

// RunResult is what Load.Run measured at the sending end.
type RunResult struct {
	Sent, Failed int // messages
	Errors       []string
	Elapsed      time.Duration   // first request start to last answer
	Requests     []time.Duration // answer time of every successful request
	// Behind is the largest delay of a request behind its schedule when Rate is set: a sign that
	// the concurrency limit, not the bridge, set the pace.
	Behind time.Duration
}

// maxErrors is how many distinct failures a RunResult keeps.
const maxErrors = 5

// Run sends l.N messages through op, recording each message's send time in tr. With a Rate, each
// request is due at a fixed time and its messages count as sent at that time, whether or not a
// free slot let it start then: latency then includes the wait that a slow bridge imposes, as it
// would on real senders (no coordinated omission).
func (l Load) Run(ctx context.Context, tr *Tracker, op Op) RunResult {
	batch, conc := max(l.Batch, 1), max(l.Concurrency, 1)
	if l.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.Timeout)
		defer cancel()
	}
	var (
		mu  sync.Mutex
		res RunResult
		wg  sync.WaitGroup
	)
	slots := make(chan struct{}, conc)
	start := time.Now()
	for first := 0; first < l.N; first += batch {
		n := min(batch, l.N-first)
		due := start
		if l.Rate > 0 {
			due = start.Add(time.Duration(float64(first) / l.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				if !sleep(ctx, wait) {
					break
				}
			}
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		began := time.Now()
		sentAt := began
		if l.Rate > 0 {
			sentAt = due
			mu.Lock()
			res.Behind = max(res.Behind, began.Sub(due))
			mu.Unlock()
		}
		for i := first; i < first+n; i++ {
			tr.Sent(i, sentAt)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			err := op(ctx, first, n)
			took := time.Since(began)
			mu.Lock()
			defer mu.Unlock()
			res.Sent += n
			if err != nil {
				res.Failed += n
				if msg := err.Error(); len(res.Errors) < maxErrors && !slices.Contains(res.Errors, msg) {
					res.Errors = append(res.Errors, msg)
				}
				return
			}
			res.Requests = append(res.Requests, took)
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil && res.Sent < l.N {
		res.Errors = append(res.Errors, fmt.Sprintf("stopped after %d of %d messages: %v", res.Sent, l.N, err))
	}
	return res
}

// Err summarises the failures of a run, or nil if every message was sent.
func (r RunResult) Err() error {
	if r.Failed == 0 && len(r.Errors) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d messages failed: %w", r.Failed, r.Sent, errors.New(fmt.Sprint(r.Errors)))
}

// sleep waits d, reporting false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
