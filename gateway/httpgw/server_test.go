package httpgw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/gateway"
)

const localDomain = "bridge.example"

var testGateways = []gateway.Config{
	{Name: "alpha", Transport: gateway.TransportHTTP, URL: "http://alpha.invalid/", InboundToken: "in-alpha", Domains: []string{"alpha.example"}},
	{Name: "beta", Transport: gateway.TransportHTTP, URL: "http://beta.invalid/", InboundToken: "in-beta", Domains: []string{"beta.example", "beta2.example"}},
	// A SIP gateway's inbound_token means nothing to the HTTP binding.
	{Name: "sip", Transport: gateway.TransportSIP, SIPURI: "sip:gw@sip.example", InboundToken: "in-sip", Domains: []string{"sip.example"}},
}

// fakeAcceptor records every Accept and answers with the next error of errs (nil once they run out).
type fakeAcceptor struct {
	mu    sync.Mutex
	calls []*gateway.Inbound
	errs  []error
}

func (a *fakeAcceptor) Accept(ctx context.Context, in *gateway.Inbound) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, in)
	if len(a.errs) == 0 {
		return nil
	}
	err := a.errs[0]
	a.errs = a.errs[1:]
	return err
}

// Calls returns the recorded calls; with a loopback server they were made on other goroutines.
func (a *fakeAcceptor) Calls() []*gateway.Inbound {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

// reset forgets the calls and sets the next answers.
func (a *fakeAcceptor) reset(errs ...error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls, a.errs = nil, errs
}

// acceptFunc is an Acceptor that records nothing, for the fuzzer.
type acceptFunc func(ctx context.Context, in *gateway.Inbound) error

func (f acceptFunc) Accept(ctx context.Context, in *gateway.Inbound) error { return f(ctx, in) }

// cpimBody is a message from one address to another, with extra headers after To.
func cpimBody(from, to string, extra ...string) string {
	h := append([]string{"From: <" + from + ">", "To: <" + to + ">"}, extra...)
	return strings.Join(h, "\r\n") + "\r\n\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello"
}

var okBody = cpimBody("im:alice@alpha.example", "im:bob@bridge.example")

type request struct {
	auth, contentType, key string
	body                   string
}

func (r request) do(h http.Handler) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, Path, strings.NewReader(r.body))
	if r.auth != "" {
		req.Header.Set("Authorization", r.auth)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.key != "" {
		req.Header.Set("Idempotency-Key", r.key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// post is a well-formed request from gateway alpha with body b.
func post(b string) request {
	return request{auth: "Bearer in-alpha", contentType: ContentType, body: b}
}

// checkAnswer asserts the status and the JSON shape of an answer: {"status":"accepted"} for 202,
// {"errcode","error"} with errcode for every error; it returns the error text.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder, status int, errcode string) string {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var got map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("answer is not a JSON object of strings: %v: %s", err, rec.Body)
	}
	if status == http.StatusAccepted {
		if len(got) != 1 || got["status"] != "accepted" {
			t.Errorf("answer = %v, want {\"status\":\"accepted\"}", got)
		}
		return ""
	}
	if len(got) != 2 || got["errcode"] != errcode || got["error"] == "" {
		t.Errorf("answer = %v, want errcode %q and an error text", got, errcode)
	}
	return got["error"]
}

func TestHandlerAnswers(t *testing.T) {
	tests := []struct {
		name    string
		req     request
		accErrs []error
		status  int
		errcode string
		accepts int // Accept calls expected
	}{
		{name: "accepted", req: post(okBody), status: 202, accepts: 1},
		{name: "lower-case bearer", req: request{auth: "bearer in-alpha", contentType: ContentType, body: okBody}, status: 202, accepts: 1},
		{name: "no Authorization", req: request{contentType: ContentType, body: okBody}, status: 401, errcode: gateway.CodeUnauthorized},
		{name: "unknown token", req: request{auth: "Bearer in-gamma", contentType: ContentType, body: okBody}, status: 401, errcode: gateway.CodeUnauthorized},
		{name: "token prefix", req: request{auth: "Bearer in-alph", contentType: ContentType, body: okBody}, status: 401, errcode: gateway.CodeUnauthorized},
		{name: "empty token", req: request{auth: "Bearer ", contentType: ContentType, body: okBody}, status: 401, errcode: gateway.CodeUnauthorized},
		{name: "Basic scheme", req: request{auth: "Basic in-alpha", contentType: ContentType, body: okBody}, status: 401, errcode: gateway.CodeUnauthorized},
		{name: "SIP gateway's token", req: request{auth: "Bearer in-sip", contentType: ContentType, body: cpimBody("im:a@sip.example", "im:b@bridge.example")}, status: 401, errcode: gateway.CodeUnauthorized},
		{name: "Content-Type with parameters and case", req: request{auth: "Bearer in-alpha", contentType: "Message/CPIM; charset=UTF-8", body: okBody}, status: 202, accepts: 1},
		{name: "Content-Type text/plain", req: request{auth: "Bearer in-alpha", contentType: "text/plain", body: okBody}, status: 415, errcode: gateway.CodeBadContentType},
		{name: "no Content-Type", req: request{auth: "Bearer in-alpha", body: okBody}, status: 415, errcode: gateway.CodeBadContentType},
		{name: "unparsable Content-Type", req: request{auth: "Bearer in-alpha", contentType: "message/cpim; ;", body: okBody}, status: 415, errcode: gateway.CodeBadContentType},
		{name: "LF line ends", req: post(strings.ReplaceAll(okBody, "\r\n", "\n")), status: 202, accepts: 1},
		{name: "outer MIME header included", req: post("Content-Type: Message/CPIM\r\n\r\n" + okBody), status: 202, accepts: 1},
		{name: "malformed", req: post("this line has no colon\r\n\r\nContent-Type: text/plain\r\n\r\nx"), status: 400, errcode: gateway.CodeMalformed},
		{name: "spoofed From domain", req: post(cpimBody("im:mallory@beta.example", "im:bob@bridge.example")), status: 403, errcode: gateway.CodeForbiddenFrom},
		{name: "From without domain", req: post(cpimBody("im:alice", "im:bob@bridge.example")), status: 400, errcode: gateway.CodeMalformed},
		{name: "foreign To domain", req: post(cpimBody("im:alice@alpha.example", "im:carol@elsewhere.example")), status: 404, errcode: gateway.CodeNotLocal},
		{name: "second To foreign", req: post(cpimBody("im:alice@alpha.example", "im:bob@bridge.example", "To: <im:carol@elsewhere.example>")), status: 404, errcode: gateway.CodeNotLocal},
		{
			name: "Acceptor refuses", req: post(okBody), accepts: 1,
			accErrs: []error{gateway.Refuse(404, gateway.CodeUnknownUser, "no user bob")},
			status:  404, errcode: gateway.CodeUnknownUser,
		},
		{
			name: "Acceptor refusal wrapped", req: post(okBody), accepts: 1,
			accErrs: []error{errors.Join(errors.New("context"), gateway.Refuse(400, gateway.CodeUnsupported, "Require: x.Y"))},
			status:  400, errcode: gateway.CodeUnsupported,
		},
		{
			name: "Acceptor fails", req: post(okBody), accepts: 1,
			accErrs: []error{errors.New("database is locked")},
			status:  503, errcode: gateway.CodeInternal,
		},
		{
			name: "Acceptor refusal with a success status", req: post(okBody), accepts: 1,
			accErrs: []error{gateway.Refuse(200, "X", "odd")},
			status:  503, errcode: gateway.CodeInternal,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acc := &fakeAcceptor{errs: tt.accErrs}
			rec := tt.req.do(NewHandler(testGateways, localDomain, acc, Options{}))
			text := checkAnswer(t, rec, tt.status, tt.errcode)
			if len(acc.Calls()) != tt.accepts {
				t.Errorf("Accept called %d times, want %d", len(acc.Calls()), tt.accepts)
			}
			if tt.status == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
			if tt.status == 503 && strings.Contains(text, "database") {
				t.Errorf("503 text %q leaks the internal error", text)
			}
		})
	}
}

