package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// closedURL is an http URL on which nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/cpim"
}

// gatewayServer answers OPTIONS with status and records the Authorization header it got.
func gatewayServer(t *testing.T, status int, auth *atomic.Value) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodOptions {
			t.Errorf("probe used %s, want OPTIONS", r.Method)
		}
		if auth != nil {
			auth.Store(r.Header.Get("Authorization"))
		}
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "http://127.0.0.1:1/elsewhere")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPProberStatuses(t *testing.T) {
	tests := []struct {
		status int
		up     bool
	}{
		{http.StatusOK, true},
		{http.StatusNoContent, true},
		{http.StatusFound, true}, // not followed: the Location leads nowhere
		{http.StatusBadRequest, true},
		{http.StatusNotFound, true},
		{http.StatusMethodNotAllowed, true},
		{http.StatusTooManyRequests, true},
		{http.StatusUnauthorized, false},
		{http.StatusForbidden, false},
		{http.StatusInternalServerError, false},
		{http.StatusBadGateway, false},
		{http.StatusServiceUnavailable, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			srv := gatewayServer(t, tt.status, nil)
			err := HTTPProber{URL: srv.URL + "/cpim"}.Probe(context.Background())
			if (err == nil) != tt.up {
				t.Errorf("probe of a gateway answering %d: err = %v, want up %v", tt.status, err, tt.up)
			}
		})
	}
}

func TestHTTPProberSendsToken(t *testing.T) {
	var auth atomic.Value
	srv := gatewayServer(t, http.StatusNoContent, &auth)
	if err := (HTTPProber{URL: srv.URL, Token: "s3cret"}).Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := auth.Load(); got != "Bearer s3cret" {
		t.Errorf("Authorization = %q, want the gateway token", got)
	}
	if err := (HTTPProber{URL: srv.URL}).Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := auth.Load(); got != "" {
		t.Errorf("Authorization = %q without a token, want none", got)
	}
}

func TestHTTPProberUnreachable(t *testing.T) {
	url := closedURL(t)
	err := HTTPProber{URL: url}.Probe(context.Background())
	if err == nil {
		t.Fatal("probe of a closed port succeeded")
	}
	if strings.Contains(err.Error(), url) {
		t.Errorf("error %q repeats the URL", err)
	}
}

func TestHTTPProberHonoursContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := (HTTPProber{URL: srv.URL}).Probe(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("probe of a silent gateway: err = %v, want the context's deadline", err)
	}
}

func TestHTTPProberBadURL(t *testing.T) {
	if err := (HTTPProber{URL: "http://[::1"}).Probe(context.Background()); err == nil {
		t.Error("probe of an unparsable URL succeeded")
	}
}

func getHealth(t *testing.T, hc *HealthChecker) (int, Health) {
	t.Helper()
	rec := httptest.NewRecorder()
	HealthHandler(hc).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/_cpim/v1/health", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var h Health
	if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	return rec.Code, h
}

func okProbe() Prober { return ProbeFunc(func(context.Context) error { return nil }) }

func TestHealthHandler(t *testing.T) {
	up := HTTPProber{URL: gatewayServer(t, http.StatusMethodNotAllowed, nil).URL}
	down := HTTPProber{URL: closedURL(t)}
	hsDown := ProbeFunc(func(context.Context) error { return errors.New("M_UNKNOWN: homeserver is starting") })
	tests := []struct {
		name       string
		homeserver Prober
		gateways   map[string]Prober
		wantCode   int
		wantStatus string
		wantUp     map[string]bool
	}{
		{"all up", okProbe(), map[string]Prober{"a": up, "b": up}, 200, StatusOK, map[string]bool{"a": true, "b": true}},
		{"one gateway down", okProbe(), map[string]Prober{"a": up, "b": down}, 503, StatusDegraded, map[string]bool{"a": true, "b": false}},
		{"every gateway down", okProbe(), map[string]Prober{"a": down}, 503, StatusDown, map[string]bool{"a": false}},
		{"homeserver down", hsDown, map[string]Prober{"a": up, "b": down}, 503, StatusDown, map[string]bool{"a": true, "b": false}},
		{"no gateways", okProbe(), nil, 200, StatusOK, map[string]bool{}},
		{"homeserver check missing", nil, map[string]Prober{"a": up}, 503, StatusDown, map[string]bool{"a": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, h := getHealth(t, &HealthChecker{Homeserver: tt.homeserver, Gateways: tt.gateways})
			if code != tt.wantCode || h.Status != tt.wantStatus {
				t.Errorf("got %d %q, want %d %q", code, h.Status, tt.wantCode, tt.wantStatus)
			}
			if len(h.Gateways) != len(tt.wantUp) {
				t.Errorf("report has %d gateways, want %d", len(h.Gateways), len(tt.wantUp))
			}
			for name, wantUp := range tt.wantUp {
				r, ok := h.Gateways[name]
				if !ok || r.OK != wantUp || (r.Error == "") != wantUp || r.CheckedAt.IsZero() {
					t.Errorf("gateway %s: %+v (present %v), want ok=%v with an error iff down, and checked_at", name, r, ok, wantUp)
				}
			}
			hsUp := tt.homeserver != nil && tt.name != "homeserver down"
			if h.Homeserver.OK != hsUp || (h.Homeserver.Error == "") != hsUp {
				t.Errorf("homeserver: %+v, want ok=%v with an error iff down", h.Homeserver, hsUp)
			}
		})
	}
}

