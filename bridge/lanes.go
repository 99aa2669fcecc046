package bridge

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

// A lane is one conversation's queue of stored messages, which must go out one at a time and in
// order. The lane scheduler runs the queues of many conversations at once: at most one message per
// lane is in flight, at most parallel in all, and a lane that becomes ready is started as soon as a
// slot is free, without waiting for any other lane. A lane that has to wait (its head failed or is
// not due) waits alone; the others go on.

// laneHead is a lane that has stored work, and when its oldest message is due (zero: now).
type laneHead struct {
	lane string
	due  time.Time
}

// laneStep is the outcome of one step of a lane.
type laneStep int

const (
	laneEmpty laneStep = iota // the lane had nothing to do
	laneMore                  // one message was handled; the lane may have more
	laneWait                  // the head cannot go yet: try the lane again at the returned time
)

type laneScheduler struct {
	log      zerolog.Logger
	parallel int
	// heads reads every lane that has stored work. It is read at start, when news was missed,
	// and every idlePoll; after an error, again a second later.
	heads    func(ctx context.Context) ([]laneHead, error)
	idlePoll time.Duration
	// step handles the oldest message of a lane, reading it from the database.
	step func(ctx context.Context, lane string) (laneStep, time.Time)
	// news carries the lane of each message as it is stored (see notify); missed tells the
	// scheduler that news did not fit, so that it reads heads instead. Both are made by the
	// scheduler's owner, missed with a buffer of one.
	news   chan string
	missed chan struct{}
}

// newsBuffer is how many stored messages the scheduler may be behind before it falls back to
// reading heads.
const newsBuffer = 4096

// notify tells the scheduler that a message of lane was stored. It never blocks.
func (s *laneScheduler) notify(lane string) {
	select {
	case s.news <- lane:
	default:
		select {
		case s.missed <- struct{}{}:
		default: // a scan is due already
		}
	}
}

// laneState is what the scheduler knows of a lane that is not idle.
type laneState struct {
	running bool
	queued  bool      // in the ready queue
	dirty   bool      // heads saw work while a step was running; the step may have missed it
	waitFor time.Time // nonzero while waiting for a retry
}

type laneDone struct {
	lane  string
	step  laneStep
	retry time.Time
}

// run schedules lanes until ctx ends, then waits for the steps in flight.
func (s *laneScheduler) run(ctx context.Context) {
	lanes := map[string]*laneState{}
	var ready []string
	waiting := map[string]time.Time{}
	var nextRetry time.Time // the earliest of waiting, or zero
	done := make(chan laneDone)
	running := 0

	setReady := func(lane string, st *laneState) {
		st.waitFor, st.queued = time.Time{}, true
		delete(waiting, lane)
		ready = append(ready, lane)
	}
	setWaiting := func(lane string, st *laneState, at time.Time) {
		st.waitFor = at
		waiting[lane] = at
		if nextRetry.IsZero() || at.Before(nextRetry) {
			nextRetry = at
		}
	}
	// found takes note of a lane with work.
	found := func(h laneHead, now time.Time) {
		st := lanes[h.lane]
		if st == nil {
			st = &laneState{}
			lanes[h.lane] = st
		}
		due := h.due
		if st.waitFor.After(due) {
			due = st.waitFor
		}
		switch {
		case st.running:
			st.dirty = true
		case st.queued:
		case due.After(now):
			setWaiting(h.lane, st, due)
		default:
			setReady(h.lane, st)
		}
	}
	scan := func() bool {
		heads, err := s.heads(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Err(err).Msg("Failed to read the queue")
			}
			return false
		}
		now := time.Now()
		for _, h := range heads {
			found(h, now)
		}
		return true
	}
	retryDue := func() {
		now := time.Now()
		nextRetry = time.Time{}
		for lane, at := range waiting {
			if at.After(now) {
				if nextRetry.IsZero() || at.Before(nextRetry) {
					nextRetry = at
				}
				continue
			}
			setReady(lane, lanes[lane])
		}
	}
	finish := func(d laneDone) {
		running--
		st := lanes[d.lane]
		st.running = false
		switch {
		case d.step == laneWait:
			setWaiting(d.lane, st, d.retry)
		case d.step == laneMore || st.dirty:
			setReady(d.lane, st)
		default:
			delete(lanes, d.lane)
		}
		st.dirty = false
	}

	timer := time.NewTimer(0)
	defer timer.Stop()
	// A scan reads every lane with work, which costs in proportion to the backlog. New messages
	// come as news, so scans are needed only at start, when news was missed, after a failed scan
	// and every idlePoll; they are spaced by scanSpacing times their own duration so that a long
	// backlog cannot make scanning take more than a fifth of one core.
	const scanSpacing = 4
	scanPending := true
	var lastScan, nextScan time.Time
	for {
		if now := time.Now(); scanPending && !now.Before(nextScan) {
			ok := scan()
			lastScan, scanPending = time.Now(), !ok
			nextScan = lastScan.Add(scanSpacing * lastScan.Sub(now))
			if !ok {
				nextScan = lastScan.Add(time.Second)
			}
		}
		for running < s.parallel && len(ready) > 0 {
			lane := ready[0]
			ready = ready[1:]
			st := lanes[lane]
			st.queued, st.running = false, true
			running++
			go func() {
				step, retry := s.step(ctx, lane)
				done <- laneDone{lane, step, retry}
			}()
		}
		if len(ready) == 0 {
			ready = nil // let the backing array go after a burst
		}
		wake := lastScan.Add(s.idlePoll)
		if scanPending {
			wake = nextScan
		}
		if !nextRetry.IsZero() && nextRetry.Before(wake) {
			wake = nextRetry
		}
		timer.Reset(time.Until(wake))
		select {
		case <-ctx.Done():
			for ; running > 0; running-- {
				<-done
			}
			return
		case d := <-done:
			finish(d)
		case lane := <-s.news:
			found(laneHead{lane: lane}, time.Now())
		case <-s.missed:
			scanPending = true
		case <-timer.C:
			now := time.Now()
			if !nextRetry.IsZero() && !nextRetry.After(now) {
				retryDue()
			}
			if !now.Before(lastScan.Add(s.idlePoll)) {
				scanPending = true
			}
		}
	}
}
