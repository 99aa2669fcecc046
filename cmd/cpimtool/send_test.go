package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/gateway/httpgw"
)

// The fake bridge of these tests serves the im: domain bridge.example and
// knows one HTTP gateway, acme, for acme.example.
const (
	bridgeDomain = "bridge.example"
	acmeInbound  = "acme-to-bridge-secret"
)

// message.txt of docs/http-binding.md §2.
const docMessage = "From: Alice <im:alice@acme.example>\r\n" +
	"To: <im:bob@bridge.example>\r\n" +
	"DateTime: 2024-03-01T12:00:00Z\r\n" +
	"NS: imdn <urn:ietf:params:imdn>\r\n" +
	"imdn.Message-ID: Ax9Lq2vW\r\n" +
	"\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Hello, Bob!"

// recorder is the fake bridge's Acceptor: it keeps what it accepts, or
// refuses everything with refusal, after failing the first failures calls
// as a full disk would.
type recorder struct {
	mu       sync.Mutex
	got      []*gateway.Inbound
	refusal  error
	failures int
	arrived  chan struct{} // gets a value per Accept call
}

func newRecorder() *recorder { return &recorder{arrived: make(chan struct{}, 16)} }

func (r *recorder) Accept(_ context.Context, in *gateway.Inbound) error {
	r.mu.Lock()
	defer func() {
		r.mu.Unlock()
		r.arrived <- struct{}{}
	}()
	if r.failures > 0 {
		r.failures--
		return errors.New("disk full")
	}
	if r.refusal != nil {
		return r.refusal
	}
	r.got = append(r.got, in)
	return nil
}

func (r *recorder) accepted() []*gateway.Inbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*gateway.Inbound(nil), r.got...)
}

// request is what reached the fake bridge's HTTP endpoint.
type request struct {
	header http.Header
	body   []byte
}

// fakeBridge is the bridge's receiving end: httpgw.NewHandler, as the
// bridge mounts it, behind a recorder of the raw requests.
type fakeBridge struct {
	*httptest.Server
	acc *recorder

	mu   sync.Mutex
	reqs []request
}

func newFakeBridge(t *testing.T) *fakeBridge {
	t.Helper()
	gws := []gateway.Config{{
		Name: "acme", Transport: gateway.TransportHTTP, URL: "http://127.0.0.1:9/unused",
		Token: "bridge-to-acme-secret", InboundToken: acmeInbound, Domains: []string{"acme.example"},
	}}
	fb := &fakeBridge{acc: newRecorder()}
	mux := http.NewServeMux()
	mux.Handle(httpgw.Pattern, httpgw.NewHandler(gws, bridgeDomain, fb.acc, httpgw.Options{}))
	fb.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fb.mu.Lock()
		fb.reqs = append(fb.reqs, request{r.Header.Clone(), body})
		fb.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(fb.Close)
	return fb
}

func (fb *fakeBridge) requests() []request {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return append([]request(nil), fb.reqs...)
}

func (fb *fakeBridge) endpoint() string { return fb.URL + httpgw.Path }

func writeFile(t *testing.T, content string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "message.txt")
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestSendFileAsBindingSays(t *testing.T) {
	fb := newFakeBridge(t)
	file := writeFile(t, docMessage)
	for _, tt := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"file", "", []string{file}},
		{"dash", docMessage, []string{"-"}},
		{"no file", docMessage, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(fb.requests())
			args := append([]string{"send", "--gateway", fb.endpoint(), "--token", acmeInbound}, tt.args...)
			status, out, errOut := runTool(t, tt.stdin, args...)
			if status != exitOK || errOut != "" {
				t.Fatalf("status %d, stderr %q", status, errOut)
			}
			if out != "HTTP/1.1 202 Accepted\n{\"status\":\"accepted\"}\n" {
				t.Errorf("stdout = %q", out)
			}
			reqs := fb.requests()
			if len(reqs) != before+1 {
				t.Fatalf("%d requests, want 1", len(reqs)-before)
			}
			req := reqs[len(reqs)-1]
			for name, want := range map[string]string{
				"Content-Type":    "message/cpim",
				"Authorization":   "Bearer " + acmeInbound,
				"Idempotency-Key": "Ax9Lq2vW", // the imdn.Message-ID
			} {
				if got := req.header.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if string(req.body) != docMessage {
				t.Errorf("body = %q, want the file's octets", req.body)
			}
		})
	}
	// Dropping duplicates is the Acceptor's business; each send reached it with the same key.
	got := fb.acc.accepted()
	if len(got) != 3 {
		t.Fatalf("the bridge accepted %d messages, want 3", len(got))
	}
	for _, in := range got {
		if in.Key != "Ax9Lq2vW" || in.Gateway.Name != "acme" || in.Message.From.URI != "im:alice@acme.example" ||
			string(in.Message.Content.Body) != "Hello, Bob!" {
			t.Errorf("accepted key %q from %q: %+v", in.Key, in.Gateway.Name, in.Message)
		}
	}
}

