// Package docker tests the container image: its entrypoint run.sh, run here without Docker on a
// temporary directory standing in for /data, and the Dockerfile and docker-compose.yml at the top of
// the repository. It has no Go code of its own.
package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// bridgeUID is the user run.sh runs the bridge as when started as root with UID unset.
const bridgeUID = 1337

// nobody runs run.sh as a user that may not write the data directory.
const nobody = "65534"

// scriptTimeout only keeps a hung bridge from blocking the test run; every run is expected to end
// on its own well before.
const scriptTimeout = 2 * time.Minute

var (
	// binDir holds the bridge and a copy of run.sh, in a directory any user may read, so that
	// run.sh can still read itself after dropping root wherever the checkout lies.
	binDir   string
	buildErr error
	build    sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// tools returns the path of the bridge binary and of the copy of run.sh, building them once.
func tools(t *testing.T) (bridge, script string) {
	t.Helper()
	build.Do(func() {
		dir, err := os.MkdirTemp("", "matrix-cpim-docker-")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		if err := os.Chmod(dir, 0o755); err != nil {
			buildErr = err
			return
		}
		out, err := exec.Command("go", "build", "-tags", "goolm", "-o", filepath.Join(dir, "matrix-cpim"), "../cmd/matrix-cpim").CombinedOutput()
		if err != nil {
			buildErr = errors.New("go build ../cmd/matrix-cpim: " + err.Error() + "\n" + string(out))
			return
		}
		src, err := os.ReadFile("run.sh")
		if err != nil {
			buildErr = err
			return
		}
		buildErr = os.WriteFile(filepath.Join(dir, "run.sh"), src, 0o755)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "matrix-cpim"), filepath.Join(binDir, "run.sh")
}

// dataDir returns an empty directory that any user may enter, standing in for /data.
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "matrix-cpim-data-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// wantOwner is the uid the files run.sh and the bridge write must have: run.sh gives them to
// bridgeUID when started as root, and otherwise runs as the caller.
func wantOwner() int {
	if os.Geteuid() == 0 {
		return bridgeUID
	}
	return os.Geteuid()
}

type scriptRun struct {
	stdout, stderr string
	code           int
}

// runScript runs run.sh with sh, as the image's entrypoint does, with BRIDGE_DATA set to data,
// UID and GID unset unless env sets them, and the bridge built by tools. as, if not empty, is the
// uid to run it as (through setpriv, so only when the test runs as root).
func runScript(t *testing.T, data, as string, env []string, args ...string) scriptRun {
	t.Helper()
	bridge, script := tools(t)
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	argv := append([]string{"sh", script}, args...)
	if as != "" {
		argv = append([]string{"setpriv", "--reuid=" + as, "--regid=" + as, "--clear-groups", "--"}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "UID=") && !strings.HasPrefix(kv, "GID=") && !strings.HasPrefix(kv, "BRIDGE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "BRIDGE_BINARY="+bridge, "BRIDGE_DATA="+data)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("run.sh %q did not end within %v\nstdout:\n%s\nstderr:\n%s", args, scriptTimeout, &stdout, &stderr)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run.sh: %v", err)
	}
	return scriptRun{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

func (r scriptRun) String() string {
	return "exit status " + strconv.Itoa(r.code) + "\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

func owner(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

// fakeHomeserver answers /versions with a spec version too old for the bridge and every other
// request with 404, so that the bridge stops by itself: without --ignore-unsupported-server after
// /versions, with it at the next request.
type fakeHomeserver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string // "METHOD PATH AUTHORIZATION"
}

func newFakeHomeserver(t *testing.T) *fakeHomeserver {
	hs := &fakeHomeserver{}
	hs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs.mu.Lock()
		hs.requests = append(hs.requests, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		hs.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/_matrix/client/versions" {
			json.NewEncoder(w).Encode(map[string]any{"versions": []string{"v1.1"}})
			return
		}
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]string{"errcode": "M_UNRECOGNIZED", "error": "fake homeserver"})
	}))
	t.Cleanup(hs.Close)
	return hs
}

