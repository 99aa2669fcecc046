// Package sipgw carries CPIM messages over SIP MESSAGE (RFC 3428): it sends the bridge's messages to
// SIP gateways and listens for theirs. It is one transport of package gateway: it knows SIP and
// CPIM, and hands accepted messages to a gateway.Acceptor.
package sipgw

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/matrix-cpim/matrix-cpim/gateway"
)

// Defaults of Options.
const (
	// DefaultMaxUDPSize is RFC 3428 §8's limit: a MESSAGE request outside a media session MUST NOT
	// exceed 1300 bytes unless every hop is known to be congestion-controlled or the path MTU is
	// known. Larger requests go over TCP.
	DefaultMaxUDPSize = 1300
	// DefaultMaxMessageSize bounds an inbound SIP message, header and body.
	DefaultMaxMessageSize = 64 << 10
)

// Options configures the SIP transport: its listeners and limits. The bridge fills it from its
// `network.sip` configuration section.
type Options struct {
	// ListenUDP, ListenTCP and ListenTLS are the host:port addresses to listen on; "" leaves that
	// listener off. Port 0 takes a free port (see Transport.Addr).
	ListenUDP string
	ListenTCP string
	ListenTLS string
	// CertFile and KeyFile are the PEM certificate chain and key of the TLS listener.
	CertFile, KeyFile string

	// LocalDomain is the bridge's im: domain: inbound messages must be addressed to it.
	LocalDomain string
	// Realm is the realm of digest challenges (RFC 3261 §22.1); "" means LocalDomain.
	Realm string

	// MaxUDPSize is the size of the largest request sent over UDP; 0 means DefaultMaxUDPSize,
	// which is also the most allowed (RFC 3428 §8; this transport has no path MTU knowledge).
	MaxUDPSize int
	// MaxMessageSize bounds an inbound SIP message; 0 means DefaultMaxMessageSize.
	MaxMessageSize int

	// Logger receives the transport's log; nil means slog.Default().
	Logger *slog.Logger
}

// Peer is one configured SIP gateway: where it may send from and the secret it shares with us.
type Peer struct {
	Gateway *gateway.Config
	// AllowFrom lists the source addresses of the gateway's requests, or of the SIP proxy that
	// forwards them. A request from elsewhere is refused, whoever it claims to come from.
	AllowFrom []netip.Prefix
	// DigestUsername and DigestPassword, when set, are a secret shared with the gateway: its
	// requests must carry digest credentials made with it (RFC 3261 §22), and our requests answer
	// its challenges with it.
	DigestUsername string
	DigestPassword string
}

func (o *Options) withDefaults() (Options, error) {
	v := *o
	if v.LocalDomain == "" {
		return v, fmt.Errorf("sip: the bridge's im: domain (LocalDomain) must be set")
	}
	if v.Realm == "" {
		v.Realm = v.LocalDomain
	}
	switch {
	case v.MaxUDPSize == 0:
		v.MaxUDPSize = DefaultMaxUDPSize
	case v.MaxUDPSize < 0 || v.MaxUDPSize > DefaultMaxUDPSize:
		return v, fmt.Errorf("sip: max_udp_size %d is not in 1..%d (RFC 3428 §8)", v.MaxUDPSize, DefaultMaxUDPSize)
	}
	if v.MaxMessageSize <= 0 {
		v.MaxMessageSize = DefaultMaxMessageSize
	}
	if (v.CertFile == "") != (v.KeyFile == "") || (v.ListenTLS != "" && v.CertFile == "") {
		return v, fmt.Errorf("sip: a TLS listener needs both cert_file and key_file")
	}
	if v.Logger == nil {
		v.Logger = slog.Default()
	}
	return v, nil
}

func (p *Peer) validate() error {
	if p.Gateway == nil {
		return fmt.Errorf("sip: peer without gateway")
	}
	if p.Gateway.Transport != gateway.TransportSIP {
		return fmt.Errorf("sip: gateway %q uses transport %q, not %q", p.Gateway.Name, p.Gateway.Transport, gateway.TransportSIP)
	}
	if (p.DigestUsername == "") != (p.DigestPassword == "") {
		return fmt.Errorf("sip: gateway %q: digest_username and digest_password go together", p.Gateway.Name)
	}
	return nil
}

// ParseAllowFrom reads an allow-list of IP addresses and CIDR prefixes ("192.0.2.7",
// "2001:db8::/32"); key names the configuration entry in errors.
func ParseAllowFrom(key string, entries []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if a, err := netip.ParseAddr(e); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is neither an IP address nor a CIDR prefix", key, e)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
