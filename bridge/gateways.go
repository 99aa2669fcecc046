package bridge

import (
	"fmt"

	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/gateway/httpgw"
)

// startGateways builds a sender for every configured gateway and mounts the inbound HTTP binding
// on the appservice listener.
func (c *Connector) startGateways() error {
	c.router = gateway.NewRouter(nil)
	for i := range c.Config.Gateways {
		gw := &c.Config.Gateways[i]
		var sender gateway.Sender
		switch gw.Transport {
		case gateway.TransportHTTP:
			sender = httpgw.NewClient(gw, nil)
		default:
			return fmt.Errorf("network.gateways[%d] (%s).transport: %q is not supported by this build", i, gw.Name, gw.Transport)
		}
		if err := c.router.Add(gw, sender); err != nil {
			return err
		}
	}
	// GetRouter of MatrixConnectorWithServer is nil unless a public address is configured, but
	// gateways reach the bridge on the appservice listener either way.
	c.matrix.AS.Router.Handle(httpgw.Pattern, httpgw.NewHandler(c.Config.Gateways, c.addrs.IMDomain, c, httpgw.Options{
		MaxBody: int64(c.Config.MaxMessageSize),
		Logger:  c.Bridge.Log.With().Str("component", "cpim http").Logger(),
	}))
	c.Bridge.Log.Info().Int("gateways", len(c.Config.Gateways)).Str("im_domain", c.addrs.IMDomain).
		Str("inbound_path", httpgw.Path).Msg("CPIM gateways ready")
	return nil
}
