package sipgw

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/matrix-cpim/matrix-cpim/gateway"
)

// recordingAcceptor keeps what it accepts and answers with err.
type recordingAcceptor struct {
	mu  sync.Mutex
	in  []*gateway.Inbound
	err error
}

func (a *recordingAcceptor) Accept(_ context.Context, in *gateway.Inbound) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return a.err
	}
	a.in = append(a.in, in)
	return nil
}

func (a *recordingAcceptor) accepted() []*gateway.Inbound {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*gateway.Inbound(nil), a.in...)
}

var (
	gwA = &gateway.Config{Name: "gw-a", Transport: gateway.TransportSIP, SIPURI: "sip:gw-a.example", Domains: []string{"a.example"}}
	gwB = &gateway.Config{Name: "gw-b", Transport: gateway.TransportSIP, SIPURI: "sip:gw-b.example", Domains: []string{"b.example"}}
	// Both gateways sit behind the proxy at 192.0.2.1; gw-a also sends directly from 127.0.0.0/8.
	testPeers = []Peer{
		{Gateway: gwA, AllowFrom: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")}},
		{Gateway: gwB, AllowFrom: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}, DigestUsername: "gw-b", DigestPassword: "s3cret"},
	}
)

// sipRequest parses a MESSAGE written with \n line ends and a {len} placeholder for the body length,
// as if received from src.
func sipRequest(t testing.TB, src, raw string) *sip.Request {
	t.Helper()
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	if _, body, ok := strings.Cut(raw, "\r\n\r\n"); ok {
		raw = strings.Replace(raw, "{len}", fmt.Sprint(len(body)), 1)
	}
	msg, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatalf("test request does not parse: %v\n%s", err, raw)
	}
	req := msg.(*sip.Request)
	req.SetSource(src)
	req.SetTransport("UDP")
	return req
}

func messageRequest(t testing.TB, src, ctype, body string, extra ...string) *sip.Request {
	return sipRequest(t, src, messageText(ctype, body, extra...))
}

// messageText is a MESSAGE from alice@a.example to bob@bridge.example, with extra header lines.
func messageText(ctype, body string, extra ...string) string {
	return `MESSAGE sip:bob@bridge.example SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK776sgdkse
Max-Forwards: 70
From: "Alice Example" <sip:alice@a.example>;tag=49583
To: <sip:bob@bridge.example>
Call-ID: asd88asd77a@1.2.3.4
CSeq: 3 MESSAGE
` + strings.Join(append(extra, ""), "\n") + `Content-Type: ` + ctype + `
Content-Length: {len}

` + body
}

const cpimFromA = "From: Alice <im:alice@a.example>\nTo: <im:bob@bridge.example>\nDateTime: 2024-01-02T03:04:05Z\n\nContent-Type: text/plain\n\nhello"

