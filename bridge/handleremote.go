package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/database"
	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/metrics"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// Inbound messages take two steps. Accept checks a message and stores it (the gateway's answer
// waits for that), then the delivery worker takes stored messages to Matrix in the order they were
// accepted, marking each delivered once bridgev2 has sent it. A crash between the two leaves the
// message pending, and the worker delivers it after the restart; bridgev2 drops a second copy
// because the Matrix message is keyed by the same message ID.

var _ gateway.Acceptor = (*Connector)(nil)

// Accept implements gateway.Acceptor.
func (c *Connector) Accept(ctx context.Context, in *gateway.Inbound) error {
	m := in.Message
	if len(m.To) != 1 || len(m.Cc) != 0 {
		return gateway.Refuse(http.StatusBadRequest, gateway.CodeUnsupported, "messages with several recipients are not supported yet; send one message per recipient")
	}
	mxid, err := c.addrs.LocalUser(m.To[0].URI)
	if err != nil {
		return gateway.Refuse(http.StatusNotFound, gateway.CodeUnknownUser, "%v", err)
	}
	user, err := c.Bridge.GetUserByMXID(ctx, mxid)
	if err != nil {
		return fmt.Errorf("look up %s: %w", mxid, err)
	}
	if !user.Permissions.Login {
		// Same answer as for a user that does not exist: the gateway learns nothing about who is
		// on the homeserver.
		return gateway.Refuse(http.StatusNotFound, gateway.CodeUnknownUser, "%s is not a user of this bridge", m.To[0].URI)
	}
	if user.GetDefaultLogin() == nil {
		// First contact: bridgev2 knows nothing of this user yet, so ask the homeserver whether the
		// account exists before creating its login.
		if _, err = c.matrix.AS.BotClient().GetProfile(ctx, mxid); isNotFound(err) {
			return gateway.Refuse(http.StatusNotFound, gateway.CodeUnknownUser, "%s is not a user of this bridge", m.To[0].URI)
		} else if err != nil {
			return fmt.Errorf("look up %s on the homeserver: %w", mxid, err)
		}
		if _, err = c.ensureLogin(ctx, user); err != nil {
			return err
		}
	}
	ghostID, err := portal.GhostID(m.From.URI)
	if err != nil {
		return gateway.Refuse(http.StatusBadRequest, gateway.CodeMalformed, "From: %v", err)
	}
	// Convert once now so that a message the bridge cannot show is refused instead of being accepted
	// and then lost.
	conv, err := portal.FromCPIM(m)
	if err != nil {
		return gateway.Refuse(http.StatusUnsupportedMediaType, gateway.CodeBadContentType, "%v", err)
	}
	if err = c.checkMedia(ctx, m, conv); err != nil {
		return err
	}
	if conv.Kind == portal.KindNotification {
		if ul := user.GetDefaultLogin(); ul != nil {
			return c.receipts(ctx, ul, ghostID, conv.Notifications)
		}
		return nil
	}
	if conv.Kind == portal.KindTyping {
		if ul := user.GetDefaultLogin(); ul != nil {
			c.typing(ul, ghostID, conv.Typing)
		}
		return nil
	}
	row := &database.Inbound{
		Gateway:    in.Gateway.Name,
		Key:        in.Key,
		Recipient:  string(mxid),
		Body:       m.Bytes(),
		ReceivedAt: time.Now(),
		Lane:       inboundLane(m),
	}
	if _, err = c.db.Inbound.Insert(ctx, row); err != nil {
		return err
	}
	c.wakeDelivery()
	return nil
}

