package bridge

import (
	"context"
	"fmt"
	"slices"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/database"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// Receipts are RFC 5438 IMDNs (docs/extensions.md). Inbound, a contact's delivered notification
// marks the Matrix message delivered and its displayed notification becomes the ghost's read
// receipt. Outbound, the bridge answers a contact's request for positive-delivery once the message
// is in Matrix and for display when the Matrix user reads it; both go through the durable outbound
// queue, behind the conversation's messages.

var _ bridgev2.ReadReceiptHandlingNetworkAPI = (*Client)(nil)

// MessageMetadata is what the bridge keeps with a bridged message in bridgev2's database.
type MessageMetadata struct {
	// Receipt is set on an inbound message that asked for a display notification.
	Receipt *portal.ReceiptRequest `json:"receipt,omitempty"`
}

const (
	// displayLookback bounds how far back a read receipt answers display requests: a first read
	// receipt in an old room must not send one notification for every message ever bridged.
	displayLookback = 7 * 24 * time.Hour
	// maxDisplayed bounds the display notifications one read receipt sends.
	maxDisplayed = 100
)

// receipts applies an inbound IMDN. A notification counts only for a message the Matrix user sent
// to that contact, in their DM or in a group the contact is in (an IMDN goes to the sender alone,
// RFC 5438 §7.2.1, so it names the group only through the message); others (unknown, or another
// conversation's) are ignored. Failure and error statuses are ignored too: a failed send already
// shows as the gateway's answer.
func (c *Connector) receipts(ctx context.Context, ul *bridgev2.UserLogin, ghost networkid.UserID, ns []imdn.Notification) error {
	dm := ul.Client.(*Client).dmPortalKey(ghost)
	for _, n := range ns {
		var typ bridgev2.RemoteEventType
		switch {
		case n.Kind == imdn.KindDelivery && n.Status == imdn.StatusDelivered:
			typ = bridgev2.RemoteEventDeliveryReceipt
		case n.Kind == imdn.KindDisplay && n.Status == imdn.StatusDisplayed:
			typ = bridgev2.RemoteEventReadReceipt
		default:
			continue
		}
		target := networkid.MessageID(n.MessageID)
		msg, err := c.Bridge.DB.Message.GetFirstPartByID(ctx, ul.ID, target)
		if err != nil {
			return err
		}
		if msg == nil || msg.Room != dm && !inGroup(msg.Room, ghost) || msg.SenderID != networkid.UserID(ul.ID) {
			zlog(ctx).Debug().Str("message_id", n.MessageID).Str("kind", string(n.Kind)).Msg("Ignoring a notification about no message sent to this contact")
			continue
		}
		res := ul.QueueRemoteEvent(&simplevent.Receipt{
			EventMeta:  simplevent.EventMeta{Type: typ, PortalKey: msg.Room, Sender: bridgev2.EventSender{Sender: ghost}},
			LastTarget: target,
			Targets:    []networkid.MessageID{target},
		})
		if !res.Success && !res.Ignored {
			return fmt.Errorf("bridgev2 failed to handle the %s notification: %v", n.Kind, res.Error)
		}
	}
	return nil
}

// inGroup reports whether key is a group that participant is in.
func inGroup(key networkid.PortalKey, participant networkid.UserID) bool {
	set, ok := portal.GroupMembers(key.ID)
	return ok && slices.Contains(set, participant)
}

// answerDelivered queues the positive delivery notification for m, a message the contact ghost
// sent that is now in Matrix in the portal key, if m asked for one. In a group it is sent once,
// from the recipient through whose login the message went in (docs/groups.md).
func (c *Connector) answerDelivered(ctx context.Context, cl *Client, key networkid.PortalKey, ghost networkid.UserID, m *cpim.Message) error {
	n, err := portal.Delivered(m, cpim.Address{URI: cl.uri})
	if err != nil {
		// A request the bridge cannot answer (no DateTime, say) is the sender's loss, not a
		// reason to hold the message back.
		zlog(ctx).Warn().Err(err).Msg("Cannot answer a request for a delivery notification")
		return nil
	}
	if n == nil {
		return nil
	}
	return c.queueNotification(ctx, key, ghost, imdn.KindDelivery, imdn.MessageID(m), n)
}

// answerFailed queues the negative delivery notification for row, a stored message that will
// never reach Matrix, if it asked for one. It goes From the recipient the gateway addressed, in
// the queue of their DM with the sender, where the DM's other notifications go.
func (c *Connector) answerFailed(ctx context.Context, row *database.Inbound) error {
	m, err := cpim.Parse(row.Body)
	if err != nil {
		return nil // Accept parsed it; a body that no longer parses has nobody to answer
	}
	uri, err := c.addrs.LocalURI(id.UserID(row.Recipient))
	if err != nil {
		return nil
	}
	n, err := portal.Failed(m, cpim.Address{URI: uri})
	if err != nil {
		zlog(ctx).Warn().Err(err).Msg("Cannot answer a request for a negative delivery notification")
		return nil
	}
	ghost, err := portal.GhostID(m.From.URI)
	if n == nil || err != nil {
		return nil
	}
	return c.queueNotification(ctx, dmKey(portal.LoginID(uri), ghost), ghost, imdn.KindDelivery, imdn.MessageID(m), n)
}

// HandleMatrixReadReceipt answers the display requests of the contacts' messages the user has now
// read: those after the previous read receipt up to this one (at most displayLookback back and
// maxDisplayed of them), each once per reader (in a group, every member answers for itself).
func (cl *Client) HandleMatrixReadReceipt(ctx context.Context, msg *bridgev2.MatrixReadReceipt) error {
	fromContact := func(sender networkid.UserID) bool { return sender == networkid.UserID(msg.Portal.ID) }
	if portal.IsGroup(msg.Portal.ID) {
		fromContact = func(sender networkid.UserID) bool {
			return inGroup(msg.Portal.PortalKey, sender) && !cl.c.isLocal(sender)
		}
	}
	start := msg.LastRead
	if floor := msg.ReadUpTo.Add(-displayLookback); start.Before(floor) {
		start = floor
	}
	msgs, err := cl.c.Bridge.DB.Message.GetMessagesBetweenTimeQuery(ctx, msg.Portal.PortalKey, start, msg.ReadUpTo)
	if err != nil {
		return err
	}
	if msg.ExactMessage != nil && !msg.ExactMessage.Timestamp.After(start) {
		// Read receipts that do not move forward still answer the message they name.
		msgs = append(msgs, msg.ExactMessage)
	}
	sent := 0
	for _, m := range msgs {
		meta, _ := m.Metadata.(*MessageMetadata)
		if meta == nil || meta.Receipt == nil || meta.Receipt.Answered(cl.uri) || !fromContact(m.SenderID) {
			continue
		}
		if sent == maxDisplayed {
			break
		}
		if err = cl.answerDisplayed(ctx, msg.Portal.PortalKey, m, meta.Receipt); err != nil {
			return err
		}
		sent++
	}
	return nil
}

func (cl *Client) answerDisplayed(ctx context.Context, key networkid.PortalKey, msg *bridgedb.Message, r *portal.ReceiptRequest) error {
	n, err := r.Display(cpim.Address{URI: cl.uri})
	if err != nil {
		zlog(ctx).Warn().Err(err).Str("message_id", r.MessageID).Msg("Cannot answer a request for a display notification")
		return nil
	}
	if err = cl.c.queueNotification(ctx, key, msg.SenderID, imdn.KindDisplay, r.MessageID, n); err != nil {
		return err
	}
	r.AnsweredBy = append(r.AnsweredBy, cl.uri)
	return cl.c.Bridge.DB.Message.Update(ctx, msg)
}

// queueNotification queues n, the notification of the given kind about the contact's message mid,
// in the outbound queue of the conversation key. It has no Matrix event: a notification that cannot
// be delivered is dropped without a message status.
func (c *Connector) queueNotification(ctx context.Context, key networkid.PortalKey, ghost networkid.UserID, kind imdn.Kind, mid string, n *cpim.Message) error {
	transID := portal.NotificationID(kind, n.From.URI, string(ghost), mid)
	n.Set(imdn.Namespace, imdn.Prefix, imdn.HeaderMessageID, transID)
	// The outbound worker hears of it (OnQueued).
	_, err := c.db.Outbound.Enqueue(ctx, &database.Outbound{
		TransID:      transID,
		Conversation: conversationKey(key, portal.Domain(ghost)),
		Domain:       portal.Domain(ghost),
		Body:         n.Bytes(),
		CreatedAt:    time.Now(),
	})
	return err
}
