package gateway

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// srvPrefix starts the owner name of the SRV records that name the SIP servers of an im: domain:
// RFC 3861 §3 puts the service label "_im" before the IANA-registered label of the IM protocol, and
// RFC 5509 §5.1 registers "_sip" for SIP. The other registered label, "_xmpp" (RFC 3921), names
// servers this bridge cannot speak to, so it is not asked for.
const srvPrefix = "_im._sip."

// Defaults of SRVResolver.
const (
	DefaultSRVTimeout   = 3 * time.Second
	DefaultSRVMaxCache  = 1024
	DefaultSRVTransport = "udp"
)

const (
	// maxSRVTTL bounds how long an answer is kept whatever its TTL, so that a mistaken record does
	// not outlive its correction by days.
	maxSRVTTL = time.Hour
	// negativeTTL is how long "no such record" is kept when the answer carries no SOA to say
	// (RFC 2308 §5 takes the negative TTL from the SOA).
	negativeTTL = time.Minute
	// maxCNAMEHops bounds alias chains (RFC 3861 §4: a CNAME is followed as if its target were the
	// domain asked for).
	maxCNAMEHops = 8
	// maxSRVRecords bounds what one answer may make us look up and keep.
	maxSRVRecords = 32
	// ednsSize is the UDP payload size we advertise: large enough for a few SRV records with their
	// addresses, small enough not to fragment (the DNS flag day 2020 value).
	ednsSize = 1232
)

// SRVTarget is one next hop for an im: domain: a server named by an _im._sip SRV record, at one of
// its addresses.
type SRVTarget struct {
	Domain string         // the im: domain that was looked up, lower case
	Host   string         // the SRV record's target, without the final dot
	Addr   netip.AddrPort // one address of Host, with the record's port
	// Transport is "udp" or "tcp": the one the owner name of the record named, or the resolver's
	// Transport for a record of the plain _im._sip name.
	Transport string
}

// SRVResolver finds the SIP servers of im: domains (RFC 3861 §4, RFC 5509) by asking one DNS server,
// and keeps the answers for their TTL. The zero value is not usable: Server must be set.
//
// It asks for _im._sip.<domain> first, then for the transport-labelled names _im._sip._udp.<domain>
// and _im._sip._tcp.<domain>, Transport's first; the first name that has SRV records decides, as
// RFC 3861 §4 lets SRV records, once found, decide alone. A domain with none of them has no route:
// the A-record fallback of RFC 3861 §4 is not taken, since an address alone does not say that a SIP
// server listens there, and failing at once tells the user more than a timeout at port 5060.
type SRVResolver struct {
	// Server is the host:port of the recursive DNS server to ask.
	Server string
	// Transport is "udp" or "tcp": the transport for servers found under the plain _im._sip name,
	// whose labelled name is also asked first. "" means DefaultSRVTransport.
	Transport string
	// Timeout bounds one query; 0 means DefaultSRVTimeout.
	Timeout time.Duration
	// MaxCache bounds how many domains are remembered; 0 means DefaultSRVMaxCache.
	MaxCache int

	mu    sync.Mutex
	cache map[string]srvEntry
	now   func() time.Time // tests move time forward
}

type srvEntry struct {
	records   []srvRecord
	transport string // of all records: they come from one owner name
	noRoute   string // why there is no route, when records is empty
	expires   time.Time
}

type srvRecord struct {
	priority, weight uint16
	host             string
	port             uint16
	addrs            []netip.Addr
}

// Lookup returns the next hops for domain in the order they should be tried: by priority, and
// within a priority in the weighted random order of RFC 2782 (drawn anew on every call, so that
// load spreads as the weights say). A domain that DNS names no server for gives a *NoRouteError;
// a failure to get an answer gives another error, worth retrying.
func (r *SRVResolver) Lookup(ctx context.Context, domain string) ([]SRVTarget, error) {
	domain = normalizeDomain(domain)
	if _, ok := dns.IsDomainName(domain); !ok || domain == "" {
		return nil, &NoRouteError{Domain: domain, Reason: "not a domain name"}
	}
	e, ok := r.cached(domain)
	if !ok {
		var err error
		e, err = r.resolve(ctx, domain)
		if err != nil {
			return nil, err
		}
		r.store(domain, e)
	}
	if len(e.records) == 0 {
		return nil, &NoRouteError{Domain: domain, Reason: e.noRoute}
	}
	var out []SRVTarget
	for _, rec := range orderSRV(e.records, rand.N[int]) {
		for _, a := range rec.addrs {
			out = append(out, SRVTarget{Domain: domain, Host: rec.host, Addr: netip.AddrPortFrom(a, rec.port), Transport: e.transport})
		}
	}
	return out, nil
}

