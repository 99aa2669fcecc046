package gateway

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testDNS is an authoritative DNS server on loopback, serving UDP and TCP from a zone given as
// master-file lines. Names listed in truncate are answered over UDP with the TC bit and no records,
// as a server does when the answer does not fit.
type testDNS struct {
	addr string

	mu       sync.Mutex
	zone     map[string][]dns.RR // by lower-case owner name
	truncate map[string]bool
	rcode    int // answer every query with this rcode when not zero
	queries  []string
}

func newTestDNS(t *testing.T, records ...string) *testDNS {
	t.Helper()
	d := &testDNS{zone: map[string][]dns.RR{}, truncate: map[string]bool{}}
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("bad test record %q: %v", s, err)
		}
		name := strings.ToLower(rr.Header().Name)
		d.zone[name] = append(d.zone[name], rr)
	}
	// The UDP port picked for us may be taken for TCP by another process: try a few.
	var pc net.PacketConn
	var l net.Listener
	for attempt := 0; l == nil; attempt++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		d.addr = pc.LocalAddr().String()
		if l, err = net.Listen("tcp", d.addr); err != nil {
			pc.Close()
			if attempt == 20 {
				t.Fatal(err)
			}
		}
	}
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: d}, {Listener: l, Handler: d}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return d
}

func (d *testDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	d.mu.Lock()
	defer d.mu.Unlock()
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	_, udp := w.RemoteAddr().(*net.UDPAddr)
	proto := "tcp"
	if udp {
		proto = "udp"
	}
	d.queries = append(d.queries, proto+" "+dns.TypeToString[q.Qtype]+" "+name)
	resp := new(dns.Msg).SetReply(req)
	resp.Authoritative = true
	switch {
	case d.rcode != 0:
		resp.Rcode = d.rcode
	case udp && d.truncate[name]:
		resp.Truncated = true
	default:
		d.answer(resp, name, q.Qtype)
	}
	w.WriteMsg(resp)
}

// answer fills resp like an authoritative server: the records of name of type qtype, or the CNAME
// of name (without following it), or NXDOMAIN / NODATA with the zone's SOA.
func (d *testDNS) answer(resp *dns.Msg, name string, qtype uint16) {
	rrs, ok := d.zone[name]
	for _, rr := range rrs {
		if rr.Header().Rrtype == qtype || rr.Header().Rrtype == dns.TypeCNAME {
			resp.Answer = append(resp.Answer, rr)
		}
	}
	if len(resp.Answer) > 0 {
		return
	}
	if !ok {
		resp.Rcode = dns.RcodeNameError
	}
	if soa, ok := d.zone["test."]; ok {
		resp.Ns = soa
	}
}

func (d *testDNS) queryLog() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.queries...)
}

// manualClock is moved by hand, so that expiry is tested without waiting.
type manualClock struct{ t time.Time }

func (c *manualClock) now() time.Time { return c.t }

func newResolver(d *testDNS) (*SRVResolver, *manualClock) {
	c := &manualClock{t: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	return &SRVResolver{Server: d.addr, Timeout: 5 * time.Second, now: c.now}, c
}

func targetStrings(ts []SRVTarget) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Domain+" "+t.Host+" "+t.Addr.String())
	}
	return out
}

func TestLookupOrdersByPriority(t *testing.T) {
	d := newTestDNS(t,
		"_im._sip.example.test. 300 IN SRV 20 0 5070 backup.example.test.",
		"_im._sip.example.test. 300 IN SRV 10 0 5060 main.example.test.",
		"main.example.test. 300 IN A 127.0.0.2",
		"main.example.test. 300 IN AAAA ::1",
		"backup.example.test. 300 IN A 127.0.0.3",
	)
	r, _ := newResolver(d)
	got, err := r.Lookup(context.Background(), "Example.TEST.")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"example.test main.example.test 127.0.0.2:5060",
		"example.test main.example.test [::1]:5060",
		"example.test backup.example.test 127.0.0.3:5070",
	}
	if strings.Join(targetStrings(got), "\n") != strings.Join(want, "\n") {
		t.Errorf("Lookup =\n%s\nwant\n%s", strings.Join(targetStrings(got), "\n"), strings.Join(want, "\n"))
	}
	if q := d.queryLog(); len(q) == 0 || q[0] != "udp SRV _im._sip.example.test." {
		t.Errorf("first query = %q, want the RFC 3861 owner name _im._sip.example.test.", q)
	}
}

