package sipgw

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/gateway"
)

// These tests talk to SIPp, a real SIP peer, over loopback. SIPp is Debian's package sip-tester;
// without it they fail rather than skip, so that CI cannot pass without running them.

// sippLimit bounds one SIPp run; SIPp itself gives up earlier (-timeout).
const sippLimit = time.Minute

type sipp struct {
	dir  string
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan error
}

// startSIPp runs SIPp with the scenario testdata/<scenario> and args, its traces in a temporary
// directory.
func startSIPp(t *testing.T, scenario string, args ...string) *sipp {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipp is not installed (Debian package sip-tester: apt-get install -y sip-tester): %v", err)
	}
	s := &sipp{dir: t.TempDir(), done: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), sippLimit)
	t.Cleanup(cancel)
	all := append([]string{
		"-sf", filepath.Join("testdata", scenario),
		"-i", "127.0.0.1",
		"-nostdin",
		"-timeout", "30", "-timeout_error",
		"-trace_msg", "-message_file", filepath.Join(s.dir, "messages.log"),
		"-trace_err", "-error_file", filepath.Join(s.dir, "errors.log"),
	}, args...)
	s.cmd = exec.CommandContext(ctx, bin, all...)
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start sipp: %v", err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
	})
	return s
}

// wait waits for SIPp to end and fails the test, showing SIPp's errors, if it did not succeed:
// SIPp exits 0 only if every call of the scenario went as written.
func (s *sipp) wait(t *testing.T) {
	t.Helper()
	err := <-s.done
	s.done <- err // for the cleanup
	if err != nil {
		errs, _ := os.ReadFile(filepath.Join(s.dir, "errors.log"))
		t.Fatalf("sipp %v\nerror log:\n%s\noutput tail:\n%s", err, errs, tail(s.out.String(), 1500))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// received returns the SIP messages SIPp logged as received, in order.
func (s *sipp) received(t *testing.T) []string {
	t.Helper()
	log, err := os.ReadFile(filepath.Join(s.dir, "messages.log"))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, block := range strings.Split(string(log), "-----------------------------------------------") {
		_, msg, ok := strings.Cut(block, "message received")
		if !ok {
			continue
		}
		_, msg, _ = strings.Cut(msg, "\n\n")
		msgs = append(msgs, msg)
	}
	return msgs
}

// bodyOf cuts the body out of a logged message by its Content-Length.
func bodyOf(t *testing.T, msg string) []byte {
	t.Helper()
	head, rest, ok := strings.Cut(msg, "\r\n\r\n")
	m := regexp.MustCompile(`(?im)^(?:Content-Length|l)\s*:\s*(\d+)`).FindStringSubmatch(head)
	if !ok || m == nil {
		t.Fatalf("logged message has no header end or Content-Length:\n%s", msg)
	}
	n, _ := strconv.Atoi(m[1])
	if n > len(rest) {
		t.Fatalf("logged body shorter than Content-Length %d:\n%s", n, msg)
	}
	return []byte(rest[:n])
}

func headerOf(msg, name string) string {
	m := regexp.MustCompile(`(?im)^` + name + `\s*:\s*(.*?)\r$`).FindStringSubmatch(msg)
	if m == nil {
		return ""
	}
	return m[1]
}

// freePort finds a port on 127.0.0.1 that is free for network ("udp" or "tcp") for SIPp to take.
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return pc.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// awaitListening waits until SIPp has bound port: until we can no longer bind it ourselves.
func (s *sipp) awaitListening(t *testing.T, network string, port int) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("sipp ended before listening: %v\n%s", err, tail(s.out.String(), 1500))
		default:
		}
		var err error
		if network == "udp" {
			var pc net.PacketConn
			if pc, err = net.ListenPacket("udp", addr); err == nil {
				pc.Close()
			}
		} else {
			var l net.Listener
			if l, err = net.Listen("tcp", addr); err == nil {
				l.Close()
			}
		}
		if err != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("sipp did not listen on %s %s", network, addr)
}

var sippGateway = &gateway.Config{Name: "sipp", Transport: gateway.TransportSIP, Domains: []string{"gw.example"}}

