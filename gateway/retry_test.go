package gateway

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// scriptedSender answers each Send with the next error of its script, then with the last one
// forever; onSend, if set, runs before each answer.
type scriptedSender struct {
	script []error
	calls  int
	onSend func(call int)
}

func (s *scriptedSender) Send(ctx context.Context, out *Outbound) error {
	s.calls++
	if s.onSend != nil {
		s.onSend(s.calls)
	}
	return s.script[min(s.calls, len(s.script))-1]
}

// fakeClock advances instantly on Sleep and records the waits. Its jitter is the largest the
// ceiling allows (rand.N's range is half-open), so every wait shows the backoff ceiling.
type fakeClock struct {
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Jitter(ceiling time.Duration) time.Duration { return ceiling - 1 }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return nil
}

var (
	unavailable = &SendError{Temporary: true, Status: 503, Reason: "Service Unavailable"}
	forbidden   = &SendError{Status: 403, Reason: "gateway does not serve example.org"}
)

func TestDeliverOutcome(t *testing.T) {
	netErr := errors.New("dial tcp 127.0.0.1:1: connection refused")
	tests := []struct {
		name      string
		script    []error
		wantCalls int
		wantErr   error // matched with errors.Is; nil means success
	}{
		{"success at once", []error{nil}, 1, nil},
		{"success after temporary failures", []error{unavailable, netErr, nil}, 3, nil},
		{"permanent failure at once", []error{forbidden}, 1, forbidden},
		{"permanent after temporary", []error{unavailable, forbidden}, 2, forbidden},
		{"cancelled send is not retried", []error{context.Canceled}, 1, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scriptedSender{script: tt.script}
			err := deliver(context.Background(), s, &Outbound{}, RetryPolicy{}, &fakeClock{})
			if s.calls != tt.wantCalls {
				t.Errorf("Send called %d times, want %d", s.calls, tt.wantCalls)
			}
			if tt.wantErr == nil && err != nil {
				t.Errorf("err = %v, want success", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestDeliverGivesUpAtDeadline(t *testing.T) {
	s := &scriptedSender{script: []error{unavailable}}
	c := &fakeClock{}
	err := deliver(context.Background(), s, &Outbound{}, RetryPolicy{Initial: time.Second, Max: 4 * time.Second, Deadline: time.Minute}, c)
	var se *SendError
	if !errors.As(err, &se) || se != unavailable {
		t.Fatalf("err = %v, want the last SendError wrapped", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "gave up after ") || !strings.HasSuffix(msg, "503 Service Unavailable") {
		t.Errorf("err = %q, want it to say it gave up and why", msg)
	}
	if s.calls != len(c.waits)+1 {
		t.Errorf("%d calls after %d waits, want one more call than waits", s.calls, len(c.waits))
	}
	// Waits of 1s, 2s, then 4s (less 1ns each) end at 7s, 11s, ..., 59s (less 15ns) after 16
	// waits; the 17th would end past 60s: 17 calls.
	if s.calls != 17 {
		t.Errorf("gave up after %d calls, want 17", s.calls)
	}
	var total time.Duration
	for _, w := range c.waits {
		total += w
	}
	if total > time.Minute {
		t.Errorf("waited %s in all, past the 1m deadline", total)
	}
}

func TestDeliverBackoffCeiling(t *testing.T) {
	s := &scriptedSender{script: []error{unavailable, unavailable, unavailable, unavailable, unavailable, nil}}
	c := &fakeClock{}
	p := RetryPolicy{Initial: time.Second, Max: 4 * time.Second, Deadline: time.Hour}
	if err := deliver(context.Background(), s, &Outbound{}, p, c); err != nil {
		t.Fatal(err)
	}
	ceilings := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
	if len(c.waits) != len(ceilings) {
		t.Fatalf("waited %d times, want %d", len(c.waits), len(ceilings))
	}
	for i, w := range c.waits {
		if w != ceilings[i]-1 {
			t.Errorf("wait %d = %s, want the ceiling %s less 1ns", i, w, ceilings[i])
		}
	}
}

func TestDeliverHonorsRetryAfter(t *testing.T) {
	limited := &SendError{Temporary: true, Status: 429, Reason: "Too Many Requests", RetryAfter: 5 * time.Second}
	s := &scriptedSender{script: []error{limited}}
	c := &fakeClock{}
	// Backoff alone would wait at most 2ms, so every wait is the gateway's 5s: attempts at 0s, 5s
	// and 10s, and the next one, at 15s, would be past the 12s deadline.
	err := deliver(context.Background(), s, &Outbound{}, RetryPolicy{Initial: time.Millisecond, Max: 2 * time.Millisecond, Deadline: 12 * time.Second}, c)
	if !errors.Is(err, limited) {
		t.Fatalf("err = %v, want the 429 wrapped", err)
	}
	if s.calls != 3 {
		t.Errorf("Send called %d times, want 3", s.calls)
	}
	for i, w := range c.waits {
		if w != 5*time.Second {
			t.Errorf("wait %d = %s, want the Retry-After of 5s", i, w)
		}
	}
}

func TestDeliverStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &scriptedSender{script: []error{unavailable}, onSend: func(call int) {
		if call == 2 {
			cancel()
		}
	}}
	err := deliver(ctx, s, &Outbound{}, RetryPolicy{}, &fakeClock{})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, unavailable) {
		t.Errorf("err = %v, want both the cancellation and the last failure", err)
	}
	if s.calls != 2 {
		t.Errorf("Send called %d times, want 2", s.calls)
	}
}

// TestDeliverRealClock runs the real timer path with tiny durations; only the outcome is checked.
func TestDeliverRealClock(t *testing.T) {
	s := &scriptedSender{script: []error{unavailable}}
	err := Deliver(context.Background(), s, &Outbound{}, RetryPolicy{Initial: time.Microsecond, Max: time.Millisecond, Deadline: 20 * time.Millisecond})
	if !errors.Is(err, unavailable) || !strings.HasPrefix(err.Error(), "gave up after ") {
		t.Fatalf("err = %v, want the 503 wrapped in a give-up", err)
	}
}

func TestRetryPolicyDefaults(t *testing.T) {
	got := RetryPolicy{}.withDefaults()
	want := RetryPolicy{Initial: DefaultRetryInitial, Max: DefaultRetryMax, Deadline: DefaultRetryDeadline}
	if got != want {
		t.Errorf("zero policy = %+v, want %+v", got, want)
	}
	if got := (RetryPolicy{Initial: time.Hour, Max: time.Second}).withDefaults(); got.Max != time.Hour {
		t.Errorf("Max below Initial: Max = %s, want raised to Initial", got.Max)
	}
}

func TestBackoffBounds(t *testing.T) {
	p := RetryPolicy{Initial: time.Second, Max: 8 * time.Second}
	for attempt, ceiling := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 40: 8 * time.Second, 100: 8 * time.Second} {
		for range 50 {
			if d := p.Backoff(attempt, errors.New("x")); d < 0 || d >= ceiling {
				t.Fatalf("Backoff(%d) = %s, want in [0, %s)", attempt, d, ceiling)
			}
		}
	}
	if d := p.Backoff(1, &SendError{Temporary: true, RetryAfter: time.Minute}); d != time.Minute {
		t.Errorf("Backoff with Retry-After 1m = %s, want 1m", d)
	}
}