func TestLookupTransportLabels(t *testing.T) {
	d := newTestDNS(t,
		"_im._sip.plain.test. 300 IN SRV 0 0 5060 h.test.",
		"_im._sip._tcp.plain.test. 300 IN SRV 0 0 5061 h.test.",
		"_im._sip._tcp.tcponly.test. 300 IN SRV 0 0 5062 h.test.",
		"_im._sip._udp.both.test. 300 IN SRV 0 0 5063 h.test.",
		"_im._sip._tcp.both.test. 300 IN SRV 0 0 5064 h.test.",
		"h.test. 300 IN A 127.0.0.9",
	)
	for _, tc := range []struct {
		preferred, domain string
		want              string // port and transport of the target
		queries           []string
	}{
		{"", "plain.test", "5060 udp", []string{"_im._sip.plain.test."}},
		{"tcp", "plain.test", "5060 tcp", []string{"_im._sip.plain.test."}},
		{"", "tcponly.test", "5062 tcp", []string{"_im._sip.tcponly.test.", "_im._sip._udp.tcponly.test.", "_im._sip._tcp.tcponly.test."}},
		{"udp", "both.test", "5063 udp", []string{"_im._sip.both.test.", "_im._sip._udp.both.test."}},
		{"tcp", "both.test", "5064 tcp", []string{"_im._sip.both.test.", "_im._sip._tcp.both.test."}},
	} {
		d.mu.Lock()
		d.queries = nil
		d.mu.Unlock()
		r, _ := newResolver(d)
		r.Transport = tc.preferred
		got, err := r.Lookup(context.Background(), tc.domain)
		if err != nil {
			t.Errorf("%s preferring %q: %v", tc.domain, tc.preferred, err)
			continue
		}
		if s := fmt.Sprint(got[0].Addr.Port(), " ", got[0].Transport); len(got) != 1 || s != tc.want {
			t.Errorf("%s preferring %q: got %v, want one target %s", tc.domain, tc.preferred, got, tc.want)
		}
		var srvQueries []string
		for _, q := range d.queryLog() {
			if name, ok := strings.CutPrefix(q, "udp SRV "); ok {
				srvQueries = append(srvQueries, name)
			}
		}
		if !slices.Equal(srvQueries, tc.queries) {
			t.Errorf("%s preferring %q: SRV queries %q, want %q", tc.domain, tc.preferred, srvQueries, tc.queries)
		}
	}
}

func TestLookupNoRoute(t *testing.T) {
	d := newTestDNS(t,
		"test. 300 IN SOA ns.test. admin.test. 1 3600 600 86400 60",
		"_im._sip.refused.test. 300 IN SRV 0 0 0 .",
		"_im._sip.noaddr.test. 300 IN SRV 0 0 5060 nowhere.test.",
		"nodata.test. 300 IN A 127.0.0.1",
	)
	for _, domain := range []string{"missing.test", "nodata.test", "refused.test", "noaddr.test", "bad domain", ""} {
		r, _ := newResolver(d)
		_, err := r.Lookup(context.Background(), domain)
		var nr *NoRouteError
		if !errors.As(err, &nr) {
			t.Errorf("Lookup(%q) error = %v, want *NoRouteError", domain, err)
		}
	}
}

