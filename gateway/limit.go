package gateway

import (
	"context"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

// Limits bound how fast inbound messages are taken: from each gateway, and from each sender address
// (so one chatty or abusive remote user cannot use up a gateway's share). Rates are messages per
// second; 0 leaves that limit off. Burst is how many may arrive at once after a quiet spell.
type Limits struct {
	PerGateway float64
	PerSender  float64
	Burst      int
}

// maxSenders bounds the per-sender table: past it, idle senders are forgotten.
const maxSenders = 10000

// Limit wraps acc so that messages over the limits are refused with 429 and the time after which
// a retry would pass (Retry-After), before they reach acc.
func Limit(acc Acceptor, l Limits) Acceptor {
	if l.PerGateway <= 0 && l.PerSender <= 0 {
		return acc
	}
	if l.Burst <= 0 {
		l.Burst = 1
	}
	return &limiter{next: acc, limits: l, gateways: map[string]*rate.Limiter{}, senders: map[string]*rate.Limiter{}}
}

type limiter struct {
	next     Acceptor
	limits   Limits
	mu       sync.Mutex
	gateways map[string]*rate.Limiter
	senders  map[string]*rate.Limiter
}

func (l *limiter) Accept(ctx context.Context, in *Inbound) error {
	now := time.Now()
	l.mu.Lock()
	var reservations []*rate.Reservation
	if l.limits.PerGateway > 0 {
		reservations = append(reservations, l.get(l.gateways, in.Gateway.Name, l.limits.PerGateway).ReserveN(now, 1))
	}
	if l.limits.PerSender > 0 {
		reservations = append(reservations, l.get(l.senders, senderKey(in.Message), l.limits.PerSender).ReserveN(now, 1))
	}
	var wait time.Duration
	for _, r := range reservations {
		wait = max(wait, r.DelayFrom(now))
	}
	if wait > 0 {
		// Refused messages must not use up the budget of the ones that come after them.
		for _, r := range reservations {
			r.CancelAt(now)
		}
	}
	l.mu.Unlock()
	if wait > 0 {
		ref := Refuse(http.StatusTooManyRequests, CodeRateLimited, "too many messages from gateway %q or sender %q; retry in %s", in.Gateway.Name, in.Message.From.URI, wait.Round(time.Millisecond))
		ref.Retry = wait
		return ref
	}
	return l.next.Accept(ctx, in)
}

// get returns the limiter of key, creating it; called with l.mu held.
func (l *limiter) get(table map[string]*rate.Limiter, key string, r float64) *rate.Limiter {
	lim, ok := table[key]
	if !ok {
		if len(table) >= maxSenders {
			clear(table)
		}
		lim = rate.NewLimiter(rate.Limit(r), l.limits.Burst)
		table[key] = lim
	}
	return lim
}

// senderKey is the sender's mailbox, so that im: and sip: spellings of one address share a limit.
func senderKey(m *cpim.Message) string {
	if u, err := cpim.ParseURI(m.From.URI); err == nil {
		if user, domain, ok := u.Mailbox(); ok {
			return user + "@" + domain
		}
	}
	return m.From.URI
}
