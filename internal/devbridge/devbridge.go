// Package devbridge configures and runs the matrix-cpim binary against a local homeserver the way an
// admin would (example config, edited; `-g` for the registration), for the end-to-end tests and the
// quick-start.
package devbridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Homeserver is what the bridge's config needs to know of the homeserver.
type Homeserver struct {
	URL, ServerName string
	// Dendrite v0.13 reports spec v1.2 only, so the bridge must ignore that.
	OldSpec bool
}

// Bridge is a configured matrix-cpim, started or not.
type Bridge struct {
	Binary string
	Dir    string
	// URL is the appservice listener, where the homeserver and gateways reach the bridge.
	URL         string
	Config, Reg string
	Log, Stdout string
	ServerName  string
	ExtraArgs   []string
	cmd         *exec.Cmd
	exited      chan struct{}
}

// Setup writes config.yaml and registration.yaml for the bridge into dir. network holds keys of
// the `network:` section to set; permissions let every user of the homeserver use the bridge.
func Setup(binary, dir string, hs Homeserver, dbType, dbURI string, network map[string]any) (*Bridge, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	b := &Bridge{
		Binary:     binary,
		Dir:        dir,
		URL:        fmt.Sprintf("http://127.0.0.1:%d", port),
		Config:     filepath.Join(dir, "config.yaml"),
		Reg:        filepath.Join(dir, "registration.yaml"),
		Log:        filepath.Join(dir, "bridge.log"),
		Stdout:     filepath.Join(dir, "stdout.log"),
		ServerName: hs.ServerName,
	}
	if err = b.run("-e", "-c", b.Config); err != nil {
		return nil, err
	}
	err = b.EditConfig(func(cfg map[string]any) {
		Set(cfg, hs.URL, "homeserver", "address")
		Set(cfg, hs.ServerName, "homeserver", "domain")
		Set(cfg, b.URL, "appservice", "address")
		Set(cfg, "127.0.0.1", "appservice", "hostname")
		Set(cfg, port, "appservice", "port")
		Set(cfg, dbType, "database", "type")
		Set(cfg, dbURI, "database", "uri")
		Set(cfg, map[string]any{"*": "relay", hs.ServerName: "user"}, "bridge", "permissions")
		Set(cfg, []any{map[string]any{"type": "file", "format": "json", "filename": b.Log}}, "logging", "writers")
		for k, v := range network {
			Set(cfg, v, "network", k)
		}
	})
	if err != nil {
		return nil, err
	}
	if err = b.run("-g", "-c", b.Config, "-r", b.Reg); err != nil {
		return nil, err
	}
	if hs.OldSpec {
		b.ExtraArgs = append(b.ExtraArgs, "--ignore-unsupported-server")
	}
	return b, nil
}

// EditConfig changes the bridge's config.yaml, for its next start.
func (b *Bridge) EditConfig(edit func(cfg map[string]any)) error {
	var cfg map[string]any
	if err := readYAML(b.Config, &cfg); err != nil {
		return err
	}
	edit(cfg)
	return writeYAML(b.Config, cfg)
}

// Start runs the bridge and waits until it has started: its appservice listener answers and the
// network connector has mounted its health endpoint, which it does after the gateways' inbound
// endpoint (until then that answers 503, which a test posting once would take for a failure).
func (b *Bridge) Start(ctx context.Context) error {
	out, err := os.OpenFile(b.Stdout, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	b.cmd = exec.Command(b.Binary, append([]string{"-c", b.Config, "-r", b.Reg}, b.ExtraArgs...)...)
	b.cmd.Dir = b.Dir
	b.cmd.Stdout, b.cmd.Stderr = out, out
	if err = b.cmd.Start(); err != nil {
		out.Close()
		return err
	}
	b.exited = make(chan struct{})
	go func() { _ = b.cmd.Wait(); out.Close(); close(b.exited) }()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		if status(b.URL+"/_matrix/mau/ready") == http.StatusOK {
			if health := status(b.URL + "/_cpim/v1/health"); health != 0 && health != http.StatusNotFound {
				return nil
			}
		}
		select {
		case <-b.exited:
			return errors.New("the bridge exited during start-up; see " + b.Stdout + " and " + b.Log)
		case <-ctx.Done():
			return fmt.Errorf("the bridge did not get ready: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// status is the status code of a GET of url, 0 if there was no answer.
func status(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Stop asks the bridge to stop (SIGINT, as Ctrl-C would) and waits for it; after 30 s it kills it.
func (b *Bridge) Stop() {
	if b.cmd == nil || b.exited == nil {
		return
	}
	_ = b.cmd.Process.Signal(os.Interrupt)
	select {
	case <-b.exited:
	case <-time.After(30 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.exited
	}
}

// Kill ends the bridge at once (SIGKILL), as a crash would.
func (b *Bridge) Kill() {
	if b.cmd != nil && b.exited != nil {
		_ = b.cmd.Process.Kill()
		<-b.exited
	}
}

// Exited is closed when the started bridge process has ended.
func (b *Bridge) Exited() <-chan struct{} { return b.exited }

func (b *Bridge) run(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.Binary, args...)
	cmd.Dir = b.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", b.Binary, strings.Join(args, " "), err, out)
	}
	return nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func readYAML(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err = yaml.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func writeYAML(path string, v any) error {
	data, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// Set assigns cfg[path[0]][path[1]]… = v, creating maps on the way.
func Set(cfg map[string]any, v any, path ...string) {
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

// Build compiles matrix-cpim into dir, as build.sh does, and returns the binary's path.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "matrix-cpim")
	cmd := exec.Command("go", "build", "-tags", "goolm", "-o", bin, "github.com/matrix-cpim/matrix-cpim/cmd/matrix-cpim")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build matrix-cpim: %v\n%s", err, out)
	}
	return bin, nil
}
