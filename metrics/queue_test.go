package metrics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestQueueDepth(t *testing.T) {
	m := New(nil)
	if n, _ := testutil.GatherAndCount(m.reg, "cpim_queue_depth"); n != 0 {
		t.Errorf("%d queue series before WatchQueues, want 0", n)
	}
	m.WatchQueues(func(context.Context) []QueueStat {
		return []QueueStat{
			{Direction: In, Gateway: "gw1", Depth: 3, Oldest: time.Now()},
			{Direction: In, Gateway: "gw2"},
			{Direction: Out, Depth: 2, Oldest: time.Now()},
			// Two next hops found by SRV: one series.
			{Direction: Out, Gateway: "srv:a.example", Depth: 1, Oldest: time.Now()},
			{Direction: Out, Gateway: "srv:b.example", Depth: 4, Oldest: time.Now()},
		}
	})
	expected := `
# HELP cpim_queue_depth Messages waiting for delivery, by direction and gateway (empty for the outbound queue).
# TYPE cpim_queue_depth gauge
cpim_queue_depth{direction="in",gateway="gw1"} 3
cpim_queue_depth{direction="in",gateway="gw2"} 0
cpim_queue_depth{direction="out",gateway=""} 2
cpim_queue_depth{direction="out",gateway="srv"} 5
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(expected), "cpim_queue_depth"); err != nil {
		t.Error(err)
	}
}

func TestQueueOldest(t *testing.T) {
	m := New(nil)
	var before time.Time
	m.WatchQueues(func(context.Context) []QueueStat {
		before = time.Now()
		return []QueueStat{
			{Direction: In, Gateway: "gw1", Depth: 1, Oldest: before.Add(-time.Minute)},
			{Direction: In, Gateway: "gw1", Depth: 1, Oldest: before.Add(-time.Hour)},
			{Direction: In, Gateway: "gw1", Depth: 1},                       // age unknown: does not hide the others
			{Direction: In, Gateway: "gw2", Oldest: before.Add(-time.Hour)}, // empty: its Oldest is stale
			{Direction: Out, Depth: 1},
		}
	})
	families, err := m.reg.Gather()
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	ages := map[string]float64{}
	for _, f := range families {
		if f.GetName() == "cpim_queue_oldest_seconds" {
			for _, mt := range f.GetMetric() {
				ages[mt.GetLabel()[0].GetValue()+"/"+mt.GetLabel()[1].GetValue()] = mt.GetGauge().GetValue()
			}
		}
	}
	// The collector reads the clock between before and after.
	lo, hi := time.Hour.Seconds(), (time.Hour + after.Sub(before)).Seconds()
	if age := ages["in/gw1"]; age < lo || age > hi {
		t.Errorf("oldest in/gw1 = %vs, want the older message's age, in [%v, %v]", age, lo, hi)
	}
	if age, ok := ages["in/gw2"]; !ok || age != 0 {
		t.Errorf("oldest in/gw2 = %v (present %v), want 0 for an empty queue", age, ok)
	}
	if age, ok := ages["out/"]; !ok || age != 0 {
		t.Errorf("oldest out = %v (present %v), want 0 when the age is unknown", age, ok)
	}
}