// take returns the requests seen since the last call.
func (hs *fakeHomeserver) take() []string {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	seen := hs.requests
	hs.requests = nil
	return seen
}

// TestRunSetup takes a data directory through the three starts of the image: example config,
// registration, bridge.
func TestRunSetup(t *testing.T) {
	bridge, _ := tools(t)
	data := dataDir(t)
	config := filepath.Join(data, "config.yaml")
	registration := filepath.Join(data, "registration.yaml")

	// A draft of the config that a first start killed midway left behind.
	if err := os.WriteFile(filepath.Join(data, ".config.yaml.new"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}

	// First start: the example config, with the database and listener set for a container.
	r := runScript(t, data, "", nil)
	if r.code != 0 || !strings.Contains(r.stdout, "Wrote an example config to "+config) || !strings.Contains(r.stdout, "Edit it") {
		t.Fatalf("first start: want exit status 0 and a request to edit %s, got %v", config, r)
	}
	if got := owner(t, config); got != wantOwner() {
		t.Errorf("config.yaml belongs to uid %d, want %d", got, wantOwner())
	}
	example, err := exec.Command(bridge, "-e", "-c", "-").Output()
	if err != nil {
		t.Fatalf("matrix-cpim -e: %v", err)
	}
	written, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	wantChanged := []string{
		"    type: sqlite3-fk-wal",
		"    uri: file:" + data + "/matrix-cpim.db?_txlock=immediate",
		"    hostname: 0.0.0.0",
	}
	if changed := changedLines(t, string(example), string(written)); !slices.Equal(changed, wantChanged) {
		t.Errorf("config.yaml differs from the example in\n%s\nwant\n%s", strings.Join(changed, "\n"), strings.Join(wantChanged, "\n"))
	}
	for key, want := range map[string]string{
		"database.type":       "sqlite3-fk-wal",
		"database.uri":        "file:" + data + "/matrix-cpim.db?_txlock=immediate",
		"appservice.hostname": "0.0.0.0",
	} {
		if got := getYAML(t, config, key); got != want {
			t.Errorf("config.yaml %s = %q, want %q", key, got, want)
		}
	}
	assertFiles(t, data, "config.yaml")

	// Second start, config not edited yet: the bridge refuses to write a registration for the
	// example homeserver, and run.sh says which key to set.
	r = runScript(t, data, "", nil)
	if r.code == 0 || !strings.Contains(r.stderr, "homeserver.domain") {
		t.Fatalf("second start with the example config: want a failure naming homeserver.domain, got %v", r)
	}
	assertFiles(t, data, "config.yaml")

	hs := newFakeHomeserver(t)
	// Written to a new file and renamed, as an editor does: started as root, the test leaves a
	// config.yaml of root's that the bridge's user may not read until run.sh gives it back.
	editYAML(t, config, map[string]string{
		"homeserver.address":                  hs.URL,
		"homeserver.domain":                   "matrix-cpim.test",
		"bridge.permissions.matrix-cpim.test": "user",
		"network.gateways.0.token":            "outbound-secret",
		"network.gateways.0.inbound_token":    "inbound-secret",
	})

	// Second start: the registration.
	r = runScript(t, data, "", nil)
	if r.code != 0 || !strings.Contains(r.stdout, "Wrote the appservice registration to "+registration) || !strings.Contains(r.stdout, "app_service_config_files") {
		t.Fatalf("second start: want exit status 0 and instructions for %s, got %v", registration, r)
	}
	fi, err := os.Stat(registration)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("registration.yaml has mode %v, want 0640", fi.Mode().Perm())
	}
	for _, path := range []string{config, registration} {
		if got := owner(t, path); got != wantOwner() {
			t.Errorf("%s belongs to uid %d, want %d", path, got, wantOwner())
		}
	}
	asToken := getYAML(t, registration, "as_token")
	if asToken == "" || getYAML(t, config, "appservice.as_token") != asToken {
		t.Fatalf("registration as_token %q is not the config's appservice.as_token %q", asToken, getYAML(t, config, "appservice.as_token"))
	}
	assertFiles(t, data, "config.yaml", "registration.yaml")

	// Servers started by tests listen on loopback only, so the appservice listener that run.sh
	// opened to all interfaces is moved back, to a free port. The prefix is the one the example
	// config suggests, which run.sh's own variables start with.
	editYAML(t, config, map[string]string{
		"appservice.hostname": "127.0.0.1",
		"appservice.port":     freePort(t),
		"env_config_prefix":   "BRIDGE_",
	})

	// Third start: the bridge, with the config and registration run.sh names. It reaches the fake
	// homeserver with the registration's token and stops at its outdated /versions.
	versions := "GET /_matrix/client/versions Bearer " + asToken
	r = runScript(t, data, "", nil)
	if seen := hs.take(); r.code == 0 || !slices.Equal(seen, []string{versions}) {
		t.Fatalf("third start: want the bridge to stop after %q, homeserver saw %q; %v", versions, seen, r)
	}
	if got := owner(t, config); got != wantOwner() {
		t.Errorf("after the third start config.yaml belongs to uid %d, want %d", got, wantOwner())
	}
	db := filepath.Join(data, "matrix-cpim.db")
	if got := owner(t, db); got != wantOwner() {
		t.Errorf("the bridge's database %s belongs to uid %d, want %d", db, got, wantOwner())
	}

	assertPrivate(t, data, "registration.yaml")

	// Arguments reach the bridge: this one lets it past the outdated /versions.
	r = runScript(t, data, "", nil, "--ignore-unsupported-server")
	if seen := hs.take(); r.code == 0 || len(seen) < 2 || seen[0] != versions {
		t.Fatalf("start with --ignore-unsupported-server: want the bridge to go on after %q, homeserver saw %q; %v", versions, seen, r)
	}
}

