// Package gateway moves CPIM messages (RFC 3862) between this bridge and external instant-messaging
// gateways, and decides which gateway serves an im: domain (RFC 3861). It knows the cpim codec and
// nothing of Matrix: the bridge hands it serialized messages and receives accepted ones through
// an Acceptor.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

// Outbound is one message on its way to a gateway.
type Outbound struct {
	// TransID identifies the message operation (RFC 3860 §4.1 TransID); it stays the same across
	// retries so that the gateway can drop duplicates (the HTTP binding sends it as Idempotency-Key).
	TransID string
	Message *cpim.Message
	// Body is Message serialized once, so that retries send identical octets.
	Body []byte
}

// NewOutbound serializes m and wraps it for sending.
func NewOutbound(transID string, m *cpim.Message) *Outbound {
	return &Outbound{TransID: transID, Message: m, Body: m.Bytes()}
}

// Sender delivers one message to one gateway, once. Retrying is the caller's business (see Deliver).
type Sender interface {
	Send(ctx context.Context, out *Outbound) error
}

// SendError is a failed delivery attempt. Transports classify their failures into it so that one
// retry policy serves all of them.
type SendError struct {
	// Temporary failures are retried until the deadline; the others end the delivery at once.
	Temporary bool
	// Status is the transport's status code (HTTP or SIP), 0 for network errors.
	Status int
	// Reason is shown to the Matrix user, so it says what the gateway said.
	Reason string
	// RetryAfter is the gateway's requested delay (Retry-After), 0 if none.
	RetryAfter time.Duration
}

func (e *SendError) Error() string {
	if e.Status == 0 {
		return e.Reason
	}
	return fmt.Sprintf("%d %s", e.Status, e.Reason)
}

// IsTemporary reports whether err is worth retrying: a *SendError marked temporary, or any error that
// is not a *SendError (a transport that could not classify its failure should not lose the message).
func IsTemporary(err error) bool {
	var se *SendError
	if errors.As(err, &se) {
		return se.Temporary
	}
	return !errors.Is(err, context.Canceled)
}

// Inbound is a message a gateway handed to us, after the transport-level checks.
type Inbound struct {
	Gateway *Config
	// Key identifies the message for duplicate suppression: the transport's idempotency key
	// (HTTP Idempotency-Key, SIP Call-ID + CSeq), or the imdn.Message-ID; see IdempotencyKey.
	Key     string
	Message *cpim.Message
}

// Acceptor takes accepted inbound messages into the bridge. Accept returns nil only once the message is
// durably stored (or recognised as a duplicate of one that is), so a transport may then answer
// success; otherwise it returns a *Refusal or an error (answered as a temporary failure).
type Acceptor interface {
	Accept(ctx context.Context, in *Inbound) error
}

// Refusal is a reasoned refusal of an inbound message. Status is an HTTP status code; the SIP
// transport maps it to the matching SIP response.
type Refusal struct {
	Status  int
	Code    string // machine-readable errcode, e.g. "CPIM_FORBIDDEN_DOMAIN"
	Reason  string
	Retry   time.Duration // for 429: how long the gateway should wait
	wrapped error
}

func (r *Refusal) Error() string { return fmt.Sprintf("%d %s: %s", r.Status, r.Code, r.Reason) }
func (r *Refusal) Unwrap() error { return r.wrapped }

// Refuse builds a Refusal.
func Refuse(status int, code, format string, args ...any) *Refusal {
	return &Refusal{Status: status, Code: code, Reason: fmt.Sprintf(format, args...)}
}

// Error codes of refusals, shared by all transports and documented in docs/http-binding.md.
const (
	CodeMalformed      = "CPIM_MALFORMED"
	CodeUnauthorized   = "CPIM_UNAUTHORIZED"
	CodeForbiddenFrom  = "CPIM_FORBIDDEN_FROM"
	CodeNotLocal       = "CPIM_NOT_LOCAL"
	CodeUnknownUser    = "CPIM_UNKNOWN_RECIPIENT"
	CodeTooLarge       = "CPIM_TOO_LARGE"
	CodeBadContentType = "CPIM_UNSUPPORTED_MEDIA_TYPE"
	CodeRateLimited    = "CPIM_RATE_LIMITED"
	CodeUnsupported    = "CPIM_REQUIRE_UNSUPPORTED"
	CodeInternal       = "CPIM_INTERNAL"
)

// CheckAddresses applies the acceptance rules every inbound transport shares: the From address must be
// in a domain the sending gateway serves (no spoofing), and every To must be in localDomain (we deliver
// to our own users only, never forward: RFC 3860 §5 loop avoidance).
func CheckAddresses(gw *Config, m *cpim.Message, localDomain string) *Refusal {
	fromDomain, ok := mailboxDomain(m.From.URI)
	if !ok {
		return Refuse(http.StatusBadRequest, CodeMalformed, "From %q is not an address with a domain", m.From.URI)
	}
	if !gw.Serves(fromDomain) {
		return Refuse(http.StatusForbidden, CodeForbiddenFrom, "gateway %q does not serve the From domain %q", gw.Name, fromDomain)
	}
	if len(m.To) == 0 {
		return Refuse(http.StatusBadRequest, CodeMalformed, "no To header")
	}
	for _, to := range m.To {
		domain, ok := mailboxDomain(to.URI)
		if !ok {
			return Refuse(http.StatusBadRequest, CodeMalformed, "To %q is not an address with a domain", to.URI)
		}
		if !strings.EqualFold(domain, localDomain) {
			return Refuse(http.StatusNotFound, CodeNotLocal, "To %q is not in this bridge's domain %q; messages are not relayed", to.URI, localDomain)
		}
	}
	return nil
}

// mailboxDomain is the domain of the mailbox an address names (cpim.URI.Mailbox).
func mailboxDomain(uri string) (string, bool) {
	u, err := cpim.ParseURI(uri)
	if err != nil {
		return "", false
	}
	_, domain, ok := u.Mailbox()
	return domain, ok
}
