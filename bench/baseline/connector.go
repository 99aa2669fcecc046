package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.mau.fi/util/configupgrade"
	"go.mau.fi/util/ptr"
	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// The baseline is the floor under matrix-cpim's figures: a bridgev2 connector that does no CPIM
// work. Inbound, it takes the recipient and sender from two request headers and the text from
// after the body's last blank line, and queues the message to bridgev2 without storing it first.
// Outbound, it POSTs the event's text to the gateway and reports success on any 2xx. Whatever it
// costs is what bridgev2, SQLite and HTTP cost; what matrix-cpim costs beyond it is CPIM work.

const (
	headerTo   = "X-Bench-To"
	headerFrom = "X-Bench-From"
	// maxBody bounds an inbound request, as matrix-cpim's max_message_size does.
	maxBody = 1 << 20
)

// Config is the network: section.
type Config struct {
	GatewayURL   string `yaml:"gateway_url"`
	GatewayToken string `yaml:"gateway_token"`
}

const exampleConfig = `# Where HandleMatrixMessage POSTs each message's text.
gateway_url: http://127.0.0.1:1/
# Bearer token sent with it.
gateway_token: ""
`

// Connector is the baseline bridgev2 network connector.
type Connector struct {
	br     *bridgev2.Bridge
	Config Config
	http   *http.Client
	// loginMu makes the first two messages for a new user create one login, not two.
	loginMu sync.Mutex
}

var _ bridgev2.NetworkConnector = (*Connector)(nil)

func (c *Connector) GetName() bridgev2.BridgeName {
	return bridgev2.BridgeName{
		DisplayName:      "CPIM baseline",
		NetworkURL:       "https://www.rfc-editor.org/rfc/rfc3862",
		NetworkID:        "cpimbase",
		BeeperBridgeType: "github.com/matrix-cpim/matrix-cpim/bench/baseline",
		DefaultPort:      29361,
	}
}

func (c *Connector) GetConfig() (string, any, configupgrade.Upgrader) {
	return exampleConfig, &c.Config, configupgrade.SimpleUpgrader(func(h configupgrade.Helper) {
		h.Copy(configupgrade.Str, "gateway_url")
		h.Copy(configupgrade.Str, "gateway_token")
	})
}

func (c *Connector) GetDBMetaTypes() bridgedb.MetaTypes { return bridgedb.MetaTypes{} }

func (c *Connector) GetCapabilities() *bridgev2.NetworkGeneralCapabilities {
	return &bridgev2.NetworkGeneralCapabilities{}
}

func (c *Connector) GetBridgeInfoVersion() (info, capabilities int) { return 1, 1 }

func (c *Connector) Init(br *bridgev2.Bridge) {
	c.br = br
	t := http.DefaultTransport.(*http.Transport).Clone()
	// As many idle connections as matrix-cpim's gateway client keeps.
	t.MaxIdleConnsPerHost = 4
	c.http = &http.Client{Transport: t, Timeout: time.Minute}
}

func (c *Connector) Start(ctx context.Context) error {
	c.br.Matrix.(*matrix.Connector).AS.Router.HandleFunc("POST /_cpim/v1/message", c.serveInbound)
	return nil
}

func (c *Connector) GetLoginFlows() []bridgev2.LoginFlow { return nil }

func (c *Connector) CreateLogin(context.Context, *bridgev2.User, string) (bridgev2.LoginProcess, error) {
	return nil, errors.New("the baseline creates logins on first contact")
}

func (c *Connector) LoadUserLogin(ctx context.Context, login *bridgev2.UserLogin) error {
	login.Client = &client{c: c, login: login}
	return nil
}

