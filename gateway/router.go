package gateway

import (
	"context"
	"fmt"
	"sync"
)

// DefaultSRVMaxTries is how many next hops one message tries by default when they come from SRV
// records: RFC 3861 §6 lets the number be limited but says at least two SHOULD be tried.
const DefaultSRVMaxTries = 2

// NoRouteError says that no gateway serves an im: domain: none is configured for it and, when SRV
// routing is on, DNS names none. It is final for the message, unlike a DNS failure.
type NoRouteError struct {
	Domain string
	Reason string
}

func (e *NoRouteError) Error() string {
	return fmt.Sprintf("no route to im: domain %q: %s", e.Domain, e.Reason)
}

// SRVRouting is the optional fallback of a Router for domains no gateway is configured for
// (RFC 3861).
type SRVRouting struct {
	Resolver *SRVResolver
	// NewSender builds a sender for one next hop; the SIP transport provides it.
	NewSender func(SRVTarget) (Sender, error)
	// MaxTries bounds how many next hops one message tries, in order, while they fail temporarily;
	// 0 means DefaultSRVMaxTries.
	MaxTries int
}

// Router decides which gateway serves an im: domain (RFC 3860 §3.2.1: the next hop is found from
// the domain part of the destination). Configured gateways always win; SRV records are asked only
// for the other domains, and only if SRV routing is on.
type Router struct {
	srv *SRVRouting

	mu     sync.RWMutex
	static map[string]route
}

type route struct {
	name   string
	sender Sender
}

// NewRouter returns a router without routes. srv may be nil: then only configured gateways route.
func NewRouter(srv *SRVRouting) *Router {
	return &Router{srv: srv, static: map[string]route{}}
}

// Add routes every domain of gw to s. A domain can have one gateway only (see ValidateAll).
func (r *Router) Add(gw *Config, s Sender) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range gw.Domains {
		d = normalizeDomain(d)
		if prev, ok := r.static[d]; ok {
			return fmt.Errorf("router: domain %q of gateway %q is already routed to gateway %q", d, gw.Name, prev.name)
		}
	}
	for _, d := range gw.Domains {
		r.static[normalizeDomain(d)] = route{name: gw.Name, sender: s}
	}
	return nil
}

// Route returns the sender for messages to domain, and the name of the gateway it reaches: a
// configured gateway's name, or "srv:" and the host of the first next hop found by SRV. It returns a
// *NoRouteError if no gateway serves domain, and another error if DNS could not be asked.
func (r *Router) Route(ctx context.Context, domain string) (Sender, string, error) {
	d := normalizeDomain(domain)
	r.mu.RLock()
	rt, ok := r.static[d]
	r.mu.RUnlock()
	if ok {
		return rt.sender, rt.name, nil
	}
	if r.srv == nil {
		return nil, "", &NoRouteError{Domain: d, Reason: "no gateway is configured for it"}
	}
	targets, err := r.srv.Resolver.Lookup(ctx, d)
	if err != nil {
		return nil, "", err
	}
	tries := r.srv.MaxTries
	if tries <= 0 {
		tries = DefaultSRVMaxTries
	}
	targets = targets[:min(tries, len(targets))]
	senders := make(failover, len(targets))
	for i, t := range targets {
		if senders[i], err = r.srv.NewSender(t); err != nil {
			return nil, "", fmt.Errorf("router: next hop %s (%s) of %q: %w", t.Host, t.Addr, d, err)
		}
	}
	name := "srv:" + targets[0].Host
	if len(senders) == 1 {
		return senders[0], name, nil
	}
	return senders, name, nil
}

// failover tries its senders in order until one succeeds or fails permanently (RFC 3861 §6: the
// client tries each address in order until delivery succeeds).
type failover []Sender

func (f failover) Send(ctx context.Context, out *Outbound) error {
	var err error
	for _, s := range f {
		err = s.Send(ctx, out)
		if err == nil || !IsTemporary(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}
