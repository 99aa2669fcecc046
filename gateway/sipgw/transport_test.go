package sipgw

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/matrix-cpim/matrix-cpim/gateway"
)

func TestOptionsValidation(t *testing.T) {
	bad := []Options{
		{},
		{LocalDomain: "b.example", MaxUDPSize: 1301},
		{LocalDomain: "b.example", MaxUDPSize: -1},
		{LocalDomain: "b.example", ListenTLS: "127.0.0.1:0"},
		{LocalDomain: "b.example", CertFile: "cert.pem"},
	}
	for _, o := range bad {
		if _, err := New(o, nil, nil); err == nil {
			t.Errorf("New accepted %+v", o)
		}
	}
	badPeers := [][]Peer{
		{{}},
		{{Gateway: &gateway.Config{Name: "h", Transport: gateway.TransportHTTP}}},
		{{Gateway: &gateway.Config{Name: "s", Transport: gateway.TransportSIP}, DigestUsername: "u"}},
	}
	for _, p := range badPeers {
		if _, err := New(Options{LocalDomain: "b.example"}, p, nil); err == nil {
			t.Errorf("New accepted peers %+v", p)
		}
	}
}

func TestParseAllowFrom(t *testing.T) {
	got, err := ParseAllowFrom("allow_from", []string{"192.0.2.7", " 10.1.2.3/8 ", "2001:db8::1", "::ffff:192.0.2.9"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"192.0.2.7/32", "10.0.0.0/8", "2001:db8::1/128", "192.0.2.9/32"}
	for i := range want {
		if i >= len(got) || got[i].String() != want[i] {
			t.Fatalf("ParseAllowFrom = %v, want %v", got, want)
		}
	}
	if _, err := ParseAllowFrom("network.gateways[0].allow_from", []string{"proxy.example"}); err == nil || !strings.Contains(err.Error(), "allow_from") {
		t.Errorf("ParseAllowFrom of a host name: error %v, want one naming the key", err)
	}
}

func TestURILocks(t *testing.T) {
	var l uriLocks
	unlock, err := l.lock(context.Background(), "sip:bob@gw.example")
	if err != nil {
		t.Fatal(err)
	}
	// Another URI is independent.
	other, err := l.lock(context.Background(), "sip:carol@gw.example")
	if err != nil {
		t.Fatal(err)
	}
	other()
	// The same URI waits; with its context ended it gives up.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.lock(ctx, "sip:bob@gw.example"); err == nil {
		t.Fatal("second lock of a pending URI did not wait")
	}
	got := make(chan struct{})
	go func() {
		u, err := l.lock(context.Background(), "sip:bob@gw.example")
		if err == nil {
			u()
		}
		close(got)
	}()
	unlock()
	<-got
	if len(l.m) != 0 {
		t.Errorf("%d locks left after all were released", len(l.m))
	}
}

// TestOtherMethods sends OPTIONS and methods we do not serve to a listening transport over UDP.
func TestOtherMethods(t *testing.T) {
	tr := newTestTransport(t, Options{ListenUDP: "127.0.0.1:0"}, nil, &recordingAcceptor{})
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	cli, err := sipgo.NewClient(ua)
	if err != nil {
		t.Fatal(err)
	}
	addr := tr.Addr("udp").(*net.UDPAddr)
	tests := []struct {
		method     sip.RequestMethod
		wantStatus int
		wantAllow  bool
	}{
		{sip.OPTIONS, 200, true},
		{sip.SUBSCRIBE, 405, true},
		{sip.REGISTER, 405, true},
		{sip.RequestMethod("FROBNICATE"), 501, true},
		{sip.CANCEL, 481, false},
	}
	for _, tt := range tests {
		req := sip.NewRequest(tt.method, sip.Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1", Port: addr.Port})
		res, err := cli.Do(context.Background(), req)
		if err != nil {
			t.Fatalf("%s: %v", tt.method, err)
		}
		if res.StatusCode != tt.wantStatus {
			t.Errorf("%s: %d %s, want %d", tt.method, res.StatusCode, res.Reason, tt.wantStatus)
		}
		if allow := header(res, "Allow"); tt.wantAllow && allow != "MESSAGE, OPTIONS" {
			t.Errorf("%s: Allow %q", tt.method, allow)
		}
	}
}
