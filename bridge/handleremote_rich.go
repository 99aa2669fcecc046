package bridge

import (
	"context"
	"errors"
	"fmt"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"

	"github.com/matrix-cpim/matrix-cpim/database"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// deliverRelated takes an inbound edit, reaction or deletion to Matrix. A contact edits and deletes
// only its own messages; it may react to any message of the conversation. A target bridgev2 does
// not know (never bridged, or from before Message-IDs were kept) makes the event a no-op, which
// counts as delivered: there is nothing to retry.
func (c *Connector) deliverRelated(ctx context.Context, ul *bridgev2.UserLogin, row *database.Inbound, meta simplevent.EventMeta, msgID networkid.MessageID, in *portal.Incoming) error {
	ghost := meta.Sender.Sender
	// The inbound key in the event makes a send that a crash interrupted and its retry one Matrix
	// event (sendTxnIDs). Redactions carry no content for it; redacting twice changes nothing.
	key := map[string]any{inboundKeyField: row.Key}
	var evt bridgev2.RemoteEvent
	switch in.Kind {
	case portal.KindEdit:
		content := in.Content
		meta.Type, meta.CreatePortal = bridgev2.RemoteEventEdit, false
		evt = &simplevent.Message[*event.MessageEventContent]{
			EventMeta:     meta,
			Data:          content,
			ID:            msgID,
			TargetMessage: portal.InboundMessageID(ghost, in.Target),
			ConvertEditFunc: func(_ context.Context, _ *bridgev2.Portal, _ bridgev2.MatrixAPI, existing []*bridgedb.Message, data *event.MessageEventContent) (*bridgev2.ConvertedEdit, error) {
				return &bridgev2.ConvertedEdit{ModifiedParts: []*bridgev2.ConvertedEditPart{{Part: existing[0], Type: event.EventMessage, Content: data, TopLevelExtra: key}}}, nil
			},
		}
	case portal.KindReaction:
		target := c.resolveTarget(ctx, meta.PortalKey, ghost, in.Target)
		if target == "" {
			return c.markDelivered(ctx, row)
		}
		meta.Type = bridgev2.RemoteEventReaction
		evt = &simplevent.Reaction{EventMeta: meta, TargetMessage: target, EmojiID: emojiID(msgID, ghost), Emoji: in.Reaction, ExtraContent: key}
	case portal.KindDeletion:
		meta.CreatePortal = false
		if in.ReactionTo == "" {
			meta.Type = bridgev2.RemoteEventMessageRemove
			evt = &simplevent.MessageRemove{EventMeta: meta, TargetMessage: portal.InboundMessageID(ghost, in.Target)}
			break
		}
		target := c.resolveTarget(ctx, meta.PortalKey, ghost, in.ReactionTo)
		if target == "" {
			return c.markDelivered(ctx, row)
		}
		meta.Type = bridgev2.RemoteEventReactionRemove
		evt = &simplevent.Reaction{EventMeta: meta, TargetMessage: target, EmojiID: networkid.EmojiID(in.Target)}
	default:
		return fmt.Errorf("no delivery for a %v", in.Kind)
	}
	// The portal queue is unbuffered (see installPersistBeforeAck), so the result is final.
	res := ul.QueueRemoteEvent(evt)
	if !res.Success && !res.Ignored && !isDuplicateAnnotation(res.Error) {
		return fmt.Errorf("bridgev2 failed to handle the %v: %v", in.Kind, res.Error)
	}
	return c.markDelivered(ctx, row)
}

// isDuplicateAnnotation reports the homeserver's refusal of a reaction its sender has already
// made (Synapse: 400 M_DUPLICATE_ANNOTATION). For an inbound reaction that is one a crash
// interrupted after the send, once the homeserver has forgotten the send's transaction ID: the
// reaction is in the room, and retrying could only be refused again. bridgev2 has no record of
// it, so a later withdrawal of it does not reach Matrix.
func isDuplicateAnnotation(err error) bool {
	var httpErr mautrix.HTTPError
	return errors.As(err, &httpErr) && httpErr.RespError != nil && httpErr.RespError.ErrCode == "M_DUPLICATE_ANNOTATION"
}

// emojiID is the reaction ID of an inbound reaction: the Message-ID of the reaction message, which
// its withdrawal names in mx.Deletes (the idempotency key if it had none, so it cannot be
// withdrawn). One contact's reactions are told apart by it, not by emoji: each is its own message.
func emojiID(msgID networkid.MessageID, ghost networkid.UserID) networkid.EmojiID {
	if mid := portal.WireMessageID(msgID, ghost, ""); mid != "" {
		return networkid.EmojiID(mid)
	}
	return networkid.EmojiID(msgID)
}

// resolveTarget finds the message a contact's reply or reaction names by Message-ID: one the
// contact sent or one a Matrix user sent, in this conversation, or in a group one another
// participant sent. It returns "" if there is none.
func (c *Connector) resolveTarget(ctx context.Context, key networkid.PortalKey, ghost networkid.UserID, mid string) networkid.MessageID {
	candidates := []networkid.MessageID{portal.InboundMessageID(ghost, mid), networkid.MessageID(mid)}
	if set, ok := portal.GroupMembers(key.ID); ok {
		for _, p := range set {
			if p != ghost && !c.isLocal(p) {
				candidates = append(candidates, portal.InboundMessageID(p, mid))
			}
		}
	}
	for _, candidate := range candidates {
		msg, err := c.Bridge.DB.Message.GetFirstPartByID(ctx, key.Receiver, candidate)
		if err != nil {
			zlog(ctx).Warn().Err(err).Str("message_id", string(candidate)).Msg("Failed to look up a referenced message")
			continue
		}
		if msg != nil && msg.Room == key {
			return candidate
		}
	}
	return ""
}
