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
	from, to, err := cl.addresses(ctx, msg.Portal, msg.Event)
	if err != nil {
		return nil, err
	}
	var rel portal.Relation
	if msg.ReplyTo != nil {
		// A reply to a message without a Message-ID goes out as a plain message.
		if rel.InReplyTo = cl.wireID(msg.ReplyTo); rel.InReplyTo != "" {
			rel.Quote = cl.quoteOf(ctx, msg.Portal, msg.ReplyTo)
		}
	}
	m, err := cl.toCPIM(ctx, from, to, msg.Content, rel)
	if err != nil {
		return nil, sendFailure(err, event.MessageStatusUnsupported)
	}
	if cl.c.Config.RequestReceipts {
		portal.RequestReceipts(m)
	}
	mid, err := cl.enqueue(ctx, msg.Portal, msg.Event, string(msg.Content.MsgType), m)
	if err != nil {
		return nil, err
	}
	return &bridgev2.MatrixMessageResponse{DB: &bridgedb.Message{
		ID:        networkid.MessageID(mid),
		SenderID:  networkid.UserID(cl.login.ID),
		Timestamp: m.DateTime,
	}}, nil
}

// addresses returns the From and To of a message the Matrix user sends in a portal: their im:
// address with their displayname in the room as Formal-name (RFC 3862 §4.1), and the contact's in a
// DM; in a group the first other participant's, which enqueue replaces in each copy. It fails with
// a message status when no gateway serves the contact's domain (in a group, any of its domains).
func (cl *Client) addresses(ctx context.Context, p *bridgev2.Portal, evt *event.Event) (from, to cpim.Address, err error) {
	ghost := networkid.UserID(p.ID)
	if set, ok := portal.GroupMembers(p.ID); ok {
		var self networkid.UserID
		if self, err = cl.groupSender(ctx, set); err != nil {
			return from, to, err
		}
		ghost = set[0]
		if ghost == self {
			ghost = set[1]
		}
	} else if _, _, err = cl.c.router.Route(ctx, portal.Domain(ghost)); err != nil {
		return from, to, sendFailure(err, event.MessageStatusUnsupported)
	}
	from = cpim.Address{URI: cl.uri}
	// The room's member event is in the state store already; without one the address goes alone.
	if member, err := cl.c.Bridge.Matrix.GetMemberInfo(ctx, evt.RoomID, evt.Sender); err == nil && member != nil {
		from.Name = member.Displayname
	}
	return from, cpim.Address{URI: portal.GhostURI(ghost)}, nil
}

// enqueue gives m the Message-ID of the Matrix event it comes from and queues it for the contact's
// gateway, or in a group a copy for each remote domain (groupCopies), and returns the Message-ID.
// The Message-ID and TransIDs derive from the event ID: if the homeserver sends the event again,
// the queue and the gateway (Idempotency-Key) both see the same message.
func (cl *Client) enqueue(ctx context.Context, p *bridgev2.Portal, evt *event.Event, msgType string, m *cpim.Message) (string, error) {
	mid, err := imdn.EncodeMessageID(string(evt.ID))
	if err != nil {
		return "", sendFailure(err, event.MessageStatusGenericError)
	}
	m.DateTime = time.UnixMilli(evt.Timestamp).UTC()
	m.Set(imdn.Namespace, imdn.Prefix, imdn.HeaderMessageID, mid)
	var rows []*database.Outbound
	if set, ok := portal.GroupMembers(p.ID); ok {
		self, err := cl.groupSender(ctx, set)
		if err != nil {
			return "", err
		}
		rows = cl.groupCopies(p, set, self, m, mid)
	} else {
		rows = []*database.Outbound{{TransID: mid, Conversation: p.PortalKey.String(), Domain: portal.Domain(networkid.UserID(p.ID)), Body: m.Bytes()}}
	}
	for _, o := range rows {
		o.RoomID, o.EventID, o.Sender = string(evt.RoomID), string(evt.ID), string(evt.Sender)
		o.EventType, o.MsgType, o.CreatedAt = evt.Type.Type, msgType, time.Now()
		// A copy already queued (the homeserver sent the event again) is left as it is.
		if _, err = cl.c.db.Outbound.Enqueue(ctx, o); err != nil {
			return "", bridgev2.WrapErrorInStatus(err).WithErrorReason(event.MessageStatusGenericError)
		}
	}
	return mid, nil
}

// sendFailure turns an error into the message status bridgev2 shows: failed for certain, with a
// notice in the room that gives the reason.
func sendFailure(err error, reason event.MessageStatusReason) bridgev2.MessageStatus {
	return bridgev2.WrapErrorInStatus(err).WithStatus(event.MessageStatusFail).WithIsCertain(true).
		WithSendNotice(true).WithErrorReason(reason).WithMessage(err.Error())
}