// TestRunRefuses checks that run.sh stops with a message naming the problem, before writing
// anything, when it cannot set up the data directory.
func TestRunRefuses(t *testing.T) {
	tests := []struct {
		name string
		// setup returns the data directory, the uid to run as ("" for the test's own), and env.
		setup func(t *testing.T) (data, as string, env []string)
		want  string
	}{
		{
			name: "data directory not writable",
			setup: func(t *testing.T) (string, string, []string) {
				data := dataDir(t)
				if os.Geteuid() == 0 {
					// Root may write anywhere: start as another user, as `docker run --user` does.
					return data, nobody, nil
				}
				if err := os.Chmod(data, 0o555); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Chmod(data, 0o755) })
				return data, "", nil
			},
			want: "is not writable by uid",
		},
		{
			name: "data directory missing",
			setup: func(t *testing.T) (string, string, []string) {
				return filepath.Join(dataDir(t), "missing"), "", nil
			},
			want: "does not exist: mount a volume there",
		},
		{
			name: "relative data directory",
			setup: func(t *testing.T) (string, string, []string) {
				return "data", "", nil
			},
			want: "BRIDGE_DATA must be an absolute path",
		},
		{
			name: "data directory with a character the SQLite URI would misread",
			setup: func(t *testing.T) (string, string, []string) {
				data := filepath.Join(dataDir(t), "a?b")
				if err := os.Mkdir(data, 0o755); err != nil {
					t.Fatal(err)
				}
				return data, "", nil
			},
			want: "BRIDGE_DATA may hold only",
		},
		{
			name: "UID not a number",
			setup: func(t *testing.T) (string, string, []string) {
				return dataDir(t), "", []string{"UID=bridge"}
			},
			want: "UID must be a number, not 'bridge'",
		},
		{
			name: "GID not a number",
			setup: func(t *testing.T) (string, string, []string) {
				return dataDir(t), "", []string{"GID=-1"}
			},
			want: "GID must be a number, not '-1'",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, as, env := tt.setup(t)
			r := runScript(t, data, as, env)
			if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("want a failure saying %q, got %v", tt.want, r)
			}
			if _, err := os.Stat(filepath.Join(data, "config.yaml")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("config.yaml: want none written, got %v", err)
			}
		})
	}
}

