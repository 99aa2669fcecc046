package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/gateway"
)

// scriptedSender answers its attempts with errs in order, then with nil.
type scriptedSender struct {
	errs  []error
	calls int
}

func (s *scriptedSender) Send(ctx context.Context, out *gateway.Outbound) error {
	s.calls++
	if len(s.errs) == 0 {
		return nil
	}
	err := s.errs[0]
	s.errs = s.errs[1:]
	return err
}

func testOutbound() *gateway.Outbound {
	return gateway.NewOutbound("t1", &cpim.Message{
		From: cpim.Address{URI: "im:alice@hs.example"},
		To:   []cpim.Address{{URI: "im:bob@example.net"}},
	})
}

func TestWrapSenderCountsAttempts(t *testing.T) {
	m := New(nil)
	inner := &scriptedSender{errs: []error{
		&gateway.SendError{Temporary: true, Status: 503},
		&gateway.SendError{Temporary: true, Reason: "connection refused"},
		&gateway.SendError{Temporary: true, Status: 503},
	}}
	s := m.WrapSender("gw1", inner)
	policy := gateway.RetryPolicy{Initial: time.Millisecond, Max: time.Millisecond, Deadline: time.Hour}
	if err := gateway.Deliver(context.Background(), s, testOutbound(), policy); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	for result, want := range map[string]float64{"status_5xx": 2, "network": 1, "ok": 1} {
		if got := testutil.ToFloat64(m.attempts.WithLabelValues("gw1", result)); got != want {
			t.Errorf("attempts{gw1,%s} = %v, want %v", result, got, want)
		}
	}
	if inner.calls != 4 {
		t.Errorf("inner sender called %d times, want 4", inner.calls)
	}
}

func TestWrapSenderReturnsErrorUnchanged(t *testing.T) {
	m := New(nil)
	want := &gateway.SendError{Status: 403, Reason: "forbidden"}
	err := m.WrapSender("gw1", &scriptedSender{errs: []error{want}}).Send(context.Background(), testOutbound())
	if err != want {
		t.Fatalf("Send returned %v, want the inner sender's error", err)
	}
	if got := testutil.ToFloat64(m.attempts.WithLabelValues("gw1", "status_4xx")); got != 1 {
		t.Errorf("attempts{gw1,status_4xx} = %v, want 1", got)
	}
}

// A delivery that never succeeds: one message failed at the deadline, every attempt counted.
func TestDeliverGivingUpIsOneDeadlineFailure(t *testing.T) {
	m := New(nil)
	busy := &gateway.SendError{Temporary: true, Status: 503, RetryAfter: time.Hour}
	s := m.WrapSender("gw1", &scriptedSender{errs: []error{busy}})
	// The gateway asks for an hour, beyond the deadline: Deliver gives up after one attempt.
	err := gateway.Deliver(context.Background(), s, testOutbound(), gateway.RetryPolicy{Deadline: time.Minute})
	if err == nil {
		t.Fatal("Deliver succeeded")
	}
	m.ObserveFailure(Out, "gw1", err)
	expected := `
# HELP cpim_failures_total Refused or failed messages by reason: the refusal code inbound, the failure class outbound.
# TYPE cpim_failures_total counter
cpim_failures_total{direction="out",gateway="gw1",reason="deadline"} 1
# HELP cpim_messages_total Messages by direction, gateway and outcome (accepted, delivered, refused, failed).
# TYPE cpim_messages_total counter
cpim_messages_total{direction="out",gateway="gw1",result="failed"} 1
# HELP cpim_send_attempts_total Outbound send attempts, retries included, by gateway and result (ok or the failure class).
# TYPE cpim_send_attempts_total counter
cpim_send_attempts_total{gateway="gw1",result="status_5xx"} 1
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(expected),
		"cpim_failures_total", "cpim_messages_total", "cpim_send_attempts_total"); err != nil {
		t.Error(err)
	}
}

func TestObserveFailure(t *testing.T) {
	m := New(nil)
	m.ObserveFailure(Out, "gw1", &gateway.SendError{Status: 404, Reason: "no such user"})
	m.ObserveFailure(Out, "", &gateway.NoRouteError{Domain: "nowhere.example", Reason: "none"})
	m.ObserveFailure(Out, "gw1", nil)
	expected := `
# HELP cpim_failures_total Refused or failed messages by reason: the refusal code inbound, the failure class outbound.
# TYPE cpim_failures_total counter
cpim_failures_total{direction="out",gateway="",reason="no_route"} 1
cpim_failures_total{direction="out",gateway="gw1",reason="status_4xx"} 1
# HELP cpim_messages_total Messages by direction, gateway and outcome (accepted, delivered, refused, failed).
# TYPE cpim_messages_total counter
cpim_messages_total{direction="out",gateway="",result="failed"} 1
cpim_messages_total{direction="out",gateway="gw1",result="refused"} 1
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(expected), "cpim_failures_total", "cpim_messages_total"); err != nil {
		t.Error(err)
	}
}

// acceptorFunc adapts a function to gateway.Acceptor.
type acceptorFunc func(ctx context.Context, in *gateway.Inbound) error

func (f acceptorFunc) Accept(ctx context.Context, in *gateway.Inbound) error { return f(ctx, in) }