func header(res *sip.Response, name string) string {
	if h := res.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

func TestAnswer(t *testing.T) {
	tests := []struct {
		name       string
		req        func(t *testing.T) *sip.Request
		accErr     error
		wantStatus int
		wantHeader map[string]string // header values the response must have ("*" for any)
		wantReason string            // substring of the reason phrase
	}{
		{"cpim accepted", func(t *testing.T) *sip.Request {
			return messageRequest(t, "127.0.0.1:5070", "message/cpim", cpimFromA)
		}, nil, 202, nil, "Accepted"},
		{"text/plain accepted", func(t *testing.T) *sip.Request {
			return messageRequest(t, "127.0.0.1:5070", "text/plain; charset=UTF-8", "Watson, come here.")
		}, nil, 202, nil, "Accepted"},
		{"source not allowed", func(t *testing.T) *sip.Request {
			return messageRequest(t, "198.51.100.9:5060", "message/cpim", cpimFromA)
		}, nil, 403, map[string]string{"Warning": `399 bridge.example "CPIM_UNAUTHORIZED"`}, "198.51.100.9 is not allowed"},
		{"unknown media type", func(t *testing.T) *sip.Request {
			return messageRequest(t, "127.0.0.1:5070", "application/json", "{}")
		}, nil, 415, map[string]string{"Accept": "message/cpim, text/plain"}, "application/json"},
		{"other charset", func(t *testing.T) *sip.Request {
			return messageRequest(t, "127.0.0.1:5070", "text/plain; charset=iso-8859-1", "caf\xe9")
		}, nil, 415, map[string]string{"Accept": "*"}, "iso-8859-1"},
		{"invalid UTF-8", func(t *testing.T) *sip.Request {
			return messageRequest(t, "127.0.0.1:5070", "text/plain", "caf\xe9")
		}, nil, 400, nil, "UTF-8"},
		{"empty body", func(t *testing.T) *sip.Request {
			return messageRequest(t, "127.0.0.1:5070", "text/plain", "")
		}, nil, 400, nil, "no body"},
		{"malformed cpim", func(t *testing.T) *sip.Request {
			return messageRequest(t, "127.0.0.1:5070", "message/cpim", "this is not CPIM\n\nat all")
		}, nil, 400, map[string]string{"Warning": `399 bridge.example "CPIM_MALFORMED"`}, ""},
		{"cpim too large", func(t *testing.T) *sip.Request {
			return messageRequest(t, "127.0.0.1:5070", "message/cpim", cpimFromA+strings.Repeat("x", 5000))
		}, nil, 413, nil, ""},
		{"From domain of another gateway", func(t *testing.T) *sip.Request {
			return messageRequest(t, "127.0.0.1:5070", "message/cpim", strings.Replace(cpimFromA, "a.example", "b.example", 1))
		}, nil, 403, map[string]string{"Warning": `399 bridge.example "CPIM_FORBIDDEN_FROM"`}, "does not serve"},
		{"To not local", func(t *testing.T) *sip.Request {
			return messageRequest(t, "127.0.0.1:5070", "message/cpim", strings.Replace(cpimFromA, "bob@bridge.example", "bob@elsewhere.example", 1))
		}, nil, 404, nil, "not relayed"},
		{"no hops left", func(t *testing.T) *sip.Request {
			return sipRequest(t, "127.0.0.1:5070", strings.Replace(messageText("text/plain", "x"), "Max-Forwards: 70", "Max-Forwards: 0", 1))
		}, nil, 483, nil, ""},
		{"SIP extension required", func(t *testing.T) *sip.Request {
			return messageRequest(t, "127.0.0.1:5070", "message/cpim", cpimFromA, "Require: 100rel")
		}, nil, 420, map[string]string{"Unsupported": "100rel"}, ""},
		{"rate limited", func(t *testing.T) *sip.Request {
			return messageRequest(t, "127.0.0.1:5070", "message/cpim", cpimFromA)
		}, &gateway.Refusal{Status: http.StatusTooManyRequests, Code: gateway.CodeRateLimited, Reason: "slow down", Retry: 1500 * time.Millisecond},
			503, map[string]string{"Retry-After": "2", "Warning": `399 bridge.example "CPIM_RATE_LIMITED"`}, "slow down"},
		{"unknown recipient", func(t *testing.T) *sip.Request {
			return messageRequest(t, "127.0.0.1:5070", "message/cpim", cpimFromA)
		}, gateway.Refuse(http.StatusNotFound, gateway.CodeUnknownUser, "no Matrix user bob\r\nEvil: header"),
			404, nil, "no Matrix user bob  Evil: header"},
		{"acceptor fails", func(t *testing.T) *sip.Request {
			return messageRequest(t, "127.0.0.1:5070", "message/cpim", cpimFromA)
		}, errors.New("database is locked"), 503, map[string]string{"Retry-After": "10", "Warning": `399 bridge.example "CPIM_INTERNAL"`}, "try again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acc := &recordingAcceptor{err: tt.accErr}
			tr := newTestTransport(t, Options{MaxMessageSize: 4096}, testPeers, acc)
			res := tr.answer(context.Background(), tt.req(t))
			if res.StatusCode != tt.wantStatus || !strings.Contains(res.Reason, tt.wantReason) {
				t.Errorf("answer = %d %q, want %d with reason containing %q", res.StatusCode, res.Reason, tt.wantStatus, tt.wantReason)
			}
			for name, want := range tt.wantHeader {
				if got := header(res, name); got == "" || (want != "*" && got != want) {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			if len(res.Body()) != 0 {
				t.Errorf("response has a body (RFC 3428 §7: 2xx MUST NOT; no need in others)")
			}
			if got := len(acc.accepted()); (res.StatusCode == 202) != (got == 1) {
				t.Errorf("status %d but the acceptor took %d messages", res.StatusCode, got)
			}
		})
	}
}

func TestAnswerHandsOverMessage(t *testing.T) {
	acc := &recordingAcceptor{}
	tr := newTestTransport(t, Options{}, testPeers, acc)

	res := tr.answer(context.Background(), messageRequest(t, "127.0.0.1:5070", "text/plain", "Watson, come here."))
	if res.StatusCode != 202 {
		t.Fatalf("text/plain: %d %s", res.StatusCode, res.Reason)
	}
	cpimBody := "From: <im:alice@a.example>\nTo: <im:bob@bridge.example>\nNS: imdn <urn:ietf:params:imdn>\nimdn.Message-ID: 34jk324j\n\nContent-Type: text/plain\n\nhi"
	res = tr.answer(context.Background(), messageRequest(t, "127.0.0.1:5070", "message/cpim", cpimBody))
	if res.StatusCode != 202 {
		t.Fatalf("message/cpim: %d %s", res.StatusCode, res.Reason)
	}
	in := acc.accepted()
	text, withID := in[0], in[1]
	if text.Gateway != gwA || text.Key != "sip:asd88asd77a@1.2.3.4 3" {
		t.Errorf("text/plain: gateway %s, key %q; want gw-a and the Call-ID and CSeq", text.Gateway.Name, text.Key)
	}
	m := text.Message
	if m.From.URI != "im:alice@a.example" || m.From.Name != "Alice Example" || len(m.To) != 1 || m.To[0].URI != "im:bob@bridge.example" {
		t.Errorf("wrapped From %+v To %+v; want the SIP From and To as im: addresses and the display name", m.From, m.To)
	}
	if string(m.Content.Body) != "Watson, come here." || !strings.HasPrefix(m.Content.Type(), "text/plain") {
		t.Errorf("wrapped content %q of type %q", m.Content.Body, m.Content.Type())
	}
	if withID.Key != "imdn:34jk324j" {
		t.Errorf("key of a message with imdn.Message-ID = %q, want imdn:34jk324j", withID.Key)
	}
}

// TestAnswerSharedProxy: two gateways behind one proxy address are told apart by the From domain,
// and the one with a digest secret must prove it.
func TestAnswerSharedProxy(t *testing.T) {
	acc := &recordingAcceptor{}
	tr := newTestTransport(t, Options{}, testPeers, acc)
	fromB := strings.Replace(cpimFromA, "a.example", "b.example", 1)

	res := tr.answer(context.Background(), messageRequest(t, "192.0.2.1:5060", "message/cpim", cpimFromA))
	if res.StatusCode != 202 || acc.accepted()[0].Gateway != gwA {
		t.Fatalf("From a.example via the proxy: %d %s, want 202 for gw-a", res.StatusCode, res.Reason)
	}

	res = tr.answer(context.Background(), messageRequest(t, "192.0.2.1:5060", "message/cpim", fromB))
	chal := header(res, "WWW-Authenticate")
	if res.StatusCode != 401 || !strings.HasPrefix(chal, "Digest ") {
		t.Fatalf("From b.example without credentials: %d %s %q, want a 401 digest challenge", res.StatusCode, res.Reason, chal)
	}
	authorize := func(password string) string {
		c, err := digest.ParseChallenge(chal)
		if err != nil {
			t.Fatal(err)
		}
		cred, err := digest.Digest(c, digest.Options{Method: "MESSAGE", URI: "sip:bob@bridge.example", Username: "gw-b", Password: password})
		if err != nil {
			t.Fatal(err)
		}
		return "Authorization: " + cred.String()
	}
	res = tr.answer(context.Background(), messageRequest(t, "192.0.2.1:5060", "message/cpim", fromB, authorize("wrong")))
	if res.StatusCode != 401 {
		t.Errorf("wrong password: %d %s, want 401", res.StatusCode, res.Reason)
	}
	res = tr.answer(context.Background(), messageRequest(t, "192.0.2.1:5060", "message/cpim", fromB, authorize("s3cret")))
	if res.StatusCode != 202 {
		t.Fatalf("right password: %d %s, want 202", res.StatusCode, res.Reason)
	}
	if in := acc.accepted(); len(in) != 2 || in[1].Gateway != gwB {
		t.Errorf("accepted %d messages, the last for %v; want the second for gw-b", len(in), in)
	}

	res = tr.answer(context.Background(), messageRequest(t, "192.0.2.1:5060", "message/cpim", strings.Replace(cpimFromA, "a.example", "c.example", 1)))
	if res.StatusCode != 403 {
		t.Errorf("From a domain neither gateway serves: %d %s, want 403", res.StatusCode, res.Reason)
	}
}

func TestSIPStatus(t *testing.T) {
	tests := []struct {
		status    int
		retry     time.Duration
		want      int
		wantRetry time.Duration
	}{
		{400, 0, 400, 0},
		{401, 0, 401, 0},
		{403, 0, 403, 0},
		{404, 0, 404, 0},
		{409, 0, 400, 0},
		{413, 0, 413, 0},
		{415, 0, 415, 0},
		{422, 0, 400, 0},
		{429, 30 * time.Second, 503, 30 * time.Second},
		{429, 0, 503, time.Second},
		{500, 0, 500, 0},
		{501, 0, 501, 0},
		{502, 0, 500, 0},
		{503, 0, 503, busyRetryAfter},
		{503, time.Minute, 503, time.Minute},
	}
	for _, tt := range tests {
		got, retry := sipStatus(&gateway.Refusal{Status: tt.status, Retry: tt.retry})
		if got != tt.want || retry != tt.wantRetry {
			t.Errorf("sipStatus(%d, retry %v) = %d, %v; want %d, %v", tt.status, tt.retry, got, retry, tt.want, tt.wantRetry)
		}
	}
}

func TestRefuseUnauthorized(t *testing.T) {
	tr := newTestTransport(t, Options{}, testPeers, &recordingAcceptor{})
	req := messageRequest(t, "192.0.2.1:5060", "text/plain", "x")
	ref := gateway.Refuse(http.StatusUnauthorized, gateway.CodeUnauthorized, "who are you")
	if res := tr.refuse(req, &tr.peers[1], ref); res.StatusCode != 401 || header(res, "WWW-Authenticate") == "" {
		t.Errorf("401 for a gateway with a digest secret: %d without challenge", res.StatusCode)
	}
	if res := tr.refuse(req, &tr.peers[0], ref); res.StatusCode != 403 {
		t.Errorf("401 for a gateway without secret: %d, want 403 (a challenge could not be answered)", res.StatusCode)
	}
}

func TestReasonPhrase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"  line\r\nbreak\x00", "line  break"},
		{"", "Fallback"},
		{"\r\n", "Fallback"},
		{strings.Repeat("é", 150), strings.Repeat("é", 100)},
	}
	for _, tt := range tests {
		if got := reasonPhrase(tt.in, "Fallback"); got != tt.want {
			t.Errorf("reasonPhrase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
