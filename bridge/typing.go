package bridge

import (
	"context"
	"fmt"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// Typing notices are RFC 3994 isComposing messages. They are ephemeral, so they bypass the durable
// queues in both directions: one that cannot be sent at once is dropped, as a late one would be
// wrong anyway.

var _ bridgev2.TypingHandlingNetworkAPI = (*Client)(nil)

// typingSendTimeout bounds one outbound typing notice; it runs in the portal's event loop.
const typingSendTimeout = 5 * time.Second

func (cl *Client) HandleMatrixTyping(ctx context.Context, msg *bridgev2.MatrixTyping) error {
	if set, ok := portal.GroupMembers(msg.Portal.ID); ok {
		return cl.sendGroupTyping(ctx, set, msg.IsTyping)
	}
	ghost := networkid.UserID(msg.Portal.ID)
	return cl.sendTyping(ctx, portal.Domain(ghost), []cpim.Address{{URI: portal.GhostURI(ghost)}}, nil, msg.IsTyping)
}

// sendTyping sends the user's isComposing status to the recipients to (with cc) in domain.
func (cl *Client) sendTyping(ctx context.Context, domain string, to, cc []cpim.Address, active bool) error {
	sender, gwName, err := cl.c.router.Route(ctx, domain)
	if err != nil {
		return err
	}
	m, err := portal.NewTyping(cpim.Address{URI: cl.uri}, to[0], active)
	if err != nil {
		return err
	}
	m.To, m.Cc = to, cc
	id := imdn.NewMessageID()
	m.Set(imdn.Namespace, imdn.Prefix, imdn.HeaderMessageID, id)
	ctx, cancel := context.WithTimeout(ctx, typingSendTimeout)
	defer cancel()
	if err = sender.Send(ctx, &gateway.Outbound{TransID: id, Message: m, Body: m.Bytes()}); err != nil {
		return fmt.Errorf("typing notice to gateway %s: %w", gwName, err)
	}
	return nil
}

// typing shows a contact's isComposing status in the room of the conversation key, if that room
// exists.
func (c *Connector) typing(ul *bridgev2.UserLogin, key networkid.PortalKey, ghost networkid.UserID, timeout time.Duration) {
	ul.QueueRemoteEvent(&simplevent.Typing{
		EventMeta: simplevent.EventMeta{
			Type:      bridgev2.RemoteEventTyping,
			PortalKey: key,
			Sender:    bridgev2.EventSender{Sender: ghost},
		},
		Timeout: timeout,
	})
}
