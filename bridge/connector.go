// Package bridge is the bridgev2 network connector of matrix-cpim: it wires the gateways, the
// Matrix⇄CPIM conversion of package portal and the bridge's own tables into mautrix-go's bridgev2.
package bridge

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"

	"go.mau.fi/util/configupgrade"
	"maunium.net/go/mautrix/bridgev2"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/matrix-cpim/matrix-cpim/database"
	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/gateway/httpgw"
	"github.com/matrix-cpim/matrix-cpim/gateway/sipgw"
	"github.com/matrix-cpim/matrix-cpim/metrics"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// Connector is the bridgev2 network connector.
type Connector struct {
	Bridge *bridgev2.Bridge
	Config Config

	// matrix is the appservice connector; gateways reach the bridge on its HTTP listener.
	matrix *matrix.Connector
	db     *database.Database
	addrs  portal.Addresses
	router *gateway.Router
	sip    *sipgw.Transport // nil when no SIP is configured
	// acceptor is the Connector's Accept, counted by metrics; transports hand messages to it.
	acceptor gateway.Acceptor
	metrics  *metrics.Metrics
	health   *metrics.HealthChecker

	barriers barriers
	// inboundHTTP is the HTTP binding's handler once Start has built it; until then gateways are
	// told to retry (see serveInbound). started is set when Start is done.
	inboundHTTP atomic.Pointer[http.Handler]
	// gatewayServer serves the HTTP binding on network.listen when that is set (listener.go).
	gatewayServer *http.Server
	// fetcher fetches the files of inbound links (fetch.go), one client for all of them.
	fetcher *fetcher
	started atomic.Bool
	// stop ends the background work started by Start.
	stop     context.CancelFunc
	inflight sync.WaitGroup
}

var (
	_ bridgev2.NetworkConnector            = (*Connector)(nil)
	_ bridgev2.ConfigValidatingNetwork     = (*Connector)(nil)
	_ bridgev2.IdentifierValidatingNetwork = (*Connector)(nil)
	_ bridgev2.StoppableNetwork            = (*Connector)(nil)
)

func (c *Connector) GetName() bridgev2.BridgeName {
	return bridgev2.BridgeName{
		DisplayName:          "CPIM",
		NetworkURL:           "https://www.rfc-editor.org/rfc/rfc3862",
		NetworkID:            "cpim",
		BeeperBridgeType:     "github.com/matrix-cpim/matrix-cpim",
		DefaultPort:          29360,
		DefaultCommandPrefix: "!cpim",
	}
}

func (c *Connector) GetConfig() (string, any, configupgrade.Upgrader) {
	return ExampleConfig, &c.Config, configupgrade.SimpleUpgrader(upgradeConfig)
}

func (c *Connector) ValidateConfig() error { return c.Config.validate() }

func (c *Connector) GetDBMetaTypes() bridgedb.MetaTypes {
	return bridgedb.MetaTypes{Message: func() any { return &MessageMetadata{} }}
}

func (c *Connector) GetCapabilities() *bridgev2.NetworkGeneralCapabilities {
	return &bridgev2.NetworkGeneralCapabilities{
		Provisioning: bridgev2.ProvisioningCapabilities{
			ResolveIdentifier: bridgev2.ResolveIdentifierCapabilities{CreateDM: true, LookupUsername: true},
			GroupCreation:     map[string]bridgev2.GroupTypeCapabilities{groupType: groupCreation},
		},
	}
}

func (c *Connector) GetBridgeInfoVersion() (info, capabilities int) { return 1, 1 }

// ValidateUserID accepts ghost IDs of the form user@domain, so that inviting a ghost such as
// @cpim_bob=40example.net:hs to a room starts a DM with im:bob@example.net.
func (c *Connector) ValidateUserID(id networkid.UserID) bool {
	ghost, err := portal.GhostID(portal.GhostURI(id))
	return err == nil && ghost == id
}

func (c *Connector) Init(br *bridgev2.Bridge) {
	c.Bridge = br
	c.matrix = br.Matrix.(*matrix.Connector)
	c.db = database.New(string(br.ID), br.DB.Database, br.Log.With().Str("db_section", "cpim").Logger())
	c.metrics = metrics.New(nil)
	r := c.Config.RateLimit
	c.acceptor = c.metrics.WrapAcceptor(gateway.Limit(c, gateway.Limits{PerGateway: r.PerGateway, PerSender: r.PerSender, Burst: r.Burst}))
	c.hookAutoLogin()
	c.installPersistBeforeAck()
	c.installSendTxnIDs()
	c.registerCommands()
	if c.Config.Listen == "" {
		c.matrix.AS.Router.HandleFunc(httpgw.Pattern, c.serveInbound)
	}
}

func (c *Connector) Start(ctx context.Context) error {
	c.addrs = portal.Addresses{IMDomain: c.Config.IMDomain, ServerName: c.Bridge.Matrix.ServerName()}
	if c.addrs.IMDomain == "" {
		c.addrs.IMDomain = c.addrs.ServerName
	}
	if err := c.db.Upgrade(ctx); err != nil {
		return bridgev2.DBUpgradeError{Err: err, Section: "cpim"}
	}
	c.fetcher = newFetcher(c.Config.Media)
	if err := c.startGateways(); err != nil {
		return err
	}
	if err := c.startGatewayListener(); err != nil {
		return err
	}
	c.startMonitoring()
	bg, cancel := context.WithCancel(c.Bridge.BackgroundCtx)
	c.stop = cancel
	for _, loop := range []func(context.Context){c.deliveryLoop, c.outboundLoop, c.expireLoop} {
		c.inflight.Add(1)
		go func() {
			defer c.inflight.Done()
			loop(bg)
		}()
	}
	c.started.Store(true)
	go c.retryHeldTransactions()
	return nil
}

func (c *Connector) Stop() {
	if c.stop != nil {
		c.stop()
	}
	c.stopGatewayListener()
	c.inflight.Wait()
	if c.sip != nil {
		_ = c.sip.Close()
	}
}
