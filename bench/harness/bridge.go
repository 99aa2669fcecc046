package harness

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"maunium.net/go/mautrix/appservice"

	"github.com/matrix-cpim/matrix-cpim/internal/devbridge"
)

// BridgeOptions say how to configure and run a bridgev2 bridge binary (matrix-cpim or the
// baseline), the way an admin does: `-e` writes the example config, the harness edits it, `-g`
// writes the registration.
type BridgeOptions struct {
	Binary     string
	Dir        string // holds config, registration, database and logs; must exist
	Homeserver string // URL
	ServerName string
	Network    map[string]any // keys of the network: section
	// LogLevel replaces logging.min_level when set. Either way the log goes to one JSON file, as
	// in the end-to-end tests.
	LogLevel string
	// MaxOpenConns and MaxIdleConns replace database.max_open_conns and max_idle_conns when
	// positive.
	MaxOpenConns, MaxIdleConns int
	// DebugSecret, when set, becomes the provisioning shared secret and turns on bridgev2's debug
	// endpoints, which serve net/http/pprof at /debug/pprof/ on the appservice listener.
	DebugSecret string
	ExtraArgs   []string
	// Env is added to the bridge's environment (GOGC=50, say).
	Env []string
}

// Bridge is a configured bridge process.
type Bridge struct {
	URL          string // the appservice listener
	Registration *appservice.Registration
	RegPath      string
	opts         BridgeOptions
	cfgPath      string
	cmd          *exec.Cmd
	exited       chan struct{}
}

// startTimeout bounds the wait for a bridge to answer /_matrix/mau/ready; stopTimeout is its grace
// after SIGINT.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
)

// SetupBridge writes the config and registration as the end-to-end tests do (devbridge.Setup,
// SQLite in Dir), with the options on top; the bridge is not started.
func SetupBridge(o BridgeOptions) (*Bridge, error) {
	dev, err := devbridge.Setup(o.Binary, o.Dir, devbridge.Homeserver{URL: o.Homeserver, ServerName: o.ServerName},
		"sqlite3-fk-wal", "file:"+filepath.Join(o.Dir, "bridge.db")+"?_txlock=immediate", o.Network)
	if err != nil {
		return nil, err
	}
	err = dev.EditConfig(func(cfg map[string]any) {
		if o.MaxOpenConns > 0 {
			devbridge.Set(cfg, o.MaxOpenConns, "database", "max_open_conns")
		}
		if o.MaxIdleConns > 0 {
			devbridge.Set(cfg, o.MaxIdleConns, "database", "max_idle_conns")
		}
		if o.LogLevel != "" {
			devbridge.Set(cfg, o.LogLevel, "logging", "min_level")
		}
		if o.DebugSecret != "" {
			devbridge.Set(cfg, o.DebugSecret, "provisioning", "shared_secret")
			devbridge.Set(cfg, true, "provisioning", "debug_endpoints")
		}
	})
	if err != nil {
		return nil, err
	}
	b := &Bridge{URL: dev.URL, RegPath: dev.Reg, opts: o, cfgPath: dev.Config}
	if b.Registration, err = appservice.LoadRegistration(b.RegPath); err != nil {
		return nil, err
	}
	return b, nil
}

