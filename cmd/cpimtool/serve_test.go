package main

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/gateway"
)

// hangGuard bounds every wait of these tests, so that a bug fails them
// instead of hanging; nothing is asserted about how long things take.
const hangGuard = 30 * time.Second

// watchedBuffer is a goroutine-safe output that lets a test wait until
// something has been written.
type watchedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{}
}

func newWatchedBuffer() *watchedBuffer { return &watchedBuffer{written: make(chan struct{}, 1)} }

func (b *watchedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.written <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

func (b *watchedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the output matches re and returns the match.
func (b *watchedBuffer) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	guard := time.After(hangGuard)
	for {
		if m := re.FindStringSubmatch(b.String()); m != nil {
			return m
		}
		select {
		case <-b.written:
		case <-guard:
			t.Fatalf("output never matched %s:\n%s", re, b.String())
		}
	}
}

// serveRun is "cpimtool serve" running in-process on a free loopback port.
type serveRun struct {
	url    string // http://127.0.0.1:PORT
	stdout *watchedBuffer
	stderr *watchedBuffer
	done   chan struct{} // closed when serve has returned exit
	exit   int
}

var listening = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)/`)

func startServe(t *testing.T, args ...string) *serveRun {
	t.Helper()
	s := &serveRun{stdout: newWatchedBuffer(), stderr: newWatchedBuffer(), done: make(chan struct{})}
	args = append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)
	go func() {
		defer close(s.done)
		s.exit = run(args, strings.NewReader(""), s.stdout, s.stderr)
	}()
	// The banner comes after the signal handler is installed, so that
	// stop's signal cannot kill the test binary.
	s.url = s.stdout.waitFor(t, listening)[1]
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.stop(t)
		}
	})
	return s
}

// stop sends the process sig (SIGINT by default) and returns serve's
// exit status once it has shut down.
func (s *serveRun) stop(t *testing.T, sig ...syscall.Signal) int {
	t.Helper()
	signal := syscall.SIGINT
	if len(sig) > 0 {
		signal = sig[0]
	}
	if err := syscall.Kill(syscall.Getpid(), signal); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
		return s.exit
	case <-time.After(hangGuard):
		t.Fatalf("serve did not stop; output:\n%s", s.stdout.String())
		return -1
	}
}

// send runs "cpimtool send" against serve with the bridge's token "BT".
func (s *serveRun) send(t *testing.T, stdin string, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	return runTool(t, stdin, append([]string{"send", "--gateway", s.url + "/cpim/in", "--token", "BT"}, args...)...)
}

// fromBridge is a message as the bridge sends it to acme.
const fromBridge = "From: Bob <im:bob@bridge.example>\r\n" +
	"To: <im:alice@acme.example>\r\n" +
	"cc: <im:carol@acme.example>\r\n" +
	"DateTime: 2024-03-01T12:00:05Z\r\n" +
	"Subject:;lang=fr Déjeuner\r\n" +
	"NS: imdn <urn:ietf:params:imdn>\r\n" +
	"imdn.Message-ID: ZW5WQ3\r\n" +
	"\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Hi Alice\r\nNoon at Mario's? \x1b]0;pwned\x07"

func TestServeShowsMessages(t *testing.T) {
	s := startServe(t, "--token", "BT")
	if status, out, errOut := s.send(t, fromBridge); status != exitOK || out != "HTTP/1.1 200 OK\n{\"status\":\"accepted\"}\n" {
		t.Fatalf("send: status %d, stdout %q, stderr %q", status, out, errOut)
	}
	png := "From: <im:bob@bridge.example>\r\nTo: <im:alice@acme.example>\r\n\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n"
	if status, _, errOut := s.send(t, png); status != exitOK {
		t.Fatalf("send image: status %d, stderr %q", status, errOut)
	}
	if status := s.stop(t); status != exitOK {
		t.Errorf("serve exited with %d", status)
	}
	out := s.stdout.String()
	want := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d message #1, answered 200 OK\n` +
		`    From:    Bob <im:bob@bridge\.example>\n` +
		`    To:      <im:alice@acme\.example>\n` +
		`    Cc:      <im:carol@acme\.example>\n` +
		`    Subject: \(fr\) Déjeuner\n` +
		`    ID:      ZW5WQ3\n` +
		`    Type:    text/plain; charset=utf-8\n` +
		`    Text:    Hi Alice\n` +
		`             Noon at Mario's\? \\x1b\]0;pwned\\x07\n` +
		`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d message #2, answered 200 OK\n` +
		`    From:    <im:bob@bridge\.example>\n` +
		`    To:      <im:alice@acme\.example>\n` +
		`    Type:    image/png\n` +
		`    Body:    8 bytes\n` +
		`cpimtool serve: stopping\n`)
	if !want.MatchString(out) {
		t.Errorf("stdout does not show the messages as expected:\n%s", out)
	}
	if errOut := s.stderr.String(); errOut != "" {
		t.Errorf("stderr = %q", errOut)
	}
}

