package main

import (
	"strings"
	"testing"
	"time"

	"github.com/matrix-cpim/matrix-cpim/bench/harness"
)

func TestCompareAndNum(t *testing.T) {
	for _, tc := range []struct {
		ours, base float64
		higher     bool
		want       string
	}{
		{800, 1000, true, "0.80×"},
		{12, 10, false, "+2.00 (1.20×)"},
		{1, 0, true, "–"},
	} {
		if got := compare(tc.ours, tc.base, tc.higher); got != tc.want {
			t.Errorf("compare(%v, %v, %v) = %q, want %q", tc.ours, tc.base, tc.higher, got, tc.want)
		}
	}
	for x, want := range map[float64]string{1234.5: "1234", 12.34: "12.3", 1.234: "1.23"} {
		if got := num(x); got != want {
			t.Errorf("num(%v) = %q, want %q", x, got, want)
		}
	}
}

func TestMarkdownReportsMedians(t *testing.T) {
	run := func(rate float64, p99 time.Duration) map[string]harness.Phase {
		return map[string]harness.Phase{
			phaseInMax:   {AnswerRate: rate},
			phaseInPaced: {EndToEnd: harness.Summary{P99: p99}},
		}
	}
	r := &results{Machine: map[string]string{}, Variants: map[string]*variantResult{
		"matrix-cpim": {Runs: []map[string]harness.Phase{run(900, 3*time.Millisecond), run(1000, 9*time.Millisecond), run(5000, 4*time.Millisecond)}},
		"baseline":    {Runs: []map[string]harness.Phase{run(2000, 2*time.Millisecond)}},
	}}
	md := r.markdown(&options{runs: 3})
	for _, want := range []string{
		"| inbound accepted (202) (msg/s) | 1000 | 2000 | 0.50× |",
		"| inbound to Matrix p99 @ fixed rate (ms) | 4.00 | 2.00 | +2.00 (2.00×) |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
