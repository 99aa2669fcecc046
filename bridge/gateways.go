package bridge

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/gateway/httpgw"
	"github.com/matrix-cpim/matrix-cpim/gateway/sipgw"
)

// startGateways builds a sender for every configured gateway, mounts the inbound HTTP binding on
// the appservice listener and starts the SIP listener when one is configured.
func (c *Connector) startGateways() error {
	var srv *gateway.SRVRouting
	if c.needsSIP() {
		if err := c.startSIP(); err != nil {
			return err
		}
		if r := c.Config.SRVRouting; r.Enabled {
			srv = &gateway.SRVRouting{
				Resolver: &gateway.SRVResolver{Server: r.DNSServer, Transport: r.Transport, Timeout: r.Timeout, MaxCache: r.MaxCache},
				NewSender: func(t gateway.SRVTarget) (gateway.Sender, error) {
					s, err := c.sip.NewSRVSender(t)
					if err != nil {
						return nil, err
					}
					return c.metrics.WrapSender("srv:"+t.Host, s), nil
				},
				MaxTries: r.MaxTries,
			}
		}
	}
	c.router = gateway.NewRouter(srv)
	for i := range c.Config.Gateways {
		gw := &c.Config.Gateways[i]
		var sender gateway.Sender
		switch gw.Transport {
		case gateway.TransportHTTP:
			sender = httpgw.NewClient(gw, nil)
		case gateway.TransportSIP:
			var err error
			if sender, err = c.sip.NewSender(gw); err != nil {
				return fmt.Errorf("network.gateways[%d] (%s).sip_uri: %w", i, gw.Name, err)
			}
		}
		if err := c.router.Add(gw, c.metrics.WrapSender(gw.Name, sender)); err != nil {
			return err
		}
	}
	h := httpgw.NewHandler(c.Config.Gateways, c.addrs.IMDomain, c.acceptor, httpgw.Options{
		MaxBody: int64(c.Config.MaxMessageSize),
		Logger:  c.Bridge.Log.With().Str("component", "cpim http").Logger(),
	})
	c.inboundHTTP.Store(&h)
	c.Bridge.Log.Info().Int("gateways", len(c.Config.Gateways)).Str("im_domain", c.addrs.IMDomain).
		Str("inbound_path", httpgw.Path).Bool("sip", c.sip != nil).Bool("srv_routing", srv != nil).
		Msg("CPIM gateways ready")
	return nil
}

func (c *Connector) needsSIP() bool {
	s := c.Config.SIP
	if s.ListenUDP != "" || s.ListenTCP != "" || s.ListenTLS != "" || c.Config.SRVRouting.Enabled {
		return true
	}
	for _, gw := range c.Config.Gateways {
		if gw.Transport == gateway.TransportSIP {
			return true
		}
	}
	return false
}

func (c *Connector) startSIP() error {
	var peers []sipgw.Peer
	for i := range c.Config.Gateways {
		gw := &c.Config.Gateways[i]
		if gw.Transport != gateway.TransportSIP {
			continue
		}
		allow, err := sipgw.ParseAllowFrom(fmt.Sprintf("network.gateways[%d] (%s).allow_from", i, gw.Name), gw.AllowFrom)
		if err != nil {
			return err
		}
		peers = append(peers, sipgw.Peer{Gateway: gw, AllowFrom: allow, DigestUsername: gw.DigestUsername, DigestPassword: gw.DigestPassword})
	}
	s := c.Config.SIP
	log := c.Bridge.Log.With().Str("component", "cpim sip").Logger()
	t, err := sipgw.New(sipgw.Options{
		ListenUDP: s.ListenUDP, ListenTCP: s.ListenTCP, ListenTLS: s.ListenTLS,
		CertFile: s.CertFile, KeyFile: s.KeyFile,
		LocalDomain: c.addrs.IMDomain, Realm: s.Realm,
		MaxUDPSize: s.MaxUDPSize, MaxMessageSize: s.MaxMessageSize,
		Logger: slog.New(zerolog.NewSlogHandler(log)),
	}, peers, c.acceptor)
	if err != nil {
		return fmt.Errorf("network.sip: %w", err)
	}
	if err = t.Start(); err != nil {
		return fmt.Errorf("network.sip: %w", err)
	}
	c.sip = t
	return nil
}

// serveInbound is mounted in Init, before the appservice listener opens, so that a gateway posting
// while the bridge starts is told to retry (503) instead of getting the mux's 404, which the HTTP
// binding says not to retry.
func (c *Connector) serveInbound(w http.ResponseWriter, r *http.Request) {
	if h := c.inboundHTTP.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"errcode":"` + gateway.CodeInternal + `","error":"the bridge is starting; retry later"}`))
}
