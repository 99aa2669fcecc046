package sipgw

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/matrix-cpim/matrix-cpim/gateway"
)

// tcpIdleTimeout closes TCP and TLS connections that stay silent this long, so that idle peers
// cannot pile up connections.
const tcpIdleTimeout = 3 * time.Minute

// Transport is the bridge's SIP user agent: one listener set and one client for all SIP gateways.
type Transport struct {
	opts  Options
	peers []Peer
	acc   gateway.Acceptor
	log   *slog.Logger
	guard *digestGuard
	locks uriLocks

	ua  *sipgo.UserAgent
	srv *sipgo.Server
	cli *sipgo.Client

	mu        sync.Mutex
	listeners []io.Closer
	addrs     map[string]net.Addr
}

// New makes a transport for the given gateways; inbound messages go to acc. Nothing listens until
// Start.
func New(opts Options, peers []Peer, acc gateway.Acceptor) (*Transport, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	for i := range peers {
		if err := peers[i].validate(); err != nil {
			return nil, err
		}
	}
	parser := sip.NewParser()
	parser.MaxMessageLength = o.MaxMessageSize
	stream := func() *sip.TransportTCP {
		return &sip.TransportTCP{ReadTimeout: tcpIdleTimeout, WriteTimeout: 10 * time.Second}
	}
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("matrix-cpim"),
		sipgo.WithUserAgentParser(parser),
		sipgo.WithUserAgentTransportLayerOptions(
			sip.WithTransportLayerLogger(o.Logger),
			sip.WithTransportLayerTransports(sip.TransportsConfig{TCP: stream(), TLS: &sip.TransportTLS{TransportTCP: stream()}}),
		),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(o.Logger)),
	)
	if err != nil {
		return nil, fmt.Errorf("sip: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(o.Logger))
	if err != nil {
		ua.Close()
		return nil, fmt.Errorf("sip: %w", err)
	}
	// rport (RFC 3581): the Via of a UDP request names the unbound address 0.0.0.0, so the response
	// has to go back to the source address and port the request came from.
	cli, err := sipgo.NewClient(ua, sipgo.WithClientLogger(o.Logger), sipgo.WithClientNAT())
	if err != nil {
		ua.Close()
		return nil, fmt.Errorf("sip: %w", err)
	}
	t := &Transport{
		opts:  o,
		peers: append([]Peer(nil), peers...),
		acc:   acc,
		log:   o.Logger,
		guard: newDigestGuard(o.Realm),
		ua:    ua,
		srv:   srv,
		cli:   cli,
		addrs: map[string]net.Addr{},
	}
	srv.OnMessage(t.onMessage)
	srv.OnOptions(t.onOptions)
	srv.OnNoRoute(t.onOther)
	return t, nil
}

// Start opens the configured listeners and serves them until Close.
func (t *Transport) Start() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var serve []func() error
	for _, l := range []struct{ network, addr string }{
		{"udp", t.opts.ListenUDP}, {"tcp", t.opts.ListenTCP}, {"tls", t.opts.ListenTLS},
	} {
		if l.addr == "" {
			continue
		}
		c, a, s, err := t.listen(l.network, l.addr)
		if err != nil {
			for _, c := range t.listeners {
				c.Close()
			}
			t.listeners = nil
			return fmt.Errorf("sip: listen %s %s: %w", l.network, l.addr, err)
		}
		t.listeners = append(t.listeners, c)
		t.addrs[l.network] = a
		serve = append(serve, s)
	}
	for _, s := range serve {
		go func() {
			if err := s(); err != nil && !errors.Is(err, net.ErrClosed) {
				t.log.Error("SIP listener stopped", "error", err)
			}
		}()
	}
	return nil
}

// listen opens one listener and returns it with its address and the function that serves it.
func (t *Transport) listen(network, addr string) (io.Closer, net.Addr, func() error, error) {
	switch network {
	case "udp":
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, nil, err
		}
		return pc, pc.LocalAddr(), func() error { return t.srv.ServeUDP(pc) }, nil
	case "tcp":
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, nil, err
		}
		return l, l.Addr(), func() error { return t.srv.ServeTCP(l) }, nil
	default:
		cert, err := tls.LoadX509KeyPair(t.opts.CertFile, t.opts.KeyFile)
		if err != nil {
			return nil, nil, nil, err
		}
		l, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		if err != nil {
			return nil, nil, nil, err
		}
		return l, l.Addr(), func() error { return t.srv.ServeTLS(l) }, nil
	}
}

// Addr returns the address a listener is bound to ("udp", "tcp" or "tls"), nil if it is off.
func (t *Transport) Addr(network string) net.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.addrs[network]
}

// Close stops the listeners and ends pending transactions.
func (t *Transport) Close() error {
	t.mu.Lock()
	for _, c := range t.listeners {
		c.Close()
	}
	t.listeners = nil
	t.mu.Unlock()
	return t.ua.Close()
}

// uriLocks keeps one MESSAGE in flight per Request-URI: RFC 3428 §8 says a UAC MUST NOT start a
// new out-of-dialog MESSAGE to a URI while one to it is pending.
type uriLocks struct {
	mu sync.Mutex
	m  map[string]*uriLock
}

type uriLock struct {
	sem  chan struct{}
	refs int
}

// lock waits for uri's turn or for ctx to end; the returned function gives the turn back.
func (l *uriLocks) lock(ctx context.Context, uri string) (func(), error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*uriLock{}
	}
	e := l.m[uri]
	if e == nil {
		e = &uriLock{sem: make(chan struct{}, 1)}
		l.m[uri] = e
	}
	e.refs++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(l.m, uri)
		}
		l.mu.Unlock()
	}
	select {
	case e.sem <- struct{}{}:
		return func() { <-e.sem; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
