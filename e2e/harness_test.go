// Package e2e runs the real bridge binary against a real homeserver (Synapse by default, Dendrite
// with MATRIX_CPIM_TEST_HS=dendrite), a real database and test gateways on loopback.
package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/matrix-cpim/matrix-cpim/internal/dbtest"
	"github.com/matrix-cpim/matrix-cpim/internal/tesths"
)

var bridgeBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "matrix-cpim-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bridgeBinary = filepath.Join(dir, "matrix-cpim")
	build := exec.Command("go", "build", "-tags", "goolm", "-o", bridgeBinary, "github.com/matrix-cpim/matrix-cpim/cmd/matrix-cpim")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if err = build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build matrix-cpim:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// bridgeProc is a running matrix-cpim process.
type bridgeProc struct {
	URL        string // the appservice listener, where gateways POST
	ServerName string
	dir        string
	cfg, reg   string
	log        string
	cmd        *exec.Cmd
	extraArgs  []string
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// setupBridge writes the bridge's config for the homeserver and gateways, generates the
// registration the way an admin does (`matrix-cpim -g`), and returns the bridge, not yet started.
func setupBridge(t *testing.T, hs *tesths.Server, db dbtest.Backend, network map[string]any) *bridgeProc {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	b := &bridgeProc{
		URL:        fmt.Sprintf("http://127.0.0.1:%d", port),
		ServerName: hs.ServerName,
		dir:        dir,
		cfg:        filepath.Join(dir, "config.yaml"),
		reg:        filepath.Join(dir, "registration.yaml"),
		log:        filepath.Join(dir, "bridge.log"),
	}
	run(t, dir, bridgeBinary, "-e", "-c", b.cfg)
	var cfg map[string]any
	readYAML(t, b.cfg, &cfg)
	set(cfg, hs.URL, "homeserver", "address")
	set(cfg, hs.ServerName, "homeserver", "domain")
	set(cfg, b.URL, "appservice", "address")
	set(cfg, "127.0.0.1", "appservice", "hostname")
	set(cfg, port, "appservice", "port")
	set(cfg, db.Type, "database", "type")
	set(cfg, db.URI, "database", "uri")
	set(cfg, map[string]any{"*": "relay", hs.ServerName: "user"}, "bridge", "permissions")
	set(cfg, []any{map[string]any{"type": "file", "format": "json", "filename": b.log}}, "logging", "writers")
	for k, v := range network {
		set(cfg, v, "network", k)
	}
	writeYAML(t, b.cfg, cfg)
	run(t, dir, bridgeBinary, "-g", "-c", b.cfg, "-r", b.reg)
	if hs.Kind == tesths.Dendrite {
		// Dendrite v0.13 reports spec v1.2 only.
		b.extraArgs = append(b.extraArgs, "--ignore-unsupported-server")
	}
	return b
}

// start runs the bridge until the test ends (or stop), and waits until it answers.
func (b *bridgeProc) start(t *testing.T) {
	t.Helper()
	b.cmd = exec.Command(bridgeBinary, append([]string{"-c", b.cfg, "-r", b.reg}, b.extraArgs...)...)
	b.cmd.Dir = b.dir
	out, err := os.OpenFile(filepath.Join(b.dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	b.cmd.Stdout, b.cmd.Stderr = out, out
	if err = b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = b.cmd.Wait(); out.Close(); close(exited) }()
	t.Cleanup(func() {
		b.stop()
		<-exited
		if t.Failed() {
			for _, f := range []string{"stdout.log", "bridge.log"} {
				data, _ := os.ReadFile(filepath.Join(b.dir, f))
				t.Logf("---- bridge %s (last 12000 bytes) ----\n%s", f, tail(data, 12000))
			}
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("bridge exited during start-up; see logs below")
		default:
		}
		resp, err := http.Get(b.URL + "/_matrix/mau/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("bridge not ready after 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (b *bridgeProc) stop() {
	if b.cmd != nil && b.cmd.Process != nil && b.cmd.ProcessState == nil {
		_ = b.cmd.Process.Signal(os.Interrupt)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err = yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err = os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// set assigns cfg[path[0]][path[1]]… = v, creating maps on the way.
func set(cfg map[string]any, v any, path ...string) {
	for _, k := range path[:len(path)-1] {
		next, ok := cfg[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			cfg[k] = next
		}
		cfg = next
	}
	cfg[path[len(path)-1]] = v
}
