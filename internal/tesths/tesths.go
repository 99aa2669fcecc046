// Package tesths runs a real Matrix homeserver on loopback for end-to-end
// tests: Synapse from a Debian sid chroot, or Dendrite from $GOPATH/bin.
// scripts/testdeps.sh installs either; a test whose homeserver is not
// installed fails and names the command that installs it.
//
// A test calls New first, to learn the homeserver's URL and server name
// that the bridge's configuration and appservice registration need, then
// Start with that registration, then RegisterUser for each Matrix user it
// plays.
package tesths

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"
)

// Kind names a homeserver implementation.
// T is what the harness needs of its caller: a *testing.T, or a program such as the quick-start
// (scripts/quickstart.sh) that runs a homeserver the way the tests do.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	Context() context.Context
	Failed() bool
}

type Kind string

const (
	Synapse  Kind = "synapse"
	Dendrite Kind = "dendrite"
)

// EnvKind is the environment variable that selects the Kind New starts;
// unset or empty means Synapse.
const EnvKind = "MATRIX_CPIM_TEST_HS"

// serverName is the same for every test: federation is off, so it only has
// to be a valid server name, and one from the reserved .test TLD (RFC 6761)
// can never reach a real server.
const serverName = "matrix-cpim.test"

const (
	// startTimeout bounds the wait for a fresh homeserver to answer. Synapse
	// needs a few seconds on an idle machine; a loaded 2-core CI runner
	// running other test packages needs several times that.
	startTimeout = 2 * time.Minute
	// stopTimeout is how long a homeserver gets after SIGTERM before SIGKILL.
	stopTimeout = 15 * time.Second
	// logTail is how much of the homeserver's log a failing test prints.
	logTail = 64 << 10
	// maxResponse bounds what is read from one homeserver response.
	maxResponse = 1 << 20
)

// Server is one homeserver on a loopback port, owned by one test.
type Server struct {
	Kind       Kind
	URL        string // http://127.0.0.1:PORT, no trailing slash
	ServerName string

	addr    string       // 127.0.0.1:PORT
	hold    net.Listener // keeps addr taken until Start hands it over
	secret  string       // registration_shared_secret
	http    *http.Client
	logPath string
	started bool
}

