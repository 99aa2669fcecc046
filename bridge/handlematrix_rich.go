package bridge

import (
	"context"
	"fmt"
	"slices"

	"go.mau.fi/util/variationselector"
	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"

	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// Edits, reactions and redactions go out as CPIM messages of their own with the mx headers of
// docs/extensions.md, through the same queue as messages, so they keep their order with them.

var (
	_ bridgev2.EditHandlingNetworkAPI      = (*Client)(nil)
	_ bridgev2.ReactionHandlingNetworkAPI  = (*Client)(nil)
	_ bridgev2.RedactionHandlingNetworkAPI = (*Client)(nil)
)

// wireID returns the imdn.Message-ID a bridged message goes by, or "" if it has none. A message a
// Matrix user sent, this one or another in a group, goes by its ID.
func (cl *Client) wireID(msg *bridgedb.Message) string {
	self := networkid.UserID(cl.login.ID)
	if cl.c.isLocal(msg.SenderID) {
		self = msg.SenderID
	}
	return portal.WireMessageID(msg.ID, msg.SenderID, self)
}

// targetID is wireID for a message the user acts on; a message without a Message-ID cannot be
// named to the contact, which the user is told.
func (cl *Client) targetID(msg *bridgedb.Message, action string) (string, error) {
	if mid := cl.wireID(msg); mid != "" {
		return mid, nil
	}
	return "", sendFailure(fmt.Errorf("cannot %s this message: it came without an imdn.Message-ID, so the contact's side cannot tell which message is meant", action), event.MessageStatusUnsupported)
}

// quoteOf returns the text of a bridged message for a fallback, read from the room as the contact's
// ghost sees it (in a group, the first remote participant's); "" if it cannot be read, and the
// fallback then says "a message".
func (cl *Client) quoteOf(ctx context.Context, p *bridgev2.Portal, msg *bridgedb.Message) string {
	reader := networkid.UserID(p.ID)
	if set, ok := portal.GroupMembers(p.ID); ok {
		if i := slices.IndexFunc(set, func(q networkid.UserID) bool { return !cl.c.isLocal(q) }); i >= 0 {
			reader = set[i]
		}
	}
	evt, err := cl.c.matrix.AS.Intent(cl.c.matrix.FormatGhostMXID(reader)).GetEvent(ctx, p.MXID, msg.MXID)
	if err != nil {
		zlog(ctx).Debug().Err(err).Stringer("event_id", msg.MXID).Msg("Could not read the message to quote")
		return ""
	}
	if err = evt.Content.ParseRaw(evt.Type); err != nil {
		return ""
	}
	if c := evt.Content.AsMessage(); c != nil {
		if c.NewContent != nil {
			c = c.NewContent
		}
		return event.TrimReplyFallbackText(c.Body)
	}
	return ""
}

func (cl *Client) HandleMatrixEdit(ctx context.Context, msg *bridgev2.MatrixEdit) error {
	target, err := cl.targetID(msg.EditTarget, "edit")
	if err != nil {
		return err
	}
	from, to, err := cl.addresses(ctx, msg.Portal, msg.Event)
	if err != nil {
		return err
	}
	m, err := portal.ToCPIM(from, to, msg.Content, portal.Relation{Replaces: target})
	if err != nil {
		return sendFailure(err, event.MessageStatusUnsupported)
	}
	_, err = cl.enqueue(ctx, msg.Portal, msg.Event, string(msg.Content.MsgType), m)
	return err
}

// PreHandleMatrixReaction keys a reaction by its emoji, so that bridgev2 drops the same emoji twice
// on one message.
func (cl *Client) PreHandleMatrixReaction(ctx context.Context, msg *bridgev2.MatrixReaction) (bridgev2.MatrixReactionPreResponse, error) {
	key := variationselector.Remove(msg.Content.RelatesTo.Key)
	return bridgev2.MatrixReactionPreResponse{
		SenderID: networkid.UserID(cl.login.ID),
		EmojiID:  networkid.EmojiID(key),
		Emoji:    msg.Content.RelatesTo.Key,
	}, nil
}

func (cl *Client) HandleMatrixReaction(ctx context.Context, msg *bridgev2.MatrixReaction) (*bridgedb.Reaction, error) {
	target, err := cl.targetID(msg.TargetMessage, "react to")
	if err != nil {
		return nil, err
	}
	from, to, err := cl.addresses(ctx, msg.Portal, msg.Event)
	if err != nil {
		return nil, err
	}
	m := portal.NewReaction(from, to, target, msg.Content.RelatesTo.Key, cl.quoteOf(ctx, msg.Portal, msg.TargetMessage))
	if _, err = cl.enqueue(ctx, msg.Portal, msg.Event, "", m); err != nil {
		return nil, err
	}
	return &bridgedb.Reaction{}, nil
}

// HandleMatrixReactionRemove withdraws a reaction: a deletion of the reaction's own Message-ID,
// which derives from its event ID, naming the message it was on.
func (cl *Client) HandleMatrixReactionRemove(ctx context.Context, msg *bridgev2.MatrixReactionRemove) error {
	r := msg.TargetReaction
	reacted, err := cl.c.Bridge.DB.Message.GetFirstPartByID(ctx, cl.login.ID, r.MessageID)
	if err != nil {
		return err
	} else if reacted == nil {
		return sendFailure(fmt.Errorf("the message reacted to is not known to the bridge"), event.MessageStatusGenericError)
	}
	target, err := cl.targetID(reacted, "withdraw a reaction to")
	if err != nil {
		return err
	}
	reactionID, err := imdn.EncodeMessageID(string(r.MXID))
	if err != nil {
		return sendFailure(err, event.MessageStatusGenericError)
	}
	from, to, err := cl.addresses(ctx, msg.Portal, msg.Event)
	if err != nil {
		return err
	}
	_, err = cl.enqueue(ctx, msg.Portal, msg.Event, "", portal.NewDeletion(from, to, reactionID, target, r.Emoji))
	return err
}

func (cl *Client) HandleMatrixMessageRemove(ctx context.Context, msg *bridgev2.MatrixMessageRemove) error {
	if msg.TargetMessage.SenderID != networkid.UserID(cl.login.ID) {
		// Redacting the contact's message hides it in Matrix; it cannot be withdrawn on their side.
		return sendFailure(fmt.Errorf("only your own messages can be deleted for the contact"), event.MessageStatusUnsupported)
	}
	target, err := cl.targetID(msg.TargetMessage, "delete")
	if err != nil {
		return err
	}
	from, to, err := cl.addresses(ctx, msg.Portal, msg.Event)
	if err != nil {
		return err
	}
	_, err = cl.enqueue(ctx, msg.Portal, msg.Event, "", portal.NewDeletion(from, to, target, "", ""))
	return err
}