// Start runs the bridge and waits until it answers.
func (b *Bridge) Start(ctx context.Context) error {
	out, err := os.OpenFile(filepath.Join(b.opts.Dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	b.cmd = exec.Command(b.opts.Binary, append([]string{"-c", b.cfgPath, "-r", b.RegPath}, b.opts.ExtraArgs...)...)
	b.cmd.Dir = b.opts.Dir
	b.cmd.Env = append(os.Environ(), b.opts.Env...)
	b.cmd.Stdout, b.cmd.Stderr = out, out
	// A harness that dies must not leave a bridge holding its port.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err = b.cmd.Start(); err != nil {
		out.Close()
		return err
	}
	b.exited = make(chan struct{})
	go func() { _ = b.cmd.Wait(); out.Close(); close(b.exited) }()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-b.exited:
			return fmt.Errorf("%s exited during start-up; see %s", filepath.Base(b.opts.Binary), b.opts.Dir)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := http.Get(b.URL + "/_matrix/mau/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s; see %s", filepath.Base(b.opts.Binary), startTimeout, b.opts.Dir)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PID is the bridge's process ID.
func (b *Bridge) PID() int { return b.cmd.Process.Pid }

// Stop sends SIGINT and waits for the bridge to exit, killing it after stopTimeout.
func (b *Bridge) Stop() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	_ = b.cmd.Process.Signal(os.Interrupt)
	select {
	case <-b.exited:
	case <-time.After(stopTimeout):
		_ = b.cmd.Process.Kill()
		<-b.exited
	}
}

// Profile fetches /debug/pprof/{name}?{query} into dst; the bridge must have been set up with a
// DebugSecret. For a CPU profile, name is "profile" and query "seconds=N", and the call takes N
// seconds.
func (b *Bridge) Profile(ctx context.Context, name, query, dst string) error {
	if b.opts.DebugSecret == "" {
		return fmt.Errorf("bridge set up without DebugSecret: no pprof endpoint")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.URL+"/debug/pprof/"+name+"?"+query, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.opts.DebugSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("pprof %s: %s: %s", name, resp.Status, msg)
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err = io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// GoMemory is what the bridge's Go runtime reports after a garbage collection, in bytes.
type GoMemory struct {
	HeapAlloc  int64 // live heap
	HeapInuse  int64
	StackInuse int64
	Sys        int64 // everything the runtime got from the OS
	// HeapReleased is the part of Sys the runtime gave back to the OS: Sys − HeapReleased is what
	// the Go runtime holds of the RSS, the rest is the binary, cgo (SQLite) and libc.
	HeapReleased int64
	Goroutines   int64
}

// GoMemory forces a garbage collection in the bridge and reads its runtime statistics, through
// the debug endpoints (the bridge must have been set up with a DebugSecret).
func (b *Bridge) GoMemory(ctx context.Context) (GoMemory, error) {
	dir, err := os.MkdirTemp(b.opts.Dir, "memstats-")
	if err != nil {
		return GoMemory{}, err
	}
	defer os.RemoveAll(dir)
	heap, gor := filepath.Join(dir, "heap"), filepath.Join(dir, "goroutine")
	if err = b.Profile(ctx, "heap", "gc=1&debug=1", heap); err != nil {
		return GoMemory{}, err
	}
	if err = b.Profile(ctx, "goroutine", "debug=1", gor); err != nil {
		return GoMemory{}, err
	}
	heapText, err := os.ReadFile(heap)
	if err != nil {
		return GoMemory{}, err
	}
	gorText, err := os.ReadFile(gor)
	if err != nil {
		return GoMemory{}, err
	}
	return parseGoMemory(heapText, gorText)
}

// parseGoMemory reads the runtime.MemStats comment lines of a debug=1 heap profile and the total of
// a debug=1 goroutine profile.
func parseGoMemory(heap, goroutines []byte) (GoMemory, error) {
	var m GoMemory
	fields := map[string]*int64{"HeapAlloc": &m.HeapAlloc, "HeapInuse": &m.HeapInuse, "Stack": &m.StackInuse, "Sys": &m.Sys, "HeapReleased": &m.HeapReleased}
	found := 0
	for line := range strings.Lines(string(heap)) {
		name, value, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "# "), " = ")
		dst := fields[name]
		if !ok || dst == nil {
			continue
		}
		first, _, _ := strings.Cut(value, " ") // "Stack = inuse / sys"
		n, err := strconv.ParseInt(first, 10, 64)
		if err != nil {
			return GoMemory{}, fmt.Errorf("heap profile: %s: %w", name, err)
		}
		*dst = n
		found++
	}
	if found != len(fields) {
		return GoMemory{}, fmt.Errorf("heap profile: found %d of the %d MemStats lines", found, len(fields))
	}
	first, _, _ := strings.Cut(string(goroutines), "\n")
	total, ok := strings.CutPrefix(first, "goroutine profile: total ")
	if !ok {
		return GoMemory{}, fmt.Errorf("goroutine profile: unexpected first line %q", first)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(total), 10, 64)
	if err != nil {
		return GoMemory{}, fmt.Errorf("goroutine profile: %w", err)
	}
	m.Goroutines = n
	return m, nil
}