func TestHandlerMalformedSaysWhere(t *testing.T) {
	rec := post("From: <im:alice@alpha.example>\r\nthis line has no colon\r\n\r\nContent-Type: text/plain\r\n\r\nx").
		do(NewHandler(testGateways, localDomain, &fakeAcceptor{}, Options{}))
	text := checkAnswer(t, rec, 400, gateway.CodeMalformed)
	if !regexp.MustCompile(`^line \d+: `).MatchString(text) {
		t.Errorf("error = %q, want it to start with the line number", text)
	}
}

func TestHandlerRetryAfter(t *testing.T) {
	acc := &fakeAcceptor{errs: []error{&gateway.Refusal{Status: 429, Code: gateway.CodeRateLimited, Reason: "slow down", Retry: 1500 * time.Millisecond}}}
	rec := post(okBody).do(NewHandler(testGateways, localDomain, acc, Options{}))
	checkAnswer(t, rec, 429, gateway.CodeRateLimited)
	if got := rec.Header().Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2 (1.5s rounded up)", got)
	}
}

func TestHandlerIdentifiesGateway(t *testing.T) {
	acc := &fakeAcceptor{}
	h := NewHandler(testGateways, localDomain, acc, Options{})
	checkAnswer(t, post(okBody).do(h), 202, "")
	beta := request{auth: "Bearer in-beta", contentType: ContentType, body: cpimBody("im:bea@beta2.example", "im:bob@bridge.example")}
	checkAnswer(t, beta.do(h), 202, "")
	// Beta's token does not make alpha's domain beta's.
	beta.body = okBody
	checkAnswer(t, beta.do(h), 403, gateway.CodeForbiddenFrom)
	if len(acc.Calls()) != 2 || acc.Calls()[0].Gateway.Name != "alpha" || acc.Calls()[1].Gateway.Name != "beta" {
		t.Fatalf("Accept calls = %+v, want one from alpha then one from beta", acc.Calls())
	}
	if got := acc.Calls()[1].Message.From.URI; got != "im:bea@beta2.example" {
		t.Errorf("From = %q", got)
	}
}