func TestSendIdempotencyKey(t *testing.T) {
	fb := newFakeBridge(t)
	noID := "From: <im:alice@acme.example>\r\nTo: <im:bob@bridge.example>\r\n\r\nContent-Type: text/plain\r\n\r\nHi"
	send := func(stdin string, args ...string) string {
		t.Helper()
		args = append([]string{"send", "--gateway", fb.endpoint(), "--token", acmeInbound}, args...)
		if status, _, errOut := runTool(t, stdin, args...); status != exitOK {
			t.Fatalf("send %q: status %d, stderr %q", args, status, errOut)
		}
		reqs := fb.requests()
		return reqs[len(reqs)-1].header.Get("Idempotency-Key")
	}
	if got := send(docMessage, "--key", "acme-000042"); got != "acme-000042" {
		t.Errorf("--key acme-000042 sent %q", got)
	}
	if got := send(docMessage); got != "Ax9Lq2vW" {
		t.Errorf("with imdn.Message-ID Ax9Lq2vW sent %q", got)
	}
	first, second := send(noID), send(noID)
	if len(first) < 20 || first == second {
		t.Errorf("without Message-ID sent keys %q and %q, want fresh random ones", first, second)
	}
	built := []string{"--from", "im:alice@acme.example", "--to", "im:bob@bridge.example", "--text", "Hi"}
	if a, b := send("", built...), send("", built...); len(a) < 20 || a == b {
		t.Errorf("built messages sent keys %q and %q, want fresh random ones", a, b)
	}
}

func TestSendBuilt(t *testing.T) {
	fb := newFakeBridge(t)
	status, out, errOut := runTool(t, "", "send", "--gateway", fb.endpoint(), "--token", acmeInbound,
		"--from", "im:alice@acme.example", "--from-name", "Alice", "--to", "im:bob@bridge.example",
		"--subject", "Lunch", "--text", "Noon?")
	if status != exitOK || errOut != "" || !strings.HasPrefix(out, "HTTP/1.1 202 Accepted\n") {
		t.Fatalf("status %d, stdout %q, stderr %q", status, out, errOut)
	}
	got := fb.acc.accepted()
	if len(got) != 1 {
		t.Fatalf("accepted %d messages", len(got))
	}
	m := got[0].Message
	if m.From.Name != "Alice" || m.To[0].URI != "im:bob@bridge.example" || len(m.Subject) != 1 ||
		m.Subject[0].Value != "Lunch" || string(m.Content.Body) != "Noon?" || m.DateTime.IsZero() {
		t.Errorf("accepted %+v", m)
	}
}

func TestSendRefused(t *testing.T) {
	fb := newFakeBridge(t)
	fb.acc.refusal = gateway.Refuse(http.StatusNotFound, gateway.CodeUnknownUser, "no user bob")
	spoofed := strings.Replace(docMessage, "alice@acme.example", "eve@other.example", 1)
	notLocal := strings.Replace(docMessage, "bob@bridge.example", "bob@elsewhere.example", 1)
	tests := []struct {
		name, token, message, wantErr string
	}{
		{"spoofed From", acmeInbound, spoofed,
			`cpimtool: 403 CPIM_FORBIDDEN_FROM: gateway "acme" does not serve the From domain "other.example"`},
		{"wrong token", "bridge-to-acme-secret", docMessage, "cpimtool: 401 CPIM_UNAUTHORIZED: "},
		{"To not local", acmeInbound, notLocal, "cpimtool: 404 CPIM_NOT_LOCAL: "},
		{"refused by the Acceptor", acmeInbound, docMessage, "cpimtool: 404 CPIM_UNKNOWN_RECIPIENT: no user bob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, errOut := runTool(t, tt.message, "send", "--gateway", fb.endpoint(), "--token", tt.token)
			if status != exitFail || !strings.HasPrefix(errOut, tt.wantErr) {
				t.Errorf("status %d, stderr %q; want %d, %q", status, errOut, exitFail, tt.wantErr)
			}
			if !strings.HasPrefix(out, "HTTP/1.1 4") || !strings.Contains(out, `"errcode":`) {
				t.Errorf("stdout = %q, want the status and the JSON answer", out)
			}
		})
	}
	if got := fb.acc.accepted(); len(got) != 0 {
		t.Errorf("the bridge accepted %d messages", len(got))
	}
}

