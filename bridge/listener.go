package bridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/matrix-cpim/matrix-cpim/gateway/httpgw"
)

// Limits of the gateway listener (network.listen). The appservice listener, which mautrix owns,
// has none of them: a client that trickles its request headers holds a connection there for as
// long as it likes (docs/reliability.md §6), so gateways on networks the admin does not trust
// should be given a listener of their own.
const (
	gatewayHeaderTimeout = 10 * time.Second
	gatewayIdleTimeout   = 2 * time.Minute
	gatewayMaxHeader     = 64 << 10
)

// startGatewayListener serves the HTTP binding on network.listen, if set. The body's own time
// limit is the handler's (httpgw.Options.ReadTimeout).
func (c *Connector) startGatewayListener() error {
	if c.Config.Listen == "" {
		return nil
	}
	l, err := net.Listen("tcp", c.Config.Listen)
	if err != nil {
		return fmt.Errorf("network.listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(httpgw.Pattern, c.serveInbound)
	c.gatewayServer = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: gatewayHeaderTimeout,
		IdleTimeout:       gatewayIdleTimeout,
		MaxHeaderBytes:    gatewayMaxHeader,
	}
	log := c.Bridge.Log.With().Str("component", "cpim http").Logger()
	log.Info().Str("address", l.Addr().String()).Msg("Gateway listener started")
	go func() {
		if err := c.gatewayServer.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Err(err).Msg("Gateway listener failed")
		}
	}()
	return nil
}

func (c *Connector) stopGatewayListener() {
	if c.gatewayServer == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.gatewayServer.Shutdown(ctx)
}
