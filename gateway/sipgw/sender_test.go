package sipgw

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/gateway"
)

func response(t *testing.T, code int, reason string, headers ...string) *sip.Response {
	t.Helper()
	res := sip.NewResponse(code, reason)
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		res.AppendHeader(sip.NewHeader(name, value))
	}
	return res
}

func TestClassify(t *testing.T) {
	tests := []struct {
		res  *sip.Response
		want *gateway.SendError // nil means success
	}{
		{response(t, 200, "OK"), nil},
		{response(t, 202, "Accepted"), nil},
		{response(t, 408, "Request Timeout"), &gateway.SendError{Temporary: true, Status: 408, Reason: "Request Timeout"}},
		{response(t, 480, "Temporarily Unavailable", "Retry-After: 30"), &gateway.SendError{Temporary: true, Status: 480, Reason: "Temporarily Unavailable", RetryAfter: 30 * time.Second}},
		{response(t, 503, "Service Unavailable", "Retry-After: 120 (maintenance);duration=60"), &gateway.SendError{Temporary: true, Status: 503, Reason: "Service Unavailable", RetryAfter: 2 * time.Minute}},
		{response(t, 503, "Overloaded"), &gateway.SendError{Temporary: true, Status: 503, Reason: "Overloaded"}},
		{response(t, 302, "Moved Temporarily"), &gateway.SendError{Status: 302, Reason: "Moved Temporarily"}},
		{response(t, 403, "Recipient blocks you"), &gateway.SendError{Status: 403, Reason: "Recipient blocks you"}},
		{response(t, 404, "Not Found", "Retry-After: 5"), &gateway.SendError{Status: 404, Reason: "Not Found"}},
		{response(t, 486, "Busy Here"), &gateway.SendError{Status: 486, Reason: "Busy Here"}},
		{response(t, 500, "Server Internal Error"), &gateway.SendError{Status: 500, Reason: "Server Internal Error"}},
		{response(t, 603, "Decline"), &gateway.SendError{Status: 603, Reason: "Decline"}},
		{response(t, 606, ""), &gateway.SendError{Status: 606, Reason: "SIP status 606"}},
	}
	for _, tt := range tests {
		err := classify(tt.res)
		if tt.want == nil {
			if err != nil {
				t.Errorf("classify(%d) = %v, want success", tt.res.StatusCode, err)
			}
			continue
		}
		var se *gateway.SendError
		if !errors.As(err, &se) || *se != *tt.want {
			t.Errorf("classify(%d %s) = %#v, want %#v", tt.res.StatusCode, tt.res.Reason, err, tt.want)
		}
		if gateway.IsTemporary(err) != tt.want.Temporary {
			t.Errorf("classify(%d): IsTemporary = %v", tt.res.StatusCode, !tt.want.Temporary)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"18000", 5 * time.Hour},
		{" 7 ", 7 * time.Second},
		{"120 (I'm in a meeting)", 2 * time.Minute},
		{"3600;duration=600", time.Hour},
		{"99999999999999999999", 24 * time.Hour},
		{"soon", 0},
		{"", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func newTestTransport(t *testing.T, opts Options, peers []Peer, acc gateway.Acceptor) *Transport {
	t.Helper()
	if opts.LocalDomain == "" {
		opts.LocalDomain = "bridge.example"
	}
	if opts.Logger == nil {
		opts.Logger = testLogger()
	}
	tr, err := New(opts, peers, acc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// testLogger shows the transport's log with go test -v only. (The log cannot go to t.Log: sipgo's
// goroutines may still log after the test has ended.)
func testLogger() *slog.Logger {
	w := io.Discard
	if testing.Verbose() {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

func outbound(text string) *gateway.Outbound {
	m := cpim.NewText(cpim.Address{Name: `Alice "A" Example`, URI: "im:alice@bridge.example"}, cpim.Address{URI: "im:bob@gw.example"}, text)
	return gateway.NewOutbound("txn-1", m)
}

func TestRequest(t *testing.T) {
	tr := newTestTransport(t, Options{}, nil, nil)
	tests := []struct {
		sipURI, wantRURI string
	}{
		{"sip:gw.example:5070", "sip:bob@gw.example:5070"},
		{"sip:inbox@gw.example;transport=tcp", "sip:inbox@gw.example;transport=tcp"},
		{"sips:gw.example", "sips:bob@gw.example"},
	}
	out := outbound("hello")
	var callIDs []string
	for _, tt := range tests {
		s, err := tr.NewSender(&gateway.Config{Name: "gw", Transport: gateway.TransportSIP, SIPURI: tt.sipURI})
		if err != nil {
			t.Fatal(err)
		}
		req, err := s.(*sender).request(out)
		if err != nil {
			t.Fatal(err)
		}
		if req.Method != sip.MESSAGE || req.Recipient.String() != tt.wantRURI {
			t.Errorf("%s: request line %s %s, want MESSAGE %s", tt.sipURI, req.Method, req.Recipient.String(), tt.wantRURI)
		}
		if got := req.From().Address.String(); got != "sip:alice@bridge.example" {
			t.Errorf("%s: SIP From %s, want the CPIM From mapped to sip:alice@bridge.example", tt.sipURI, got)
		}
		if got := req.From().DisplayName; got != `Alice \"A\" Example` {
			t.Errorf("%s: From display name %q", tt.sipURI, got)
		}
		if _, ok := req.From().Params.Get("tag"); !ok {
			t.Errorf("%s: From has no tag (RFC 3261 §8.1.1.3)", tt.sipURI)
		}
		if got := req.To().Address.String(); got != "sip:bob@gw.example" {
			t.Errorf("%s: SIP To %s, want the CPIM To mapped to sip:bob@gw.example", tt.sipURI, got)
		}
		if got := req.ContentType().Value(); got != "message/cpim" {
			t.Errorf("%s: Content-Type %q", tt.sipURI, got)
		}
		if req.Contact() != nil {
			t.Errorf("%s: MESSAGE carries a Contact (RFC 3428 §4: MUST NOT)", tt.sipURI)
		}
		if !bytes.Equal(req.Body(), out.Body) {
			t.Errorf("%s: body differs from the serialized message", tt.sipURI)
		}
		callIDs = append(callIDs, req.CallID().Value())
	}
	if callIDs[0] == callIDs[1] || callIDs[1] == callIDs[2] {
		t.Errorf("Call-IDs repeat across requests: %q", callIDs)
	}
}

func TestRequestRefusesUnmappableAddresses(t *testing.T) {
	tr := newTestTransport(t, Options{}, nil, nil)
	s, err := tr.NewSender(&gateway.Config{Name: "gw", Transport: gateway.TransportSIP, SIPURI: "sip:gw.example"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*cpim.Message{
		cpim.NewText(cpim.Address{URI: "im:alice@bridge.example"}, cpim.Address{URI: "tel:+15551234"}, "x"),
		cpim.NewText(cpim.Address{URI: "im:bridge.example"}, cpim.Address{URI: "im:bob@gw.example"}, "x"),
		{From: cpim.Address{URI: "im:alice@bridge.example"}},
	} {
		_, err := s.(*sender).request(gateway.NewOutbound("t", m))
		if err == nil || gateway.IsTemporary(err) {
			t.Errorf("request(From %s, To %v) error = %v, want a permanent error", m.From.URI, m.To, err)
		}
	}
}

func TestNewSenderRejectsBadURI(t *testing.T) {
	tr := newTestTransport(t, Options{}, nil, nil)
	for _, u := range []string{"", "http://gw.example", "sip:", "im:bob@gw.example"} {
		if _, err := tr.NewSender(&gateway.Config{Name: "gw", SIPURI: u}); err == nil {
			t.Errorf("NewSender accepted sip_uri %q", u)
		}
	}
}

// TestLargeMessagesAvoidUDP checks RFC 3428 §8: a request over the UDP limit goes over TCP, unless
// the gateway's URI allows only UDP, in which case it is refused for good.
func TestLargeMessagesAvoidUDP(t *testing.T) {
	tr := newTestTransport(t, Options{MaxUDPSize: 1000}, nil, nil)
	small, large := outbound("short"), outbound(strings.Repeat("x", 1000))
	tests := []struct {
		sipURI  string
		out     *gateway.Outbound
		want    string // transport, or "" for a permanent error
		wantErr string
	}{
		{"sip:gw.example", small, "UDP", ""},
		{"sip:gw.example", large, "TCP", ""},
		{"sip:gw.example;transport=tcp", large, "TCP", ""},
		{"sips:gw.example", small, "TLS", ""},
		{"sips:gw.example", large, "TLS", ""},
		{"sip:gw.example;transport=udp", small, "UDP", ""},
		{"sip:gw.example;transport=udp", large, "", "too large for UDP"},
	}
	for _, tt := range tests {
		s, err := tr.NewSender(&gateway.Config{Name: "gw", SIPURI: tt.sipURI})
		if err != nil {
			t.Fatal(err)
		}
		req, err := s.(*sender).request(tt.out)
		if tt.want == "" {
			if err == nil || gateway.IsTemporary(err) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s, %d bytes: error %v, want a permanent %q", tt.sipURI, len(tt.out.Body), err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s, %d bytes: %v", tt.sipURI, len(tt.out.Body), err)
			continue
		}
		if req.Transport() != tt.want {
			t.Errorf("%s, %d bytes: transport %s, want %s", tt.sipURI, len(tt.out.Body), req.Transport(), tt.want)
		}
	}
}

// TestSRVSenderTransport checks that a next hop found under a transport-labelled SRV name is
// reached over that transport, and that one offering only UDP refuses a large message for good.
func TestSRVSenderTransport(t *testing.T) {
	tr := newTestTransport(t, Options{MaxUDPSize: 1000}, nil, nil)
	small, large := outbound("short"), outbound(strings.Repeat("x", 1000))
	addr := netip.MustParseAddrPort("127.0.0.9:5062")
	tests := []struct {
		transport string
		out       *gateway.Outbound
		want      string // transport, or "" for a permanent error
	}{
		{"", small, "UDP"},
		{"", large, "TCP"},
		{"tcp", small, "TCP"},
		{"udp", small, "UDP"},
		{"udp", large, ""},
	}
	for _, tt := range tests {
		s, err := tr.NewSRVSender(gateway.SRVTarget{Domain: "gw.example", Host: "h.gw.example", Addr: addr, Transport: tt.transport})
		if err != nil {
			t.Fatal(err)
		}
		req, err := s.(*sender).request(tt.out)
		if tt.want == "" {
			if err == nil || gateway.IsTemporary(err) || !strings.Contains(err.Error(), "offers only UDP") {
				t.Errorf("%q, %d bytes: error %v, want a permanent refusal", tt.transport, len(tt.out.Body), err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q, %d bytes: %v", tt.transport, len(tt.out.Body), err)
			continue
		}
		if req.Transport() != tt.want || req.Destination() != addr.String() {
			t.Errorf("%q, %d bytes: %s to %s, want %s to %s", tt.transport, len(tt.out.Body), req.Transport(), req.Destination(), tt.want, addr)
		}
	}
	if _, err := tr.NewSRVSender(gateway.SRVTarget{Domain: "gw.example", Host: "h", Addr: addr, Transport: "sctp"}); err == nil {
		t.Error("NewSRVSender accepted transport sctp")
	}
}
