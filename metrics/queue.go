package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// QueueStat is the state of one queue of messages waiting for delivery.
type QueueStat struct {
	Direction Direction
	// Gateway is empty for a queue that is not per gateway (the outbound queue picks the gateway
	// when it sends).
	Gateway string
	Depth   int
	// Oldest is when the oldest waiting message entered the queue; ignored when Depth is 0, and
	// the age is reported as 0 when it is zero.
	Oldest time.Time
}

// queueTimeout bounds the queue source during a scrape, which Prometheus gives 10 s by default.
const queueTimeout = 5 * time.Second

// WatchQueues makes every scrape ask source for the queues, for cpim_queue_depth and
// cpim_queue_oldest_seconds. source should log its own errors and return what it has (nil if
// nothing): a scrape then shows no queue metrics rather than failing. Stats of the same direction
// and gateway are added up.
func (m *Metrics) WatchQueues(source func(ctx context.Context) []QueueStat) {
	m.queues.Store(&source)
}

var (
	queueDepthDesc = prometheus.NewDesc("cpim_queue_depth",
		"Messages waiting for delivery, by direction and gateway (empty for the outbound queue).",
		[]string{"direction", "gateway"}, nil)
	queueOldestDesc = prometheus.NewDesc("cpim_queue_oldest_seconds",
		"Age of the oldest message waiting for delivery, 0 when none waits.",
		[]string{"direction", "gateway"}, nil)
)

// queueCollector reads the queues at scrape time: they live in the database, and a gauge kept up
// to date by the delivery workers would drift from it across restarts.
type queueCollector struct{ m *Metrics }

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueOldestDesc
}

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	source := c.m.queues.Load()
	if source == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), queueTimeout)
	defer cancel()
	type key struct {
		dir Direction
		gw  string
	}
	merged := map[key]QueueStat{}
	var order []key
	stats := (*source)(ctx)
	now := time.Now()
	for _, s := range stats {
		k := key{s.Direction, gatewayLabel(s.Gateway)}
		prev, seen := merged[k]
		if !seen {
			order = append(order, k)
		}
		if s.Depth <= 0 {
			continue
		}
		if !s.Oldest.IsZero() && (prev.Oldest.IsZero() || s.Oldest.Before(prev.Oldest)) {
			prev.Oldest = s.Oldest
		}
		prev.Depth += s.Depth
		merged[k] = prev
	}
	for _, k := range order {
		s := merged[k]
		age := time.Duration(0)
		if !s.Oldest.IsZero() {
			age = max(now.Sub(s.Oldest), 0)
		}
		ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(s.Depth), string(k.dir), k.gw)
		ch <- prometheus.MustNewConstMetric(queueOldestDesc, prometheus.GaugeValue, age.Seconds(), string(k.dir), k.gw)
	}
}
