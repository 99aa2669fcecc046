package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/matrix-cpim/matrix-cpim/gateway"
)

// Failure classes of outbound messages and send attempts: the reason label of cpim_failures_total
// and the result label of cpim_send_attempts_total. Statuses are classed by their first digit,
// "status_4xx" and so on; they are HTTP or SIP statuses, which the gateway label tells apart.
const (
	ReasonOK       = "ok"       // attempt succeeded (cpim_send_attempts_total only)
	ReasonNoRoute  = "no_route" // no gateway serves the recipient's domain
	ReasonDeadline = "deadline" // still failing temporarily when the delivery deadline passed
	ReasonTimeout  = "timeout"  // the attempt timed out
	ReasonNetwork  = "network"  // the gateway could not be reached or gave no answer
	ReasonCanceled = "canceled" // the bridge stopped the delivery (shutdown)
	ReasonOther    = "other"    // an error the transports did not classify
)

// failureReason is the reason label of a message given up because of err. Inbound it is the
// errcode the gateway was answered with; an error that is not a *gateway.Refusal was answered
// CPIM_INTERNAL (see httpgw and sipgw).
func failureReason(dir Direction, err error) string {
	if ref, ok := errors.AsType[*gateway.Refusal](err); ok && ref.Code != "" {
		return ref.Code
	}
	if dir == In {
		return gateway.CodeInternal
	}
	if _, ok := errors.AsType[*gateway.NoRouteError](err); ok {
		return ReasonNoRoute
	}
	if errors.Is(err, context.Canceled) {
		return ReasonCanceled
	}
	// gateway.Deliver returns a temporary failure only when it stopped retrying it: when the
	// delivery deadline or the caller's context ran out.
	if se, ok := errors.AsType[*gateway.SendError](err); (ok && se.Temporary) || errors.Is(err, context.DeadlineExceeded) {
		return ReasonDeadline
	}
	return attemptResult(err)
}

// attemptResult is the result label of one send attempt.
func attemptResult(err error) string {
	if err == nil {
		return ReasonOK
	}
	if errors.Is(err, context.Canceled) {
		return ReasonCanceled
	}
	se, isSendErr := errors.AsType[*gateway.SendError](err)
	if isSendErr && se.Status != 0 {
		return statusClass(se.Status)
	}
	if ne, ok := errors.AsType[net.Error](err); (ok && ne.Timeout()) || errors.Is(err, context.DeadlineExceeded) {
		return ReasonTimeout
	}
	if isSendErr {
		// Transports use status 0 for failures to reach the gateway (gateway.SendError).
		return ReasonNetwork
	}
	return ReasonOther
}

// statusClass is "status_" and the class of an HTTP or SIP status (RFC 9110 §15, RFC 3261 §21),
// "status_other" outside 100-699 so that a broken peer cannot invent label values.
func statusClass(status int) string {
	if status < 100 || status > 699 {
		return "status_other"
	}
	return fmt.Sprintf("status_%dxx", status/100)
}

// isRefusal reports whether err is a "no" from the receiving side rather than a failure to get an
// answer: our refusal of an inbound message, or a final status from the gateway.
func isRefusal(err error) bool {
	if _, ok := errors.AsType[*gateway.Refusal](err); ok {
		return true
	}
	se, ok := errors.AsType[*gateway.SendError](err)
	return ok && !se.Temporary && se.Status != 0
}
