package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/matrix-cpim/matrix-cpim/bench/harness"
)

type results struct {
	Machine  map[string]string
	Options  map[string]any
	Variants map[string]*variantResult
}

type variantResult struct {
	Runs   []map[string]harness.Phase
	Memory *Memory `json:",omitempty"`
}

func describeMachine() map[string]string {
	m := map[string]string{
		"cpus":       fmt.Sprint(runtime.NumCPU()),
		"go":         runtime.Version(),
		"date":       time.Now().UTC().Format(time.RFC3339),
		"cpu":        "unknown",
		"kernel":     "unknown",
		"memory_kib": "unknown",
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]); len(f) >= 2 {
			m["memory_kib"] = f[1]
		}
	}
	return m
}

func (o *options) describe() map[string]any {
	return map[string]any{
		"runs": o.runs, "users": o.users, "ghosts": o.ghosts, "gateways": o.gateways, "size": o.size,
		"in_n": o.inN, "in_conc": o.inConc, "lat_n": o.latN, "lat_rate": o.latRate, "lat_conc": o.latConc,
		"out_n": o.outN, "out_batch": o.outBatch, "out_conc": o.outConc,
		"mem_users": o.memUsers, "mem_portals": o.memPortals, "mem_msgs": o.memMsgs, "log_level": o.logLevel,
	}
}

// figure is one row of the report: how to read a number from a run's phases, and how the ratio
// to the baseline reads.
type figure struct {
	name   string
	unit   string
	phase  string
	get    func(harness.Phase) float64
	higher bool // higher is better: the ratio is ours/baseline; else the difference is shown too
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

var figures = []figure{
	{"inbound accepted (202)", "msg/s", phaseInMax, func(p harness.Phase) float64 { return p.AnswerRate }, true},
	{"inbound delivered to Matrix", "msg/s", phaseInMax, func(p harness.Phase) float64 { return p.DeliverRate }, true},
	{"inbound bridge CPU", "µs/msg", phaseInMax, func(p harness.Phase) float64 { return float64(p.CPUPerMsg) / 1e3 }, false},
	{"inbound 202 latency p50 @ fixed rate", "ms", phaseInPaced, func(p harness.Phase) float64 { return ms(p.Answer.P50) }, false},
	{"inbound 202 latency p99 @ fixed rate", "ms", phaseInPaced, func(p harness.Phase) float64 { return ms(p.Answer.P99) }, false},
	{"inbound to Matrix p50 @ fixed rate", "ms", phaseInPaced, func(p harness.Phase) float64 { return ms(p.EndToEnd.P50) }, false},
	{"inbound to Matrix p90 @ fixed rate", "ms", phaseInPaced, func(p harness.Phase) float64 { return ms(p.EndToEnd.P90) }, false},
	{"inbound to Matrix p99 @ fixed rate", "ms", phaseInPaced, func(p harness.Phase) float64 { return ms(p.EndToEnd.P99) }, false},
	{"new portals (first message of a DM)", "portal/s", phasePortals, func(p harness.Phase) float64 { return p.DeliverRate }, true},
	{"outbound delivered to gateway", "msg/s", phaseOutMax, func(p harness.Phase) float64 { return p.DeliverRate }, true},
	{"outbound bridge CPU", "µs/msg", phaseOutMax, func(p harness.Phase) float64 { return float64(p.CPUPerMsg) / 1e3 }, false},
	{"outbound to gateway p50 @ fixed rate", "ms", phaseOutPaced, func(p harness.Phase) float64 { return ms(p.EndToEnd.P50) }, false},
	{"outbound to gateway p90 @ fixed rate", "ms", phaseOutPaced, func(p harness.Phase) float64 { return ms(p.EndToEnd.P90) }, false},
	{"outbound to gateway p99 @ fixed rate", "ms", phaseOutPaced, func(p harness.Phase) float64 { return ms(p.EndToEnd.P99) }, false},
}

func (r *results) median(variant string, f figure) float64 {
	var xs []float64
	for _, run := range r.Variants[variant].Runs {
		if p, ok := run[f.phase]; ok {
			xs = append(xs, f.get(p))
		}
	}
	return harness.Median(xs)
}

func (r *results) markdown(o *options) string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "Machine: %s CPUs (%s), %s KiB RAM, Linux %s, %s, %s.\n\n", m["cpus"], m["cpu"], m["memory_kib"], m["kernel"], m["go"], m["date"])
	fmt.Fprintf(&b, "Throughput and latency: median of %d runs per bridge, each on a fresh bridge and SQLite database; "+
		"%d users × %d contacts = %d portals over %d gateways, %d-byte texts. Max rate: %d inbound requests in flight, "+
		"%d outbound events in transactions of %d, %d in flight. Fixed rate: %d messages at %.0f msg/s.\n\n",
		o.runs, o.users, o.ghosts, o.users*o.ghosts, o.gateways, o.size, o.inConc, o.outN, o.outBatch, o.outConc, o.latN, o.latRate)
	b.WriteString("| figure | matrix-cpim | baseline | matrix-cpim vs baseline |\n|---|---:|---:|---:|\n")
	for _, f := range figures {
		ours, base := r.median("matrix-cpim", f), r.median("baseline", f)
		fmt.Fprintf(&b, "| %s (%s) | %s | %s | %s |\n", f.name, f.unit, num(ours), num(base), compare(ours, base, f.higher))
	}
	ours, base := r.Variants["matrix-cpim"].Memory, r.Variants["baseline"].Memory
	if ours != nil && base != nil {
		fmt.Fprintf(&b, "\nMemory (one run per bridge; VmRSS after %s idle; %d users):\n\n", o.settleTime, o.memUsers)
		b.WriteString("| resident memory (MiB) | matrix-cpim | baseline | matrix-cpim vs baseline |\n|---|---:|---:|---:|\n")
		for _, row := range []struct {
			name       string
			ours, base int64
		}{
			{"started, no portals", ours.Started, base.Started},
			{fmt.Sprintf("%d idle portals", ours.Portals), ours.WithPortals, base.WithPortals},
			{fmt.Sprintf("after %d messages", ours.Messages), ours.AfterMsgs, base.AfterMsgs},
			{"peak (VmHWM)", ours.Peak, base.Peak},
		} {
			o, bs := float64(row.ours)/1024, float64(row.base)/1024
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", row.name, num(o), num(bs), compare(o, bs, false))
		}
		po, pb := ours.Phases[phaseMemMsgs], base.Phases[phaseMemMsgs]
		fmt.Fprintf(&b, "\nMemory run rates: %d portals created at %s vs %s portal/s; %d messages delivered at %s vs %s msg/s.\n",
			ours.Portals, num(ours.Phases[phaseMemPortals].DeliverRate), num(base.Phases[phaseMemPortals].DeliverRate),
			ours.Messages, num(po.DeliverRate), num(pb.DeliverRate))
	}
	return b.String()
}

func num(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

// compare is ours/base for figures where higher is better, and the difference with the ratio for
// costs and latencies.
func compare(ours, base float64, higher bool) string {
	if base == 0 {
		return "–"
	}
	if higher {
		return fmt.Sprintf("%.2f×", ours/base)
	}
	return fmt.Sprintf("%+.2f (%.2f×)", ours-base, ours/base)
}
