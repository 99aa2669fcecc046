package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
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
	ul, err := c.recipientLogin(ctx, m)
	if err != nil {
		return err
	}
	ghostID, err := portal.GhostID(m.From.URI)
	if err != nil {
		return gateway.Refuse(http.StatusBadRequest, gateway.CodeMalformed, "From: %v", err)
	}
	key, _, err := c.inboundPortal(ul, m, ghostID)
	if err != nil {
		return err
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
		return c.receipts(ctx, ul, ghostID, conv.Notifications)
	}
	if conv.Kind == portal.KindTyping {
		c.typing(ul, key, ghostID, conv.Typing)
		return nil
	}
	row := &database.Inbound{
		Gateway:    in.Gateway.Name,
		Key:        in.Key,
		Recipient:  string(ul.UserMXID),
		Body:       m.Bytes(),
		ReceivedAt: time.Now(),
		Lane:       key.String(), // the conversation: its messages reach Matrix in order
	}
	_, err = c.db.Inbound.Insert(ctx, row) // the delivery worker hears of it (OnStored)
	return err
}

// recipientLogin returns the login through which a message goes to Matrix, creating the logins of
// the users it is addressed to on their first contact: its recipient's in a DM; in a group the
// first of its local participants (To, then cc) who is a user. An address in the bridge's domain
// that is no user is left out of a group (docs/groups.md); a message without any recipient who is a
// user is refused as addressed to an unknown user, with the first reason.
func (c *Connector) recipientLogin(ctx context.Context, m *cpim.Message) (*bridgev2.UserLogin, error) {
	var first *bridgev2.UserLogin
	var refusal error
	for _, a := range slices.Concat(m.To, m.Cc) {
		if p, err := portal.GhostID(a.URI); err == nil && !c.isLocal(p) {
			continue // a remote participant of a group
		}
		ul, err := c.localRecipient(ctx, a.URI)
		var r *gateway.Refusal
		if errors.As(err, &r) {
			zlog(ctx).Debug().Str("recipient", a.URI).Str("reason", r.Reason).Msg("Leaving out a recipient who is no user of the bridge")
			if refusal == nil {
				refusal = err
			}
			continue
		} else if err != nil {
			return nil, err
		}
		if first == nil {
			first = ul
		}
	}
	if first == nil && refusal == nil {
		refusal = gateway.Refuse(http.StatusNotFound, gateway.CodeUnknownUser, "no recipient is in %s", c.addrs.IMDomain)
	}
	return first, refusal
}

// localRecipient returns the login of the user an address in the bridge's domain stands for, and a
// refusal if it stands for none that may use the bridge.
func (c *Connector) localRecipient(ctx context.Context, uri string) (*bridgev2.UserLogin, error) {
	mxid, err := c.addrs.LocalUser(uri)
	if err != nil {
		return nil, gateway.Refuse(http.StatusNotFound, gateway.CodeUnknownUser, "%v", err)
	}
	user, err := c.Bridge.GetUserByMXID(ctx, mxid)
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", mxid, err)
	}
	if !user.Permissions.Login {
		// Same answer as for a user that does not exist: the gateway learns nothing about who is
		// on the homeserver.
		return nil, gateway.Refuse(http.StatusNotFound, gateway.CodeUnknownUser, "%s is not a user of this bridge", uri)
	}
	if ul := user.GetDefaultLogin(); ul != nil {
		return ul, nil
	}
	// First contact: bridgev2 knows nothing of this user yet, so ask the homeserver whether the
	// account exists before creating its login.
	if _, err = c.matrix.AS.BotClient().GetProfile(ctx, mxid); isNotFound(err) {
		return nil, gateway.Refuse(http.StatusNotFound, gateway.CodeUnknownUser, "%s is not a user of this bridge", uri)
	} else if err != nil {
		return nil, fmt.Errorf("look up %s on the homeserver: %w", mxid, err)
	}
	return c.ensureLogin(ctx, user)
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
	key, set, err := c.inboundPortal(ul, m, ghostID)
	if err != nil {
		return err
	}
	if set != nil && in.Kind == portal.KindMessage {
		if err = c.prepareGroup(ctx, ul, key, set, m, ghostID, ts); err != nil {
			return err
		}
	}
	msgID := networkid.MessageID(row.Key)
	if mid := imdn.MessageID(m); mid != "" {
		msgID = portal.InboundMessageID(ghostID, mid)
	}
	meta := simplevent.EventMeta{
		Type:         bridgev2.RemoteEventMessage,
		PortalKey:    key,
		Sender:       bridgev2.EventSender{Sender: ghostID},
		CreatePortal: true,
		Timestamp:    ts,
		LogContext: func(lc zerolog.Context) zerolog.Context {
			return lc.Str("gateway", row.Gateway).Str("cpim_key", row.Key).Stringer("cpim_kind", in.Kind)
		},
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
			if err = c.answerDelivered(ctx, ul.Client.(*Client), key, ghostID, m); err != nil {
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
	// bridgev2 handles the event before it answers (portal_event_buffer is forced to 0), so the
	// answer is the outcome: success means the message is in Matrix and stored under its ID.
	switch res := ul.QueueRemoteEvent(evt); {
	case res.Ignored:
		// A message bridgev2 already has (its duplicate check) is in Matrix; anything else it
		// dropped is not, and is tried again.
		if sent, err := c.Bridge.DB.Message.GetFirstPartByID(ctx, key.Receiver, msgID); err != nil {
			return err
		} else if sent == nil {
			return errors.New("bridgev2 ignored the message")
		}
	case !res.Success:
		return fmt.Errorf("bridgev2 did not send the message to Matrix: %v", res.Error)
	}
	if err = c.answerDelivered(ctx, ul.Client.(*Client), key, ghostID, m); err != nil {
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