func TestWrapAcceptor(t *testing.T) {
	m := New(nil)
	refusal := gateway.Refuse(http.StatusNotFound, gateway.CodeUnknownUser, "no such user")
	storeErr := errors.New("database is locked")
	answers := map[string]error{"ok": nil, "refuse": refusal, "fail": storeErr}
	acc := m.WrapAcceptor(acceptorFunc(func(_ context.Context, in *gateway.Inbound) error {
		return answers[in.Key]
	}))
	gw1, gw2 := &gateway.Config{Name: "gw1"}, &gateway.Config{Name: "gw2"}
	for _, c := range []struct {
		gw   *gateway.Config
		key  string
		want error
	}{
		{gw1, "ok", nil}, {gw1, "ok", nil}, {gw2, "ok", nil}, {gw1, "refuse", refusal}, {gw2, "fail", storeErr},
	} {
		if err := acc.Accept(context.Background(), &gateway.Inbound{Gateway: c.gw, Key: c.key}); err != c.want {
			t.Errorf("Accept(%s, %s) = %v, want %v unchanged", c.gw.Name, c.key, err, c.want)
		}
	}
	expected := `
# HELP cpim_failures_total Refused or failed messages by reason: the refusal code inbound, the failure class outbound.
# TYPE cpim_failures_total counter
cpim_failures_total{direction="in",gateway="gw1",reason="CPIM_UNKNOWN_RECIPIENT"} 1
cpim_failures_total{direction="in",gateway="gw2",reason="CPIM_INTERNAL"} 1
# HELP cpim_messages_total Messages by direction, gateway and outcome (accepted, delivered, refused, failed).
# TYPE cpim_messages_total counter
cpim_messages_total{direction="in",gateway="gw1",result="accepted"} 2
cpim_messages_total{direction="in",gateway="gw1",result="refused"} 1
cpim_messages_total{direction="in",gateway="gw2",result="accepted"} 1
cpim_messages_total{direction="in",gateway="gw2",result="failed"} 1
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(expected), "cpim_failures_total", "cpim_messages_total"); err != nil {
		t.Error(err)
	}
}

func TestObserveDelivery(t *testing.T) {
	m := New(nil)
	m.ObserveDelivery(In, "gw1", 1500*time.Millisecond)
	m.ObserveDelivery(In, "gw1", 500*time.Millisecond)
	m.ObserveDelivery(Out, "gw1", -time.Second) // skewed clocks
	if got := testutil.ToFloat64(m.messages.WithLabelValues("in", "gw1", "delivered")); got != 2 {
		t.Errorf("messages{in,gw1,delivered} = %v, want 2", got)
	}
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]float64{}
	counts := map[string]uint64{}
	for _, f := range families {
		if f.GetName() != "cpim_delivery_seconds" {
			continue
		}
		for _, mt := range f.GetMetric() {
			dir := mt.GetLabel()[0].GetValue() // labels are sorted: direction, gateway
			sums[dir] = mt.GetHistogram().GetSampleSum()
			counts[dir] = mt.GetHistogram().GetSampleCount()
		}
	}
	if counts["in"] != 2 || sums["in"] != 2 {
		t.Errorf("inbound histogram: count %d sum %v, want 2 and 2", counts["in"], sums["in"])
	}
	if counts["out"] != 1 || sums["out"] != 0 {
		t.Errorf("outbound histogram: count %d sum %v, want 1 and 0", counts["out"], sums["out"])
	}
}

// Next hops found by SRV share one label value: their names come from DNS.
func TestSRVGatewaysShareALabel(t *testing.T) {
	m := New(nil)
	m.ObserveDelivery(Out, "srv:sip1.example.org", time.Second)
	m.ObserveDelivery(Out, "srv:sip2.example.net", time.Second)
	m.ObserveDelivery(Out, "gw1", time.Second)
	if got := testutil.CollectAndCount(m.messages); got != 2 {
		t.Errorf("%d series of cpim_messages_total, want 2 (srv and gw1)", got)
	}
	if got := testutil.ToFloat64(m.messages.WithLabelValues("out", "srv", "delivered")); got != 2 {
		t.Errorf("messages{out,srv,delivered} = %v, want 2", got)
	}
}

func TestHandlerServesEveryMetric(t *testing.T) {
	m := New(nil)
	m.WrapSender("gw1", &scriptedSender{}).Send(context.Background(), testOutbound())
	_ = m.WrapAcceptor(acceptorFunc(func(context.Context, *gateway.Inbound) error { return nil })).
		Accept(context.Background(), &gateway.Inbound{Gateway: &gateway.Config{Name: "gw1"}})
	m.ObserveFailure(Out, "gw1", &gateway.SendError{Status: 404})
	m.ObserveDelivery(In, "gw1", time.Second)
	m.WatchQueues(func(context.Context) []QueueStat { return []QueueStat{{Direction: In, Gateway: "gw1"}} })
	m.WatchHealth(&HealthChecker{
		Homeserver: ProbeFunc(func(context.Context) error { return nil }),
		Gateways:   map[string]Prober{"gw1": ProbeFunc(func(context.Context) error { return nil })},
	})

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	for _, name := range []string{
		"cpim_messages_total", "cpim_failures_total", "cpim_send_attempts_total", "cpim_delivery_seconds_bucket",
		"cpim_queue_depth", "cpim_queue_oldest_seconds", "cpim_gateway_up", "cpim_homeserver_up",
		"go_goroutines", "process_cpu_seconds_total",
	} {
		if !strings.Contains(string(body), "\n"+name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func TestNewWithOwnRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.ObserveDelivery(In, "gw1", time.Second)
	n, err := testutil.GatherAndCount(reg)
	if err != nil {
		t.Fatal(err)
	}
	// Only the bridge's own series: no runtime collectors were added to a caller's registry.
	if n != 2 {
		t.Errorf("registry holds %d series, want 2 (messages and delivery histogram)", n)
	}
}