func TestServeRefuses(t *testing.T) {
	s := startServe(t, "--token", "BT")
	tests := []struct {
		name, method, token, contentType, body string
		wantStatus                             int
		wantCode                               string
	}{
		{"wrong token", "POST", "XX", "message/cpim", fromBridge, 401, "CPIM_UNAUTHORIZED"},
		{"no token", "POST", "", "message/cpim", fromBridge, 401, "CPIM_UNAUTHORIZED"},
		{"not CPIM", "POST", "BT", "text/plain", fromBridge, 415, "CPIM_UNSUPPORTED_MEDIA_TYPE"},
		{"malformed", "POST", "BT", "Message/CPIM; charset=utf-8", "From: <im:bob@bridge.example>\r\nTo: im:alice\r\n\r\n", 400, "CPIM_MALFORMED"},
		{"LF line ends", "POST", "BT", "message/cpim", strings.ReplaceAll(fromBridge, "\r\n", "\n"), 400, "CPIM_MALFORMED"},
		{"too large", "POST", "BT", "message/cpim", strings.Repeat("x", serveMaxBody+1), 413, "CPIM_TOO_LARGE"},
		{"GET", "GET", "BT", "", "", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, s.url+"/any/path", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tt.contentType)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(body), tt.wantCode) {
				t.Errorf("answer %d %s, want %d with %s", resp.StatusCode, body, tt.wantStatus, tt.wantCode)
			}
			if tt.wantStatus == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// serve is strict: what the bridge sends must be RFC 3862 to the letter.
	_, _, errOut := s.send(t, strings.ReplaceAll(fromBridge, "\r\n", "\n"), "--lenient")
	if !strings.HasPrefix(errOut, "cpimtool: 400 CPIM_MALFORMED: line 1: line terminated by LF without CR") {
		t.Errorf("send of LF line ends: stderr %q", errOut)
	}
	s.stop(t)
	out := s.stdout.String()
	if strings.Contains(out, "message #1") {
		t.Errorf("a refused request was shown as a message:\n%s", out)
	}
	if n := strings.Count(out, "refused a request from 127.0.0.1:"); n != 7 {
		t.Errorf("%d refusals told, want 7 (405 is not):\n%s", n, out)
	}
}

func TestServeStatus(t *testing.T) {
	tests := []struct {
		status         string
		wantExit       int
		wantErr        string
		wantAnswer     string
		wantRetryAfter string
	}{
		{"503", exitFail, "cpimtool: 503 CPIM_INTERNAL: cpimtool serve answers 503 as --status asks\n", "answered 503 Service Unavailable", "1"},
		{"403", exitFail, "cpimtool: 403 CPIM_FORBIDDEN_FROM: ", "answered 403 Forbidden", ""},
		{"429", exitFail, "cpimtool: 429 CPIM_RATE_LIMITED: ", "answered 429 Too Many Requests", "1"},
		{"202", exitOK, "", "answered 202 Accepted", ""},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			s := startServe(t, "--token", "BT", "--status", tt.status)
			status, out, errOut := s.send(t, fromBridge)
			if status != tt.wantExit || !strings.HasPrefix(errOut, tt.wantErr) || tt.wantErr == "" && errOut != "" {
				t.Errorf("send: status %d, stderr %q; want %d, %q", status, errOut, tt.wantExit, tt.wantErr)
			}
			if !strings.HasPrefix(out, "HTTP/1.1 "+tt.status+" ") {
				t.Errorf("send: stdout %q", out)
			}
			req, _ := http.NewRequest("POST", s.url, strings.NewReader(fromBridge))
			req.Header.Set("Authorization", "Bearer BT")
			req.Header.Set("Content-Type", "message/cpim")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Retry-After"); got != tt.wantRetryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.wantRetryAfter)
			}
			s.stop(t)
			if got := s.stdout.String(); !strings.Contains(got, "message #1, "+tt.wantAnswer+"\n    From:    Bob <im:bob@bridge.example>\n") {
				t.Errorf("stdout does not show the message %s:\n%s", tt.wantAnswer, got)
			}
		})
	}
}