func (c *Connector) serveInbound(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	to, from := id.UserID(r.Header.Get(headerTo)), networkid.UserID(r.Header.Get(headerFrom))
	if to == "" || from == "" {
		http.Error(w, "missing "+headerTo+" or "+headerFrom, http.StatusBadRequest)
		return
	}
	login, err := c.login(r.Context(), to)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	res := login.QueueRemoteEvent(&simplevent.PreConvertedMessage{
		EventMeta: simplevent.EventMeta{
			Type:         bridgev2.RemoteEventMessage,
			PortalKey:    networkid.PortalKey{ID: networkid.PortalID(from), Receiver: login.ID},
			Sender:       bridgev2.EventSender{Sender: from},
			CreatePortal: true,
			Timestamp:    time.Now(),
		},
		Data: &bridgev2.ConvertedMessage{Parts: []*bridgev2.ConvertedMessagePart{{
			Type:    event.EventMessage,
			Content: &event.MessageEventContent{MsgType: event.MsgText, Body: messageText(body)},
		}}},
		ID: networkid.MessageID(r.Header.Get("Idempotency-Key")),
	})
	if !res.Success {
		http.Error(w, fmt.Sprintf("bridgev2 refused the message: %v", res.Error), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"accepted"}`+"\n")
}

// messageText is what follows the last blank line of a CPIM message: the content of a one-part
// message, found without parsing.
func messageText(body []byte) string {
	if i := bytes.LastIndex(body, []byte("\r\n\r\n")); i >= 0 {
		return string(body[i+4:])
	}
	return string(body)
}

// login returns the user's login, creating it on first contact.
func (c *Connector) login(ctx context.Context, mxid id.UserID) (*bridgev2.UserLogin, error) {
	user, err := c.br.GetUserByMXID(ctx, mxid)
	if err != nil {
		return nil, err
	}
	if ul := user.GetDefaultLogin(); ul != nil {
		return ul, nil
	}
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	if ul := user.GetDefaultLogin(); ul != nil {
		return ul, nil
	}
	loginID := networkid.UserLoginID(strings.TrimPrefix(string(mxid), "@"))
	ul, err := user.NewLogin(ctx, &bridgedb.UserLogin{ID: loginID, RemoteName: string(loginID)}, nil)
	if err != nil {
		return nil, err
	}
	ul.Client.Connect(ctx)
	return ul, nil
}

// client is the NetworkAPI of one login.
type client struct {
	c     *Connector
	login *bridgev2.UserLogin
}

var _ bridgev2.NetworkAPI = (*client)(nil)

func (cl *client) Connect(ctx context.Context) {
	cl.login.BridgeState.Send(status.BridgeState{StateEvent: status.StateConnected})
}

func (cl *client) Disconnect()                  {}
func (cl *client) IsLoggedIn() bool             { return true }
func (cl *client) LogoutRemote(context.Context) {}
func (cl *client) IsThisUser(_ context.Context, u networkid.UserID) bool {
	return string(u) == string(cl.login.ID)
}

func (cl *client) GetChatInfo(ctx context.Context, p *bridgev2.Portal) (*bridgev2.ChatInfo, error) {
	ghost := networkid.UserID(p.ID)
	return &bridgev2.ChatInfo{
		Type: ptr.Ptr(bridgedb.RoomTypeDM),
		Members: &bridgev2.ChatMemberList{
			IsFull:      true,
			OtherUserID: ghost,
			MemberMap: bridgev2.ChatMemberMap{}.
				Set(bridgev2.ChatMember{EventSender: bridgev2.EventSender{IsFromMe: true, SenderLogin: cl.login.ID, Sender: networkid.UserID(cl.login.ID)}}).
				Set(bridgev2.ChatMember{EventSender: bridgev2.EventSender{Sender: ghost}}),
		},
	}, nil
}

func (cl *client) GetUserInfo(ctx context.Context, ghost *bridgev2.Ghost) (*bridgev2.UserInfo, error) {
	name := string(ghost.ID)
	return &bridgev2.UserInfo{Name: &name}, nil
}

func (cl *client) GetCapabilities(context.Context, *bridgev2.Portal) *event.RoomFeatures {
	return &event.RoomFeatures{ID: "org.matrix-cpim.baseline"}
}

func (cl *client) HandleMatrixMessage(ctx context.Context, msg *bridgev2.MatrixMessage) (*bridgev2.MatrixMessageResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cl.c.Config.GatewayURL, strings.NewReader(msg.Content.Body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+cl.c.Config.GatewayToken)
	req.Header.Set("Idempotency-Key", string(msg.Event.ID))
	resp, err := cl.c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("gateway: %s", resp.Status)
	}
	return &bridgev2.MatrixMessageResponse{DB: &bridgedb.Message{
		ID:        networkid.MessageID(msg.Event.ID),
		SenderID:  networkid.UserID(cl.login.ID),
		Timestamp: time.UnixMilli(msg.Event.Timestamp),
	}}, nil
}
