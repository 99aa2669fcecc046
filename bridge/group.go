package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.mau.fi/util/ptr"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/database"
	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// Group conversations (docs/groups.md). A group is its participant set (portal.GroupID): one
// shared room, whose members are the local participants who are users of the bridge and the ghosts
// of the others. A message from the group goes to every other domain as a copy of its own, so that
// each gateway gets the recipients it delivers to as To, and one that is down holds up only its
// own copies.

var _ bridgev2.RoomNameHandlingNetworkAPI = (*Client)(nil)

// isLocal reports whether a participant is in the bridge's im: domain.
func (c *Connector) isLocal(p networkid.UserID) bool {
	return strings.EqualFold(portal.Domain(p), c.addrs.IMDomain)
}

// localLogin returns the login of a local participant, or nil if they are no user of the bridge
// (yet): Accept creates the logins of the permitted users a message is addressed to.
func (c *Connector) localLogin(ctx context.Context, p networkid.UserID) (*bridgev2.UserLogin, error) {
	mxid, err := c.addrs.LocalUser(portal.GhostURI(p))
	if err != nil {
		return nil, nil
	}
	user, err := c.Bridge.GetExistingUserByMXID(ctx, mxid)
	if err != nil || user == nil {
		return nil, err
	}
	return user.GetDefaultLogin(), nil
}

// groupInfo is a group's room as source sees it: a group DM (fixed members, no invites from
// either side) of the local participants that are users, source among them, and the ghosts of the
// others. Members may rename it: the name goes out as the Subject of later messages.
func (c *Connector) groupInfo(ctx context.Context, set []networkid.UserID, source *bridgev2.UserLogin) (*bridgev2.ChatInfo, error) {
	members := bridgev2.ChatMemberMap{}
	for _, p := range set {
		if !c.isLocal(p) {
			members[p] = bridgev2.ChatMember{EventSender: bridgev2.EventSender{Sender: p}}
			continue
		}
		ul, err := c.localLogin(ctx, p)
		if err != nil {
			return nil, err
		} else if ul == nil {
			continue
		}
		// Keyed by participant, without Sender: local users are in the room themselves, not
		// through ghosts of their own addresses.
		members[p] = bridgev2.ChatMember{EventSender: bridgev2.EventSender{IsFromMe: ul.ID == source.ID, SenderLogin: ul.ID}}
	}
	return &bridgev2.ChatInfo{
		Type: ptr.Ptr(bridgedb.RoomTypeGroupDM),
		Members: &bridgev2.ChatMemberList{
			IsFull:      true,
			MemberMap:   members,
			PowerLevels: &bridgev2.PowerLevelOverrides{Events: map[event.Type]int{event.StateRoomName: 0}},
		},
	}, nil
}

// inboundPortal returns the portal of an inbound message as ul, one of its local recipients, sees
// it: the DM with its sender, or its group. A group that cannot be named is refused, and so is any
// group when bridge.split_portals is on.
func (c *Connector) inboundPortal(ul *bridgev2.UserLogin, m *cpim.Message, sender networkid.UserID) (networkid.PortalKey, []networkid.UserID, error) {
	set, err := portal.Participants(m)
	if err != nil {
		return networkid.PortalKey{}, nil, gateway.Refuse(http.StatusBadRequest, gateway.CodeMalformed, "%v", err)
	}
	if len(set) <= 2 {
		return ul.Client.(*Client).dmPortalKey(sender), nil, nil
	}
	if c.Bridge.Config.SplitPortals {
		// bridgev2 then wants a room per user, and a group is one room for all of them.
		return networkid.PortalKey{}, nil, gateway.Refuse(http.StatusBadRequest, gateway.CodeUnsupported, "this bridge runs with split portals, which leave out group conversations; send one message per recipient")
	}
	id, err := portal.GroupID(set)
	if errors.Is(err, portal.ErrGroupTooLarge) {
		return networkid.PortalKey{}, nil, gateway.Refuse(http.StatusRequestEntityTooLarge, gateway.CodeTooLarge, "%v", err)
	} else if err != nil {
		return networkid.PortalKey{}, nil, gateway.Refuse(http.StatusBadRequest, gateway.CodeMalformed, "%v", err)
	}
	return networkid.PortalKey{ID: id}, set, nil
}