// waitArrivals waits for n calls of the fake bridge's Acceptor.
func waitArrivals(t *testing.T, fb *fakeBridge, n int) {
	t.Helper()
	for range n {
		select {
		case <-fb.acc.arrived:
		case <-time.After(hangGuard):
			t.Fatal("the reply never reached the fake bridge")
		}
	}
}

func TestServeEcho(t *testing.T) {
	fb := newFakeBridge(t)
	s := startServe(t, "--token", "BT", "--reply-to", fb.endpoint(), "--reply-token", acmeInbound, "--echo")
	if status, _, errOut := s.send(t, fromBridge, "--key", "$event1"); status != exitOK {
		t.Fatalf("send: status %d, stderr %q", status, errOut)
	}
	waitArrivals(t, fb, 1)
	// The bridge retries a message whose answer it lost: shown and answered, not echoed again.
	if status, _, errOut := s.send(t, fromBridge, "--key", "$event1"); status != exitOK {
		t.Fatalf("send again: status %d, stderr %q", status, errOut)
	}
	if status := s.stop(t); status != exitOK {
		t.Errorf("serve exited with %d", status)
	}

	got := fb.acc.accepted()
	if len(got) != 1 {
		t.Fatalf("the bridge got %d replies, want 1", len(got))
	}
	in := got[0]
	m := in.Message
	if in.Gateway.Name != "acme" || m.From.URI != "im:alice@acme.example" || len(m.To) != 1 || m.To[0].URI != "im:bob@bridge.example" {
		t.Errorf("reply from %q (gateway %q) to %+v, want im:alice@acme.example (acme) to im:bob@bridge.example", m.From.URI, in.Gateway.Name, m.To)
	}
	if text := "echo: Hi Alice\nNoon at Mario's? \x1b]0;pwned\x07"; string(m.Content.Body) != text || m.Content.Type() != "text/plain" {
		t.Errorf("reply content %q %q, want text/plain %q", m.Content.Type(), m.Content.Body, text)
	}
	if m.DateTime.IsZero() {
		t.Error("reply without DateTime")
	}
	id := imdn.MessageID(m)
	req := fb.requests()[0]
	if id == "" || in.Key != id || req.header.Get("Idempotency-Key") != id || req.header.Get("Authorization") != "Bearer "+acmeInbound {
		t.Errorf("reply Message-ID %q, key %q, headers %v", id, in.Key, req.header)
	}
	out := s.stdout.String()
	for _, want := range []string{
		"cpimtool serve: replying to " + fb.endpoint() + "\n",
		" #1 reply delivered: im:alice@acme.example -> im:bob@bridge.example\n",
		" duplicate of message #1, answered 200 OK\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "message #2") {
		t.Errorf("the duplicate was shown as a new message:\n%s", out)
	}
}

func TestServeReplyOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		refusal  error
		failures int // Accept calls that fail temporarily first
		wantOut  []string
	}{
		{"delivered", nil, 0, []string{" #1 reply delivered: "}},
		{"refused", gateway.Refuse(http.StatusNotFound, gateway.CodeUnknownUser, "no user bob"), 0,
			[]string{" #1 reply failed: 404 no user bob\n"}},
		{"retried", nil, 1, []string{
			" #1 reply not taken yet: 503 the bridge could not take the message now; retry later\n",
			" #1 reply delivered: ",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := newFakeBridge(t)
			fb.acc.refusal = tt.refusal
			fb.acc.failures = tt.failures
			s := startServe(t, "--token", "BT", "--reply-to", fb.endpoint(), "--reply-token", acmeInbound, "--reply", "Got it")
			if status, _, errOut := s.send(t, fromBridge); status != exitOK {
				t.Fatalf("send: status %d, stderr %q", status, errOut)
			}
			waitArrivals(t, fb, tt.failures+1)
			s.stop(t)
			out := s.stdout.String()
			for _, want := range tt.wantOut {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if got := fb.acc.accepted(); tt.refusal == nil && (len(got) != 1 || string(got[0].Message.Content.Body) != "Got it") {
				t.Errorf("the bridge accepted %d replies, want one saying \"Got it\"", len(got))
			}
		})
	}
}

func TestServeNoReplyToFailures(t *testing.T) {
	fb := newFakeBridge(t)
	s := startServe(t, "--token", "BT", "--status", "503", "--reply-to", fb.endpoint(), "--reply-token", acmeInbound, "--echo")
	if status, _, _ := s.send(t, fromBridge); status != exitFail {
		t.Errorf("send: status %d, want %d", status, exitFail)
	}
	s.stop(t) // waits for replies in progress
	if n := len(fb.requests()); n != 0 {
		t.Errorf("a message answered 503 got %d replies", n)
	}
}