func TestHealthJSONShape(t *testing.T) {
	hc := &HealthChecker{
		Homeserver: ProbeFunc(func(context.Context) error { return errors.New("connection refused") }),
		Gateways:   map[string]Prober{"gw1": okProbe()},
	}
	rec := httptest.NewRecorder()
	HealthHandler(hc).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	hs, _ := doc["homeserver"].(map[string]any)
	gws, _ := doc["gateways"].(map[string]any)
	gw1, _ := gws["gw1"].(map[string]any)
	if doc["status"] != "down" || hs["ok"] != false || hs["error"] != "connection refused" ||
		gw1["ok"] != true || gw1["checked_at"] == nil {
		t.Errorf("unexpected document %s", rec.Body)
	}
	if _, ok := gw1["error"]; ok {
		t.Errorf("a gateway that is up has an error member: %s", rec.Body)
	}
}

// countingProber counts its probes and fails when err is set.
type countingProber struct {
	n   atomic.Int32
	err error
}

func (p *countingProber) Probe(ctx context.Context) error {
	p.n.Add(1)
	return p.err
}

func TestHealthCache(t *testing.T) {
	hs, gw := &countingProber{}, &countingProber{}
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	hc := &HealthChecker{Homeserver: hs, Gateways: map[string]Prober{"gw1": gw}, CacheFor: 10 * time.Second}
	hc.now = func() time.Time { return clock }

	hc.Check(context.Background())
	clock = clock.Add(9 * time.Second)
	hc.Check(context.Background())
	if hs.n.Load() != 1 || gw.n.Load() != 1 {
		t.Fatalf("within the cache: %d homeserver and %d gateway probes, want 1 each", hs.n.Load(), gw.n.Load())
	}
	gw.err = errors.New("down")
	clock = clock.Add(time.Second)
	h := hc.Check(context.Background())
	if hs.n.Load() != 2 || gw.n.Load() != 2 {
		t.Fatalf("after the cache: %d homeserver and %d gateway probes, want 2 each", hs.n.Load(), gw.n.Load())
	}
	if h.Gateways["gw1"].OK || !h.Gateways["gw1"].CheckedAt.Equal(clock) {
		t.Errorf("fresh result %+v, want down, checked at %v", h.Gateways["gw1"], clock)
	}
}

func TestHealthConcurrentChecksProbeOnce(t *testing.T) {
	gw := &countingProber{}
	hc := &HealthChecker{Homeserver: okProbe(), Gateways: map[string]Prober{"gw1": gw}, CacheFor: time.Hour}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { hc.Check(context.Background()) })
	}
	wg.Wait()
	if n := gw.n.Load(); n != 1 {
		t.Errorf("20 concurrent checks probed %d times, want 1", n)
	}
}

// A client that hangs up must not have every gateway recorded as down for the next ones.
func TestHealthIgnoresCallerCancellation(t *testing.T) {
	ctxProbe := ProbeFunc(func(ctx context.Context) error { return ctx.Err() })
	hc := &HealthChecker{Homeserver: ctxProbe, Gateways: map[string]Prober{"gw1": ctxProbe}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if h := hc.Check(ctx); h.Status != StatusOK {
		t.Errorf("status %q after a cancelled request, want ok: %+v", h.Status, h)
	}
}

func TestHealthProbeTimeout(t *testing.T) {
	slow := ProbeFunc(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	hc := &HealthChecker{Homeserver: okProbe(), Gateways: map[string]Prober{"gw1": slow}, Timeout: 20 * time.Millisecond}
	if h := hc.Check(context.Background()); h.Gateways["gw1"].OK {
		t.Errorf("a probe that never answers is up: %+v", h)
	}
}

func TestHealthReportIsACopy(t *testing.T) {
	hc := &HealthChecker{Homeserver: okProbe(), Gateways: map[string]Prober{"gw1": okProbe()}, CacheFor: time.Hour}
	h := hc.Check(context.Background())
	delete(h.Gateways, "gw1")
	if _, ok := hc.Check(context.Background()).Gateways["gw1"]; !ok {
		t.Error("changing a report changed the cached one")
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a longer error text", 8, "a longer…"},
		{"héllo", 2, "h…"}, // é is two bytes: not split
		{"bad \xff byte", 20, "bad \uFFFD byte"},
	}
	for _, tt := range tests {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestWatchHealthSetsUpGauges(t *testing.T) {
	m := New(nil)
	m.WatchHealth(&HealthChecker{
		Homeserver: okProbe(),
		Gateways: map[string]Prober{
			"up":   HTTPProber{URL: gatewayServer(t, http.StatusNoContent, nil).URL},
			"down": HTTPProber{URL: closedURL(t)},
		},
	})
	expected := `
# HELP cpim_gateway_up 1 if the gateway answered its last probe, 0 if not.
# TYPE cpim_gateway_up gauge
cpim_gateway_up{gateway="down"} 0
cpim_gateway_up{gateway="up"} 1
# HELP cpim_homeserver_up 1 if the homeserver answered its last probe, 0 if not.
# TYPE cpim_homeserver_up gauge
cpim_homeserver_up 1
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(expected), "cpim_gateway_up", "cpim_homeserver_up"); err != nil {
		t.Error(err)
	}
}
