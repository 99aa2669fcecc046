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
	DeliveryDeadline  time.Duration    `yaml:"delivery_deadline"`
	MaxMessageSize    int              `yaml:"max_message_size"`
	IdempotencyWindow time.Duration    `yaml:"idempotency_window"`
}

// upgradeConfig copies every key of the admin's config onto the current example: bridgev2 rewrites
// config.yaml on start from the example plus what this copies, so a key missing here would be lost.
func upgradeConfig(helper up.Helper) {
	helper.Copy(up.Str, "im_domain")
	helper.Copy(up.List, "gateways")
	helper.Copy(up.Str|up.Int, "delivery_deadline")
	helper.Copy(up.Int, "max_message_size")
	helper.Copy(up.Str|up.Int, "idempotency_window")
}

// validate checks the config before the bridge starts, naming the offending key.
func (c *Config) validate() error {
	if err := gateway.ValidateAll(c.Gateways); err != nil {
		return err
	}
	if c.DeliveryDeadline <= 0 {
		return fmt.Errorf("network.delivery_deadline: must be a positive duration such as 10m")
	}
	if c.MaxMessageSize <= 0 {
		return fmt.Errorf("network.max_message_size: must be a positive number of bytes")
	}
	if c.IdempotencyWindow <= 0 {
		return fmt.Errorf("network.idempotency_window: must be a positive duration such as 168h")
	}
	return nil
}