func TestLookupServerFailureIsNotNoRoute(t *testing.T) {
	d := newTestDNS(t, "_im._sip.example.test. 300 IN SRV 0 0 5060 main.example.test.")
	d.mu.Lock()
	d.rcode = dns.RcodeServerFailure
	d.mu.Unlock()
	r, _ := newResolver(d)
	_, err := r.Lookup(context.Background(), "example.test")
	var nr *NoRouteError
	if err == nil || errors.As(err, &nr) {
		t.Fatalf("Lookup error = %v, want a DNS failure that is not *NoRouteError", err)
	}
	if !IsTemporary(err) {
		t.Errorf("DNS failure %v is not temporary", err)
	}
	// A failure is not remembered: once the server recovers, the next lookup asks again.
	d.mu.Lock()
	d.rcode = 0
	d.zone["main.example.test."] = []dns.RR{mustRR(t, "main.example.test. 300 IN A 127.0.0.2")}
	d.mu.Unlock()
	if _, err := r.Lookup(context.Background(), "example.test"); err != nil {
		t.Errorf("Lookup after recovery: %v", err)
	}
}

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func TestLookupCachesForTTL(t *testing.T) {
	d := newTestDNS(t,
		"test. 300 IN SOA ns.test. admin.test. 1 3600 600 86400 30",
		"_im._sip.example.test. 120 IN SRV 0 0 5060 main.example.test.",
		"main.example.test. 60 IN A 127.0.0.2",
	)
	r, clock := newResolver(d)
	ctx := context.Background()
	lookups := func() int { return len(d.queryLog()) }

	if _, err := r.Lookup(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	first := lookups()
	clock.t = clock.t.Add(59 * time.Second)
	if _, err := r.Lookup(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	if lookups() != first {
		t.Errorf("lookup within the TTL asked DNS again: %q", d.queryLog()[first:])
	}
	// The entry lives as long as its shortest record: the A record's 60 s.
	clock.t = clock.t.Add(time.Second)
	if _, err := r.Lookup(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	if lookups() == first {
		t.Error("lookup after the A record's TTL did not ask DNS again")
	}

	// Negative answers are kept for the SOA's MINIMUM (RFC 2308), here 30 s.
	if _, err := r.Lookup(ctx, "missing.test"); err == nil {
		t.Fatal("missing.test resolved")
	}
	n := lookups()
	clock.t = clock.t.Add(29 * time.Second)
	r.Lookup(ctx, "missing.test")
	if lookups() != n {
		t.Error("negative answer was not cached")
	}
	clock.t = clock.t.Add(time.Second)
	r.Lookup(ctx, "missing.test")
	if lookups() == n {
		t.Error("negative answer was kept past the SOA minimum")
	}
}

func TestLookupCacheIsBounded(t *testing.T) {
	d := newTestDNS(t,
		"_im._sip.a.test. 300 IN SRV 0 0 5060 h.test.",
		"_im._sip.b.test. 200 IN SRV 0 0 5060 h.test.",
		"_im._sip.c.test. 100 IN SRV 0 0 5060 h.test.",
		"h.test. 300 IN A 127.0.0.2",
	)
	r, _ := newResolver(d)
	r.MaxCache = 2
	for _, dom := range []string{"a.test", "b.test", "c.test"} {
		if _, err := r.Lookup(context.Background(), dom); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.cache) != 2 {
		t.Fatalf("cache holds %d entries, want 2", len(r.cache))
	}
	// The entry that would expire first (b.test, 200 s) made room for c.test.
	if _, ok := r.cache["b.test"]; ok {
		t.Errorf("cache kept b.test, the entry expiring first: %v", r.cache)
	}
}

func TestLookupFollowsCNAME(t *testing.T) {
	d := newTestDNS(t,
		"_im._sip.alias.test. 300 IN CNAME _im._sip.real.test.",
		"_im._sip.real.test. 300 IN SRV 0 0 5060 host.real.test.",
		"host.real.test. 300 IN CNAME box.real.test.",
		"box.real.test. 300 IN A 127.0.0.9",
		"_im._sip.loop.test. 300 IN CNAME _im._sip.loop.test.",
	)
	r, _ := newResolver(d)
	got, err := r.Lookup(context.Background(), "alias.test")
	if err != nil {
		t.Fatal(err)
	}
	if s := targetStrings(got); len(s) != 1 || s[0] != "alias.test host.real.test 127.0.0.9:5060" {
		t.Errorf("Lookup(alias.test) = %q", s)
	}
	_, err = r.Lookup(context.Background(), "loop.test")
	var nr *NoRouteError
	if err == nil || errors.As(err, &nr) {
		t.Errorf("Lookup of a CNAME loop: error %v, want a DNS error", err)
	}
}

func TestLookupRetriesTruncatedOverTCP(t *testing.T) {
	d := newTestDNS(t,
		"_im._sip.big.test. 300 IN SRV 0 0 5060 host.big.test.",
		"host.big.test. 300 IN A 127.0.0.5",
	)
	d.mu.Lock()
	d.truncate["_im._sip.big.test."] = true
	d.mu.Unlock()
	r, _ := newResolver(d)
	got, err := r.Lookup(context.Background(), "big.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("Lookup = %v", got)
	}
	q := d.queryLog()
	if len(q) < 2 || q[0] != "udp SRV _im._sip.big.test." || q[1] != "tcp SRV _im._sip.big.test." {
		t.Errorf("queries = %q, want UDP then TCP", q)
	}
}

func TestOrderSRV(t *testing.T) {
	rec := func(prio, weight uint16, host string) srvRecord {
		return srvRecord{priority: prio, weight: weight, host: host}
	}
	records := []srvRecord{rec(10, 5, "c"), rec(0, 0, "zero"), rec(0, 3, "a"), rec(0, 1, "b")}
	hosts := func(rs []srvRecord) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.host)
		}
		return strings.Join(s, ",")
	}
	tests := []struct {
		name  string
		randN func(n int) int
		want  string
	}{
		// The draw runs over zero-weight records first; a draw of 0 picks the first record.
		{"lowest draw", func(int) int { return 0 }, "zero,a,b,c"},
		// The highest draw picks the record whose running sum reaches the total: the last one.
		{"highest draw", func(n int) int { return n - 1 }, "b,a,zero,c"},
		// Priority 0, weights zero:0 a:3 b:1 → running sums 0,3,4. A draw of 1 picks a; then
		// zero:0 b:1 → sums 0,1, and 1 picks b.
		{"middle draw", func(n int) int { return min(1, n-1) }, "a,b,zero,c"},
	}
	for _, tt := range tests {
		if got := hosts(orderSRV(records, tt.randN)); got != tt.want {
			t.Errorf("%s: order = %s, want %s", tt.name, got, tt.want)
		}
	}
	if got := hosts(records); got != "c,zero,a,b" {
		t.Errorf("orderSRV changed its input: %s", got)
	}
}

func TestOrderSRVFollowsWeights(t *testing.T) {
	// Statistical, but with a margin that a correct implementation misses with negligible
	// probability: weight 9 against 1 should come first about 90% of the time.
	records := []srvRecord{{weight: 1, host: "light"}, {weight: 9, host: "heavy"}}
	heavy := 0
	const n = 2000
	for i := 0; i < n; i++ {
		if orderSRV(records, randN)[0].host == "heavy" {
			heavy++
		}
	}
	if heavy < n*80/100 || heavy > n*97/100 {
		t.Errorf("heavy record first %d of %d times, want about 90%%", heavy, n)
	}
}

// randN draws from a fixed seed, so that the test gives the same result on every run.
func randN(n int) int { return randSource.IntN(n) }

var randSource = rand.New(rand.NewPCG(1, 2))