func (c *Connector) deliver(ctx context.Context, row *database.Inbound) error {
	m, err := cpim.Parse(row.Body)
	if err != nil {
		return fmt.Errorf("stored message does not parse: %w", err)
	}
	user, err := c.Bridge.GetUserByMXID(ctx, id.UserID(row.Recipient))
	if err != nil {
		return err
	}
	ul, err := c.ensureLogin(ctx, user)
	if err != nil {
		return err
	}
	ghostID, err := portal.GhostID(m.From.URI)
	if err != nil {
		return err
	}
	if err = c.updateGhost(ctx, ghostID, m.From.Name); err != nil {
		return err
	}
	in, err := portal.FromCPIM(m)
	if err != nil {
		return err
	}
	ts := row.ReceivedAt
	if !m.DateTime.IsZero() && m.DateTime.Before(ts) {
		ts = m.DateTime
	}
	key := ul.Client.(*Client).dmPortalKey(ghostID)
	msgID := networkid.MessageID(row.Key)
	if mid := imdn.MessageID(m); mid != "" {
		msgID = portal.InboundMessageID(ghostID, mid)
	}
	handled := make(chan struct{})
	meta := simplevent.EventMeta{
		Type:         bridgev2.RemoteEventMessage,
		PortalKey:    key,
		Sender:       bridgev2.EventSender{Sender: ghostID},
		CreatePortal: true,
		Timestamp:    ts,
		LogContext: func(lc zerolog.Context) zerolog.Context {
			return lc.Str("gateway", row.Gateway).Str("cpim_key", row.Key).Stringer("cpim_kind", in.Kind)
		},
		PostHandleFunc: func(context.Context, *bridgev2.Portal) { close(handled) },
	}
	if in.Kind != portal.KindMessage {
		return c.deliverRelated(ctx, ul, row, meta, msgID, in)
	}
	converted := &bridgev2.ConvertedMessage{Parts: []*bridgev2.ConvertedMessagePart{{Type: event.EventMessage, Content: in.Content,
		DBMetadata: &MessageMetadata{Receipt: portal.NewReceiptRequest(m)}}}}
	if in.InReplyTo != "" {
		if target := c.resolveTarget(ctx, key, ghostID, in.InReplyTo); target != "" {
			converted.ReplyTo = &networkid.MessageOptionalPartID{MessageID: target}
		}
	}
	converted.Parts[0].Extra = map[string]any{inboundKeyField: row.Key}
	if !row.AttemptedAt.IsZero() {
		// The bridge stopped while this message was being sent: it may be in the room already.
		if found, err := c.adoptSent(ctx, key, ghostID, msgID, ts, row.Key, converted.Parts[0].DBMetadata); err != nil {
			return err
		} else if found {
			if err = c.answerDelivered(ctx, ul.Client.(*Client), ghostID, m); err != nil {
				return err
			}
			return c.markDelivered(ctx, row)
		}
	}
	if err = c.db.Inbound.MarkAttempted(ctx, row.Gateway, row.Key, time.Now()); err != nil {
		return err
	}
	var evt bridgev2.RemoteEvent = &simplevent.PreConvertedMessage{EventMeta: meta, Data: converted, ID: msgID}
	if in.Media != nil {
		evt = mediaMessage(meta, msgID, converted, in)
	}
	res := ul.QueueRemoteEvent(evt)
	if !res.Success && !res.Ignored && !res.Queued {
		return fmt.Errorf("bridgev2 refused the message: %v", res.Error)
	}
	// With a buffered portal queue the result above only says "queued"; the message is in Matrix
	// once bridgev2 has stored it under its message ID, which it does only after sending it.
	select {
	case <-handled:
	case <-time.After(handleTimeout):
	case <-ctx.Done():
		return ctx.Err()
	}
	sent, err := c.Bridge.DB.Message.GetFirstPartByID(ctx, key.Receiver, msgID)
	if err != nil {
		return err
	} else if sent == nil {
		return errors.New("bridgev2 did not send the message to Matrix")
	}
	if err = c.answerDelivered(ctx, ul.Client.(*Client), ghostID, m); err != nil {
		return err
	}
	return c.markDelivered(ctx, row)
}

func (c *Connector) markDelivered(ctx context.Context, row *database.Inbound) error {
	if err := c.db.Inbound.MarkDelivered(ctx, row.Gateway, row.Key, time.Now()); err != nil {
		return err
	}
	c.metrics.ObserveDelivery(metrics.In, row.Gateway, time.Since(row.ReceivedAt))
	return nil
}

// handleTimeout bounds the wait for bridgev2 to handle one inbound message; it is long because
// the first message of a conversation creates the room.
const handleTimeout = 2 * time.Minute

// updateGhost sets a contact's displayname from the Formal-name of its latest From header.
func (c *Connector) updateGhost(ctx context.Context, ghostID networkid.UserID, name string) error {
	ghost, err := c.Bridge.GetGhostByID(ctx, ghostID)
	if err != nil {
		return err
	}
	if name == "" {
		name = string(ghostID)
	}
	ghost.UpdateInfo(ctx, &bridgev2.UserInfo{Name: &name, Identifiers: []string{portal.GhostURI(ghostID)}})
	return nil
}

// expireLoop forgets delivered inbound messages older than the idempotency window.
func (c *Connector) expireLoop(ctx context.Context) {
	for {
		n, err := c.db.Inbound.DeleteExpired(ctx, time.Now().Add(-c.Config.IdempotencyWindow))
		if err != nil {
			c.Bridge.Log.Err(err).Msg("Failed to expire idempotency records")
		} else if n > 0 {
			c.Bridge.Log.Debug().Int64("count", n).Msg("Expired idempotency records")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
}

// isNotFound reports a 404 from the homeserver. Synapse answers a profile request for a user that
// does not exist with 404 M_UNKNOWN, not M_NOT_FOUND, so the status decides.
func isNotFound(err error) bool {
	var httpErr mautrix.HTTPError
	return errors.Is(err, mautrix.MNotFound) || errors.As(err, &httpErr) && httpErr.IsStatus(http.StatusNotFound)
}

func zlog(ctx context.Context) *zerolog.Logger { return zerolog.Ctx(ctx) }