// listeningTransport is a bridge transport with UDP and TCP listeners on loopback, taking
// messages from SIPp's gateway at 127.0.0.1.
func listeningTransport(t *testing.T, peer Peer) (*Transport, *recordingAcceptor) {
	t.Helper()
	acc := &recordingAcceptor{}
	tr := newTestTransport(t, Options{ListenUDP: "127.0.0.1:0", ListenTCP: "127.0.0.1:0"}, []Peer{peer}, acc)
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	return tr, acc
}

func sippPeer() Peer {
	return Peer{Gateway: sippGateway, AllowFrom: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
}

func (tr *Transport) port(network string) string {
	switch a := tr.Addr(network).(type) {
	case *net.UDPAddr:
		return strconv.Itoa(a.Port)
	case *net.TCPAddr:
		return strconv.Itoa(a.Port)
	}
	return ""
}

// TestSIPpSendsToBridge: SIPp as a gateway's UAC sends MESSAGEs to the bridge's listener and gets
// 202; the Acceptor gets the CPIM message.
func TestSIPpSendsToBridge(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		sippTransport := map[string]string{"udp": "u1", "tcp": "t1"}[network]
		t.Run("cpim over "+network, func(t *testing.T) {
			tr, acc := listeningTransport(t, sippPeer())
			s := startSIPp(t, "uac_cpim.xml", "-t", sippTransport, "-p", strconv.Itoa(freePort(t, network)),
				"-m", "1", "-s", "bob", "127.0.0.1:"+tr.port(network))
			s.wait(t)
			in := acc.accepted()
			if len(in) != 1 {
				t.Fatalf("acceptor got %d messages, want 1", len(in))
			}
			m := in[0].Message
			if in[0].Gateway != sippGateway || m.From.URI != "im:alice@gw.example" || m.From.Name != "Alice" ||
				len(m.To) != 1 || m.To[0].URI != "im:bob@bridge.example" {
				t.Errorf("accepted from %s: From %+v To %+v", in[0].Gateway.Name, m.From, m.To)
			}
			if string(m.Content.Body) != "Hello from SIPp\r\n" || m.DateTime.IsZero() {
				t.Errorf("content %q, DateTime %v", m.Content.Body, m.DateTime)
			}
			if !strings.HasPrefix(in[0].Key, "imdn:sipp") {
				t.Errorf("key %q, want the imdn.Message-ID", in[0].Key)
			}
			if got := s.received(t); len(got) != 1 || !strings.HasPrefix(got[0], "SIP/2.0 202 Accepted") {
				t.Errorf("sipp received %q, want one 202 Accepted", got)
			}
		})
	}

	t.Run("text/plain", func(t *testing.T) {
		tr, acc := listeningTransport(t, sippPeer())
		s := startSIPp(t, "uac_text.xml", "-t", "u1", "-p", strconv.Itoa(freePort(t, "udp")), "-m", "1", "-s", "bob", "127.0.0.1:"+tr.port("udp"))
		s.wait(t)
		in := acc.accepted()
		if len(in) != 1 {
			t.Fatalf("acceptor got %d messages, want 1", len(in))
		}
		m := in[0].Message
		if m.From.URI != "im:carol@gw.example" || m.From.Name != "Carol Q. User" || m.To[0].URI != "im:bob@bridge.example" {
			t.Errorf("wrapped From %+v To %+v", m.From, m.To)
		}
		if string(m.Content.Body) != "Watson, come here.\r\n" {
			t.Errorf("wrapped body %q", m.Content.Body)
		}
		if !regexp.MustCompile(`^sip:1-\d+@127\.0\.0\.1 7$`).MatchString(in[0].Key) {
			t.Errorf("key %q, want sip: + SIPp's Call-ID + CSeq 7", in[0].Key)
		}
	})

	t.Run("digest", func(t *testing.T) {
		peer := sippPeer()
		peer.DigestUsername, peer.DigestPassword = "sipp-gw", "correct horse"
		tr, acc := listeningTransport(t, peer)
		s := startSIPp(t, "uac_cpim_auth.xml", "-t", "u1", "-p", strconv.Itoa(freePort(t, "udp")), "-m", "1", "-s", "bob",
			"-au", "sipp-gw", "-ap", "correct horse", "127.0.0.1:"+tr.port("udp"))
		s.wait(t)
		if in := acc.accepted(); len(in) != 1 || string(in[0].Message.Content.Body) != "authenticated hello\r\n" {
			t.Errorf("acceptor got %v, want the authenticated message", in)
		}
	})
}