func (r *SRVResolver) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

func (r *SRVResolver) cached(domain string) (srvEntry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.cache[domain]
	if !ok || !r.clock().Before(e.expires) {
		return srvEntry{}, false
	}
	return e, true
}

// store keeps e, making room by dropping expired entries or, failing that, the one that expires
// first.
func (r *SRVResolver) store(domain string, e srvEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock()
	if !now.Before(e.expires) {
		return
	}
	if r.cache == nil {
		r.cache = map[string]srvEntry{}
	}
	limit := r.MaxCache
	if limit <= 0 {
		limit = DefaultSRVMaxCache
	}
	if _, ok := r.cache[domain]; !ok && len(r.cache) >= limit {
		for k, old := range r.cache {
			if !now.Before(old.expires) {
				delete(r.cache, k)
			}
		}
		for len(r.cache) >= limit {
			first := ""
			for k, old := range r.cache {
				if first == "" || old.expires.Before(r.cache[first].expires) {
					first = k
				}
			}
			delete(r.cache, first)
		}
	}
	r.cache[domain] = e
}

// resolve asks DNS for domain's SRV records under the names SRVResolver lists, and for their
// targets' addresses. The entry expires with the shortest TTL among the records it was built from,
// or the shortest negative TTL when no name had records.
func (r *SRVResolver) resolve(ctx context.Context, domain string) (srvEntry, error) {
	now := r.clock()
	preferred := r.Transport
	if preferred == "" {
		preferred = DefaultSRVTransport
	}
	minNeg := maxSRVTTL
	var names []string
	for _, q := range srvQueries(domain, preferred) {
		ans, ttl, negTTL, err := r.query(ctx, q.name+".", dns.TypeSRV)
		if err != nil {
			return srvEntry{}, err
		}
		if len(ans) > 0 {
			return r.targets(ctx, now, q.name, q.transport, ans, ttl)
		}
		minNeg = min(minNeg, negTTL)
		names = append(names, q.name)
	}
	return srvEntry{noRoute: "DNS has no SRV record " + strings.Join(names, ", "), expires: now.Add(minNeg)}, nil
}

type srvQuery struct{ name, transport string }

// srvQueries lists the owner names resolve asks, in order, with the transport each implies: the
// RFC 3861 name, then the transport-labelled names in the style of RFC 3263 §4.1
// (_im._sip._udp.example.com), which deployments publish too and which say what the server listens
// on, the preferred transport first.
func srvQueries(domain, preferred string) []srvQuery {
	other := "tcp"
	if preferred == "tcp" {
		other = "udp"
	}
	return []srvQuery{
		{srvPrefix + domain, preferred},
		{srvPrefix + "_" + preferred + "." + domain, preferred},
		{srvPrefix + "_" + other + "." + domain, other},
	}
}

// targets builds the entry of the SRV records ans of one owner name.
func (r *SRVResolver) targets(ctx context.Context, now time.Time, name, transport string, ans []dns.RR, ttl time.Duration) (srvEntry, error) {
	var records []srvRecord
	for _, rr := range ans {
		srv := rr.(*dns.SRV)
		host := strings.TrimSuffix(strings.ToLower(srv.Target), ".")
		if host == "" {
			// RFC 2782: a target of "." says the service is decidedly not available at this domain.
			continue
		}
		if len(records) == maxSRVRecords {
			break
		}
		addrs, attl, err := r.addresses(ctx, srv.Target)
		if err != nil {
			return srvEntry{}, err
		}
		if len(addrs) == 0 {
			continue
		}
		ttl = min(ttl, attl)
		records = append(records, srvRecord{priority: srv.Priority, weight: srv.Weight, host: host, port: srv.Port, addrs: addrs})
	}
	if len(records) == 0 {
		return srvEntry{noRoute: "no SRV target of " + name + " has an address", expires: now.Add(min(ttl, negativeTTL))}, nil
	}
	return srvEntry{records: records, transport: transport, expires: now.Add(ttl)}, nil
}

// addresses looks up host's A and then AAAA records.
func (r *SRVResolver) addresses(ctx context.Context, host string) ([]netip.Addr, time.Duration, error) {
	var addrs []netip.Addr
	ttl := maxSRVTTL
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		ans, attl, _, err := r.query(ctx, host, t)
		if err != nil {
			return nil, 0, err
		}
		if len(ans) > 0 {
			ttl = min(ttl, attl)
		}
		for _, rr := range ans {
			var a netip.Addr
			switch rr := rr.(type) {
			case *dns.A:
				a, _ = netip.AddrFromSlice(rr.A.To4())
			case *dns.AAAA:
				a, _ = netip.AddrFromSlice(rr.AAAA)
			}
			if a.IsValid() {
				addrs = append(addrs, a)
			}
		}
	}
	return addrs, ttl, nil
}

