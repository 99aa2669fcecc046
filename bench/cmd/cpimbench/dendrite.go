package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"github.com/matrix-cpim/matrix-cpim/bench/harness"
	"github.com/matrix-cpim/matrix-cpim/internal/devbridge"
	"github.com/matrix-cpim/matrix-cpim/internal/tesths"
)

// dendriteRun measures v end to end with a real Dendrite (package tesths): gateways post to the
// bridge, and a message has arrived when Dendrite pushes the ghost's event to an observer
// appservice; Matrix users send with the client-server API, and a message has arrived when the
// test gateway has it.
func dendriteRun(ctx context.Context, v harness.Variant, o *options) (harness.Run, error) {
	dir, err := os.MkdirTemp(o.workDir, "dendrite-"+v.Name+"-")
	if err != nil {
		return nil, err
	}
	run := harness.Run{}
	err = devbridge.RunSession(ctx, dir, "   ", func(s *devbridge.Session) error {
		hs := tesths.New(s)
		topo := harness.Topology{ServerName: hs.ServerName, Users: o.dUsers, Ghosts: o.dGhosts, Gateways: o.gateways}
		gw, err := harness.StartGateway()
		if err != nil {
			return err
		}
		s.Cleanup(func() { gw.Close() })
		var tokens []string
		for range topo.Gateways {
			tokens = append(tokens, randomToken())
		}
		br, err := harness.SetupBridge(harness.BridgeOptions{
			Binary:       v.Binary,
			Dir:          s.TempDir(),
			Homeserver:   hs.URL,
			ServerName:   hs.ServerName,
			Network:      v.Network(gw.URL, topo, tokens),
			LogLevel:     o.logLevel,
			MaxOpenConns: o.dbOpen,
			MaxIdleConns: o.dbIdle,
			Env:          o.env,
			// Dendrite v0.13 reports spec v1.2 only.
			ExtraArgs: []string{"--ignore-unsupported-server"},
		})
		if err != nil {
			return err
		}
		sink := harness.NewSink(topo.Pairs())
		obs, err := harness.StartObserver(s.TempDir(), "@cpim.*", sink)
		if err != nil {
			return err
		}
		s.Cleanup(func() { obs.Close() })
		hs.Start(s, br.RegPath, obs.RegPath)
		clients := make([]*mautrix.Client, topo.Users)
		for u := range clients {
			clients[u] = hs.RegisterUser(s, topo.User(u).Localpart())
		}
		if err = br.Start(ctx); err != nil {
			return err
		}
		s.Cleanup(br.Stop)

		client := harness.NewHTTPClient(max(o.inConc, o.latConc))
		inbound := func(name string, l harness.Load) (harness.Phase, error) {
			tr := harness.NewTracker(l.N)
			sink.Track(tr)
			defer sink.Track(nil)
			drv := &harness.InboundDriver{URL: br.URL, Tokens: tokens, Topo: topo, Run: name, Size: o.size, Client: client}
			return harness.Measure(ctx, l, tr, drv.Op, br.PID(), arriveTimeout(l.N))
		}
		outbound := func(l harness.Load) (harness.Phase, error) {
			tr := harness.NewTracker(l.N)
			gw.Track(tr)
			defer gw.Track(nil)
			send := func(ctx context.Context, first, n int) error {
				for seq := first; seq < first+n; seq++ {
					room, _ := sink.Rooms.Get(seq % topo.Pairs())
					u, _ := topo.Pair(seq)
					content := &event.MessageEventContent{MsgType: event.MsgText, Body: harness.Text(seq, o.size)}
					if _, err := clients[u].SendMessageEvent(ctx, room, event.EventMessage, content); err != nil {
						return fmt.Errorf("message %d: %w", seq, err)
					}
				}
				return nil
			}
			return harness.Measure(ctx, l, tr, send, br.PID(), arriveTimeout(l.N))
		}
		steps := []struct {
			name string
			do   func() (harness.Phase, error)
		}{
			{harness.PhasePortals, func() (harness.Phase, error) {
				return inbound("portals", harness.Load{N: topo.Pairs(), Concurrency: o.inConc})
			}},
			{"", func() (harness.Phase, error) { return harness.Phase{}, joinAll(ctx, topo, sink.Rooms, clients) }},
			{harness.PhaseInMax, func() (harness.Phase, error) {
				return inbound("in", harness.Load{N: o.dIn, Concurrency: o.inConc})
			}},
			{harness.PhaseInPaced, func() (harness.Phase, error) {
				return inbound("inlat", harness.Load{N: o.dLatN, Rate: o.dRate, Concurrency: o.latConc})
			}},
			{harness.PhaseOutMax, func() (harness.Phase, error) {
				return outbound(harness.Load{N: o.dOut, Concurrency: o.inConc})
			}},
			{harness.PhaseOutPaced, func() (harness.Phase, error) {
				return outbound(harness.Load{N: o.dLatN, Rate: o.dRate, Concurrency: o.latConc})
			}},
		}
		for _, st := range steps {
			p, err := st.do()
			if err == nil && sink.Other() > 0 {
				err = fmt.Errorf("the bridge sent %d messages that are not benchmark messages (failure notices?)", sink.Other())
			}
			if err != nil {
				return fmt.Errorf("%s: %w; logs in %s", st.name, err, dir)
			}
			if st.name != "" {
				fmt.Printf("   %-22s %s\n", st.name, harness.Describe(p))
				run[st.name] = p
			}
		}
		return nil
	})
	return run, err
}

// joinAll makes every user join the DM rooms the bridge invited them to, so that they can send.
func joinAll(ctx context.Context, topo harness.Topology, rooms *harness.Rooms, clients []*mautrix.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for pair := range topo.Pairs() {
		room, ok := rooms.Get(pair)
		if !ok {
			return fmt.Errorf("no room known for pair %d", pair)
		}
		u, _ := topo.Pair(pair)
		if _, err := clients[u].JoinRoomByID(ctx, room); err != nil {
			return fmt.Errorf("%s joining %s: %w", clients[u].UserID, room, err)
		}
	}
	return nil
}
