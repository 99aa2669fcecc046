package harness

import "fmt"

// Variant is one bridge binary under test and how to write its network: section for a topology
// whose gateways post with tokens and receive at gatewayURL.
type Variant struct {
	Name    string
	Binary  string
	Network func(gatewayURL string, topo Topology, tokens []string) map[string]any
}

// Variant names.
const (
	Ours     = "matrix-cpim"
	Baseline = "baseline"
)

// Variants are matrix-cpim and the baseline, from their binaries. With baselineIsCPIM the
// baseline binary is another build of matrix-cpim, configured as such: a before/after comparison
// of a change to the bridge.
func Variants(bridge, baseline string, baselineIsCPIM bool) []Variant {
	base := Variant{Name: Baseline, Binary: baseline, Network: baselineNetwork}
	if baselineIsCPIM {
		base.Network = cpimNetwork
	}
	return []Variant{{Name: Ours, Binary: bridge, Network: cpimNetwork}, base}
}

// cpimNetwork configures one HTTP gateway per gateway of the topology, all delivering to
// gatewayURL/gwK; the outbound token is the inbound one with an "out-" prefix. Rate limits are
// off: the load generator measures how fast the bridge goes, not the limiter.
func cpimNetwork(gatewayURL string, topo Topology, tokens []string) map[string]any {
	var gws []any
	for k := range topo.Gateways {
		gws = append(gws, map[string]any{
			"name": fmt.Sprintf("gw%d", k), "transport": "http", "url": fmt.Sprintf("%s/gw%d", gatewayURL, k),
			"token": "out-" + tokens[k], "inbound_token": tokens[k], "domains": []any{GatewayDomain(k)},
		})
	}
	return map[string]any{"gateways": gws, "delivery_deadline": "30s",
		"rate_limit": map[string]any{"per_gateway": 0, "per_sender": 0}}
}

func baselineNetwork(gatewayURL string, _ Topology, tokens []string) map[string]any {
	return map[string]any{"gateway_url": gatewayURL + "/baseline", "gateway_token": "out-" + tokens[0]}
}
