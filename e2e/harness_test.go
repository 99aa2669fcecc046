// Package e2e runs the real bridge binary against a real homeserver (Synapse by default, Dendrite
// with MATRIX_CPIM_TEST_HS=dendrite), a real database and test gateways on loopback.
package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matrix-cpim/matrix-cpim/internal/dbtest"
	"github.com/matrix-cpim/matrix-cpim/internal/devbridge"
	"github.com/matrix-cpim/matrix-cpim/internal/tesths"
)

var bridgeBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "matrix-cpim-e2e-")
	if err == nil {
		bridgeBinary, err = devbridge.Build(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// envKeepLogs names a directory where a failed test leaves all its bridge's logs.
const envKeepLogs = "MATRIX_CPIM_TEST_KEEP_LOGS"

// bridgeProc is the bridge of one test, with the test's view of its files.
type bridgeProc struct {
	*devbridge.Bridge
	reg string
}

// setupBridge configures the bridge for the homeserver, with the given `network:` keys.
func setupBridge(t *testing.T, hs *tesths.Server, db dbtest.Backend, network map[string]any) *bridgeProc {
	t.Helper()
	b, err := devbridge.Setup(bridgeBinary, t.TempDir(), devbridge.Homeserver{URL: hs.URL, ServerName: hs.ServerName, OldSpec: hs.Kind == tesths.Dendrite}, db.Type, db.URI, network)
	if err != nil {
		t.Fatal(err)
	}
	return &bridgeProc{Bridge: b, reg: b.Reg}
}

// editConfig changes the bridge's config.yaml, for its next start.
func (b *bridgeProc) editConfig(t *testing.T, edit func(cfg map[string]any)) {
	t.Helper()
	if err := b.EditConfig(edit); err != nil {
		t.Fatal(err)
	}
}

// start runs the bridge until the test ends, and prints its logs if the test failed.
func (b *bridgeProc) start(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		b.Stop()
		if !t.Failed() {
			return
		}
		for _, f := range []string{b.Stdout, b.Log} {
			data, _ := os.ReadFile(f)
			t.Logf("---- %s (last 12000 bytes) ----\n%s", filepath.Base(f), tail(data, 12000))
		}
		if dir := os.Getenv(envKeepLogs); dir != "" {
			keepLogs(t, dir, filepath.Dir(b.Log))
		}
	})
	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// keepLogs copies the bridge's logs to dir, including those of earlier starts (the bridge rotates
// its log when it starts).
func keepLogs(t *testing.T, dir, from string) {
	files, _ := filepath.Glob(filepath.Join(from, "*.log"))
	prefix := strings.ReplaceAll(t.Name(), "/", "_") + "-"
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, prefix+filepath.Base(f)), data, 0o644)
		}
		if err != nil {
			t.Log(err)
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// freePort returns a free TCP port on 127.0.0.1 for a test's listener.
func freePort(t *testing.T) int {
	t.Helper()
	port, err := devbridge.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// startWithPartner starts a homeserver and the bridge with one HTTP gateway, "partner", that
// serves example.net at gwURL; extra holds more `network:` keys, and adjust run on the bridge once
// its config is written, before anything starts.
func startWithPartner(t *testing.T, db dbtest.Backend, gwURL string, extra map[string]any, adjust ...func(*testing.T, *bridgeProc)) (*tesths.Server, *bridgeProc) {
	t.Helper()
	hs := tesths.New(t)
	network := map[string]any{"gateways": []any{map[string]any{
		"name": "partner", "transport": "http", "url": gwURL,
		"token": tokenOut, "inbound_token": tokenIn, "domains": []any{"example.net"},
	}}}
	for k, v := range extra {
		network[k] = v
	}
	b := setupBridge(t, hs, db, network)
	for _, f := range adjust {
		f(t, b)
	}
	hs.Start(t, b.reg)
	b.start(t)
	return hs, b
}
