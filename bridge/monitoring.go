package bridge

import (
	"context"
	"net/http"

	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/metrics"
)

// Paths of the monitoring endpoints on the appservice listener (docs/metrics.md). They are not
// authenticated: do not expose the appservice listener beyond the homeserver and gateways.
const (
	MetricsPath = "/metrics"
	HealthPath  = "/_cpim/v1/health"
)

// startMonitoring mounts the Prometheus and health endpoints and feeds the queue gauges.
func (c *Connector) startMonitoring() {
	probers := map[string]metrics.Prober{}
	for _, gw := range c.Config.Gateways {
		if gw.Transport == gateway.TransportHTTP {
			probers[gw.Name] = metrics.HTTPProber{URL: gw.URL, Token: gw.Token}
		}
	}
	c.health = &metrics.HealthChecker{
		Homeserver: metrics.ProbeFunc(func(ctx context.Context) error {
			_, err := c.matrix.AS.BotClient().Versions(ctx)
			return err
		}),
		Gateways: probers,
	}
	c.metrics.WatchHealth(c.health)
	c.metrics.WatchQueues(c.queueStats)
	c.matrix.AS.Router.Handle(http.MethodGet+" "+MetricsPath, c.metrics.Handler())
	c.matrix.AS.Router.Handle(http.MethodGet+" "+HealthPath, metrics.HealthHandler(c.health))
}

func (c *Connector) queueStats(ctx context.Context) []metrics.QueueStat {
	var stats []metrics.QueueStat
	if n, oldest, err := c.db.Outbound.Stats(ctx); err != nil {
		c.Bridge.Log.Err(err).Msg("Failed to read outbound queue stats")
	} else {
		stats = append(stats, metrics.QueueStat{Direction: metrics.Out, Gateway: "all", Depth: n, Oldest: oldest})
	}
	in, err := c.db.Inbound.Stats(ctx)
	if err != nil {
		c.Bridge.Log.Err(err).Msg("Failed to read inbound queue stats")
	}
	for _, st := range in {
		stats = append(stats, metrics.QueueStat{Direction: metrics.In, Gateway: st.Gateway, Depth: st.Depth, Oldest: st.Oldest})
	}
	return stats
}
