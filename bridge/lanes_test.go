package bridge

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakeLanes is a store of lanes of numbered messages, with hooks on each step.
type fakeLanes struct {
	mu        sync.Mutex
	queues    map[string][]int
	handled   map[string][]int
	inflight  map[string]int
	total     int
	maxLane   int // most steps of one lane in flight at once
	maxAll    int // most steps in flight at once
	headsSeen chan struct{}
	// before runs at the start of each step, outside the lock; it may block or fail the step.
	before func(lane string) (laneStep, bool)
}

func newFakeLanes() *fakeLanes {
	return &fakeLanes{queues: map[string][]int{}, handled: map[string][]int{}, inflight: map[string]int{}, headsSeen: make(chan struct{}, 100)}
}

func (f *fakeLanes) add(lane string, n ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queues[lane] = append(f.queues[lane], n...)
}

func (f *fakeLanes) heads(context.Context) ([]laneHead, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var h []laneHead
	for lane, q := range f.queues {
		if len(q) > 0 {
			h = append(h, laneHead{lane: lane})
		}
	}
	select {
	case f.headsSeen <- struct{}{}:
	default:
	}
	return h, nil
}

func (f *fakeLanes) step(_ context.Context, lane string) (laneStep, time.Time) {
	f.mu.Lock()
	f.inflight[lane]++
	f.maxLane = max(f.maxLane, f.inflight[lane])
	all := 0
	for _, n := range f.inflight {
		all += n
	}
	f.maxAll = max(f.maxAll, all)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight[lane]--
		f.mu.Unlock()
	}()
	if f.before != nil {
		if st, stop := f.before(lane); stop {
			return st, time.Now() // a retry that is due at once: the test needs no clock
		}
	}
	// The head is taken at the start of the step and counted as handled at its end, so that two
	// overlapping steps of one lane would show up as messages handled out of order.
	f.mu.Lock()
	q := f.queues[lane]
	if len(q) == 0 {
		f.mu.Unlock()
		return laneEmpty, time.Time{}
	}
	head := q[0]
	f.queues[lane] = q[1:]
	f.mu.Unlock()
	time.Sleep(time.Duration(head%3) * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handled[lane] = append(f.handled[lane], head)
	f.total++
	return laneMore, time.Time{}
}

func (f *fakeLanes) handledOf(lane string) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.handled[lane])
}

// start runs a scheduler over f until the test ends. news is its news channel; nil misses all
// news, so that only a scan finds new work.
func (f *fakeLanes) start(t *testing.T, parallel int, news chan string) *laneScheduler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &laneScheduler{log: zerolog.Nop(), parallel: parallel, heads: f.heads, idlePoll: time.Hour, step: f.step, news: news, missed: make(chan struct{}, 1)}
	stopped := make(chan struct{})
	go func() {
		s.run(ctx)
		close(stopped)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	return s
}

// waitFor polls cond until it holds; the deadline only keeps a broken scheduler from hanging the
// test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLanesKeepOrderAndBound(t *testing.T) {
	f := newFakeLanes()
	const lanes, per, parallel = 10, 50, 4
	for l := range lanes {
		for i := range per {
			f.add(fmt.Sprint("lane", l), i)
		}
	}
	f.start(t, parallel, make(chan string, newsBuffer))
	waitFor(t, "every message", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.total == lanes*per })
	for l := range lanes {
		got := f.handledOf(fmt.Sprint("lane", l))
		if !slices.IsSorted(got) || len(got) != per {
			t.Errorf("lane%d handled %v, want 0..%d in order", l, got, per-1)
		}
	}
	if f.maxLane != 1 || f.maxAll > parallel {
		t.Errorf("at most %d steps of one lane and %d in all were in flight; want 1 and ≤ %d", f.maxLane, f.maxAll, parallel)
	}
}

func TestLanesStuckLaneBlocksOnlyItself(t *testing.T) {
	f := newFakeLanes()
	release := make(chan struct{})
	f.before = func(lane string) (laneStep, bool) {
		if lane == "stuck" {
			<-release
		}
		return 0, false
	}
	f.add("stuck", 1, 2)
	f.add("free", 1, 2, 3, 4, 5)
	s := f.start(t, 2, make(chan string, newsBuffer))
	waitFor(t, "the free lane", func() bool { return len(f.handledOf("free")) == 5 })
	// A message for an idle lane starts at once, while the stuck one still holds its slot.
	f.add("later", 1)
	s.notify("later")
	waitFor(t, "a new lane", func() bool { return len(f.handledOf("later")) == 1 })
	if got := f.handledOf("stuck"); len(got) != 0 {
		t.Fatalf("stuck lane handled %v before it was released", got)
	}
	close(release)
	waitFor(t, "the stuck lane", func() bool { return len(f.handledOf("stuck")) == 2 })
	if got := f.handledOf("stuck"); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("stuck lane handled %v, want [1 2]", got)
	}
}

// TestLanesFailedStepIsRetried: a lane whose step fails is run again until its messages are all
// handled, and the other lane is not held up meanwhile.
func TestLanesFailedStepIsRetried(t *testing.T) {
	f := newFakeLanes()
	var mu sync.Mutex
	failures := 3
	f.before = func(lane string) (laneStep, bool) {
		mu.Lock()
		defer mu.Unlock()
		if lane == "a" && failures > 0 {
			failures--
			return laneWait, true
		}
		return 0, false
	}
	f.add("a", 1, 2, 3)
	f.add("b", 1, 2, 3)
	f.start(t, 1, make(chan string, newsBuffer))
	waitFor(t, "both lanes", func() bool { return len(f.handledOf("a")) == 3 && len(f.handledOf("b")) == 3 })
	if got := f.handledOf("a"); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("lane a handled %v after failures, want [1 2 3]", got)
	}
}

// A message stored while its lane's step runs may be missed by that step; the scheduler must run
// the lane again, whether it learns of the message as news or, when news is missed, by reading heads.
func TestLanesWorkArrivingDuringAStepIsNotMissed(t *testing.T) {
	for _, viaNews := range []bool{true, false} {
		t.Run(fmt.Sprint("news=", viaNews), func(t *testing.T) {
			f := newFakeLanes()
			inStep, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			f.before = func(lane string) (laneStep, bool) {
				first := false
				once.Do(func() { first = true })
				if first {
					// The step has looked and found nothing yet; the new message arrives meanwhile.
					close(inStep)
					<-release
					return laneEmpty, true
				}
				return 0, false
			}
			f.add("x", 1)
			var news chan string
			if viaNews {
				news = make(chan string, newsBuffer)
			}
			s := f.start(t, 1, news)
			<-inStep
			for len(f.headsSeen) > 0 {
				<-f.headsSeen
			}
			f.add("x", 2)
			s.notify("x")
			if viaNews {
				// The scheduler handles the news before the step's end: it does one thing at a time.
				waitFor(t, "the news to be taken", func() bool { return len(news) == 0 })
			} else {
				<-f.headsSeen // notify, finding no room for news, has the scheduler read heads
			}
			close(release)
			waitFor(t, "the message that arrived during the step", func() bool { return len(f.handledOf("x")) == 2 })
		})
	}
}