// prepareGroup makes sure the room of a group message exists, with every local participant that
// is a user in it, and carries the message's Subject as its name, before the message goes in. A
// message without a Subject leaves the name as it is.
func (c *Connector) prepareGroup(ctx context.Context, ul *bridgev2.UserLogin, key networkid.PortalKey, set []networkid.UserID, m *cpim.Message, sender networkid.UserID, ts time.Time) error {
	for _, a := range append(m.To, m.Cc...) {
		if err := c.nameGhost(ctx, a); err != nil {
			return err
		}
	}
	p, err := c.Bridge.GetExistingPortalByKey(ctx, key)
	if err != nil {
		return err
	}
	subject := portal.Subject(m)
	meta := simplevent.EventMeta{PortalKey: key, Sender: bridgev2.EventSender{Sender: sender}, Timestamp: ts}
	var evt bridgev2.RemoteEvent
	switch {
	case p == nil || p.MXID == "":
		info, err := c.groupInfo(ctx, set, ul)
		if err != nil {
			return err
		}
		if subject != "" {
			info.Name = &subject
		}
		meta.Type, meta.CreatePortal = bridgev2.RemoteEventChatResync, true
		evt = &simplevent.ChatResync{EventMeta: meta, ChatInfo: info}
	case subject != "" && p.Name != subject:
		// The sender renames the room, as a member renaming it in Matrix would.
		meta.Type = bridgev2.RemoteEventChatInfoChange
		evt = &simplevent.ChatInfoChange{EventMeta: meta, ChatInfoChange: &bridgev2.ChatInfoChange{ChatInfo: &bridgev2.ChatInfo{Name: &subject}}}
	}
	if evt != nil {
		// The portal queue is unbuffered (see installPersistBeforeAck), so the result is final.
		if res := ul.QueueRemoteEvent(evt); !res.Success {
			return fmt.Errorf("bridgev2 failed to prepare the group room: %v", res.Error)
		}
		if p, err = c.Bridge.GetExistingPortalByKey(ctx, key); err != nil {
			return err
		}
	}
	if p == nil || p.MXID == "" {
		return errors.New("bridgev2 did not create the group room")
	}
	// Every user among the participants belongs to the room, including one who became a user
	// after it was made; bridgev2 also needs the mark to find their login when they send.
	for _, q := range set {
		if !c.isLocal(q) {
			continue
		}
		if l, err := c.localLogin(ctx, q); err != nil {
			return err
		} else if l != nil {
			l.MarkInPortal(ctx, p)
		}
	}
	return nil
}

// nameGhost gives a remote participant named in a To or cc header that name, unless its ghost has
// one already: only the From of a participant's own messages may change its name (updateGhost),
// since To and cc names are what the sender calls them.
func (c *Connector) nameGhost(ctx context.Context, a cpim.Address) error {
	if a.Name == "" {
		return nil
	}
	id, err := portal.GhostID(a.URI)
	if err != nil || c.isLocal(id) {
		return nil
	}
	ghost, err := c.Bridge.GetGhostByID(ctx, id)
	if err != nil {
		return err
	}
	if !ghost.NameSet {
		ghost.UpdateInfo(ctx, &bridgev2.UserInfo{Name: &a.Name, Identifiers: []string{portal.GhostURI(id)}})
	}
	return nil
}

// groupSender returns the participant the user is in a group, and fails with a message status if
// the user is not one (someone invited to the room in Matrix), or if a remote domain of the group
// has no gateway: a message that cannot reach everyone is not sent to anyone.
func (cl *Client) groupSender(ctx context.Context, set []networkid.UserID) (networkid.UserID, error) {
	self, err := portal.GhostID(cl.uri)
	if err != nil {
		return "", err
	}
	if !slices.Contains(set, self) {
		return "", sendFailure(fmt.Errorf("%s is not a participant of this group conversation", cl.uri), event.MessageStatusUnsupported)
	}
	for _, d := range portal.RemoteDomains(set, cl.c.addrs.IMDomain) {
		if _, _, err = cl.c.router.Route(ctx, d); err != nil {
			return "", sendFailure(err, event.MessageStatusUnsupported)
		}
	}
	return self, nil
}

// groupCopies returns the outbound rows of a group message m with Message-ID mid: one per remote
// domain, each with its own To and cc (portal.Recipients) and TransID (portal.GroupTransID), and
// the room name as Subject. Local participants get nothing: they are in the room.
func (cl *Client) groupCopies(p *bridgev2.Portal, set []networkid.UserID, self networkid.UserID, m *cpim.Message, mid string) []*database.Outbound {
	portal.SetSubject(m, p.Name)
	var rows []*database.Outbound
	for _, d := range portal.RemoteDomains(set, cl.c.addrs.IMDomain) {
		m.To, m.Cc = portal.Recipients(set, self, d)
		rows = append(rows, &database.Outbound{
			TransID:      portal.GroupTransID(mid, d),
			Conversation: conversationKey(p.PortalKey, d),
			Domain:       d,
			Body:         m.Bytes(),
		})
	}
	return rows
}

