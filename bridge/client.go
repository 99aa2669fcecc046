package bridge

import (
	"context"
	"fmt"

	"go.mau.fi/util/ptr"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"

	"github.com/matrix-cpim/matrix-cpim/portal"
)

// Client is the NetworkAPI of one Matrix user's login: the user's im: address. It holds no
// connection; gateways are shared by all users and owned by the Connector.
type Client struct {
	c     *Connector
	login *bridgev2.UserLogin
	uri   string
}

var (
	_ bridgev2.NetworkAPI                    = (*Client)(nil)
	_ bridgev2.IdentifierResolvingNetworkAPI = (*Client)(nil)
	_ bridgev2.GhostDMCreatingNetworkAPI     = (*Client)(nil)
)

func (cl *Client) Connect(ctx context.Context) {
	cl.login.BridgeState.Send(status.BridgeState{StateEvent: status.StateConnected})
}

func (cl *Client) Disconnect()                      {}
func (cl *Client) IsLoggedIn() bool                 { return true }
func (cl *Client) LogoutRemote(ctx context.Context) {}
func (cl *Client) IsThisUser(_ context.Context, u networkid.UserID) bool {
	return string(u) == string(cl.login.ID)
}

// dmPortalKey is the DM between this login and a remote address. The receiver makes it this user's
// own conversation: two Matrix users talking to the same contact have two rooms.
func (cl *Client) dmPortalKey(ghost networkid.UserID) networkid.PortalKey {
	return dmKey(cl.login.ID, ghost)
}

// dmKey is the portal key of the DM between a login and a contact's ghost.
func dmKey(login networkid.UserLoginID, ghost networkid.UserID) networkid.PortalKey {
	return networkid.PortalKey{ID: networkid.PortalID(ghost), Receiver: login}
}

func (cl *Client) dmInfo(ghost networkid.UserID) *bridgev2.ChatInfo {
	return &bridgev2.ChatInfo{
		Type: ptr.Ptr(bridgedb.RoomTypeDM),
		Members: &bridgev2.ChatMemberList{
			IsFull:      true,
			OtherUserID: ghost,
			MemberMap: bridgev2.ChatMemberMap{}.
				Set(bridgev2.ChatMember{EventSender: bridgev2.EventSender{IsFromMe: true, SenderLogin: cl.login.ID, Sender: networkid.UserID(cl.login.ID)}}).
				Set(bridgev2.ChatMember{EventSender: bridgev2.EventSender{Sender: ghost}}),
		},
	}
}

func (cl *Client) GetChatInfo(ctx context.Context, p *bridgev2.Portal) (*bridgev2.ChatInfo, error) {
	if set, ok := portal.GroupMembers(p.ID); ok {
		return cl.c.groupInfo(ctx, set, cl.login)
	}
	return cl.dmInfo(networkid.UserID(p.ID)), nil
}

// GetUserInfo has nothing to ask: a remote contact's name arrives as the Formal-name of its From
// header, and is applied when its messages arrive.
func (cl *Client) GetUserInfo(ctx context.Context, ghost *bridgev2.Ghost) (*bridgev2.UserInfo, error) {
	return &bridgev2.UserInfo{Identifiers: []string{portal.GhostURI(ghost.ID)}}, nil
}

// GetCapabilities advertises what the bridge carries: formatted text (as multipart/alternative,
// every tag of the Matrix allow-list survives the round trip), and replies, edits, deletions and
// reactions through the mx extension of docs/extensions.md, typing (RFC 3994) and files inline
// (see media.go), and read receipts as RFC 5438 display notifications (see receipts.go). Groups
// carry the same, and their name (as the Subject of the messages, see group.go); a DM has none.
func (cl *Client) GetCapabilities(ctx context.Context, p *bridgev2.Portal) *event.RoomFeatures {
	formatting := event.FormattingFeatureMap{}
	for _, f := range []event.FormattingFeature{
		event.FmtBold, event.FmtItalic, event.FmtUnderline, event.FmtStrikethrough, event.FmtInlineCode,
		event.FmtCodeBlock, event.FmtSyntaxHighlighting, event.FmtBlockquote, event.FmtInlineLink,
		event.FmtUserLink, event.FmtRoomLink, event.FmtEventLink, event.FmtUnorderedList, event.FmtOrderedList,
		event.FmtListStart, event.FmtSpoiler, event.FmtSpoilerReason, event.FmtTextForegroundColor,
		event.FmtTextBackgroundColor, event.FmtHorizontalLine, event.FmtHeaders, event.FmtSuperscript,
		event.FmtSubscript, event.FmtDetailsSummary, event.FmtTable,
	} {
		formatting[f] = event.CapLevelFullySupported
	}
	features := &event.RoomFeatures{
		ID:                  "org.matrix-cpim.capabilities.rich.3",
		Formatting:          formatting,
		File:                cl.c.fileFeatures(),
		MaxTextLength:       60000,
		Reply:               event.CapLevelFullySupported,
		Edit:                event.CapLevelFullySupported,
		Delete:              event.CapLevelFullySupported,
		Reaction:            event.CapLevelFullySupported,
		ReadReceipts:        true,
		TypingNotifications: true,
	}
	if portal.IsGroup(p.ID) {
		features.ID += "+group.1"
		features.State = event.StateFeatureMap{event.StateRoomName.Type: {Level: event.CapLevelFullySupported}}
	}
	return features
}

// ResolveIdentifier handles `start-chat im:bob@example.net` (also `bob@example.net`). Any address in
// a domain some gateway serves is accepted: CPIM has no directory to ask whether bob exists, so a
// wrong address shows up as a failed send.
func (cl *Client) ResolveIdentifier(ctx context.Context, identifier string, createChat bool) (*bridgev2.ResolveIdentifierResponse, error) {
	ghostID, err := portal.ParseIdentifier(identifier)
	if err != nil {
		return nil, bridgev2.RespError(mautrix.MInvalidParam.WithMessage(fmt.Sprintf("%q is not an im: address: %v", identifier, err)))
	}
	if _, _, err := cl.c.router.Route(ctx, portal.Domain(ghostID)); err != nil {
		return nil, bridgev2.RespError(mautrix.MNotFound.WithMessage(err.Error()))
	}
	ghost, err := cl.c.Bridge.GetGhostByID(ctx, ghostID)
	if err != nil {
		return nil, err
	}
	resp := &bridgev2.ResolveIdentifierResponse{Ghost: ghost, UserID: ghostID}
	if createChat {
		resp.Chat = &bridgev2.CreateChatResponse{PortalKey: cl.dmPortalKey(ghostID), PortalInfo: cl.dmInfo(ghostID)}
	}
	return resp, nil
}

func (cl *Client) CreateChatWithGhost(ctx context.Context, ghost *bridgev2.Ghost) (*bridgev2.CreateChatResponse, error) {
	if _, _, err := cl.c.router.Route(ctx, portal.Domain(ghost.ID)); err != nil {
		return nil, bridgev2.RespError(mautrix.MNotFound.WithMessage(err.Error()))
	}
	return &bridgev2.CreateChatResponse{PortalKey: cl.dmPortalKey(ghost.ID), PortalInfo: cl.dmInfo(ghost.ID)}, nil
}
