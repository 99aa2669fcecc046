package main

import (
	"strings"
	"testing"

	"github.com/matrix-cpim/matrix-cpim/bench/harness"
)

func TestMarkdownMemoryTable(t *testing.T) {
	mem := func(mib int64) *Memory {
		return &Memory{Started: 10 << 10, Portals: 100, WithPortals: mib << 10, Messages: 1000, AfterMsgs: 2 * mib << 10, Peak: 3 * mib << 10}
	}
	r := &results{Machine: map[string]string{}, Variants: map[string]*variantResult{
		"matrix-cpim": {Runs: []harness.Run{{}}, Memory: mem(40)},
		"baseline":    {Runs: []harness.Run{{}}, Memory: mem(20)},
	}}
	md := r.markdown(&options{runs: 1, memUsers: 10})
	for _, want := range []string{
		"| 100 idle portals | 40.0 | 20.0 | +20.00 (2.00×) |",
		"| after 1000 messages | 80.0 | 40.0 | +40.00 (2.00×) |",
		"| figure | matrix-cpim | baseline |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	r.Variants["baseline"].Memory = nil
	if md := r.markdown(&options{runs: 1}); strings.Contains(md, "resident memory") {
		t.Errorf("memory table without the baseline's figures:\n%s", md)
	}
}
