package bridge

import (
	_ "embed"
	"fmt"
	"net/netip"
	"time"

	up "go.mau.fi/util/configupgrade"

	"github.com/matrix-cpim/matrix-cpim/gateway"
)

//go:embed example-config.yaml
var ExampleConfig string

// Config is the `network:` section of the bridge's config.
type Config struct {
	IMDomain          string           `yaml:"im_domain"`
	Listen            string           `yaml:"listen"`
	Gateways          []gateway.Config `yaml:"gateways"`
	SIP               SIPConfig        `yaml:"sip"`
	SRVRouting        SRVConfig        `yaml:"srv_routing"`
	RateLimit         RateLimitConfig  `yaml:"rate_limit"`
	DeliveryDeadline  time.Duration    `yaml:"delivery_deadline"`
	MaxMessageSize    int              `yaml:"max_message_size"`
	IdempotencyWindow time.Duration    `yaml:"idempotency_window"`
	RequestReceipts   bool             `yaml:"request_receipts"`
	Media             MediaConfig      `yaml:"media"`
}

// MediaConfig is the `network.media` section: files in CPIM messages, inline or as links
// (docs/extensions.md §5).
type MediaConfig struct {
	InlineMax int         `yaml:"inline_max"` // largest outbound file carried inline, in bytes
	MaxSize   int         `yaml:"max_size"`   // largest file either way, in bytes
	Large     string      `yaml:"large"`      // what becomes of an outbound file over InlineMax: one of the Large constants
	Fetch     FetchConfig `yaml:"fetch"`
}

// The values of network.media.large.
const (
	// LargeLink sends a link the bridge serves (bridgev2's public_media).
	LargeLink = "link"
	// LargeHomeserver sends the homeserver's unauthenticated download URL.
	LargeHomeserver = "homeserver"
	// LargeRefuse fails the send.
	LargeRefuse = "refuse"
)

// FetchConfig is the `network.media.fetch` section: how the bridge fetches the files of inbound
// links, whose URLs come from gateways and are not trusted.
type FetchConfig struct {
	Timeout   time.Duration `yaml:"timeout"`    // for the whole fetch, body included
	AllowHTTP bool          `yaml:"allow_http"` // follow http: links as well as https:
	// AllowPrivate lists IP addresses or CIDR prefixes that may be fetched from although they are
	// loopback, private, link-local or otherwise not public.
	AllowPrivate []string `yaml:"allow_private"`
}

// allowed parses AllowPrivate, naming the key of an entry that is neither an address nor a prefix.
func (f *FetchConfig) allowed() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range f.AllowPrivate {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("network.media.fetch.allow_private[%d]: %q is neither an IP address nor a CIDR prefix", i, s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// SIPConfig is the `network.sip` section: the bridge's SIP listener.
type SIPConfig struct {
	ListenUDP      string `yaml:"listen_udp"`
	ListenTCP      string `yaml:"listen_tcp"`
	ListenTLS      string `yaml:"listen_tls"`
	CertFile       string `yaml:"cert_file"`
	KeyFile        string `yaml:"key_file"`
	Realm          string `yaml:"realm"`
	MaxUDPSize     int    `yaml:"max_udp_size"`
	MaxMessageSize int    `yaml:"max_message_size"`
}

// SRVConfig is the `network.srv_routing` section (RFC 3861).
type SRVConfig struct {
	Enabled   bool          `yaml:"enabled"`
	DNSServer string        `yaml:"dns_server"`
	Transport string        `yaml:"transport"`
	Timeout   time.Duration `yaml:"timeout"`
	MaxCache  int           `yaml:"max_cache"`
	MaxTries  int           `yaml:"max_tries"`
}

// RateLimitConfig is the `network.rate_limit` section.
type RateLimitConfig struct {
	PerGateway float64 `yaml:"per_gateway"`
	PerSender  float64 `yaml:"per_sender"`
	Burst      int     `yaml:"burst"`
}

// upgradeConfig copies every key of the admin's config onto the current example: bridgev2 rewrites
// config.yaml on start from the example plus what this copies, so a key missing here would be lost.
func upgradeConfig(helper up.Helper) {
	helper.Copy(up.Str, "im_domain")
	helper.Copy(up.Str, "listen")
	helper.Copy(up.List, "gateways")
	for _, k := range []string{"listen_udp", "listen_tcp", "listen_tls", "cert_file", "key_file", "realm"} {
		helper.Copy(up.Str, "sip", k)
	}
	helper.Copy(up.Int, "sip", "max_udp_size")
	helper.Copy(up.Int, "sip", "max_message_size")
	helper.Copy(up.Bool, "srv_routing", "enabled")
	helper.Copy(up.Str, "srv_routing", "dns_server")
	helper.Copy(up.Str, "srv_routing", "transport")
	helper.Copy(up.Str|up.Int, "srv_routing", "timeout")
	helper.Copy(up.Int, "srv_routing", "max_cache")
	helper.Copy(up.Int, "srv_routing", "max_tries")
	helper.Copy(up.Int|up.Float, "rate_limit", "per_gateway")
	helper.Copy(up.Int|up.Float, "rate_limit", "per_sender")
	helper.Copy(up.Int, "rate_limit", "burst")
	helper.Copy(up.Str|up.Int, "delivery_deadline")
	helper.Copy(up.Int, "max_message_size")
	helper.Copy(up.Str|up.Int, "idempotency_window")
	helper.Copy(up.Bool, "request_receipts")
	helper.Copy(up.Int, "media", "inline_max")
	helper.Copy(up.Int, "media", "max_size")
	helper.Copy(up.Str, "media", "large")
	helper.Copy(up.Str|up.Int, "media", "fetch", "timeout")
	helper.Copy(up.Bool, "media", "fetch", "allow_http")
	helper.Copy(up.List, "media", "fetch", "allow_private")
}

// validate checks the config before the bridge starts, naming the offending key.
func (c *Config) validate() error {
	if err := gateway.ValidateAll(c.Gateways); err != nil {
		return err
	}
	if r := c.RateLimit; r.PerGateway < 0 || r.PerSender < 0 || r.Burst < 0 {
		return fmt.Errorf("network.rate_limit: rates and burst must not be negative")
	}
	if t := c.SRVRouting.Transport; t != "udp" && t != "tcp" {
		return fmt.Errorf("network.srv_routing.transport: %q is neither udp nor tcp", t)
	}
	if c.DeliveryDeadline <= 0 {
		return fmt.Errorf("network.delivery_deadline: must be a positive duration such as 10m")
	}
	if c.MaxMessageSize <= 0 {
		return fmt.Errorf("network.max_message_size: must be a positive number of bytes")
	}
	if c.Media.InlineMax <= 0 || c.Media.MaxSize <= 0 {
		return fmt.Errorf("network.media: inline_max and max_size must be positive numbers of bytes")
	}
	switch c.Media.Large {
	case LargeLink, LargeHomeserver, LargeRefuse:
	default:
		return fmt.Errorf("network.media.large: %q is not one of link, homeserver, refuse", c.Media.Large)
	}
	if c.Media.Fetch.Timeout <= 0 {
		return fmt.Errorf("network.media.fetch.timeout: must be a positive duration such as 15s")
	}
	if _, err := c.Media.Fetch.allowed(); err != nil {
		return err
	}
	if c.IdempotencyWindow <= 0 {
		return fmt.Errorf("network.idempotency_window: must be a positive duration such as 168h")
	}
	return nil
}
