// Package metrics exposes what a self-hoster needs to watch the bridge: Prometheus metrics of the
// messages that cross it (docs/metrics.md) and a health check of the homeserver and the gateways.
// It knows the gateway package's types, and nothing of Matrix: the bridge reports Matrix-side
// outcomes through ObserveDelivery and ObserveFailure, and lends a check of the homeserver.
package metrics

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/matrix-cpim/matrix-cpim/gateway"
)

// Direction says which way a message travels: In from a gateway to Matrix, Out from Matrix to a
// gateway. It is the value of the direction label.
type Direction string

const (
	In  Direction = "in"
	Out Direction = "out"
)

// Values of the result label of cpim_messages_total.
const (
	ResultAccepted  = "accepted"  // an inbound message was stored; the gateway was told so
	ResultDelivered = "delivered" // the message reached its destination (Matrix, or the gateway's 2xx)
	ResultRefused   = "refused"   // the receiving side said no: we refused an inbound message, or the gateway an outbound one
	ResultFailed    = "failed"    // the message was given up for another reason (no route, deadline, internal error)
)

// deliveryBuckets span a message that goes straight through to one that waited out the default
// outbound deadline (10 minutes) or an outage of the homeserver; longer ones land in +Inf.
var deliveryBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}

// Metrics are the bridge's Prometheus metrics. The zero value is not usable; call New.
type Metrics struct {
	reg      *prometheus.Registry
	messages *prometheus.CounterVec
	failures *prometheus.CounterVec
	attempts *prometheus.CounterVec
	delivery *prometheus.HistogramVec

	queues atomic.Pointer[func(context.Context) []QueueStat]
	health atomic.Pointer[HealthChecker]
}

// New registers the bridge's metrics in reg and returns them. A nil reg means a new registry that
// also carries the Go runtime and process collectors, which is what a bridge serving its own
// /metrics wants; a registry per Metrics keeps tests and several bridges in one process apart.
// It panics if reg already holds metrics of the same names, as prometheus.MustRegister does.
func New(reg *prometheus.Registry) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &Metrics{
		reg: reg,
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cpim_messages_total",
			Help: "Messages by direction, gateway and outcome (accepted, delivered, refused, failed).",
		}, []string{"direction", "gateway", "result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cpim_failures_total",
			Help: "Refused or failed messages by reason: the refusal code inbound, the failure class outbound.",
		}, []string{"direction", "gateway", "reason"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cpim_send_attempts_total",
			Help: "Outbound send attempts, retries included, by gateway and result (ok or the failure class).",
		}, []string{"gateway", "result"}),
		delivery: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cpim_delivery_seconds",
			Help:    "Time from a message entering the bridge to its delivery: Matrix event to gateway 2xx outbound, acceptance to Matrix inbound.",
			Buckets: deliveryBuckets,
		}, []string{"direction", "gateway"}),
	}
	reg.MustRegister(m.messages, m.failures, m.attempts, m.delivery, queueCollector{m}, healthCollector{m})
	return m
}

// Handler serves the metrics in the Prometheus exposition format; mount it at GET /metrics.
// A collector that fails does not blank the whole page: the other metrics are still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ObserveDelivery records a message that reached its destination d after it entered the bridge.
// Negative durations (clock skew between homeserver and bridge) count as 0.
func (m *Metrics) ObserveDelivery(dir Direction, gw string, d time.Duration) {
	gw = gatewayLabel(gw)
	m.messages.WithLabelValues(string(dir), gw, ResultDelivered).Inc()
	m.delivery.WithLabelValues(string(dir), gw).Observe(max(d, 0).Seconds())
}

// ObserveFailure records a message the bridge has stopped trying to deliver because of err: a
// refusal (a *gateway.Refusal, or an outbound *gateway.SendError that is final and carries a
// status) counts as refused, anything else as failed. Call it once per message, with the final
// error (what gateway.Deliver returned), not for every attempt: WrapSender counts those. gw may be
// empty when no gateway was found. A nil err records nothing.
func (m *Metrics) ObserveFailure(dir Direction, gw string, err error) {
	if err == nil {
		return
	}
	gw = gatewayLabel(gw)
	result := ResultFailed
	if isRefusal(err) {
		result = ResultRefused
	}
	m.messages.WithLabelValues(string(dir), gw, result).Inc()
	m.failures.WithLabelValues(string(dir), gw, failureReason(dir, err)).Inc()
}

// WrapSender returns a Sender that sends through s and counts every attempt in
// cpim_send_attempts_total under the gateway name gw. Wrap each configured gateway's sender before
// adding it to the router, so that retries by gateway.Deliver are counted one by one.
func (m *Metrics) WrapSender(gw string, s gateway.Sender) gateway.Sender {
	return &countingSender{m: m, gw: gatewayLabel(gw), next: s}
}

type countingSender struct {
	m    *Metrics
	gw   string
	next gateway.Sender
}

func (s *countingSender) Send(ctx context.Context, out *gateway.Outbound) error {
	err := s.next.Send(ctx, out)
	s.m.attempts.WithLabelValues(s.gw, attemptResult(err)).Inc()
	return err
}

// WrapAcceptor returns an Acceptor that passes messages to a and counts its answers by the
// gateway the message came from: accepted, or refused/failed as ObserveFailure does. The error
// is returned as it is, so transports still find the *gateway.Refusal in it. Refusals a transport
// makes before calling the Acceptor (bad token, unparsable body) are not seen here.
func (m *Metrics) WrapAcceptor(a gateway.Acceptor) gateway.Acceptor {
	return &countingAcceptor{m: m, next: a}
}

type countingAcceptor struct {
	m    *Metrics
	next gateway.Acceptor
}

func (a *countingAcceptor) Accept(ctx context.Context, in *gateway.Inbound) error {
	err := a.next.Accept(ctx, in)
	gw := ""
	if in.Gateway != nil {
		gw = in.Gateway.Name
	}
	if err != nil {
		a.m.ObserveFailure(In, gw, err)
	} else {
		a.m.messages.WithLabelValues(string(In), gatewayLabel(gw), ResultAccepted).Inc()
	}
	return err
}

// srvLabel stands for every next hop found by SRV (gateway.Router names them "srv:" and a host).
// Those hosts come from DNS answers for domains that Matrix users type, so as label values they
// would let anyone grow the metrics without bound.
const srvLabel = "srv"

// gatewayLabel is the value of the gateway label for a gateway name: configured names as they
// are, SRV next hops folded into one.
func gatewayLabel(name string) string {
	if strings.HasPrefix(name, srvLabel+":") {
		return srvLabel
	}
	return name
}
