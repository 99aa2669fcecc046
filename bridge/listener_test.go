package bridge

import (
	"net"
	"strings"
	"testing"
)

// TestGatewayListenerNamesTheKey: a listener that cannot bind stops the bridge with the key to fix.
func TestGatewayListenerNamesTheKey(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, addr := range []string{taken.Addr().String(), "not an address"} {
		c := &Connector{Config: Config{Listen: addr}}
		if err := c.startGatewayListener(); err == nil || !strings.HasPrefix(err.Error(), "network.listen: ") {
			t.Errorf("listen %q: error %v, want one naming network.listen", addr, err)
		}
	}
	if err := (&Connector{}).startGatewayListener(); err != nil {
		t.Errorf("no listen configured: %v", err)
	}
}