// changedLines returns the lines of b that differ from the line at the same place in a, which must
// have as many lines.
func changedLines(t *testing.T, a, b string) []string {
	t.Helper()
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(al) != len(bl) {
		t.Fatalf("config.yaml has %d lines, the example %d", len(bl), len(al))
	}
	var changed []string
	for i := range al {
		if al[i] != bl[i] {
			changed = append(changed, bl[i])
		}
	}
	return changed
}

// assertPrivate checks that of what run.sh and the bridge wrote in the data directory, which
// docker-compose.yml shares with Synapse, only the named files are readable by others than their
// owner, and not writable by them.
func assertPrivate(t *testing.T, data string, shared ...string) {
	t.Helper()
	err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == data {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mask := fs.FileMode(0o077)
		if slices.Contains(shared, d.Name()) {
			mask = 0o037
		}
		if fi.Mode().Perm()&mask != 0 {
			t.Errorf("%s has mode %v", path, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// assertFiles checks that the data directory holds exactly the named files, besides the bridge's
// log directory; a draft left behind would show here.
func assertFiles(t *testing.T, data string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(data)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.Name() != "logs" {
			got = append(got, e.Name())
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("data directory holds %q, want %q", got, want)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// getYAML returns the scalar at a dotted key of a YAML file, or "" if there is none.
func getYAML(t *testing.T, path, key string) string {
	t.Helper()
	doc := readYAML(t, path)
	node := lookup(doc.Content[0], strings.Split(key, "."), false)
	if node == nil {
		return ""
	}
	return node.Value
}

// editYAML sets scalars at dotted keys of a YAML file, creating a key missing from its mapping, and
// replaces the file as an editor does.
func editYAML(t *testing.T, path string, set map[string]string) {
	t.Helper()
	doc := readYAML(t, path)
	for key, value := range set {
		node := lookup(doc.Content[0], strings.Split(key, "."), true)
		if node == nil {
			t.Fatalf("%s: no mapping to hold %s", path, key)
		}
		node.Kind, node.Tag, node.Value, node.Style = yaml.ScalarNode, "", value, 0
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(4)
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".edit"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func readYAML(t *testing.T, path string) *yaml.Node {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		t.Fatalf("%s: not a YAML document", path)
	}
	return &doc
}

// lookup walks mapping and sequence nodes along parts, a sequence taking an index. A mapping key may itself hold dots (a server name under
// bridge.permissions), so the rest of the parts joined is tried as a key first, and is the key
// created when create is set and nothing matches.
func lookup(node *yaml.Node, parts []string, create bool) *yaml.Node {
	if len(parts) == 0 {
		return node
	}
	if node.Kind == yaml.SequenceNode {
		i, err := strconv.Atoi(parts[0])
		if err != nil || i < 0 || i >= len(node.Content) {
			return nil
		}
		return lookup(node.Content[i], parts[1:], create)
	}
	if node.Kind != yaml.MappingNode {
		return nil
	}
	if v := mappingValue(node, strings.Join(parts, ".")); v != nil {
		return v
	}
	if v := mappingValue(node, parts[0]); v != nil {
		return lookup(v, parts[1:], create)
	}
	if !create {
		return nil
	}
	k := &yaml.Node{Kind: yaml.ScalarNode, Value: strings.Join(parts, ".")}
	v := &yaml.Node{Kind: yaml.ScalarNode}
	node.Content = append(node.Content, k, v)
	return v
}

func mappingValue(node *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == key {
			return node.Content[i+1]
		}
	}
	return nil
}
