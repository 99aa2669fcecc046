package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"maunium.net/go/mautrix/event"

	"github.com/matrix-cpim/matrix-cpim/bench/harness"
	"github.com/matrix-cpim/matrix-cpim/bench/hsstub"
)

// env is one bridge process with its own stand-in homeserver and test gateway.
type env struct {
	topo   harness.Topology
	tokens []string
	hs     *hsstub.Server
	gw     *harness.Gateway
	bridge *harness.Bridge
	sink   *harness.Sink
	dir    string
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startEnv sets up and starts v's bridge against a fresh stand-in and gateway.
func startEnv(ctx context.Context, v harness.Variant, topo harness.Topology, o *options) (_ *env, err error) {
	dir, err := os.MkdirTemp(o.workDir, v.Name+"-")
	if err != nil {
		return nil, err
	}
	e := &env{topo: topo, sink: harness.NewSink(topo.Pairs()), dir: dir}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	for range topo.Gateways {
		e.tokens = append(e.tokens, randomToken())
	}
	if e.gw, err = harness.StartGateway(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e.bridge, err = harness.SetupBridge(harness.BridgeOptions{
		Binary:       v.Binary,
		Dir:          dir,
		Homeserver:   "http://" + ln.Addr().String(),
		ServerName:   topo.ServerName,
		Network:      v.Network(e.gw.URL, topo, e.tokens),
		LogLevel:     o.logLevel,
		MaxOpenConns: o.dbOpen,
		MaxIdleConns: o.dbIdle,
		Env:          o.env,
		DebugSecret:  randomToken(),
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	reg := e.bridge.Registration
	if e.hs, err = hsstub.Serve(ln, hsstub.Config{
		ServerName:   topo.ServerName,
		ASToken:      reg.AppToken,
		BotLocalpart: reg.SenderLocalpart,
		OnSend: func(s hsstub.Sent) {
			if s.Type == event.EventMessage.Type {
				e.sink.Message(s.Room, s.Body)
			}
		},
	}); err != nil {
		ln.Close()
		return nil, err
	}
	for u := range topo.Users {
		e.hs.AddUser(topo.User(u))
	}
	if err = e.bridge.Start(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// close stops everything env started; the work directory stays for -keep.
func (e *env) close() {
	if e.bridge != nil {
		e.bridge.Stop()
	}
	if e.hs != nil {
		counts := e.hs.Counts()
		_ = os.WriteFile(filepath.Join(e.dir, "homeserver-requests.txt"), []byte(hsstub.FormatCounts(counts)), 0o644)
		for k, n := range counts {
			if strings.HasPrefix(k, "unrouted ") {
				fmt.Printf("   stand-in homeserver: %d × %s\n", n, k)
			}
		}
		e.hs.Close()
	}
	if log, err := os.ReadFile(filepath.Join(e.dir, "bridge.log")); err == nil {
		errs, warns := bytes.Count(log, []byte(`"level":"error"`)), bytes.Count(log, []byte(`"level":"warn"`))
		if errs+warns > 0 {
			fmt.Printf("   the bridge logged %d errors and %d warnings: %s\n", errs, warns, filepath.Join(e.dir, "bridge.log"))
		}
	}
	if e.gw != nil {
		e.gw.Close()
	}
}

// arriveTimeout is how long a phase waits for stragglers after its last request: generous, as a
// backlog of ten thousand messages may take a minute to drain.
func arriveTimeout(n int) time.Duration {
	return time.Minute + time.Duration(n)*10*time.Millisecond
}

// inbound posts l.N messages through the gateways and measures them until they are in "Matrix".
// With profile set, a CPU profile of the bridge covering the first profileSecs seconds is written
// there.
func (e *env) inbound(ctx context.Context, run string, l harness.Load, o *options, profile string) (harness.Phase, error) {
	tr := harness.NewTracker(l.N)
	e.sink.Track(tr)
	defer e.sink.Track(nil)
	drv := &harness.InboundDriver{URL: e.bridge.URL, Tokens: e.tokens, Topo: e.topo, Run: run, Size: o.size, Client: harness.NewHTTPClient(l.Concurrency)}
	return e.measure(ctx, l, tr, drv.Op, o, profile)
}

// outbound pushes l.N Matrix messages in transactions and measures them until the gateway has them.
func (e *env) outbound(ctx context.Context, run string, l harness.Load, o *options, profile string) (harness.Phase, error) {
	if n := e.sink.Rooms.Len(); n != e.topo.Pairs() {
		return harness.Phase{}, fmt.Errorf("rooms known for %d of %d portals", n, e.topo.Pairs())
	}
	tr := harness.NewTracker(l.N)
	e.gw.Track(tr)
	defer e.gw.Track(nil)
	drv := &harness.TransactionDriver{URL: e.bridge.URL, HSToken: e.bridge.Registration.ServerToken, Topo: e.topo, Rooms: e.sink.Rooms, Run: run, Size: o.size, Client: harness.NewHTTPClient(l.Concurrency)}
	return e.measure(ctx, l, tr, drv.Op, o, profile)
}

func (e *env) measure(ctx context.Context, l harness.Load, tr *harness.Tracker, op harness.Op, o *options, profile string) (harness.Phase, error) {
	l.Timeout = o.phaseTimeout
	profErr := make(chan error, 1)
	if profile != "" {
		go func() {
			profErr <- e.bridge.Profile(ctx, "profile", fmt.Sprintf("seconds=%d", o.profileSecs), profile)
		}()
	} else {
		profErr <- nil
	}
	p, err := harness.Measure(ctx, l, tr, op, e.bridge.PID(), arriveTimeout(l.N))
	if perr := <-profErr; err == nil && perr != nil {
		err = fmt.Errorf("CPU profile: %w", perr)
	}
	if n := e.sink.Other(); err == nil && n > 0 {
		err = fmt.Errorf("the bridge sent %d messages that are not benchmark messages (failure notices?); see %s", n, e.dir)
	}
	return p, err
}