func TestSendNonJSONError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream \x1b[2Jdown", http.StatusBadGateway)
	}))
	defer srv.Close()
	status, out, errOut := runTool(t, docMessage, "send", "--gateway", srv.URL, "--token", "t")
	if status != exitFail || errOut != "cpimtool: 502 Bad Gateway\n" {
		t.Errorf("status %d, stderr %q", status, errOut)
	}
	if out != "HTTP/1.1 502 Bad Gateway\nupstream \\x1b[2Jdown\n" {
		t.Errorf("stdout = %q, want the body with its escape sequence defused", out)
	}
}

func TestSendMalformedNotSent(t *testing.T) {
	fb := newFakeBridge(t)
	lf := strings.ReplaceAll(docMessage, "\r\n", "\n")
	tests := []struct {
		name, message string
		args          []string
		wantErr       string
	}{
		{"bad DateTime", strings.Replace(docMessage, "2024-03-01T12:00:00Z", "yesterday", 1), nil,
			"cpimtool: line 3: DateTime is not an RFC 3339 date-time\n"},
		{"LF line ends", lf, nil, "cpimtool: line 1: "},
		{"outer MIME header", "Content-Type: message/cpim\r\n\r\n" + docMessage, nil,
			"drop the outer Content-Type line"},
		{"bad even leniently", "From <im:alice@acme.example>\r\n", []string{"--lenient"}, "cpimtool: line 1: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"send", "--gateway", fb.endpoint(), "--token", acmeInbound}, tt.args...)
			status, out, errOut := runTool(t, "", append(args, writeFile(t, tt.message))...)
			if status != exitFail || out != "" || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("status %d, stdout %q, stderr %q; want %d, nothing, %q", status, out, errOut, exitFail, tt.wantErr)
			}
		})
	}
	if n := len(fb.requests()); n != 0 {
		t.Errorf("%d malformed messages were sent", n)
	}

	// --lenient sends the LF message, octet for octet, and the bridge takes it.
	status, _, errOut := runTool(t, lf, "send", "--gateway", fb.endpoint(), "--token", acmeInbound, "--lenient")
	if status != exitOK {
		t.Fatalf("--lenient: status %d, stderr %q", status, errOut)
	}
	if reqs := fb.requests(); len(reqs) != 1 || string(reqs[0].body) != lf {
		t.Errorf("--lenient sent %d requests, want 1 with the LF octets", len(reqs))
	}
}

func TestSendUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	status, out, errOut := runTool(t, docMessage, "send", "--gateway", url, "--token", "t")
	if status != exitFail || out != "" || !strings.HasPrefix(errOut, "cpimtool: Post ") {
		t.Errorf("status %d, stdout %q, stderr %q", status, out, errOut)
	}
}

func TestSendUsage(t *testing.T) {
	target := []string{"--gateway", "http://127.0.0.1:9/", "--token", "t"}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no gateway", []string{"--token", "t"}, "--gateway is required"},
		{"no token", []string{"--gateway", "http://127.0.0.1:9/"}, "--token is required"},
		{"token with space", []string{"--gateway", "http://127.0.0.1:9/", "--token", "a b"}, "--token must be printable ASCII"},
		{"ftp URL", []string{"--gateway", "ftp://h/", "--token", "t"}, `--gateway "ftp://h/" is not an http(s) URL`},
		{"relative URL", []string{"--gateway", "127.0.0.1:29360", "--token", "t"}, "is not an http(s) URL"},
		{"bad key", append(target, "--key", "a\nb"), "--key must be printable ASCII"},
		{"two files", append(target, "a", "b"), "at most one FILE, got 2"},
		{"file and build", append(target, "--text", "hi", "a.txt"), `FILE "a.txt" and --from/--to/--text exclude each other`},
		{"lenient build", append(target, "--lenient", "--text", "hi"), "--lenient applies to a FILE"},
		{"build without from", append(target, "--to", "im:b@example.com", "--text", "hi"), "cpimtool send: --from is required"},
		{"bad flag", append(target, "--gw", "x"), "flag provided but not defined: -gw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, errOut := runTool(t, "", append([]string{"send"}, tt.args...)...)
			if status != exitUsage || out != "" || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("status %d, stdout %q, stderr %q; want %d, nothing, %q", status, out, errOut, exitUsage, tt.wantErr)
			}
		})
	}
}

func TestMessageFlagNames(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var mf messageFlags
	mf.register(fs)
	var defined []string
	fs.VisitAll(func(f *flag.Flag) { defined = append(defined, f.Name) })
	if !slices.Equal(slices.Sorted(slices.Values(defined)), slices.Sorted(slices.Values(messageFlagNames))) {
		t.Errorf("register defines %q, messageFlagNames lists %q", defined, messageFlagNames)
	}
}
