package tesths

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestPatchYAML(t *testing.T) {
	const doc = `
global:
  server_name: a.test
  presence:
    enable_inbound: false
client_api:
  rate_limiting: 5
`
	tests := []struct {
		name    string
		patches []patch
		want    string // YAML of the whole result; empty when an error is wanted
		wantErr string
	}{
		{
			name:    "nested",
			patches: []patch{{"global.presence.enable_inbound", true}, {"global.server_name", "b.test"}},
			want:    "{global: {server_name: b.test, presence: {enable_inbound: true}}, client_api: {rate_limiting: 5}}",
		},
		{
			name:    "whole subtree",
			patches: []patch{{"global.presence", []string{"x"}}},
			want:    "{global: {server_name: a.test, presence: [x]}, client_api: {rate_limiting: 5}}",
		},
		{
			name:    "missing leaf",
			patches: []patch{{"global.presence.enable_outbound", true}},
			wantErr: `no key "global.presence.enable_outbound"`,
		},
		{
			name:    "missing top",
			patches: []patch{{"sync_api.search.enabled", true}},
			wantErr: `no key "sync_api"`,
		},
		{
			name:    "through a scalar",
			patches: []patch{{"client_api.rate_limiting.enabled", false}},
			wantErr: `"client_api.rate_limiting" is not a mapping`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := patchYAML([]byte(doc), tt.patches)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var gotV, wantV any
			if err := yaml.Unmarshal(got, &gotV); err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal([]byte(tt.want), &wantV); err != nil {
				t.Fatal(err)
			}
			g, _ := yaml.Marshal(gotV)
			w, _ := yaml.Marshal(wantV)
			if string(g) != string(w) {
				t.Errorf("got\n%s\nwant\n%s", g, w)
			}
		})
	}
}

func TestPatchYAMLBadDocument(t *testing.T) {
	if _, err := patchYAML([]byte("global: [unclosed"), nil); err == nil {
		t.Error("no error for malformed YAML")
	}
}
