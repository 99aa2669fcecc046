package tesths

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// goBin is where `go install` puts binaries: GOBIN, else the first
// GOPATH's bin. It asks the go command, which also knows `go env -w`
// settings that the environment lacks.
var goBin = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOBIN GOPATH: %w", err)
	}
	lines := strings.Split(string(out), "\n")
	if len(lines) < 2 {
		return "", fmt.Errorf("go env GOBIN GOPATH: unexpected output %q", out)
	}
	if lines[0] != "" {
		return lines[0], nil
	}
	gopath := filepath.SplitList(lines[1])
	if len(gopath) == 0 || gopath[0] == "" {
		return "", fmt.Errorf("go env: neither GOBIN nor GOPATH is set")
	}
	return filepath.Join(gopath[0], "bin"), nil
})

// dendriteBinaries returns the directory that holds the three Dendrite
// commands scripts/testdeps.sh installs.
func dendriteBinaries() (string, error) {
	dir, err := goBin()
	if err != nil {
		return "", err
	}
	for _, name := range []string{"dendrite", "generate-keys", "generate-config"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("no %s in %s: run scripts/testdeps.sh dendrite", name, dir)
		}
	}
	return dir, nil
}

// dendriteCommand generates a key and a configuration with Dendrite's own
// tools, patches the configuration for tests, and returns the command that
// runs Dendrite on it.
func (s *Server) dendriteCommand(t T, registrationFiles []string) (*exec.Cmd, error) {
	bin, err := dendriteBinaries()
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "matrix_key.pem")
	if out, err := exec.Command(filepath.Join(bin, "generate-keys"), "--private-key", key).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("generate-keys: %v: %s", err, out)
	}
	generated, err := exec.Command(filepath.Join(bin, "generate-config"), "-dir", dir, "-server", s.ServerName).Output()
	if err != nil {
		return nil, fmt.Errorf("generate-config: %w", err)
	}
	var appservices []string
	for _, f := range registrationFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		appservices = append(appservices, abs)
	}
	cfg, err := patchYAML(generated, []patch{
		{"global.private_key", key},
		{"global.disable_federation", true},
		{"global.presence.enable_inbound", true},
		{"global.presence.enable_outbound", true},
		{"global.trusted_third_party_id_servers", []string{}},
		// The queues live as long as one test; disk would only slow them.
		{"global.jetstream.in_memory", true},
		{"federation_api.key_perspectives", []any{}},
		{"app_service_api.config_files", appservices},
		{"client_api.registration_shared_secret", s.secret},
		{"client_api.rate_limiting.enabled", false},
		// Only tests log in; the cheapest cost makes registration fast.
		{"user_api.bcrypt_cost", 4},
		// stderr, which Start sends to the log file.
		{"logging", []any{map[string]any{"type": "std", "level": "info"}}},
	})
	if err != nil {
		return nil, fmt.Errorf("patching the output of generate-config: %w", err)
	}
	cfgPath := filepath.Join(dir, "dendrite.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(bin, "dendrite"), "--config", cfgPath, "--http-bind-address", s.addr)
	cmd.Dir = dir
	return cmd, nil
}

// patch sets the value at a dotted path of YAML mapping keys.
type patch struct {
	path  string
	value any
}

// patchYAML applies patches to a YAML document of nested mappings. Every
// path must already exist: Dendrite ignores unknown keys, so a patch of a
// key that a new Dendrite renamed would otherwise be lost without a word.
func patchYAML(doc []byte, patches []patch) ([]byte, error) {
	var root map[string]any
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, err
	}
	for _, p := range patches {
		keys := strings.Split(p.path, ".")
		m := root
		for i, k := range keys {
			v, ok := m[k]
			if !ok {
				return nil, fmt.Errorf("%s: no key %q", p.path, strings.Join(keys[:i+1], "."))
			}
			if i == len(keys)-1 {
				m[k] = p.value
				break
			}
			if m, ok = v.(map[string]any); !ok {
				return nil, fmt.Errorf("%s: %q is not a mapping", p.path, strings.Join(keys[:i+1], "."))
			}
		}
	}
	return yaml.Marshal(root)
}
