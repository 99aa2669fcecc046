package bridge

import (
	"context"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix/bridgev2/commands"

	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/metrics"
)

// Bot commands of this bridge, beside bridgev2's own (help, start-chat, login, …).

var helpSectionCPIM = commands.HelpSection{Name: "CPIM gateways", Order: 25}

func (c *Connector) registerCommands() {
	c.Bridge.Commands.(*commands.Processor).AddHandlers(
		&commands.FullHandler{
			Func:                    c.cmdGateways,
			Name:                    "gateways",
			Help:                    commands.HelpMeta{Section: helpSectionCPIM, Description: "List the gateways, the im: domains they serve and whether they are reachable."},
			RequiresLoginPermission: true,
		},
		&commands.FullHandler{
			Func:          c.cmdCheckGateway,
			Name:          "check-gateway",
			Help:          commands.HelpMeta{Section: helpSectionCPIM, Description: "Probe a gateway now and show the round trip.", Args: "<name>"},
			RequiresAdmin: true,
		},
		&commands.FullHandler{
			Func:          c.cmdQueue,
			Name:          "queue",
			Help:          commands.HelpMeta{Section: helpSectionCPIM, Description: "Show the outbound queue and the inbound messages not yet in Matrix."},
			RequiresAdmin: true,
		},
	)
}

func (c *Connector) cmdGateways(ce *commands.Event) {
	health := c.health.Check(ce.Ctx)
	var b strings.Builder
	for _, gw := range c.Config.Gateways {
		fmt.Fprintf(&b, "* **%s** (%s): %s — %s\n", gw.Name, gw.Transport, strings.Join(gw.Domains, ", "), healthText(health.Gateways[gw.Name], gw.Transport))
	}
	if c.Config.SRVRouting.Enabled {
		b.WriteString("* other domains: looked up in DNS (`_im._sip` SRV records, RFC 3861)\n")
	}
	if b.Len() == 0 {
		b.WriteString("No gateways are configured.")
	}
	ce.Reply(b.String())
}

func healthText(r metrics.ProbeResult, transport string) string {
	switch {
	case r.CheckedAt.IsZero() && transport == gateway.TransportSIP:
		return "not probed (SIP gateways are not probed)"
	case r.CheckedAt.IsZero():
		return "not probed"
	case r.OK:
		return "reachable"
	default:
		return "unreachable: " + r.Error
	}
}

func (c *Connector) cmdCheckGateway(ce *commands.Event) {
	if len(ce.Args) != 1 {
		ce.Reply("Usage: `$cmdprefix check-gateway <name>`")
		return
	}
	for _, gw := range c.Config.Gateways {
		if gw.Name != ce.Args[0] {
			continue
		}
		if gw.Transport != gateway.TransportHTTP {
			ce.Reply("Gateway %s uses %s; only HTTP gateways can be probed so far.", gw.Name, gw.Transport)
			return
		}
		ctx, cancel := context.WithTimeout(ce.Ctx, 10*time.Second)
		defer cancel()
		start := time.Now()
		err := metrics.HTTPProber{URL: gw.URL, Token: gw.Token}.Probe(ctx)
		rtt := time.Since(start).Round(time.Millisecond)
		if err != nil {
			ce.Reply("Gateway %s did not answer well after %s: %v", gw.Name, rtt, err)
		} else {
			ce.Reply("Gateway %s answered OPTIONS %s in %s.", gw.Name, gw.URL, rtt)
		}
		return
	}
	ce.Reply("There is no gateway named %q; `$cmdprefix gateways` lists them.", ce.Args[0])
}

func (c *Connector) cmdQueue(ce *commands.Event) {
	var b strings.Builder
	for _, st := range c.queueStats(ce.Ctx) {
		dir := "to gateways"
		if st.Direction == metrics.In {
			dir = "from " + st.Gateway + " to Matrix"
		}
		if st.Depth == 0 {
			fmt.Fprintf(&b, "* %s: empty\n", dir)
		} else {
			fmt.Fprintf(&b, "* %s: %d waiting, the oldest for %s\n", dir, st.Depth, time.Since(st.Oldest).Round(time.Second))
		}
	}
	ce.Reply(b.String())
}
