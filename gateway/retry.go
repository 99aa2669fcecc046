package gateway

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// RetryPolicy says how Deliver spaces and ends its attempts. A zero field takes its default.
type RetryPolicy struct {
	// Initial is the longest wait before the second attempt; it doubles after every attempt.
	Initial time.Duration
	// Max caps the backoff of a single wait (a gateway's Retry-After may ask for longer).
	Max time.Duration
	// Deadline is how long after the first attempt Deliver gives up.
	Deadline time.Duration
}

// Defaults of RetryPolicy.
const (
	DefaultRetryInitial  = time.Second
	DefaultRetryMax      = time.Minute
	DefaultRetryDeadline = 10 * time.Minute
)

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Initial <= 0 {
		p.Initial = DefaultRetryInitial
	}
	if p.Max <= 0 {
		p.Max = DefaultRetryMax
	}
	if p.Max < p.Initial {
		p.Max = p.Initial
	}
	if p.Deadline <= 0 {
		p.Deadline = DefaultRetryDeadline
	}
	return p
}

// Deliver sends out through s until it succeeds, fails permanently, the policy's deadline passes or
// ctx ends. RFC 3860 §3.1 assumes reliable delivery underneath CPIM, so temporary failures
// (IsTemporary) are retried with exponential backoff and full jitter, waiting at least as long as
// the gateway's Retry-After. A permanent failure is returned as it is; giving up at the deadline
// returns the last attempt's error wrapped, so its reason and status survive.
// A non-nil error is final: Deliver has stopped trying.
func Deliver(ctx context.Context, s Sender, out *Outbound, p RetryPolicy) error {
	return deliver(ctx, s, out, p, realTiming{})
}

// timing is Deliver's view of time and chance, so that tests can run its schedule without waiting.
type timing interface {
	Now() time.Time
	// Sleep waits for d or until ctx ends, returning ctx's error in that case.
	Sleep(ctx context.Context, d time.Duration) error
	// Jitter picks a wait in [0, ceiling).
	Jitter(ceiling time.Duration) time.Duration
}

type realTiming struct{}

func (realTiming) Now() time.Time { return time.Now() }

func (realTiming) Jitter(ceiling time.Duration) time.Duration { return rand.N(ceiling) }

func (realTiming) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func deliver(ctx context.Context, s Sender, out *Outbound, p RetryPolicy, c timing) error {
	p = p.withDefaults()
	giveUp := c.Now().Add(p.Deadline)
	for attempt := 1; ; attempt++ {
		err := s.Send(ctx, out)
		if err == nil || !IsTemporary(err) {
			return err
		}
		wait := p.backoff(attempt, err, c.Jitter)
		if c.Now().Add(wait).After(giveUp) {
			return fmt.Errorf("gave up after %d attempts within %s: %w", attempt, p.Deadline, err)
		}
		if cerr := c.Sleep(ctx, wait); cerr != nil {
			return fmt.Errorf("delivery stopped after %d attempts: %w; last attempt: %w", attempt, cerr, err)
		}
	}
}

// Backoff is how long to wait after the attempt-th attempt (counting from 1) failed with err:
// a random wait below Initial·2^(attempt-1), capped at Max (full jitter), but at least the gateway's
// Retry-After. Deliver waits this long, and so does the bridge's durable outbound queue.
func (p RetryPolicy) Backoff(attempt int, err error) time.Duration {
	return p.withDefaults().backoff(attempt, err, realTiming{}.Jitter)
}

func (p RetryPolicy) backoff(attempt int, err error, jitter func(time.Duration) time.Duration) time.Duration {
	ceiling := p.Max
	if attempt-1 < 62 && p.Initial<<(attempt-1) > 0 && p.Initial<<(attempt-1) < p.Max {
		ceiling = p.Initial << (attempt - 1)
	}
	wait := jitter(ceiling)
	if ra := retryAfter(err); ra > wait {
		wait = ra
	}
	return wait
}

func retryAfter(err error) time.Duration {
	var se *SendError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}
