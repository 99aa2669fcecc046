package bridge

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.mau.fi/util/configupgrade"
	"gopkg.in/yaml.v3"
)

// TestUpgradeKeepsEveryKey: bridgev2 rewrites config.yaml from the example on every start, keeping
// only what the upgrader copies. An admin's values for every key must survive that.
func TestUpgradeKeepsEveryKey(t *testing.T) {
	admin := `im_domain: im.example.org
gateways:
    - name: one
      transport: http
      url: https://one.example/cpim
      token: t1
      inbound_token: i1
      domains: [one.example, two.example]
    - name: two
      transport: sip
      sip_uri: sip:gw.two.example;transport=tcp
      allow_from: [192.0.2.7, 10.0.0.0/8]
      digest_username: bridge
      digest_password: pw
      domains: [three.example]
sip:
    listen_udp: 127.0.0.1:5070
    listen_tcp: 127.0.0.1:5071
    listen_tls: 0.0.0.0:5061
    cert_file: /c.pem
    key_file: /k.pem
    realm: r.example
    max_udp_size: 1000
    max_message_size: 2048
srv_routing:
    enabled: true
    dns_server: 127.0.0.1:5353
    transport: tcp
    timeout: 1s
    max_cache: 10
    max_tries: 3
rate_limit:
    per_gateway: 12.5
    per_sender: 3
    burst: 7
delivery_deadline: 2m
max_message_size: 4096
idempotency_window: 24h
media:
    inline_max: 1000
    max_size: 5000
    large: refuse
    fetch:
        timeout: 5s
        allow_http: true
        allow_private: [127.0.0.1, 10.0.0.0/8]
`
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(admin), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Connector{}
	example, _, upgrader := c.GetConfig()
	base := &configupgrade.StructUpgrader{SimpleUpgrader: upgrader.(configupgrade.SimpleUpgrader), Base: example}
	if _, _, err := configupgrade.Do(path, true, base); err != nil {
		t.Fatal(err)
	}
	rewritten, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got Config
	if err = yaml.Unmarshal(rewritten, &got); err != nil {
		t.Fatal(err)
	}
	if got.IMDomain != "im.example.org" || got.DeliveryDeadline != 2*time.Minute || got.MaxMessageSize != 4096 || got.IdempotencyWindow != 24*time.Hour {
		t.Errorf("scalars lost in upgrade: %+v", got)
	}
	if len(got.Gateways) != 2 || got.Gateways[0].InboundToken != "i1" || got.Gateways[1].SIPURI != "sip:gw.two.example;transport=tcp" || len(got.Gateways[0].Domains) != 2 {
		t.Errorf("gateways lost in upgrade: %+v", got.Gateways)
	}
	wantSIP := SIPConfig{ListenUDP: "127.0.0.1:5070", ListenTCP: "127.0.0.1:5071", ListenTLS: "0.0.0.0:5061", CertFile: "/c.pem", KeyFile: "/k.pem", Realm: "r.example", MaxUDPSize: 1000, MaxMessageSize: 2048}
	if got.SIP != wantSIP {
		t.Errorf("sip section after upgrade = %+v, want %+v", got.SIP, wantSIP)
	}
	if want := (SRVConfig{Enabled: true, DNSServer: "127.0.0.1:5353", Transport: "tcp", Timeout: time.Second, MaxCache: 10, MaxTries: 3}); got.SRVRouting != want {
		t.Errorf("srv_routing after upgrade = %+v, want %+v", got.SRVRouting, want)
	}
	if want := (RateLimitConfig{PerGateway: 12.5, PerSender: 3, Burst: 7}); got.RateLimit != want {
		t.Errorf("rate_limit after upgrade = %+v, want %+v", got.RateLimit, want)
	}
	wantMedia := MediaConfig{InlineMax: 1000, MaxSize: 5000, Large: LargeRefuse, Fetch: FetchConfig{Timeout: 5 * time.Second, AllowHTTP: true, AllowPrivate: []string{"127.0.0.1", "10.0.0.0/8"}}}
	if !reflect.DeepEqual(got.Media, wantMedia) {
		t.Errorf("media after upgrade = %+v, want %+v", got.Media, wantMedia)
	}
	if g := got.Gateways[1]; len(g.AllowFrom) != 2 || g.DigestUsername != "bridge" || g.DigestPassword != "pw" {
		t.Errorf("SIP gateway keys lost in upgrade: %+v", g)
	}
	if strings.Contains(string(rewritten), "change-me") {
		t.Errorf("example gateway leaked into the admin's config:\n%s", rewritten)
	}
}

func TestValidateNamesTheKey(t *testing.T) {
	var good Config
	if err := yaml.Unmarshal([]byte(ExampleConfig), &good); err != nil {
		t.Fatal(err)
	}
	good.Gateways[0].Token, good.Gateways[0].InboundToken = "secret-out", "secret-in"
	if err := good.validate(); err != nil {
		t.Fatalf("example config with secrets set: %v", err)
	}
	for _, tc := range []struct {
		name    string
		mutate  func(c *Config)
		wantKey string
	}{
		{"example tokens", func(c *Config) { c.Gateways[0].InboundToken = "change-me-too" }, "network.gateways[0] (partner).token/inbound_token"},
		{"no url", func(c *Config) { c.Gateways[0].URL = "" }, "network.gateways[0] (partner).url"},
		{"bad transport", func(c *Config) { c.Gateways[0].Transport = "smtp" }, "network.gateways[0] (partner).transport"},
		{"no domains", func(c *Config) { c.Gateways[0].Domains = nil }, "network.gateways[0] (partner).domains"},
		{"srv transport", func(c *Config) { c.SRVRouting.Transport = "tls" }, "network.srv_routing.transport"},
		{"zero deadline", func(c *Config) { c.DeliveryDeadline = 0 }, "network.delivery_deadline"},
		{"zero size", func(c *Config) { c.MaxMessageSize = 0 }, "network.max_message_size"},
		{"zero window", func(c *Config) { c.IdempotencyWindow = 0 }, "network.idempotency_window"},
		{"unknown large", func(c *Config) { c.Media.Large = "upload" }, "network.media.large"},
		{"zero fetch timeout", func(c *Config) { c.Media.Fetch.Timeout = 0 }, "network.media.fetch.timeout"},
		{"bad allow_private", func(c *Config) { c.Media.Fetch.AllowPrivate = []string{"10.0.0.0/8", "localhost"} }, "network.media.fetch.allow_private[1]"},
	} {
		c := good
		c.Gateways = append(c.Gateways[:0:0], good.Gateways...)
		tc.mutate(&c)
		err := c.validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.wantKey) {
			t.Errorf("%s: error %v, want one starting with %q", tc.name, err, tc.wantKey)
		}
	}
}

func TestFetchAllowed(t *testing.T) {
	f := FetchConfig{AllowPrivate: []string{"127.0.0.1", "10.1.2.3/8", "fd00::/8", "::ffff:192.168.1.1"}}
	got, err := f.allowed()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1/32", "10.0.0.0/8", "fd00::/8", "192.168.1.1/32"}
	for i := range want {
		if i >= len(got) || got[i].String() != want[i] {
			t.Fatalf("allowed() = %v, want %v", got, want)
		}
	}
}