// query asks for name's records of type t, following CNAMEs (RFC 3861 §4). It returns the records
// found, the smallest TTL along the way, and the negative-caching TTL if there were none.
func (r *SRVResolver) query(ctx context.Context, name string, t uint16) (ans []dns.RR, ttl, negTTL time.Duration, err error) {
	ttl = maxSRVTTL
	hops := 0
	for {
		resp, err := r.exchange(ctx, name, t)
		if err != nil {
			return nil, 0, 0, err
		}
		if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
			return nil, 0, 0, fmt.Errorf("DNS server %s answered %s for %s %s", r.Server, dns.RcodeToString[resp.Rcode], dns.TypeToString[t], name)
		}
		asked := name
		// A recursive server puts the whole alias chain in one answer: walk it from name.
		for {
			next := ""
			for _, rr := range resp.Answer {
				h := rr.Header()
				if !strings.EqualFold(h.Name, dns.Fqdn(name)) {
					continue
				}
				if c, ok := rr.(*dns.CNAME); ok {
					next = c.Target
					ttl = min(ttl, time.Duration(h.Ttl)*time.Second)
				} else if h.Rrtype == t && len(ans) < maxSRVRecords {
					ans = append(ans, rr)
					ttl = min(ttl, time.Duration(h.Ttl)*time.Second)
				}
			}
			if len(ans) > 0 {
				return ans, ttl, 0, nil
			}
			if next == "" {
				break
			}
			if hops++; hops > maxCNAMEHops {
				return nil, 0, 0, fmt.Errorf("DNS: more than %d CNAMEs from %s", maxCNAMEHops, asked)
			}
			name = next
		}
		if name == asked {
			return nil, ttl, negativeTTLOf(resp), nil
		}
		// The answer ended in an alias without what it points to: ask for the target.
	}
}

// negativeTTLOf is RFC 2308 §5's negative TTL: the smaller of the SOA's TTL and MINIMUM field.
func negativeTTLOf(resp *dns.Msg) time.Duration {
	for _, rr := range resp.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return min(time.Duration(min(soa.Hdr.Ttl, soa.Minttl))*time.Second, maxSRVTTL)
		}
	}
	return negativeTTL
}

func (r *SRVResolver) exchange(ctx context.Context, name string, t uint16) (*dns.Msg, error) {
	if r.Server == "" {
		return nil, fmt.Errorf("SRV resolver: no DNS server configured")
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultSRVTimeout
	}
	m := new(dns.Msg).SetQuestion(dns.Fqdn(name), t)
	m.SetEdns0(ednsSize, false)
	c := &dns.Client{Timeout: timeout}
	resp, _, err := c.ExchangeContext(ctx, m, r.Server)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, m, r.Server)
	}
	if err != nil {
		return nil, fmt.Errorf("DNS query %s %s to %s: %w", dns.TypeToString[t], name, r.Server, err)
	}
	return resp, nil
}

// orderSRV orders records as RFC 2782 says: by ascending priority, and within one priority by
// repeated weighted draws, where randN(n) returns a uniform integer in [0, n).
func orderSRV(records []srvRecord, randN func(int) int) []srvRecord {
	rest := slices.Clone(records)
	slices.SortStableFunc(rest, func(a, b srvRecord) int {
		// RFC 2782: zero-weight records go first in the list the draw runs over, which gives them a
		// small chance of being picked.
		if a.priority != b.priority {
			return int(a.priority) - int(b.priority)
		}
		return min(int(a.weight), 1) - min(int(b.weight), 1)
	})
	out := make([]srvRecord, 0, len(rest))
	for len(rest) > 0 {
		end := 1
		for end < len(rest) && rest[end].priority == rest[0].priority {
			end++
		}
		group := rest[:end]
		for len(group) > 0 {
			total := 0
			for _, rec := range group {
				total += int(rec.weight)
			}
			pick := randN(total + 1)
			i, sum := 0, 0
			for ; i < len(group)-1; i++ {
				sum += int(group[i].weight)
				if sum >= pick {
					break
				}
			}
			out = append(out, group[i])
			group = slices.Delete(group, i, i+1)
		}
		rest = rest[end:]
	}
	return out
}

// normalizeDomain lower-cases a domain and drops a final dot, so that "Example.COM." and
// "example.com" are one key.
func normalizeDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(d), ".")
}