func TestHandlerSharedTokenIdentifiesNobody(t *testing.T) {
	gws := append([]gateway.Config(nil), testGateways...)
	gws[1].InboundToken = gws[0].InboundToken
	acc := &fakeAcceptor{}
	checkAnswer(t, post(okBody).do(NewHandler(gws, localDomain, acc, Options{})), 401, gateway.CodeUnauthorized)
	if len(acc.Calls()) != 0 {
		t.Errorf("Accept called with a shared token")
	}
}

func TestHandlerTooLarge(t *testing.T) {
	big := cpimBody("im:alice@alpha.example", "im:bob@bridge.example") + strings.Repeat("x", 500)
	tests := []struct {
		name string
		opts Options
		// chunked hides the length, so that only the read limit can catch it.
		chunked bool
	}{
		{"declared length", Options{MaxBody: 200}, false},
		{"chunked", Options{MaxBody: 200}, true},
		{"parser limit", Options{Parser: &cpim.Parser{MaxLineLen: 20}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acc := &fakeAcceptor{}
			req := httptest.NewRequest(http.MethodPost, Path, strings.NewReader(big))
			req.Header.Set("Authorization", "Bearer in-alpha")
			req.Header.Set("Content-Type", ContentType)
			if tt.chunked {
				req.ContentLength = -1
			}
			rec := httptest.NewRecorder()
			NewHandler(testGateways, localDomain, acc, tt.opts).ServeHTTP(rec, req)
			checkAnswer(t, rec, 413, gateway.CodeTooLarge)
			if len(acc.Calls()) != 0 {
				t.Errorf("Accept called for an oversized body")
			}
		})
	}
	// The default limit lets the same message through.
	checkAnswer(t, post(big).do(NewHandler(testGateways, localDomain, &fakeAcceptor{}, Options{})), 202, "")
}

