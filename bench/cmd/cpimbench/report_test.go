package main

import (
	"strings"
	"testing"

	"github.com/matrix-cpim/matrix-cpim/bench/harness"
)

func TestMarkdownMemoryTable(t *testing.T) {
	mem := func(mib int64) *Memory {
		reading := func(rss int64) MemReading {
			return MemReading{Memory: harness.Memory{RSS: rss << 10, Peak: 3 * mib << 10}, Go: harness.GoMemory{HeapAlloc: mib << 19, Sys: mib << 20, HeapReleased: mib << 19, Goroutines: 100 + mib}}
		}
		return &Memory{Portals: 100, Messages: 1000, Started: reading(10), WithPortals: reading(mib), AfterMsgs: reading(2 * mib)}
	}
	r := &results{Machine: map[string]string{}, Variants: map[string]*variantResult{
		"matrix-cpim": {Runs: []harness.Run{{}}, Memory: mem(40)},
		"baseline":    {Runs: []harness.Run{{}}, Memory: mem(20)},
	}}
	md := r.markdown(&options{runs: 1, memUsers: 10})
	for _, want := range []string{
		"| RSS, 100 idle portals | 40.0 | 20.0 | +20.00 (2.00×) |",
		"| RSS, after 1000 messages | 80.0 | 40.0 | +40.00 (2.00×) |",
		"| Go live heap, 100 idle portals | 20.0 | 10.0 | +10.00 (2.00×) |",
		"| goroutines (count), 100 idle portals | 140 | 120 | +20.00 (1.17×) |",
		"| RSS peak (VmHWM) | 120 | 60.0 | +60.00 (2.00×) |",
		"| Go runtime's share of RSS (Sys − HeapReleased), after 1000 messages | 20.0 | 10.0 | +10.00 (2.00×) |",
		"| figure | matrix-cpim | baseline |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "Both bridges ran with") {
		t.Errorf("settings line without any setting:\n%s", md)
	}
	md = r.markdown(&options{runs: 1, dbIdle: 5})
	if want := "Both bridges ran with database.max_open_conns as in the example config, max_idle_conns 5"; !strings.Contains(md, want) {
		t.Errorf("report lacks %q:\n%s", want, md)
	}
	r.Variants["baseline"].Memory = nil
	if md := r.markdown(&options{runs: 1}); strings.Contains(md, "RSS") {
		t.Errorf("memory table without the baseline's figures:\n%s", md)
	}
}
