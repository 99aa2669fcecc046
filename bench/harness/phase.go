package harness

import (
	"context"
	"fmt"
	"os"
	"time"
)

// Phase is what one load measured.
type Phase struct {
	Messages int
	// AnswerRate is messages per second the bridge answered (202 for inbound, 200 for a
	// transaction), first request to last answer.
	AnswerRate float64
	// DeliverRate is messages per second that reached the far end, first send to last arrival.
	DeliverRate float64
	Answer      Summary // request latency
	EndToEnd    Summary // send to arrival, per message
	// CPUPerMsg is the bridge's CPU time (all threads, user+system) from the start of the load to
	// the last arrival, divided by Messages.
	CPUPerMsg time.Duration
	// HarnessCPUPerMsg is the same for this process: load generator, stand-in homeserver and
	// test gateway together.
	HarnessCPUPerMsg time.Duration
	// OtherLoad is the CPU that neither the bridge nor the harness used during the phase, in
	// cores: other processes on the machine, which the figures do not account for.
	OtherLoad float64
	// Behind is how late the most delayed request started when the load has a Rate.
	Behind time.Duration
}

// cpuSample is the CPU time used so far by the bridge, this process and the whole machine.
type cpuSample struct {
	at                    time.Time
	bridge, self, machine time.Duration
}

func sampleCPU(pid int) (cpuSample, error) {
	s := cpuSample{at: time.Now()}
	var err error
	if s.bridge, err = ReadCPU(pid); err != nil {
		return s, err
	}
	if s.self, err = ReadCPU(os.Getpid()); err != nil {
		return s, err
	}
	s.machine, err = ReadMachineCPU()
	return s, err
}

// Measure runs l through op, waits until every message arrived at tr (up to arriveTimeout after
// the load ended) and returns the figures; pid is the bridge, for its CPU time.
func Measure(ctx context.Context, l Load, tr *Tracker, op Op, pid int, arriveTimeout time.Duration) (Phase, error) {
	cpu0, err := sampleCPU(pid)
	if err != nil {
		return Phase{}, err
	}
	run := l.Run(ctx, tr, op)
	if err := run.Err(); err != nil {
		return Phase{}, err
	}
	if err := tr.Wait(ctx, arriveTimeout); err != nil {
		return Phase{}, err
	}
	cpu1, err := sampleCPU(pid)
	if err != nil {
		return Phase{}, err
	}
	if _, dups, unknown := tr.Arrivals(); dups > 0 || unknown > 0 {
		return Phase{}, fmt.Errorf("%d messages arrived twice and %d unknown ones arrived", dups, unknown)
	}
	lat, span := tr.Latencies()
	p := Phase{
		Messages:         l.N,
		Answer:           Summarize(run.Requests),
		EndToEnd:         Summarize(lat),
		CPUPerMsg:        (cpu1.bridge - cpu0.bridge) / time.Duration(max(l.N, 1)),
		HarnessCPUPerMsg: (cpu1.self - cpu0.self) / time.Duration(max(l.N, 1)),
		Behind:           run.Behind,
	}
	other := (cpu1.machine - cpu0.machine) - (cpu1.bridge - cpu0.bridge) - (cpu1.self - cpu0.self)
	if wall := cpu1.at.Sub(cpu0.at); wall > 0 {
		p.OtherLoad = max(float64(other)/float64(wall), 0)
	}
	if run.Elapsed > 0 {
		p.AnswerRate = float64(run.Sent) / run.Elapsed.Seconds()
	}
	if span > 0 {
		p.DeliverRate = float64(l.N) / span.Seconds()
	}
	return p, nil
}