func TestHandlerIdempotencyKey(t *testing.T) {
	withID := cpimBody("im:alice@alpha.example", "im:bob@bridge.example", "NS: imdn <urn:ietf:params:imdn>", "imdn.Message-ID: 34jk324j")
	other := cpimBody("im:alice@alpha.example", "im:bob@bridge.example", "Subject: other")
	acc := &fakeAcceptor{}
	h := NewHandler(testGateways, localDomain, acc, Options{})
	for _, r := range []request{
		{auth: "Bearer in-alpha", contentType: ContentType, key: "tx-1", body: okBody},
		{auth: "Bearer in-alpha", contentType: ContentType, key: "tx-1", body: okBody}, // a retry
		{auth: "Bearer in-alpha", contentType: ContentType, key: "tx-1", body: withID}, // the header wins
		post(withID),
		post(okBody),
		post(okBody),
		post(other),
	} {
		checkAnswer(t, r.do(h), 202, "")
	}
	keys := make([]string, len(acc.Calls()))
	for i, c := range acc.Calls() {
		keys[i] = c.Key
	}
	if keys[0] != "tx-1" || keys[1] != "tx-1" || keys[2] != "tx-1" {
		t.Errorf("keys with Idempotency-Key = %q, want tx-1 each time", keys[:3])
	}
	if keys[3] != "imdn:34jk324j" {
		t.Errorf("key from imdn.Message-ID = %q", keys[3])
	}
	if !strings.HasPrefix(keys[4], "sha256:") || keys[4] != keys[5] || keys[4] == keys[6] {
		t.Errorf("body keys = %q, want equal for equal bodies and different otherwise", keys[4:])
	}
}

