package bridge

import (
	"context"
	"fmt"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// HandleMatrixMessage sends a Matrix message to the gateway of the portal's contact and waits for the
// outcome, so that the Matrix user sees a failed send (with the gateway's reason) when the gateway
// refuses the message or stays unreachable until the delivery deadline.
func (cl *Client) HandleMatrixMessage(ctx context.Context, msg *bridgev2.MatrixMessage) (*bridgev2.MatrixMessageResponse, error) {
	ghost := networkid.UserID(msg.Portal.ID)
	sender, gwName, err := cl.c.router.Route(ctx, portal.Domain(ghost))
	if err != nil {
		return nil, sendFailure(err, event.MessageStatusUnsupported)
	}
	m, err := portal.ToCPIM(cpim.Address{URI: cl.uri}, cpim.Address{URI: portal.GhostURI(ghost)}, msg.Content)
	if err != nil {
		return nil, sendFailure(err, event.MessageStatusUnsupported)
	}
	// The Message-ID and TransID derive from the event ID: if the homeserver sends the event again,
	// the gateway sees the same Idempotency-Key and can drop the copy.
	transID, err := imdn.EncodeMessageID(string(msg.Event.ID))
	if err != nil {
		return nil, sendFailure(err, event.MessageStatusGenericError)
	}
	m.DateTime = time.UnixMilli(msg.Event.Timestamp).UTC()
	m.Add(imdn.Namespace, imdn.Prefix, imdn.HeaderMessageID, transID)
	err = gateway.Deliver(ctx, sender, gateway.NewOutbound(transID, m), gateway.RetryPolicy{Deadline: cl.c.Config.DeliveryDeadline})
	if err != nil {
		zlog(ctx).Warn().Err(err).Str("gateway", gwName).Str("trans_id", transID).Msg("Gateway did not take the message")
		return nil, sendFailure(fmt.Errorf("gateway %s: %w", gwName, err), event.MessageStatusNetworkError)
	}
	return &bridgev2.MatrixMessageResponse{DB: &bridgedb.Message{
		ID:        networkid.MessageID(transID),
		SenderID:  networkid.UserID(cl.login.ID),
		Timestamp: m.DateTime,
	}}, nil
}

// sendFailure turns an error into the message status bridgev2 shows: failed for certain (retries are
// over by then), with a notice in the room that gives the reason.
func sendFailure(err error, reason event.MessageStatusReason) error {
	return bridgev2.WrapErrorInStatus(err).WithStatus(event.MessageStatusFail).WithIsCertain(true).
		WithSendNotice(true).WithErrorReason(reason).WithMessage(err.Error())
}
