package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// Prober checks that something the bridge depends on answers.
type Prober interface {
	Probe(ctx context.Context) error
}

// ProbeFunc adapts a function to Prober, e.g. a request to the homeserver's
// /_matrix/client/versions.
type ProbeFunc func(ctx context.Context) error

func (f ProbeFunc) Probe(ctx context.Context) error { return f(ctx) }

// HTTPProber checks an HTTP gateway (docs/http-binding.md) with an OPTIONS request to its message
// URL, bearing Token as the binding's POSTs do. OPTIONS delivers nothing, and any answer shows
// that the gateway is there, so every status below 500 counts as up, 405 included, except 401
// and 403: those say the gateway rejects our token, and then no message would get through
// either. 5xx and no answer count as down. Redirects are not followed, as the sender does not
// follow them.
type HTTPProber struct {
	URL   string
	Token string
}

// maxProbeDrain bounds what a probe reads of an answer, to reuse the connection.
const maxProbeDrain = 4 << 10

var probeClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (p HTTPProber) Probe(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodOptions, p.URL, nil)
	if err != nil {
		return fmt.Errorf("bad gateway URL: %w", err)
	}
	if p.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.Token)
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		// The *url.Error repeats the URL, which the health report does not need to publish.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Errorf("unreachable: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeDrain))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("the gateway rejects our token: answered %s", resp.Status)
	case resp.StatusCode >= 500:
		return fmt.Errorf("the gateway answered %s", resp.Status)
	}
	return nil
}

// Values of Health.Status.
const (
	StatusOK       = "ok"       // the homeserver and every gateway answer
	StatusDegraded = "degraded" // the homeserver and some gateways answer; messages of the others wait
	StatusDown     = "down"     // the homeserver does not answer, or no gateway does: nothing gets through
)

// Health is the bridge's health report, as HealthHandler serves it.
type Health struct {
	Status     string                 `json:"status"`
	Homeserver ProbeResult            `json:"homeserver"`
	Gateways   map[string]ProbeResult `json:"gateways"`
}

// ProbeResult is the outcome of one probe.
type ProbeResult struct {
	OK        bool      `json:"ok"`
	Error     string    `json:"error,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
}

// Defaults of HealthChecker.
const (
	DefaultHealthCache  = 5 * time.Second
	DefaultProbeTimeout = 3 * time.Second
)

// maxErrorLen bounds the error text of a probe in the report; errors may quote what a peer said.
const maxErrorLen = 200

// HealthChecker probes the homeserver and the gateways. Results are reused for CacheFor, and
// concurrent checks wait for one round of probes, so that frequent health requests and scrapes
// cannot flood the gateways. Set the fields before the first Check and do not change them after.
type HealthChecker struct {
	// Homeserver checks the homeserver; it must be set, or the homeserver is reported down.
	Homeserver Prober
	// Gateways probes each gateway, by the name it has in the configuration.
	Gateways map[string]Prober
	// CacheFor is how long a round of probes is reused; 0 means DefaultHealthCache.
	CacheFor time.Duration
	// Timeout bounds each probe; 0 means DefaultProbeTimeout.
	Timeout time.Duration

	mu     sync.Mutex
	last   *Health
	lastAt time.Time
	now    func() time.Time // time.Now; tests replace it
}

// Check returns the health of the bridge, probing at most once per CacheFor. The probes run in
// parallel, each bounded by Timeout, and outlive a ctx that is cancelled: one impatient client
// must not record every gateway as down for the next ones.
func (hc *HealthChecker) Check(ctx context.Context) Health {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	now := time.Now
	if hc.now != nil {
		now = hc.now
	}
	cacheFor := hc.CacheFor
	if cacheFor <= 0 {
		cacheFor = DefaultHealthCache
	}
	if hc.last == nil || now().Sub(hc.lastAt) >= cacheFor {
		h := hc.probe(context.WithoutCancel(ctx), now)
		hc.last, hc.lastAt = &h, now()
	}
	h := *hc.last
	h.Gateways = maps.Clone(h.Gateways)
	return h
}

func (hc *HealthChecker) probe(ctx context.Context, now func() time.Time) Health {
	timeout := hc.Timeout
	if timeout <= 0 {
		timeout = DefaultProbeTimeout
	}
	run := func(p Prober) ProbeResult {
		if p == nil {
			return ProbeResult{Error: "no check configured", CheckedAt: now()}
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		err := p.Probe(ctx)
		r := ProbeResult{OK: err == nil, CheckedAt: now()}
		if err != nil {
			r.Error = truncate(err.Error(), maxErrorLen)
		}
		return r
	}
	h := Health{Gateways: make(map[string]ProbeResult, len(hc.Gateways))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, p := range hc.Gateways {
		wg.Go(func() {
			r := run(p)
			mu.Lock()
			h.Gateways[name] = r
			mu.Unlock()
		})
	}
	h.Homeserver = run(hc.Homeserver)
	wg.Wait()

	up := 0
	for _, r := range h.Gateways {
		if r.OK {
			up++
		}
	}
	switch {
	case !h.Homeserver.OK || (len(h.Gateways) > 0 && up == 0):
		h.Status = StatusDown
	case up < len(h.Gateways):
		h.Status = StatusDegraded
	default:
		h.Status = StatusOK
	}
	return h
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// HealthHandler serves hc's report as JSON: 200 when the status is ok, 503 when it is degraded or
// down, so that a plain HTTP check alerts on either; the body says which.
func HealthHandler(hc *HealthChecker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := hc.Check(r.Context())
		body, err := json.Marshal(h)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		body = append(body, '\n')
		status := http.StatusOK
		if h.Status != StatusOK {
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
}

// WatchHealth makes every scrape report hc's probes as cpim_gateway_up and cpim_homeserver_up.
// The scrape calls hc.Check, so it shares the probe cache with HealthHandler.
func (m *Metrics) WatchHealth(hc *HealthChecker) {
	m.health.Store(hc)
}

var (
	gatewayUpDesc = prometheus.NewDesc("cpim_gateway_up",
		"1 if the gateway answered its last probe, 0 if not.", []string{"gateway"}, nil)
	homeserverUpDesc = prometheus.NewDesc("cpim_homeserver_up",
		"1 if the homeserver answered its last probe, 0 if not.", nil, nil)
)

// healthCollector probes at scrape time, within the health cache, so that the up gauges are as
// fresh as the scrapes whether or not anyone asks the health endpoint.
type healthCollector struct{ m *Metrics }

func (c healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- gatewayUpDesc
	ch <- homeserverUpDesc
}

func (c healthCollector) Collect(ch chan<- prometheus.Metric) {
	hc := c.m.health.Load()
	if hc == nil {
		return
	}
	h := hc.Check(context.Background())
	ch <- prometheus.MustNewConstMetric(homeserverUpDesc, prometheus.GaugeValue, boolValue(h.Homeserver.OK))
	for name, r := range h.Gateways {
		ch <- prometheus.MustNewConstMetric(gatewayUpDesc, prometheus.GaugeValue, boolValue(r.OK), name)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