// conversationKey is the outbound queue's conversation (the unit of order) for messages to domain
// in the portal key: the DM, or the group's copies for that domain.
func conversationKey(key networkid.PortalKey, domain string) string {
	if portal.IsGroup(key.ID) {
		return key.String() + "#" + domain
	}
	return key.String()
}

// sendGroupTyping sends an isComposing status to every remote domain of a group at once, as
// HandleMatrixTyping does in a DM.
func (cl *Client) sendGroupTyping(ctx context.Context, set []networkid.UserID, active bool) error {
	self, err := portal.GhostID(cl.uri)
	if err != nil || !slices.Contains(set, self) {
		return nil // not a participant: nothing of theirs goes out
	}
	var errs []error
	for _, d := range portal.RemoteDomains(set, cl.c.addrs.IMDomain) {
		to, cc := portal.Recipients(set, self, d)
		errs = append(errs, cl.sendTyping(ctx, d, to, cc, active))
	}
	return errors.Join(errs...)
}

// HandleMatrixRoomName accepts a new name for a group room; it goes out as the Subject of the
// group's next messages (CPIM has no message that renames a conversation). A DM has no name.
func (cl *Client) HandleMatrixRoomName(ctx context.Context, msg *bridgev2.MatrixRoomName) (bool, error) {
	if !portal.IsGroup(msg.Portal.ID) {
		return false, bridgev2.ErrRoomMetadataNotSupported
	}
	msg.Portal.Name = msg.Content.Name
	msg.Portal.NameSet = true
	return true, nil
}

var _ bridgev2.GroupCreatingNetworkAPI = (*Client)(nil)

// groupType is the one kind of group this bridge creates (bridgev2's create-group command and the
// provisioning API name it): a conversation among the user and at least two others.
const groupType = "group"

// groupCreation is what GetCapabilities says of groupType.
var groupCreation = bridgev2.GroupTypeCapabilities{
	TypeDescription: "group conversation (CPIM, several recipients)",
	Name:            bridgev2.GroupFieldCapability{Allowed: true, MaxLength: portal.MaxRoomName},
	Participants:    bridgev2.GroupFieldCapability{Allowed: true, Required: true, MinLength: 2},
}

// CreateGroup starts a group conversation from Matrix: the user and params.Participants (im:
// addresses of contacts, or other users of the bridge). Nothing goes to the gateways until someone
// writes, since CPIM has no message that creates a conversation; the group is its participant set,
// the same one an inbound message among them names. With params.RoomID (create-group run in a room
// the user made and invited the ghosts to), that room becomes the group's; otherwise bridgev2
// creates one.
func (cl *Client) CreateGroup(ctx context.Context, params *bridgev2.GroupCreateParams) (*bridgev2.CreateChatResponse, error) {
	if cl.c.Bridge.Config.SplitPortals {
		return nil, bridgev2.RespError(mautrix.MUnrecognized.WithMessage("this bridge runs with split portals, which leave out group conversations"))
	}
	set := []networkid.UserID{networkid.UserID(cl.login.ID)}
	for _, p := range params.Participants {
		id, err := portal.ParseIdentifier(string(p))
		if err != nil {
			return nil, bridgev2.RespError(mautrix.MInvalidParam.WithMessage(fmt.Sprintf("%q is not an im: address: %v", p, err)))
		}
		if !cl.c.isLocal(id) {
			if _, _, err = cl.c.router.Route(ctx, portal.Domain(id)); err != nil {
				return nil, bridgev2.RespError(mautrix.MNotFound.WithMessage(err.Error()))
			}
		}
		set = append(set, id)
	}
	slices.Sort(set)
	set = slices.Compact(set)
	id, err := portal.GroupID(set)
	if err != nil {
		return nil, bridgev2.RespError(mautrix.MInvalidParam.WithMessage(err.Error()))
	}
	key := networkid.PortalKey{ID: id}
	info, err := cl.c.groupInfo(ctx, set, cl.login)
	if err != nil {
		return nil, err
	}
	if params.Name != nil && params.Name.Name != "" {
		info.Name = &params.Name.Name
	}
	p, err := cl.c.Bridge.GetPortalByKey(ctx, key)
	if err != nil {
		return nil, err
	}
	if params.RoomID != "" && p.MXID == "" {
		err = p.UpdateMatrixRoomID(ctx, params.RoomID, bridgev2.UpdateMatrixRoomIDParams{FailIfMXIDSet: true, ChatInfo: info, ChatInfoSource: cl.login})
		if err != nil {
			return nil, err
		}
	}
	return &bridgev2.CreateChatResponse{PortalKey: key, Portal: p, PortalInfo: info}, nil
}