// New picks the homeserver kind from EnvKind, checks it is installed, and
// reserves a loopback port for it. The port stays bound until Start, which
// frees it only just before the homeserver binds it, so that the bridge's
// configuration can name the URL first.
func New(t T) *Server {
	t.Helper()
	kind := Kind(os.Getenv(EnvKind))
	if kind == "" {
		kind = Synapse
	}
	switch kind {
	case Synapse:
		if err := checkSynapse(); err != nil {
			t.Fatalf("tesths: %v", err)
		}
	case Dendrite:
		if _, err := dendriteBinaries(); err != nil {
			t.Fatalf("tesths: %v", err)
		}
	default:
		t.Fatalf("tesths: %s=%q: want %q or %q", EnvKind, kind, Synapse, Dendrite)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("tesths: reserving a loopback port: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	addr := ln.Addr().String()
	return &Server{
		Kind:       kind,
		URL:        "http://" + addr,
		ServerName: serverName,
		addr:       addr,
		hold:       ln,
		secret:     randomHex(32),
		http:       &http.Client{Timeout: 30 * time.Second},
	}
}

// Start writes the homeserver's configuration, naming registrationFiles as
// its appservices, starts it and waits until /_matrix/client/versions
// answers. The homeserver is stopped and its files removed when the test
// ends; if the test failed, the end of the homeserver's log is printed.
func (s *Server) Start(t T, registrationFiles ...string) {
	t.Helper()
	if s.started {
		t.Fatalf("tesths: Start called twice")
	}
	s.started = true
	s.logPath = filepath.Join(t.TempDir(), string(s.Kind)+".log")
	logFile, err := os.Create(s.logPath)
	if err != nil {
		t.Fatalf("tesths: %v", err)
	}
	// Registered before the process exists, so that it runs after the stop
	// below and prints a log that is complete.
	t.Cleanup(func() {
		logFile.Close()
		if t.Failed() {
			s.printLog(t)
		}
	})

	var cmd *exec.Cmd
	switch s.Kind {
	case Synapse:
		cmd, err = s.synapseCommand(t, registrationFiles)
	case Dendrite:
		cmd, err = s.dendriteCommand(t, registrationFiles)
	}
	if err != nil {
		t.Fatalf("tesths: configuring %s: %v", s.Kind, err)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// A test binary killed by go test's -timeout must not leave a
	// homeserver behind on the port.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL

	s.hold.Close()
	if err := cmd.Start(); err != nil {
		t.Fatalf("tesths: starting %s: %v", s.Kind, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() { stop(t, cmd, exited) })

	if err := s.waitReady(t.Context(), exited, &waitErr); err != nil {
		t.Fatalf("tesths: %s on %s: %v", s.Kind, s.URL, err)
	}
}

// waitReady polls the versions endpoint, which every homeserver serves
// without authentication once its client API is up.
func (s *Server) waitReady(ctx context.Context, exited <-chan struct{}, waitErr *error) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var out struct {
			Versions []string `json:"versions"`
		}
		err := s.call(ctx, http.MethodGet, "/_matrix/client/versions", nil, &out)
		if err == nil && len(out.Versions) > 0 {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited before answering: %v", *waitErr)
		case <-deadline.C:
			return fmt.Errorf("no answer from /_matrix/client/versions within %v: last error: %v", startTimeout, err)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM and waits, then kills. Both homeservers flush and
// close their SQLite databases on SIGTERM.
func stop(t T, cmd *exec.Cmd, exited <-chan struct{}) {
	select {
	case <-exited:
		return
	default:
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(stopTimeout):
		t.Logf("tesths: homeserver ignored SIGTERM for %v; killing it", stopTimeout)
		cmd.Process.Kill()
		<-exited
	}
}

func (s *Server) printLog(t T) {
	f, err := os.Open(s.logPath)
	if err != nil {
		t.Logf("tesths: reading homeserver log: %v", err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Logf("tesths: reading homeserver log: %v", err)
		return
	}
	from := max(fi.Size()-logTail, 0)
	buf := make([]byte, fi.Size()-from)
	n, _ := f.ReadAt(buf, from)
	note := ""
	if from > 0 {
		note = fmt.Sprintf(" (last %d of %d bytes)", n, fi.Size())
	}
	t.Logf("tesths: %s log%s:\n%s", s.Kind, note, buf[:n])
}

// RegisterUser creates the ordinary (non-admin) user @localpart:ServerName
// through the shared-secret registration API, which both Synapse and
// Dendrite serve at /_synapse/admin/v1/register, and returns a client
// logged in as that user.
func (s *Server) RegisterUser(t T, localpart string) *mautrix.Client {
	t.Helper()
	return s.RegisterUserWithPassword(t, localpart, randomHex(16))
}

// RegisterUserWithPassword is RegisterUser with a password of the caller's, for a person who
// will log in with a Matrix client too.
func (s *Server) RegisterUserWithPassword(t T, localpart, password string) *mautrix.Client {
	t.Helper()
	if !s.started {
		t.Fatalf("tesths: RegisterUser before Start")
	}
	ctx := t.Context()
	var nonce struct {
		Nonce string `json:"nonce"`
	}
	if err := s.call(ctx, http.MethodGet, "/_synapse/admin/v1/register", nil, &nonce); err != nil {
		t.Fatalf("tesths: registering %q: getting nonce: %v", localpart, err)
	}
	req := map[string]any{
		"nonce":    nonce.Nonce,
		"username": localpart,
		"password": password,
		"admin":    false,
		"mac":      registrationMAC(s.secret, nonce.Nonce, localpart, password, false),
	}
	var resp mautrix.RespRegister
	if err := s.call(ctx, http.MethodPost, "/_synapse/admin/v1/register", req, &resp); err != nil {
		t.Fatalf("tesths: registering %q: %v", localpart, err)
	}
	if resp.AccessToken == "" || resp.UserID == "" {
		t.Fatalf("tesths: registering %q: response has no user_id or access_token", localpart)
	}
	client, err := mautrix.NewClient(s.URL, resp.UserID, resp.AccessToken)
	if err != nil {
		t.Fatalf("tesths: client for %s: %v", resp.UserID, err)
	}
	client.DeviceID = resp.DeviceID
	return client
}

// registrationMAC is the shared-secret registration MAC: hex HMAC-SHA1,
// keyed by the shared secret, over nonce, user, password and "admin" or
// "notadmin", joined by NUL bytes.
func registrationMAC(secret, nonce, user, password string, admin bool) string {
	role := "notadmin"
	if admin {
		role = "admin"
	}
	mac := hmac.New(sha1.New, []byte(secret))
	for i, part := range []string{nonce, user, password, role} {
		if i > 0 {
			mac.Write([]byte{0})
		}
		mac.Write([]byte(part))
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// call sends a JSON request to the homeserver and decodes a 2xx JSON answer
// into out; other statuses become errors quoting the start of the body.
func (s *Server) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("%s %s: reading response: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %.200s", method, path, resp.Status, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decoding response: %w", method, path, err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// UserID is the Matrix user ID of localpart on this server.
func (s *Server) UserID(localpart string) id.UserID {
	return id.NewUserID(localpart, s.ServerName)
}