// sippUAS starts SIPp as a gateway's UAS with scenario and returns a sender to it.
func sippUAS(t *testing.T, scenario, network string, calls int, uriParams string) (*sipp, gateway.Sender) {
	t.Helper()
	port := freePort(t, network)
	s := startSIPp(t, scenario, "-t", map[string]string{"udp": "u1", "tcp": "t1"}[network], "-p", strconv.Itoa(port), "-m", strconv.Itoa(calls))
	s.awaitListening(t, network, port)
	tr := newTestTransport(t, Options{}, nil, nil)
	gw := *sippGateway
	gw.SIPURI = fmt.Sprintf("sip:127.0.0.1:%d%s", port, uriParams)
	sender, err := tr.NewSender(&gw)
	if err != nil {
		t.Fatal(err)
	}
	return s, sender
}

func bridgeMessage(text string) *gateway.Outbound {
	m := cpim.NewText(cpim.Address{Name: "Alice (Matrix)", URI: "im:alice@bridge.example"}, cpim.Address{URI: "im:bob@gw.example"}, text)
	m.DateTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	return gateway.NewOutbound("txn-sipp", m)
}

// TestBridgeSendsToSIPp: the bridge's sender delivers to SIPp as a gateway's UAS, which checks the
// request in its scenario; the body SIPp received parses as conformant CPIM equal to what was sent.
func TestBridgeSendsToSIPp(t *testing.T) {
	tests := []struct {
		name, network string
		text          string
	}{
		{"udp", "udp", "Hello, SIPp! ✓"},
		// Too large for UDP (RFC 3428 §8): without ;transport in sip_uri it goes over TCP.
		{"large over tcp", "tcp", strings.Repeat("long line of text ", 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, sender := sippUAS(t, "uas_200.xml", tt.network, 1, "")
			out := bridgeMessage(tt.text)
			if err := sender.Send(context.Background(), out); err != nil {
				t.Fatalf("Send: %v", err)
			}
			s.wait(t)
			got := s.received(t)
			if len(got) != 1 {
				t.Fatalf("sipp received %d messages, want 1", len(got))
			}
			body := bodyOf(t, got[0])
			if !bytes.Equal(body, out.Body) {
				t.Errorf("body sipp received differs from the one sent:\n%q\n%q", body, out.Body)
			}
			p := cpim.Parser{}
			m, err := p.Parse(body)
			if err != nil {
				t.Fatalf("body sipp received is not conformant CPIM: %v\n%s", err, body)
			}
			if err := m.Validate(); err != nil {
				t.Errorf("received CPIM does not validate: %v", err)
			}
			if m.From.URI != "im:alice@bridge.example" || m.To[0].URI != "im:bob@gw.example" || string(m.Content.Body) != tt.text {
				t.Errorf("received CPIM From %+v To %+v body %q", m.From, m.To, m.Content.Body)
			}
			if via := headerOf(got[0], "Via"); !strings.HasPrefix(via, "SIP/2.0/"+strings.ToUpper(tt.network)) {
				t.Errorf("Via %q, want transport %s", via, strings.ToUpper(tt.network))
			}
		})
	}
}

