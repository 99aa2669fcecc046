package harness

import "testing"

func TestVariantNetworks(t *testing.T) {
	v := Variants("/bin/ours", "/bin/base", false)
	if len(v) != 2 || v[0].Name != Ours || v[0].Binary != "/bin/ours" || v[1].Name != Baseline || v[1].Binary != "/bin/base" {
		t.Fatalf("Variants = %+v", v)
	}
	topo := Topology{Gateways: 2}
	tokens := []string{"a", "b"}
	gws := v[0].Network("http://gw", topo, tokens)["gateways"].([]any)
	if len(gws) != 2 {
		t.Fatalf("%d gateways, want 2", len(gws))
	}
	g1 := gws[1].(map[string]any)
	if g1["url"] != "http://gw/gw1" || g1["inbound_token"] != "b" || g1["domains"].([]any)[0] != "gw1.example" {
		t.Errorf("gateway 1 = %v", g1)
	}
	if rl := v[0].Network("http://gw", topo, tokens)["rate_limit"].(map[string]any); rl["per_gateway"] != 0 || rl["per_sender"] != 0 {
		t.Errorf("rate limits = %v, want both off", rl)
	}
	if base := v[1].Network("http://gw", topo, tokens); base["gateway_url"] != "http://gw/baseline" {
		t.Errorf("baseline network = %v", base)
	}
	if other := Variants("/bin/new", "/bin/old", true)[1]; other.Binary != "/bin/old" || other.Network("http://gw", topo, tokens)["gateways"] == nil {
		t.Errorf("a matrix-cpim baseline is not configured as matrix-cpim")
	}
}
