package sipgw

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "bridge.example"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile, cert
}

// TestTLSListener sends a MESSAGE over TLS to the listener and reads the 202. (Debian's SIPp is
// built without TLS, so this peer is a plain TLS connection.)
func TestTLSListener(t *testing.T) {
	certFile, keyFile, cert := selfSigned(t, t.TempDir())
	acc := &recordingAcceptor{}
	tr := newTestTransport(t, Options{ListenTLS: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile}, testPeers, acc)
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	conn, err := tls.Dial("tcp", tr.Addr("tls").String(), &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := messageRequest(t, conn.LocalAddr().String(), "message/cpim", cpimFromA)
	req.Via().Transport = "TLS"
	if _, err := conn.Write([]byte(req.String())); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if status != "SIP/2.0 202 Accepted\r\n" {
		t.Errorf("status line %q, want 202 Accepted", status)
	}
	if in := acc.accepted(); len(in) != 1 || in[0].Gateway != gwA {
		t.Errorf("acceptor got %v, want one message from gw-a", in)
	}
}
