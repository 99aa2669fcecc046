package harness

import (
	"fmt"
	"strings"
	"time"
)

// Phase names, shared by the stand-in and Dendrite runs so that their reports read alike.
const (
	PhasePortals  = "portal creation"
	PhaseInMax    = "inbound, max rate"
	PhaseInPaced  = "inbound, fixed rate"
	PhaseOutMax   = "outbound, max rate"
	PhaseOutPaced = "outbound, fixed rate"
)

// Run is the phases of one run of one bridge, by name.
type Run map[string]Phase

// figure is one row of the report: how to read a number from a run's phases, and how the ratio
// to the baseline reads.
type figure struct {
	name   string
	unit   string
	phase  string
	get    func(Phase) float64
	higher bool // higher is better: the ratio is ours/baseline; else the difference is shown too
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

var figures = []figure{
	{"inbound accepted (202)", "msg/s", PhaseInMax, func(p Phase) float64 { return p.AnswerRate }, true},
	{"inbound delivered to Matrix", "msg/s", PhaseInMax, func(p Phase) float64 { return p.DeliverRate }, true},
	{"inbound bridge CPU", "µs/msg", PhaseInMax, func(p Phase) float64 { return us(p.CPUPerMsg) }, false},
	{"inbound 202 latency p50 @ fixed rate", "ms", PhaseInPaced, func(p Phase) float64 { return ms(p.Answer.P50) }, false},
	{"inbound 202 latency p99 @ fixed rate", "ms", PhaseInPaced, func(p Phase) float64 { return ms(p.Answer.P99) }, false},
	{"inbound to Matrix p50 @ fixed rate", "ms", PhaseInPaced, func(p Phase) float64 { return ms(p.EndToEnd.P50) }, false},
	{"inbound to Matrix p90 @ fixed rate", "ms", PhaseInPaced, func(p Phase) float64 { return ms(p.EndToEnd.P90) }, false},
	{"inbound to Matrix p99 @ fixed rate", "ms", PhaseInPaced, func(p Phase) float64 { return ms(p.EndToEnd.P99) }, false},
	{"new portals (first message of a DM)", "portal/s", PhasePortals, func(p Phase) float64 { return p.DeliverRate }, true},
	{"outbound delivered to gateway", "msg/s", PhaseOutMax, func(p Phase) float64 { return p.DeliverRate }, true},
	{"outbound bridge CPU", "µs/msg", PhaseOutMax, func(p Phase) float64 { return us(p.CPUPerMsg) }, false},
	{"outbound to gateway p50 @ fixed rate", "ms", PhaseOutPaced, func(p Phase) float64 { return ms(p.EndToEnd.P50) }, false},
	{"outbound to gateway p90 @ fixed rate", "ms", PhaseOutPaced, func(p Phase) float64 { return ms(p.EndToEnd.P90) }, false},
	{"outbound to gateway p99 @ fixed rate", "ms", PhaseOutPaced, func(p Phase) float64 { return ms(p.EndToEnd.P99) }, false},
	{"load of other processes (max-rate phases)", "cores", PhaseInMax, func(p Phase) float64 { return p.OtherLoad }, false},
}

func median(runs []Run, f figure) float64 {
	var xs []float64
	for _, run := range runs {
		if p, ok := run[f.phase]; ok {
			xs = append(xs, f.get(p))
		}
	}
	return Median(xs)
}

// Table is the Markdown table of every figure, the median over each bridge's runs, and how
// matrix-cpim compares with the baseline.
func Table(ours, base []Run) string {
	var b strings.Builder
	b.WriteString("| figure | matrix-cpim | baseline | matrix-cpim vs baseline |\n|---|---:|---:|---:|\n")
	for _, f := range figures {
		o, bs := median(ours, f), median(base, f)
		fmt.Fprintf(&b, "| %s (%s) | %s | %s | %s |\n", f.name, f.unit, Num(o), Num(bs), Compare(o, bs, f.higher))
	}
	return b.String()
}

// Num formats a figure with three significant digits or so.
func Num(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

// Compare is ours/base for figures where higher is better, and the difference with the ratio for
// costs and latencies.
func Compare(ours, base float64, higher bool) string {
	if base == 0 {
		return "–"
	}
	if higher {
		return fmt.Sprintf("%.2f×", ours/base)
	}
	return fmt.Sprintf("%+.2f (%.2f×)", ours-base, ours/base)
}

// Describe is a one-line summary of a phase for progress output.
func Describe(p Phase) string {
	return fmt.Sprintf("answered %6.0f/s  delivered %6.0f/s  bridge cpu %5.0fµs/msg  harness cpu %5.0fµs/msg  other load %.2f cores  e2e %s",
		p.AnswerRate, p.DeliverRate, us(p.CPUPerMsg), us(p.HarnessCPUPerMsg), p.OtherLoad, p.EndToEnd)
}
