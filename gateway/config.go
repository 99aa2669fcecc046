package gateway

import (
	"fmt"
	"net/url"
	"strings"
)

// Transport names accepted in Config.Transport.
const (
	TransportHTTP = "http"
	TransportSIP  = "sip"
)

// Config is one entry of the bridge's `network.gateways` list: an external CPIM gateway, how to reach
// it, how it proves itself to us, and which im: domains it speaks for.
type Config struct {
	Name      string `yaml:"name"`
	Transport string `yaml:"transport"`

	// HTTP binding (docs/http-binding.md).
	URL          string `yaml:"url"`
	Token        string `yaml:"token"`
	InboundToken string `yaml:"inbound_token"`

	// SIP MESSAGE binding (RFC 3428, docs/sip.md).
	SIPURI         string   `yaml:"sip_uri"`
	AllowFrom      []string `yaml:"allow_from"`
	DigestUsername string   `yaml:"digest_username"`
	DigestPassword string   `yaml:"digest_password"`

	// Domains are the im: domains this gateway serves: outbound messages for them go to it, and
	// inbound messages from it must come from one of them.
	Domains []string `yaml:"domains"`
}

// Serves reports whether domain is one of the gateway's domains. Domains compare case-insensitively
// (RFC 3860 §3: the domain part of an im: URI is a host name).
func (c *Config) Serves(domain string) bool {
	for _, d := range c.Domains {
		if strings.EqualFold(d, domain) {
			return true
		}
	}
	return false
}

// Validate checks one gateway entry; index is its position in the list, used to name the key.
func (c *Config) Validate(index int) error {
	key := fmt.Sprintf("network.gateways[%d]", index)
	if c.Name == "" {
		return fmt.Errorf("%s.name: must be set", key)
	}
	key = fmt.Sprintf("network.gateways[%d] (%s)", index, c.Name)
	if len(c.Domains) == 0 {
		return fmt.Errorf("%s.domains: list at least one im: domain", key)
	}
	for _, d := range c.Domains {
		if d == "" || strings.ContainsAny(d, "@/:?# ") {
			return fmt.Errorf("%s.domains: %q is not a domain name", key, d)
		}
	}
	switch c.Transport {
	case TransportHTTP:
		u, err := url.Parse(c.URL)
		if c.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s.url: %q is not an http(s) URL", key, c.URL)
		}
		if c.InboundToken == "" {
			return fmt.Errorf("%s.inbound_token: must be set, or anyone could post as this gateway", key)
		}
		if strings.HasPrefix(c.Token, "change-me") || strings.HasPrefix(c.InboundToken, "change-me") {
			return fmt.Errorf("%s.token/inbound_token: still the example values; set secrets of your own", key)
		}
	case TransportSIP:
		if !strings.HasPrefix(c.SIPURI, "sip:") && !strings.HasPrefix(c.SIPURI, "sips:") {
			return fmt.Errorf("%s.sip_uri: %q is not a sip: or sips: URI", key, c.SIPURI)
		}
	case "":
		return fmt.Errorf("%s.transport: must be %q or %q", key, TransportHTTP, TransportSIP)
	default:
		return fmt.Errorf("%s.transport: unknown transport %q (want %q or %q)", key, c.Transport, TransportHTTP, TransportSIP)
	}
	return nil
}

// ValidateAll validates every entry and that no domain is served by two gateways, since outbound
// routing by domain would then be ambiguous.
func ValidateAll(gws []Config) error {
	owner := map[string]string{}
	names := map[string]bool{}
	for i := range gws {
		if err := gws[i].Validate(i); err != nil {
			return err
		}
		if names[gws[i].Name] {
			return fmt.Errorf("network.gateways[%d].name: %q is used twice", i, gws[i].Name)
		}
		names[gws[i].Name] = true
		for _, d := range gws[i].Domains {
			d = strings.ToLower(d)
			if prev, ok := owner[d]; ok {
				return fmt.Errorf("network.gateways[%d] (%s).domains: %q is already served by gateway %q", i, gws[i].Name, d, prev)
			}
			owner[d] = gws[i].Name
		}
	}
	return nil
}
