package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"

	"github.com/matrix-cpim/matrix-cpim/gateway"
)

// timeoutError is a net.Error that timed out, like the dialer's and the HTTP client's.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

var _ net.Error = timeoutError{}

// gaveUp wraps err as gateway.Deliver does when the deadline passes.
func gaveUp(err error) error { return fmt.Errorf("gave up after 3 attempts within 10m0s: %w", err) }

func TestAttemptResult(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"success", nil, "ok"},
		{"http 503", &gateway.SendError{Temporary: true, Status: 503, Reason: "busy"}, "status_5xx"},
		{"http 403", &gateway.SendError{Status: 403, Reason: "forbidden"}, "status_4xx"},
		{"sip 408", &gateway.SendError{Temporary: true, Status: 408}, "status_4xx"},
		{"sip 604", &gateway.SendError{Status: 604, Reason: "Does Not Exist Anywhere"}, "status_6xx"},
		{"http 302", &gateway.SendError{Status: 302}, "status_3xx"},
		{"status below range", &gateway.SendError{Status: 42}, "status_other"},
		{"status above range", &gateway.SendError{Status: 1000}, "status_other"},
		{"unreachable", &gateway.SendError{Temporary: true, Reason: "connection refused"}, "network"},
		{"wrapped send error", fmt.Errorf("gateway x: %w", &gateway.SendError{Status: 500}), "status_5xx"},
		{"context deadline", fmt.Errorf("gateway x: %w", context.DeadlineExceeded), "timeout"},
		{"net timeout", &net.OpError{Op: "dial", Net: "tcp", Err: timeoutError{}}, "timeout"},
		{"os deadline", os.ErrDeadlineExceeded, "timeout"},
		{"canceled", fmt.Errorf("gateway x: %w", context.Canceled), "canceled"},
		{"unclassified", errors.New("boom"), "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := attemptResult(tt.err); got != tt.want {
				t.Errorf("attemptResult(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestFailureReason(t *testing.T) {
	tests := []struct {
		name        string
		dir         Direction
		err         error
		wantReason  string
		wantRefused bool
	}{
		{"inbound refusal", In, gateway.Refuse(403, gateway.CodeForbiddenFrom, "no"), gateway.CodeForbiddenFrom, true},
		{"inbound wrapped refusal", In, fmt.Errorf("accept: %w", gateway.Refuse(404, gateway.CodeUnknownUser, "no")), gateway.CodeUnknownUser, true},
		{"inbound store error", In, errors.New("database is locked"), gateway.CodeInternal, false},
		{"inbound canceled", In, context.Canceled, gateway.CodeInternal, false},
		{"no route", Out, &gateway.NoRouteError{Domain: "example.org", Reason: "none"}, "no_route", false},
		{"gave up on 503", Out, gaveUp(&gateway.SendError{Temporary: true, Status: 503}), "deadline", false},
		{"gave up unreachable", Out, gaveUp(&gateway.SendError{Temporary: true}), "deadline", false},
		{"caller deadline", Out, fmt.Errorf("delivery stopped after 2 attempts: %w; last attempt: %w",
			context.DeadlineExceeded, &gateway.SendError{Temporary: true, Status: 503}), "deadline", false},
		{"shutdown", Out, fmt.Errorf("delivery stopped after 2 attempts: %w; last attempt: %w",
			context.Canceled, &gateway.SendError{Temporary: true, Status: 503}), "canceled", false},
		{"gateway refused", Out, &gateway.SendError{Status: 404, Reason: "no such user"}, "status_4xx", true},
		{"sip decline", Out, &gateway.SendError{Status: 603}, "status_6xx", true},
		{"permanent without status", Out, &gateway.SendError{Reason: "bad URL"}, "network", false},
		{"route lookup failed", Out, errors.New("lookup _im._sip.example.org: server misbehaving"), "other", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := failureReason(tt.dir, tt.err); got != tt.wantReason {
				t.Errorf("failureReason(%s, %v) = %q, want %q", tt.dir, tt.err, got, tt.wantReason)
			}
			if got := isRefusal(tt.err); got != tt.wantRefused {
				t.Errorf("isRefusal(%v) = %v, want %v", tt.err, got, tt.wantRefused)
			}
		})
	}
}
