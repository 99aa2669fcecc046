// Command cpimbench measures the bridge's throughput, latency and memory through its real
// interfaces, against a stand-in homeserver (package hsstub) that answers at once, and measures
// the baseline connector (bench/baseline) the same way in the same invocation, so that every
// figure comes with its ratio to bridgev2's floor. bench/run.sh builds the binaries and runs it;
// BENCHMARKS.md explains the figures.
//
// Inbound, Gateways gateways post CPIM messages to the bridge's /_cpim/v1/message; a message has
// arrived when the stand-in receives its m.room.message. Outbound, the harness pushes appservice
// transactions of m.room.message events into the portals the inbound messages created; a message
// has arrived when the test gateway receives it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/matrix-cpim/matrix-cpim/bench/harness"
	"github.com/matrix-cpim/matrix-cpim/internal/tesths"
)

type options struct {
	bridge, baseline string
	baselineIsCPIM   bool
	outDir, workDir  string
	keep             bool

	runs                     int
	users, ghosts, gateways  int
	size                     int
	inN, inConc              int
	latN, latConc            int
	latRate                  float64
	outN, outBatch, outConc  int
	memUsers, memPortals     int
	memMsgs                  int
	profileSecs              int
	logLevel                 string
	dbOpen, dbIdle           int
	env                      envFlag
	dendrite                 bool
	dUsers, dGhosts          int
	dIn, dOut, dLatN         int
	dRate                    float64
	phaseTimeout, settleTime time.Duration
}

