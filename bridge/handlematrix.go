package bridge

import (
	"context"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/database"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// HandleMatrixMessage converts a Matrix message and queues it durably for the contact's gateway. It
// runs while the homeserver waits for its transaction to be answered (see persistBeforeAck), so a
// message the homeserver was told we have is in the database. The outbound worker delivers it; if
// delivery fails for good the user gets a failure notice then.
func (cl *Client) HandleMatrixMessage(ctx context.Context, msg *bridgev2.MatrixMessage) (*bridgev2.MatrixMessageResponse, error) {
	ghost := networkid.UserID(msg.Portal.ID)
	domain := portal.Domain(ghost)
	if _, _, err := cl.c.router.Route(ctx, domain); err != nil {
		return nil, sendFailure(err, event.MessageStatusUnsupported)
	}
	m, err := portal.ToCPIM(cpim.Address{URI: cl.uri}, cpim.Address{URI: portal.GhostURI(ghost)}, msg.Content)
	if err != nil {
		return nil, sendFailure(err, event.MessageStatusUnsupported)
	}
	// The Message-ID and TransID derive from the event ID: if the homeserver sends the event again,
	// the queue and the gateway (Idempotency-Key) both see the same message.
	transID, err := imdn.EncodeMessageID(string(msg.Event.ID))
	if err != nil {
		return nil, sendFailure(err, event.MessageStatusGenericError)
	}
	m.DateTime = time.UnixMilli(msg.Event.Timestamp).UTC()
	m.Add(imdn.Namespace, imdn.Prefix, imdn.HeaderMessageID, transID)
	_, err = cl.c.db.Outbound.Enqueue(ctx, &database.Outbound{
		TransID:      transID,
		Conversation: msg.Portal.PortalKey.String(),
		Domain:       domain,
		Body:         m.Bytes(),
		RoomID:       string(msg.Event.RoomID),
		EventID:      string(msg.Event.ID),
		Sender:       string(msg.Event.Sender),
		EventType:    msg.Event.Type.Type,
		MsgType:      string(msg.Content.MsgType),
		CreatedAt:    time.Now(),
	})
	if err != nil {
		return nil, bridgev2.WrapErrorInStatus(err).WithErrorReason(event.MessageStatusGenericError)
	}
	cl.c.wakeOutbound()
	return &bridgev2.MatrixMessageResponse{DB: &bridgedb.Message{
		ID:        networkid.MessageID(transID),
		SenderID:  networkid.UserID(cl.login.ID),
		Timestamp: m.DateTime,
	}}, nil
}

// sendFailure turns an error into the message status bridgev2 shows: failed for certain, with a
// notice in the room that gives the reason.
func sendFailure(err error, reason event.MessageStatusReason) bridgev2.MessageStatus {
	return bridgev2.WrapErrorInStatus(err).WithStatus(event.MessageStatusFail).WithIsCertain(true).
		WithSendNotice(true).WithErrorReason(reason).WithMessage(err.Error())
}
