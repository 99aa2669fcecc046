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
	Dendrite map[string]harness.Run `json:",omitempty"`
}

type variantResult struct {
	Runs   []harness.Run
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
		"runs": o.runs, "baseline_is_cpim": o.baselineIsCPIM, "users": o.users, "ghosts": o.ghosts, "gateways": o.gateways, "size": o.size,
		"in_n": o.inN, "in_conc": o.inConc, "lat_n": o.latN, "lat_rate": o.latRate, "lat_conc": o.latConc,
		"out_n": o.outN, "out_batch": o.outBatch, "out_conc": o.outConc,
		"mem_users": o.memUsers, "mem_portals": o.memPortals, "mem_msgs": o.memMsgs, "log_level": o.logLevel, "db_max_open": o.dbOpen, "db_max_idle": o.dbIdle, "env": []string(o.env),
		"dendrite": o.dendrite, "dendrite_users": o.dUsers, "dendrite_ghosts": o.dGhosts, "dendrite_in_n": o.dIn,
		"dendrite_out_n": o.dOut, "dendrite_lat_n": o.dLatN, "dendrite_lat_rate": o.dRate,
	}
}

func (r *results) markdown(o *options) string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "Machine: %s CPUs (%s), %s KiB RAM, Linux %s, %s, %s.\n\n", m["cpus"], m["cpu"], m["memory_kib"], m["kernel"], m["go"], m["date"])
	if o.dbOpen > 0 || o.dbIdle > 0 || len(o.env) > 0 {
		fmt.Fprintf(&b, "Both bridges ran with database.max_open_conns %s, max_idle_conns %s, environment %q.\n\n", orDefault(o.dbOpen), orDefault(o.dbIdle), []string(o.env))
	}
	if o.baselineIsCPIM {
		b.WriteString("The baseline column is another build of matrix-cpim (-baseline-is-cpim), not the bridgev2 floor.\n\n")
	}
	if o.runs > 0 {
		fmt.Fprintf(&b, "Throughput and latency: median of %d runs per bridge, each on a fresh bridge and SQLite database; "+
			"%d users × %d contacts = %d portals over %d gateways, %d-byte texts. Max rate: %d inbound requests in flight, "+
			"%d outbound events in transactions of %d, %d in flight. Fixed rate: %d messages at %.0f msg/s.\n\n",
			o.runs, o.users, o.ghosts, o.users*o.ghosts, o.gateways, o.size, o.inConc, o.outN, o.outBatch, o.outConc, o.latN, o.latRate)
		b.WriteString(harness.Table(r.Variants[harness.Ours].Runs, r.Variants[harness.Baseline].Runs))
	}
	ours, base := r.Variants[harness.Ours].Memory, r.Variants[harness.Baseline].Memory
	if ours != nil && base != nil {
		fmt.Fprintf(&b, "\nMemory (one run per bridge, %d users; each reading after %s idle, the Go figures after a forced GC):\n\n", o.memUsers, o.settleTime)
		b.WriteString("| memory (MiB unless stated) | matrix-cpim | baseline | matrix-cpim vs baseline |\n|---|---:|---:|---:|\n")
		mib := func(kib int64) float64 { return float64(kib) / 1024 }
		for _, row := range []struct {
			name       string
			ours, base float64
		}{
			{"RSS, started, no portals", mib(ours.Started.RSS), mib(base.Started.RSS)},
			{fmt.Sprintf("RSS, %d idle portals", ours.Portals), mib(ours.WithPortals.RSS), mib(base.WithPortals.RSS)},
			{fmt.Sprintf("Go live heap, %d idle portals", ours.Portals), mib(ours.WithPortals.Go.HeapAlloc >> 10), mib(base.WithPortals.Go.HeapAlloc >> 10)},
			{fmt.Sprintf("goroutines (count), %d idle portals", ours.Portals), float64(ours.WithPortals.Go.Goroutines), float64(base.WithPortals.Go.Goroutines)},
			{fmt.Sprintf("RSS, after %d messages", ours.Messages), mib(ours.AfterMsgs.RSS), mib(base.AfterMsgs.RSS)},
			{fmt.Sprintf("Go live heap, after %d messages", ours.Messages), mib(ours.AfterMsgs.Go.HeapAlloc >> 10), mib(base.AfterMsgs.Go.HeapAlloc >> 10)},
			{fmt.Sprintf("Go runtime's share of RSS (Sys − HeapReleased), after %d messages", ours.Messages), mib(goHeld(ours.AfterMsgs.Go) >> 10), mib(goHeld(base.AfterMsgs.Go) >> 10)},
			{"RSS peak (VmHWM)", mib(ours.AfterMsgs.Peak), mib(base.AfterMsgs.Peak)},
		} {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", row.name, harness.Num(row.ours), harness.Num(row.base), harness.Compare(row.ours, row.base, false))
		}
		po, pb := ours.Phases[phaseMemMsgs], base.Phases[phaseMemMsgs]
		fmt.Fprintf(&b, "\nMemory run rates: %d portals created at %s vs %s portal/s; %d messages delivered at %s vs %s msg/s.\n",
			ours.Portals, harness.Num(ours.Phases[phaseMemPortals].DeliverRate), harness.Num(base.Phases[phaseMemPortals].DeliverRate),
			ours.Messages, harness.Num(po.DeliverRate), harness.Num(pb.DeliverRate))
	}
	if d := r.Dendrite; d != nil {
		fmt.Fprintf(&b, "\nEnd to end with Dendrite (one run per bridge; %d users × %d contacts = %d portals; fixed rate: %d messages at %.0f msg/s; "+
			"inbound messages have arrived when Dendrite pushes them to an observer appservice, outbound ones when the gateway has them):\n\n",
			o.dUsers, o.dGhosts, o.dUsers*o.dGhosts, o.dLatN, o.dRate)
		if o.baselineIsCPIM {
			b.WriteString("The baseline column is another build of matrix-cpim (-baseline-is-cpim), not the bridgev2 floor.\n\n")
		}
		b.WriteString(harness.Table([]harness.Run{d[harness.Ours]}, []harness.Run{d[harness.Baseline]}))
	}
	return b.String()
}

// orDefault shows a count option, 0 being the example config's value.
func orDefault(n int) string {
	if n == 0 {
		return "as in the example config"
	}
	return fmt.Sprint(n)
}

// goHeld is the memory the Go runtime holds of the RSS, at most: what it got from the OS less what
// it returned.
func goHeld(m harness.GoMemory) int64 { return m.Sys - m.HeapReleased }