func main() {
	o := &options{}
	flag.StringVar(&o.bridge, "bridge", "", "matrix-cpim binary (required)")
	flag.StringVar(&o.baseline, "baseline", "", "baseline binary (required)")
	flag.BoolVar(&o.baselineIsCPIM, "baseline-is-cpim", false, "the -baseline binary is another matrix-cpim build (a before/after comparison of a bridge change)")
	flag.StringVar(&o.outDir, "out", "bench/results", "directory for results.json, results.md and profiles")
	flag.BoolVar(&o.keep, "keep", false, "keep the bridges' work directories (config, database, logs)")
	flag.IntVar(&o.runs, "runs", 3, "repetitions of the throughput and latency figures; medians are reported (0 skips them)")
	flag.IntVar(&o.users, "users", 10, "Matrix users in the throughput runs")
	flag.IntVar(&o.ghosts, "ghosts", 10, "remote contacts per user in the throughput runs (portals = users × ghosts)")
	flag.IntVar(&o.gateways, "gateways", 4, "gateways the contacts are spread over")
	flag.IntVar(&o.size, "size", 100, "message text size in bytes")
	flag.IntVar(&o.inN, "in-n", 20000, "inbound messages in the throughput phase")
	flag.IntVar(&o.inConc, "in-conc", 16, "inbound requests in flight in the throughput phase")
	flag.IntVar(&o.latN, "lat-n", 2000, "messages in each fixed-rate latency phase")
	flag.Float64Var(&o.latRate, "lat-rate", 200, "offered rate of the latency phases, messages per second")
	flag.IntVar(&o.latConc, "lat-conc", 64, "requests in flight at most in the latency phases")
	flag.IntVar(&o.outN, "out-n", 20000, "outbound messages in the throughput phase")
	flag.IntVar(&o.outBatch, "out-batch", 50, "events per appservice transaction in the throughput phase")
	flag.IntVar(&o.outConc, "out-conc", 1, "transactions in flight (homeservers send one at a time)")
	flag.IntVar(&o.memUsers, "mem-users", 100, "Matrix users in the memory run")
	flag.IntVar(&o.memPortals, "mem-portals", 10000, "idle portals of the memory run (0 skips it)")
	flag.IntVar(&o.memMsgs, "mem-msgs", 100000, "messages of the memory run")
	flag.IntVar(&o.profileSecs, "profile", 10, "seconds of CPU profile in an extra, unreported run (0 skips it)")
	flag.StringVar(&o.logLevel, "log-level", "", "logging.min_level of both bridges (default: the example config's)")
	flag.IntVar(&o.dbOpen, "db-max-open", 0, "database.max_open_conns of both bridges (default: the example config's)")
	flag.IntVar(&o.dbIdle, "db-max-idle", 5, "database.max_idle_conns of both bridges (0: the example config's 1, with which concurrent work keeps closing and reopening SQLite connections)")
	flag.Var(&o.env, "env", "KEY=VALUE added to both bridges' environment, such as GOGC=50 (repeatable)")
	flag.DurationVar(&o.phaseTimeout, "phase-timeout", 10*time.Minute, "bound on sending one phase's messages")
	flag.DurationVar(&o.settleTime, "settle", 5*time.Second, "idle time before reading the memory figures")
	flag.BoolVar(&o.dendrite, "dendrite", true, "also run end to end against a real Dendrite (scripts/testdeps.sh dendrite installs it)")
	flag.IntVar(&o.dUsers, "dendrite-users", 4, "Matrix users of the Dendrite run")
	flag.IntVar(&o.dGhosts, "dendrite-ghosts", 5, "remote contacts per user of the Dendrite run")
	flag.IntVar(&o.dIn, "dendrite-in-n", 2000, "inbound messages of the Dendrite max-rate phase")
	flag.IntVar(&o.dOut, "dendrite-out-n", 1000, "outbound messages of the Dendrite max-rate phase")
	flag.IntVar(&o.dLatN, "dendrite-lat-n", 300, "messages of each Dendrite fixed-rate phase")
	flag.Float64Var(&o.dRate, "dendrite-lat-rate", 5, "offered rate of the Dendrite fixed-rate phases, messages per second")
	quick := flag.Bool("quick", false, "small sizes for a smoke run: 1 run, 2000 messages, 1000 portals, 10000 messages")
	flag.Parse()
	if *quick {
		o.runs, o.inN, o.outN, o.latN = 1, 2000, 2000, 500
		o.memUsers, o.memPortals, o.memMsgs, o.profileSecs = 20, 1000, 10000, 3
		o.dIn, o.dOut, o.dLatN = 300, 200, 100
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "cpimbench:", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	if o.bridge == "" || o.baseline == "" {
		return errors.New("-bridge and -baseline are required")
	}
	if o.runs < 0 || o.users < 1 || o.ghosts < 1 || o.gateways < 1 || o.memUsers < 1 {
		return errors.New("-users, -ghosts, -gateways and -mem-users must be positive, -runs not negative")
	}
	var err error
	// The bridges run in their own work directories.
	for _, p := range []*string{&o.bridge, &o.baseline} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	if err = os.MkdirAll(o.outDir, 0o755); err != nil {
		return err
	}
	if o.workDir, err = os.MkdirTemp("", "cpimbench-"); err != nil {
		return err
	}
	if o.keep {
		fmt.Println("work directories in", o.workDir)
	} else {
		defer os.RemoveAll(o.workDir)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	variants := harness.Variants(o.bridge, o.baseline, o.baselineIsCPIM)
	res := &results{Machine: describeMachine(), Options: o.describe(), Variants: map[string]*variantResult{}}
	for _, v := range variants {
		res.Variants[v.Name] = &variantResult{}
	}
	// Variants alternate within each repetition, so that drift of the machine (thermal, other
	// load) spreads over both.
	for rep := range o.runs {
		for _, v := range variants {
			fmt.Printf("== run %d/%d: %s\n", rep+1, o.runs, v.Name)
			phases, err := throughputRun(ctx, v, o, "")
			if err != nil {
				return fmt.Errorf("%s, run %d: %w", v.Name, rep+1, err)
			}
			res.Variants[v.Name].Runs = append(res.Variants[v.Name].Runs, phases)
		}
	}
	if o.memPortals > 0 {
		for _, v := range variants {
			fmt.Printf("== memory: %s\n", v.Name)
			m, err := memoryRun(ctx, v, o)
			if err != nil {
				return fmt.Errorf("%s, memory run: %w", v.Name, err)
			}
			res.Variants[v.Name].Memory = m
		}
	}
	if o.dendrite {
		// tesths starts the homeserver this names.
		if err = os.Setenv(tesths.EnvKind, string(tesths.Dendrite)); err != nil {
			return err
		}
		res.Dendrite = map[string]harness.Run{}
		for _, v := range variants {
			fmt.Printf("== Dendrite, end to end: %s\n", v.Name)
			r, err := dendriteRun(ctx, v, o)
			if err != nil {
				return fmt.Errorf("%s with Dendrite: %w", v.Name, err)
			}
			res.Dendrite[v.Name] = r
		}
	}
	if o.profileSecs > 0 {
		for _, v := range variants {
			fmt.Printf("== profile: %s\n", v.Name)
			if _, err := throughputRun(ctx, v, o, filepath.Join(o.outDir, v.Name)); err != nil {
				return fmt.Errorf("%s, profile run: %w", v.Name, err)
			}
		}
	}
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err = os.WriteFile(filepath.Join(o.outDir, "results.json"), data, 0o644); err != nil {
		return err
	}
	report := res.markdown(o)
	fmt.Print("\n", report)
	return os.WriteFile(filepath.Join(o.outDir, "results.md"), []byte(report), 0o644)
}

// Phases of the memory run.
const (
	phaseMemPortals = "memory: portals"
	phaseMemMsgs    = "memory: messages"
)

// throughputRun starts a fresh bridge and runs the throughput and latency phases. With
// profilePrefix set, the two max-rate phases write CPU profiles to profilePrefix-{inbound,outbound}.pprof.
func throughputRun(ctx context.Context, v harness.Variant, o *options, profilePrefix string) (harness.Run, error) {
	topo := harness.Topology{ServerName: "bench.test", Users: o.users, Ghosts: o.ghosts, Gateways: o.gateways}
	e, err := startEnv(ctx, v, topo, o)
	if err != nil {
		return nil, err
	}
	defer e.close()
	profile := func(dir string) string {
		if profilePrefix == "" {
			return ""
		}
		return profilePrefix + "-" + dir + ".pprof"
	}
	phases := harness.Run{}
	steps := []struct {
		name string
		do   func() (harness.Phase, error)
	}{
		{harness.PhasePortals, func() (harness.Phase, error) {
			return e.inbound(ctx, "portals", harness.Load{N: topo.Pairs(), Concurrency: o.inConc}, o, "")
		}},
		{harness.PhaseInMax, func() (harness.Phase, error) {
			return e.inbound(ctx, "in", harness.Load{N: o.inN, Concurrency: o.inConc}, o, profile("inbound"))
		}},
		{harness.PhaseInPaced, func() (harness.Phase, error) {
			return e.inbound(ctx, "inlat", harness.Load{N: o.latN, Rate: o.latRate, Concurrency: o.latConc}, o, "")
		}},
		{harness.PhaseOutMax, func() (harness.Phase, error) {
			return e.outbound(ctx, "out", harness.Load{N: o.outN, Batch: o.outBatch, Concurrency: o.outConc}, o, profile("outbound"))
		}},
		{harness.PhaseOutPaced, func() (harness.Phase, error) {
			return e.outbound(ctx, "outlat", harness.Load{N: o.latN, Rate: o.latRate, Concurrency: o.latConc}, o, "")
		}},
	}
	for _, s := range steps {
		p, err := s.do()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Printf("   %-22s %s\n", s.name, harness.Describe(p))
		phases[s.name] = p
	}
	if profilePrefix != "" {
		if err := e.bridge.Profile(ctx, "heap", "", profilePrefix+"-heap.pprof"); err != nil {
			return nil, err
		}
	}
	return phases, nil
}

// Memory is what the memory run read at its three points.
type Memory struct {
	Portals  int // idle portals at the second reading
	Messages int // messages at the third reading
	// Started is read once the bridge is ready, before any message.
	Started, WithPortals, AfterMsgs MemReading
	// Phases are the two loads, for their rates.
	Phases map[string]harness.Phase
}

// MemReading is one reading: the process's resident memory, then the Go runtime's figures after
// a forced garbage collection.
type MemReading struct {
	harness.Memory // KiB
	Go             harness.GoMemory
}

// memoryRun creates memPortals portals, lets the bridge idle, then sends memMsgs messages over
// them. At the last two readings it writes heap profiles to outDir.
func memoryRun(ctx context.Context, v harness.Variant, o *options) (*Memory, error) {
	ghosts := max(o.memPortals/o.memUsers, 1)
	topo := harness.Topology{ServerName: "bench.test", Users: o.memUsers, Ghosts: ghosts, Gateways: o.gateways}
	e, err := startEnv(ctx, v, topo, o)
	if err != nil {
		return nil, err
	}
	defer e.close()
	m := &Memory{Portals: topo.Pairs(), Messages: o.memMsgs, Phases: map[string]harness.Phase{}}
	read := func(dst *MemReading, profile string) error {
		if !sleepCtx(ctx, o.settleTime) {
			return ctx.Err()
		}
		if dst.Memory, err = harness.ReadMemory(e.bridge.PID()); err != nil {
			return err
		}
		if dst.Go, err = e.bridge.GoMemory(ctx); err != nil {
			return err
		}
		if profile == "" {
			return nil
		}
		return e.bridge.Profile(ctx, "heap", "", filepath.Join(o.outDir, v.Name+"-heap-"+profile+".pprof"))
	}
	if err = read(&m.Started, ""); err != nil {
		return nil, err
	}
	p, err := e.inbound(ctx, "memportals", harness.Load{N: topo.Pairs(), Concurrency: o.inConc}, o, "")
	if err != nil {
		return nil, fmt.Errorf("creating portals: %w", err)
	}
	m.Phases[phaseMemPortals] = p
	fmt.Printf("   %-22s %s\n", phaseMemPortals, harness.Describe(p))
	if err = read(&m.WithPortals, "portals"); err != nil {
		return nil, err
	}
	p, err = e.inbound(ctx, "memmsgs", harness.Load{N: o.memMsgs, Concurrency: o.inConc}, o, "")
	if err != nil {
		return nil, fmt.Errorf("sending messages: %w", err)
	}
	m.Phases[phaseMemMsgs] = p
	fmt.Printf("   %-22s %s\n", phaseMemMsgs, harness.Describe(p))
	if err = read(&m.AfterMsgs, "messages"); err != nil {
		return nil, err
	}
	for _, r := range []struct {
		name string
		r    MemReading
	}{{"started", m.Started}, {fmt.Sprintf("%d idle portals", m.Portals), m.WithPortals}, {fmt.Sprintf("after %d messages", m.Messages), m.AfterMsgs}} {
		fmt.Printf("   %-24s RSS %4d MiB (peak %4d)  Go heap live %4d MiB  stacks %3d MiB  goroutines %d\n",
			r.name, r.r.RSS>>10, r.r.Peak>>10, r.r.Go.HeapAlloc>>20, r.r.Go.StackInuse>>20, r.r.Go.Goroutines)
	}
	return m, nil
}

// envFlag collects repeated -env flags.
type envFlag []string

func (e *envFlag) String() string { return strings.Join(*e, " ") }

func (e *envFlag) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", v)
	}
	*e = append(*e, v)
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
