package bridge

import (
	_ "embed"
	"fmt"
	"time"

	up "go.mau.fi/util/configupgrade"

	"github.com/matrix-cpim/matrix-cpim/gateway"
)

//go:embed example-config.yaml
var ExampleConfig string

// Config is the `network:` section of the bridge's config.
type Config struct {
	IMDomain          string           `yaml:"im_domain"`
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

// MediaConfig is the `network.media` section: files carried inline in CPIM messages.
type MediaConfig struct {
	InlineMax int `yaml:"inline_max"` // largest outbound file, in bytes
	MaxSize   int `yaml:"max_size"`   // largest inbound file after decoding, in bytes
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
	if c.IdempotencyWindow <= 0 {
		return fmt.Errorf("network.idempotency_window: must be a positive duration such as 168h")
	}
	return nil
}