// TestRoundTrip sends through Client to the handler over loopback HTTP.
func TestRoundTrip(t *testing.T) {
	acc := &fakeAcceptor{}
	mux := http.NewServeMux()
	mux.Handle(Pattern, NewHandler(testGateways, localDomain, acc, Options{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	gw := &gateway.Config{Name: "bridge", Transport: gateway.TransportHTTP, URL: srv.URL + Path, Token: "in-alpha"}
	c := NewClient(gw, srv.Client())
	ctx := context.Background()
	m := cpim.NewText(cpim.Address{Name: "Alice", URI: "im:alice@alpha.example"}, cpim.Address{URI: "im:bob@bridge.example"}, "hello, Bob")
	out := gateway.NewOutbound("tx-42", m)

	if err := c.Send(ctx, out); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(acc.Calls()) != 1 {
		t.Fatalf("Accept called %d times, want 1", len(acc.Calls()))
	}
	in := acc.Calls()[0]
	if in.Key != "tx-42" || in.Gateway.Name != "alpha" || in.Message.From != m.From || string(in.Message.Content.Body) != "hello, Bob" {
		t.Errorf("accepted %+v from %q with key %q, want the sent message from alpha with key tx-42", in.Message, in.Gateway.Name, in.Key)
	}

	acc.reset(
		gateway.Refuse(404, gateway.CodeUnknownUser, "no Matrix user for im:bob@bridge.example"),
		&gateway.Refusal{Status: 429, Code: gateway.CodeRateLimited, Reason: "slow down", Retry: 3 * time.Second},
		errors.New("disk full"),
	)
	tests := []struct {
		want   gateway.SendError
		reason string // part of Reason
	}{
		{gateway.SendError{Status: 404}, "no Matrix user for im:bob@bridge.example"},
		{gateway.SendError{Status: 429, Temporary: true, RetryAfter: 3 * time.Second}, "slow down"},
		{gateway.SendError{Status: 503, Temporary: true}, "retry later"},
	}
	for _, tt := range tests {
		err := c.Send(ctx, out)
		se, ok := errors.AsType[*gateway.SendError](err)
		if !ok {
			t.Fatalf("Send = %v, want a *SendError", err)
		}
		if se.Status != tt.want.Status || se.Temporary != tt.want.Temporary || se.RetryAfter != tt.want.RetryAfter || !strings.Contains(se.Reason, tt.reason) {
			t.Errorf("Send = %+v, want %+v with reason containing %q", se, tt.want, tt.reason)
		}
	}

	// Deliver retries the same octets under the same key until the bridge takes them.
	acc.reset(errors.New("busy"), errors.New("busy"))
	if err := gateway.Deliver(ctx, c, out, gateway.RetryPolicy{Initial: time.Millisecond, Max: time.Millisecond, Deadline: time.Minute}); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if len(acc.Calls()) != 3 || acc.Calls()[0].Key != "tx-42" || acc.Calls()[2].Key != "tx-42" {
		t.Errorf("Deliver made %d Accept calls, want 3 with key tx-42", len(acc.Calls()))
	}

	bad := NewClient(&gateway.Config{Name: "bridge", URL: srv.URL + Path, Token: "wrong"}, srv.Client())
	if se, ok := errors.AsType[*gateway.SendError](bad.Send(ctx, out)); !ok || se.Status != 401 || se.Temporary {
		t.Errorf("Send with a wrong token = %v, want a permanent 401", se)
	}
}

func FuzzHandler(f *testing.F) {
	f.Add([]byte(okBody), "")
	f.Add([]byte(cpimBody("im:alice@alpha.example", "im:bob@bridge.example", "NS: imdn <urn:ietf:params:imdn>", "imdn.Message-ID: 1")), "k")
	f.Add([]byte(cpimBody("im:a@beta.example", "im:b@elsewhere.example")), "")
	f.Add([]byte("From: <im:alice@alpha.example>\nTo: <im:bob@bridge.example>\n\nContent-Type: text/plain\n\nLF only"), "")
	f.Add([]byte(""), "")
	f.Add([]byte("\r\n\r\n\r\n"), "\x00")
	seeds, _ := filepath.Glob("../../cpim/testdata/*")
	for _, name := range seeds {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b, "")
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		var bad string
		h := NewHandler(testGateways, localDomain, acceptFunc(func(ctx context.Context, in *gateway.Inbound) error {
			if in.Gateway.Name != "alpha" || in.Key == "" || len(in.Key) > gateway.MaxKeyLen || in.Message == nil {
				bad = fmt.Sprintf("accepted from %q with key %q", in.Gateway.Name, in.Key)
			}
			return nil
		}), Options{MaxBody: 64 << 10})
		r := post(string(body))
		r.key = key
		rec := r.do(h)
		var errcode string
		if rec.Code != http.StatusAccepted {
			if rec.Code < 400 || rec.Code > 599 {
				t.Fatalf("status %d", rec.Code)
			}
			errcode = map[int]string{
				400: gateway.CodeMalformed, 403: gateway.CodeForbiddenFrom, 404: gateway.CodeNotLocal, 413: gateway.CodeTooLarge,
			}[rec.Code]
		}
		checkAnswer(t, rec, rec.Code, errcode)
		if bad != "" {
			t.Fatal(bad)
		}
	})
}

// TestHandlerSlowBody: a gateway that sends its headers and then trickles the body is cut off after
// ReadTimeout instead of holding the connection open.
func TestHandlerSlowBody(t *testing.T) {
	acc := &fakeAcceptor{}
	srv := httptest.NewServer(NewHandler(testGateways, localDomain, acc, Options{ReadTimeout: 300 * time.Millisecond}))
	defer srv.Close()
	pr, pw := io.Pipe()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer pw.Close()
		for {
			if _, err := pw.Write([]byte("F")); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+Path, pr)
	req.Header.Set("Authorization", "Bearer in-alpha")
	req.Header.Set("Content-Type", ContentType)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("the server should answer, not drop the request: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status %d, want 408", resp.StatusCode)
	}
	if len(acc.Calls()) != 0 {
		t.Error("Accept called for a body that never finished")
	}
}