// TestDeliverToSIPp runs gateway.Deliver against SIPp: a 503 with Retry-After is retried and the
// message arrives once, with the same body in both requests; a 403 ends delivery with its reason.
func TestDeliverToSIPp(t *testing.T) {
	policy := gateway.RetryPolicy{Initial: 50 * time.Millisecond, Max: time.Second, Deadline: 30 * time.Second}

	t.Run("503 then 200", func(t *testing.T) {
		s, sender := sippUAS(t, "uas_503_then_200.xml", "udp", 2, "")
		out := bridgeMessage("try again")
		if err := gateway.Deliver(context.Background(), sender, out, policy); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
		s.wait(t)
		got := s.received(t)
		if len(got) != 2 {
			t.Fatalf("sipp received %d requests, want 2", len(got))
		}
		if headerOf(got[0], "Call-ID") == headerOf(got[1], "Call-ID") {
			t.Error("the retry reused the Call-ID; each attempt is a new request")
		}
		if !bytes.Equal(bodyOf(t, got[0]), out.Body) || !bytes.Equal(bodyOf(t, got[1]), out.Body) {
			t.Error("the retry's body differs from the first attempt's")
		}
	})

	t.Run("403", func(t *testing.T) {
		s, sender := sippUAS(t, "uas_403.xml", "udp", 1, ";transport=udp")
		err := gateway.Deliver(context.Background(), sender, bridgeMessage("no"), policy)
		var se *gateway.SendError
		if !errors.As(err, &se) || se.Temporary || se.Status != 403 || se.Reason != "Recipient does not take messages from this bridge" {
			t.Fatalf("Deliver = %#v, want the permanent 403 with its reason phrase", err)
		}
		s.wait(t)
		if got := s.received(t); len(got) != 1 {
			t.Errorf("sipp received %d requests, want 1 (no retry after 403)", len(got))
		}
	})
}

// TestSRVRouteToSIPp routes a message for a domain no gateway is configured for: a DNS server on
// loopback names SIPp in an SRV record of the domain (RFC 3861), and the Router's sender addresses
// the request to the recipient at that domain and delivers it to SIPp, over the transport the
// record's owner name gives (UDP, the default, for the plain _im._sip name).
func TestSRVRouteToSIPp(t *testing.T) {
	for _, tc := range []struct{ name, owner, sippTransport string }{
		{"udp", "_im._sip.gw.example.", "u1"},
		{"tcp", "_im._sip._tcp.gw.example.", "t1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := freePort(t, tc.name)
			s := startSIPp(t, "uas_200.xml", "-t", tc.sippTransport, "-p", strconv.Itoa(port), "-m", "1")
			s.awaitListening(t, tc.name, port)
			zone := map[string]string{
				tc.owner:           fmt.Sprintf("%s 60 IN SRV 0 0 %d sipp.gw.example.", tc.owner, port),
				"sipp.gw.example.": "sipp.gw.example. 60 IN A 127.0.0.1",
			}
			dnsAddr := serveZone(t, zone)
			tr := newTestTransport(t, Options{}, nil, nil)
			router := gateway.NewRouter(&gateway.SRVRouting{
				Resolver:  &gateway.SRVResolver{Server: dnsAddr},
				NewSender: tr.NewSRVSender,
			})
			sender, name, err := router.Route(context.Background(), "gw.example")
			if err != nil {
				t.Fatal(err)
			}
			if name != "srv:sipp.gw.example" {
				t.Errorf("route name %q", name)
			}
			if err := sender.Send(context.Background(), bridgeMessage("found by SRV")); err != nil {
				t.Fatalf("Send: %v", err)
			}
			s.wait(t)
			got := s.received(t)
			if len(got) != 1 || !strings.HasPrefix(got[0], "MESSAGE sip:bob@gw.example SIP/2.0") {
				t.Errorf("sipp received %q, want a MESSAGE to sip:bob@gw.example", got)
			}
		})
	}
}

// serveZone answers DNS queries over UDP on loopback from zone (owner name → one master-file
// record) until the test ends, and returns its address.
func serveZone(t *testing.T, zone map[string]string) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		resp := new(dns.Msg).SetReply(req)
		q := req.Question[0]
		if rec, ok := zone[strings.ToLower(q.Name)]; ok {
			if rr, _ := dns.NewRR(rec); rr != nil && rr.Header().Rrtype == q.Qtype {
				resp.Answer = append(resp.Answer, rr)
			}
		} else {
			resp.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(resp)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}
