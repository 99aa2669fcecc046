// Command matrix-cpim is a Matrix bridge to instant-messaging gateways that speak CPIM
// (message/cpim, RFC 3862). See README.md; `matrix-cpim -e` writes an example config and
// `matrix-cpim -g` the appservice registration.
package main

import (
	"maunium.net/go/mautrix/bridgev2/matrix/mxmain"

	"github.com/matrix-cpim/matrix-cpim/bridge"
)

// Set by build.sh through -ldflags.
var (
	Tag       = "unknown"
	Commit    = "unknown"
	BuildTime = "unknown"
)

func main() {
	m := mxmain.BridgeMain{
		Name:        "matrix-cpim",
		URL:         "https://github.com/matrix-cpim/matrix-cpim",
		Description: "A Matrix bridge to CPIM (RFC 3862) instant-messaging gateways.",
		Version:     "0.1.0",
		Connector:   &bridge.Connector{},
	}
	m.InitVersion(Tag, Commit, BuildTime)
	m.Run()
}