func TestServeStopsOnSIGTERM(t *testing.T) {
	s := startServe(t, "--token", "BT")
	if status := s.stop(t, syscall.SIGTERM); status != exitOK {
		t.Errorf("status %d", status)
	}
	if _, err := http.Post(s.url, "message/cpim", strings.NewReader(fromBridge)); err == nil {
		t.Error("still listening after SIGTERM")
	}
}

func TestServeUsage(t *testing.T) {
	reply := []string{"--token", "BT", "--reply-to", "http://127.0.0.1:29360/_cpim/v1/message", "--reply-token", "IT"}
	tests := []struct {
		name    string
		args    []string
		status  int
		wantErr string
	}{
		{"no token", nil, exitUsage, "--token is required"},
		{"argument", []string{"--token", "BT", "extra"}, exitUsage, `unexpected argument "extra"`},
		{"status 302", []string{"--token", "BT", "--status", "302"}, exitUsage, "--status 302: want 2xx"},
		{"status 418", []string{"--token", "BT", "--status", "418"}, exitUsage, "--status 418"},
		{"echo and reply", append(reply, "--echo", "--reply", "x"), exitUsage, "--echo and --reply exclude each other"},
		{"echo without reply-to", []string{"--token", "BT", "--echo"}, exitUsage, "need --reply-to"},
		{"reply-to without echo", reply, exitUsage, "--reply-to and --reply-token go with --echo or --reply"},
		{"no reply token", []string{"--token", "BT", "--reply-to", "http://127.0.0.1:29360/", "--echo"}, exitUsage, "--reply-token is required"},
		{"same tokens", []string{"--token", "T", "--reply-to", "http://127.0.0.1:29360/", "--reply-token", "T", "--echo"}, exitUsage, "must differ"},
		{"bad reply-to", []string{"--token", "BT", "--reply-to", "127.0.0.1:29360", "--reply-token", "IT", "--echo"}, exitUsage, "is not an http(s) URL"},
		{"bad listen", []string{"--token", "BT", "--listen", "127.0.0.1:99999"}, exitFail, "cpimtool: listen tcp: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, errOut := runTool(t, "", append([]string{"serve"}, tt.args...)...)
			if status != tt.status || out != "" || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("status %d, stdout %q, stderr %q; want %d, nothing, %q", status, out, errOut, tt.status, tt.wantErr)
			}
		})
	}
}

func TestTextOf(t *testing.T) {
	tests := []struct {
		contentType, cte, body string
		want                   string
		wantOK                 bool
	}{
		{"text/plain; charset=utf-8", "", "a\r\nb", "a\nb", true},
		{"text/plain", "", "plain", "plain", true},
		{"Text/HTML; charset=US-ASCII", "", "<b>x</b>", "<b>x</b>", true},
		{"message/imdn+xml", "", "<imdn/>", "<imdn/>", true},
		{"application/im-iscomposing+xml", "", "<isComposing/>", "<isComposing/>", true},
		{"text/plain; charset=iso-8859-1", "", "caf\xe9", "", false},
		{"text/plain", "", "\xff\xfe", "", false},
		{"text/plain", "base64", "aGk=", "", false},
		{"image/png", "", "png", "", false},
		{"", "", "untyped", "", false},
	}
	for _, tt := range tests {
		m := cpimContent(tt.contentType, tt.cte, tt.body)
		got, ok := textOf(m)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("textOf(%q, %q, %q) = %q, %v; want %q, %v", tt.contentType, tt.cte, tt.body, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestTerminalSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain\ttext\nnext", "plain\ttext\nnext"},
		{"\x1b[31mred", `\x1b[31mred`},
		{"bell\a del\x7f", `bell\x07 del\x7f`},
		{"csi\u009b", `csi\u009b`},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"café ✓", "café ✓"},
	}
	for _, tt := range tests {
		if got := terminalSafe(tt.in); got != tt.want {
			t.Errorf("terminalSafe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := oneLine(" a\r\n\tb \x1b "); got != `a\x0d b \x1b` {
		t.Errorf("oneLine = %q", got)
	}
}

func cpimContent(contentType, cte, body string) *cpim.Content {
	c := &cpim.Content{Body: []byte(body)}
	if contentType != "" {
		c.Set("Content-Type", contentType)
	}
	if cte != "" {
		c.Set("Content-Transfer-Encoding", cte)
	}
	return c
}
