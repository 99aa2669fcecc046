package bridge

import (
	"context"
	"fmt"
	"net/http"

	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// There is no remote account to log in to: a Matrix user's im: address follows from their user ID.
// Every permitted user gets a bridgev2 login on first contact (an event they send, or a message
// addressed to them), so nobody has to run `login`. The flow below exists for the provisioning API
// and for users who run `login` anyway; it completes at once.

const autoFlowID = "im-address"

func (c *Connector) GetLoginFlows() []bridgev2.LoginFlow {
	return []bridgev2.LoginFlow{{
		Name:        "im: address",
		Description: "Use the im: address that follows from your Matrix ID (done automatically).",
		ID:          autoFlowID,
	}}
}

func (c *Connector) CreateLogin(ctx context.Context, user *bridgev2.User, flowID string) (bridgev2.LoginProcess, error) {
	if flowID != autoFlowID {
		return nil, fmt.Errorf("unknown login flow %q", flowID)
	}
	return &autoLogin{c: c, user: user}, nil
}

type autoLogin struct {
	c    *Connector
	user *bridgev2.User
}

func (l *autoLogin) Start(ctx context.Context) (*bridgev2.LoginStep, error) {
	ul, err := l.c.ensureLogin(ctx, l.user)
	if err != nil {
		return nil, err
	}
	return &bridgev2.LoginStep{
		Type:           bridgev2.LoginStepTypeComplete,
		StepID:         "org.matrix-cpim.complete",
		Instructions:   fmt.Sprintf("You are reachable at %s", ul.RemoteName),
		CompleteParams: &bridgev2.LoginCompleteParams{UserLoginID: ul.ID, UserLogin: ul},
	}, nil
}

func (l *autoLogin) Cancel() {}

// ensureLogin returns the user's login, creating it if this is the user's first contact.
func (c *Connector) ensureLogin(ctx context.Context, user *bridgev2.User) (*bridgev2.UserLogin, error) {
	if ul := user.GetDefaultLogin(); ul != nil {
		return ul, nil
	}
	if !user.Permissions.Login {
		// A refusal, as in Accept: a stored message for a user no longer permitted is dropped.
		return nil, gateway.Refuse(http.StatusNotFound, gateway.CodeUnknownUser, "%s is not permitted to use the bridge", user.MXID)
	}
	uri, err := c.addrs.LocalURI(user.MXID)
	if err != nil {
		return nil, err
	}
	ul, err := user.NewLogin(ctx, &bridgedb.UserLogin{ID: portal.LoginID(uri), RemoteName: uri}, nil)
	if err != nil {
		return nil, fmt.Errorf("create login for %s: %w", user.MXID, err)
	}
	ul.Client.Connect(ctx)
	return ul, nil
}

func (c *Connector) LoadUserLogin(ctx context.Context, login *bridgev2.UserLogin) error {
	login.Client = &Client{c: c, login: login, uri: "im:" + string(login.ID)}
	return nil
}

// hookAutoLogin makes sure the sender of every Matrix event has a login before bridgev2 handles the
// event, so that commands like start-chat, invites of ghosts and messages in portals work on first
// use. The handler runs first because appservice transactions are dispatched synchronously.
func (c *Connector) hookAutoLogin() {
	handler := func(ctx context.Context, evt *event.Event) { c.autoLogin(ctx, evt.Sender) }
	for _, t := range []event.Type{event.EventMessage, event.EventSticker, event.EventReaction, event.EventRedaction, event.StateMember} {
		c.matrix.EventProcessor.PrependHandler(t, appservice.EventHandler(handler))
	}
}

func (c *Connector) autoLogin(ctx context.Context, sender id.UserID) {
	if c.addrs.ServerName == "" || c.Bridge.IsGhostMXID(sender) || sender == c.Bridge.Bot.GetMXID() {
		return
	}
	if _, err := c.addrs.LocalURI(sender); err != nil {
		return
	}
	user, err := c.Bridge.GetUserByMXID(ctx, sender)
	if err != nil || !user.Permissions.Login || user.GetDefaultLogin() != nil {
		return
	}
	if _, err = c.ensureLogin(ctx, user); err != nil {
		c.Bridge.Log.Err(err).Stringer("user_id", sender).Msg("Failed to create automatic login")
	}
}
