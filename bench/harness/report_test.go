package harness

import (
	"strings"
	"testing"
	"time"
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
		if got := Compare(tc.ours, tc.base, tc.higher); got != tc.want {
			t.Errorf("Compare(%v, %v, %v) = %q, want %q", tc.ours, tc.base, tc.higher, got, tc.want)
		}
	}
	for x, want := range map[float64]string{1234.5: "1234", 12.34: "12.3", 1.234: "1.23"} {
		if got := Num(x); got != want {
			t.Errorf("Num(%v) = %q, want %q", x, got, want)
		}
	}
}

func TestTableReportsMedians(t *testing.T) {
	run := func(rate float64, p99 time.Duration) Run {
		return Run{PhaseInMax: {AnswerRate: rate}, PhaseInPaced: {EndToEnd: Summary{P99: p99}}}
	}
	table := Table(
		[]Run{run(900, 3*time.Millisecond), run(1000, 9*time.Millisecond), run(5000, 4*time.Millisecond)},
		[]Run{run(2000, 2*time.Millisecond)},
	)
	for _, want := range []string{
		"| inbound accepted (202) (msg/s) | 1000 | 2000 | 0.50× |",
		"| inbound to Matrix p99 @ fixed rate (ms) | 4.00 | 2.00 | +2.00 (2.00×) |",
		"| outbound delivered to gateway (msg/s) | 0.00 | 0.00 | – |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}
