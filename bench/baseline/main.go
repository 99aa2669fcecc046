// Command baseline is a bridgev2 bridge that does no CPIM work, run by bench/cmd/cpimbench beside
// matrix-cpim so that the benchmark reports matrix-cpim's figures as ratios to this floor. It is
// configured like matrix-cpim (`-e`, `-g`), with a network: section of gateway_url and
// gateway_token.
package main

import "maunium.net/go/mautrix/bridgev2/matrix/mxmain"

func main() {
	m := mxmain.BridgeMain{
		Name:        "cpim-baseline",
		URL:         "https://github.com/matrix-cpim/matrix-cpim",
		Description: "The bridgev2 floor that matrix-cpim's benchmarks compare against.",
		Version:     "0.1.0",
		Connector:   &Connector{},
	}
	m.InitVersion("unknown", "unknown", "unknown")
	m.Run()
}
