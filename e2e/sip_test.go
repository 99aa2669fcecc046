package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/internal/dbtest"
	"github.com/matrix-cpim/matrix-cpim/internal/tesths"
)

// TestSIP runs the bridge against SIPp, a real SIP peer, over loopback: bob@example.org's gateway
// sends to the bridge's SIP listener (UDP and TCP), and receives from it as a UAS that answers 200,
// 503 then 200, and 403. SIPp is Debian's package sip-tester; without it the test fails rather than
// skips, so that a run cannot pass without talking SIP.
func TestSIP(t *testing.T) {
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Fatalf("sipp is not installed (Debian package sip-tester: apt-get install -y sip-tester): %v", err)
	}
	start := time.Now()
	hs := tesths.New(t)
	listenUDP, listenTCP, gwPort := freeUDPPort(t), freePort(t), freeUDPPort(t)
	b := setupBridge(t, hs, dbtest.SQLite(t), map[string]any{
		"sip": map[string]any{
			"listen_udp": fmt.Sprintf("127.0.0.1:%d", listenUDP),
			"listen_tcp": fmt.Sprintf("127.0.0.1:%d", listenTCP),
		},
		"gateways":          []any{exampleOrgSIP("sipp", fmt.Sprintf("sip:127.0.0.1:%d", gwPort))},
		"delivery_deadline": "20s",
	})
	hs.Start(t, b.reg)
	b.start(t)

	alice := hs.RegisterUser(t, "alice")
	aliceIM := "im:alice@" + hs.ServerName
	bobGhost := id.NewUserID("cpim_bob=40example.org", hs.ServerName)
	fromBob := func(text string) func(*event.Event, *event.MessageEventContent) bool {
		return func(e *event.Event, c *event.MessageEventContent) bool { return e.Sender == bobGhost && c.Body == text }
	}

	t.Logf("step 1 after %s", time.Since(start))
	// 1. bob's gateway sends CPIM over UDP: SIPp gets 202, alice a DM from bob's ghost with the text.
	// Then plain text over TCP, which the bridge wraps in CPIM, arrives in the same room.
	const viaUDP, viaTCP = "Grüße from SIP over UDP ✓", "plain text over TCP"
	uac := startSIPp(t, "uac_cpim.xml", "-t", "u1", "-p", strconv.Itoa(freeUDPPort(t)), "-m", "1",
		"-s", "alice", "-key", "domain", hs.ServerName, "-key", "text", viaUDP, fmt.Sprintf("127.0.0.1:%d", listenUDP))
	uac.wait(t)
	if got := uac.received(t); len(got) != 1 || !strings.HasPrefix(got[0], "SIP/2.0 202 ") {
		t.Errorf("sipp received %q, want one 202", got)
	}
	room := waitInvite(t, alice, map[id.RoomID]bool{})
	waitMessage(t, alice, room, "bob's CPIM message", fromBob(viaUDP))

	uac = startSIPp(t, "uac_text.xml", "-t", "t1", "-p", strconv.Itoa(freePort(t)), "-m", "1",
		"-s", "alice", "-key", "domain", hs.ServerName, "-key", "text", viaTCP, fmt.Sprintf("127.0.0.1:%d", listenTCP))
	uac.wait(t)
	if got := uac.received(t); len(got) != 1 || !strings.HasPrefix(got[0], "SIP/2.0 202 ") {
		t.Errorf("sipp received %q, want one 202", got)
	}
	waitMessage(t, alice, room, "bob's text/plain message", fromBob(viaTCP))
	if got := messagesFrom(t, alice, room, bobGhost); strings.Join(got, "|") != viaUDP+"|"+viaTCP {
		t.Errorf("bob's messages in the room = %q, want [%s %s]", got, viaUDP, viaTCP)
	}

	t.Logf("step 2 after %s", time.Since(start))
	// 2. alice answers: bob's gateway gets a MESSAGE for bob whose body is conformant CPIM.
	gw := startGatewaySIPp(t, gwPort, "uas_200.xml", 1)
	sendText(t, alice, room, "Hello Bob, from Matrix")
	gw.wait(t)
	reqs := gw.requests(t)
	if len(reqs) != 1 {
		t.Fatalf("the gateway received %d MESSAGEs, want 1", len(reqs))
	}
	if want := fmt.Sprintf("MESSAGE sip:bob@127.0.0.1:%d SIP/2.0", gwPort); reqs[0].line != want {
		t.Errorf("request line %q, want %q", reqs[0].line, want)
	}
	if from, to := sipHeader(reqs[0].raw, "From"), sipHeader(reqs[0].raw, "To"); !strings.Contains(from, "<sip:alice@"+hs.ServerName+">") || !strings.Contains(to, "<sip:bob@example.org>") {
		t.Errorf("SIP From %q To %q, want alice@%s -> bob@example.org", from, to, hs.ServerName)
	}
	m := reqs[0].cpim
	if m.From.URI != aliceIM || len(m.To) != 1 || m.To[0].URI != "im:bob@example.org" {
		t.Errorf("CPIM From %v To %v, want %s -> im:bob@example.org", m.From, m.To, aliceIM)
	}
	if m.Content.Type() != "text/plain" || string(m.Content.Body) != "Hello Bob, from Matrix" {
		t.Errorf("content %q %q, want text/plain Hello Bob, from Matrix", m.Content.Type(), m.Content.Body)
	}

	t.Logf("step 3 after %s", time.Since(start))
	// 3. the gateway is overloaded once (503, Retry-After: 1): the message is sent again and
	// accepted, two attempts and no failure notice.
	gw = startGatewaySIPp(t, gwPort, "uas_503_then_200.xml", 2)
	retried := sendText(t, alice, room, "retry me")
	gw.wait(t)
	reqs = gw.requests(t)
	if len(reqs) != 2 || reqs[0].text() != "retry me" || reqs[1].text() != "retry me" {
		t.Fatalf("the gateway received %d MESSAGEs %q, want the two attempts of %q", len(reqs), texts(reqs), "retry me")
	}
	if sipHeader(reqs[0].raw, "Call-ID") == sipHeader(reqs[1].raw, "Call-ID") || !bytes.Equal(reqs[0].body, reqs[1].body) {
		t.Errorf("the attempts should be new requests with the same body:\n%s\n%s", reqs[0].raw, reqs[1].raw)
	}
	if sent := gw.sent(t); len(sent) != 2 || !strings.HasPrefix(sent[0], "SIP/2.0 503 ") || !strings.HasPrefix(sent[1], "SIP/2.0 200 ") {
		t.Errorf("the gateway answered %q, want 503 then 200", sent)
	}

	t.Logf("step 3b after %s", time.Since(start))
	// The gateway refuses for good (403): alice sees the reason. Messages of a conversation go out in
	// order, so this is also the first request after "retry me" was delivered: no third attempt.
	const reason = "Recipient does not take messages from this bridge" // in uas_403.xml
	gw = startGatewaySIPp(t, gwPort, "uas_403.xml", 1)
	refused := sendText(t, alice, room, "refuse me")
	gw.wait(t)
	if reqs = gw.requests(t); len(reqs) != 1 || reqs[0].text() != "refuse me" {
		t.Errorf("the gateway received %q, want only %q", texts(reqs), "refuse me")
	}
	waitMessage(t, alice, room, "failure notice", func(e *event.Event, c *event.MessageEventContent) bool {
		return c.MsgType == event.MsgNotice && strings.Contains(c.Body, reason) && c.RelatesTo.GetReplyTo() == refused
	})
	// The 403's notice came after whatever the bridge said about "retry me": had it failed, its
	// notice would be in the room by now.
	for _, evt := range roomEvents(t, alice, room) {
		if c, ok := evt.Content.Parsed.(*event.MessageEventContent); ok && c.MsgType == event.MsgNotice && c.RelatesTo.GetReplyTo() == retried {
			t.Errorf("failure notice for the retried message, which was delivered: %q", c.Body)
		}
	}
}

// exampleOrgSIP is a SIP gateway entry for example.org's users, reached at sipURI and sending
// from loopback.
func exampleOrgSIP(name, sipURI string) map[string]any {
	return map[string]any{
		"name": name, "transport": "sip", "domains": []any{"example.org"},
		"sip_uri": sipURI, "allow_from": []any{"127.0.0.1"},
	}
}

// sippLimit bounds one SIPp process; SIPp itself gives up earlier (-timeout).
const sippLimit = 3 * time.Minute

// sippProc is one SIPp run with its message trace.
type sippProc struct {
	dir  string
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{} // closed when the process has ended; err is set then
	err  error
}

// startSIPp runs SIPp on 127.0.0.1 with testdata/<scenario> and args; it is killed when the test
// ends.
func startSIPp(t *testing.T, scenario string, args ...string) *sippProc {
	t.Helper()
	sf, err := filepath.Abs(filepath.Join("testdata", scenario))
	if err != nil {
		t.Fatal(err)
	}
	s := &sippProc{dir: t.TempDir(), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), sippLimit)
	all := append([]string{
		"-sf", sf, "-i", "127.0.0.1", "-nostdin",
		"-timeout", "150", "-timeout_error",
		"-trace_msg", "-message_file", filepath.Join(s.dir, "messages.log"),
		"-trace_err", "-error_file", filepath.Join(s.dir, "errors.log"),
	}, args...)
	s.cmd = exec.CommandContext(ctx, "sipp", all...)
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err = s.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start sipp: %v", err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
		cancel()
	})
	return s
}

// startGatewaySIPp runs SIPp as bob's gateway: a UAS on UDP port for calls requests, and waits
// until it listens.
func startGatewaySIPp(t *testing.T, port int, scenario string, calls int) *sippProc {
	t.Helper()
	s := startSIPp(t, scenario, "-t", "u1", "-p", strconv.Itoa(port), "-m", strconv.Itoa(calls))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(waitTimeout)
	for {
		select {
		case <-s.done:
			t.Fatalf("sipp ended before listening: %v\n%s", s.err, tail(s.out.Bytes(), 1500))
		default:
		}
		// SIPp listens once the port can no longer be bound.
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return s
		}
		pc.Close()
		if time.Now().After(deadline) {
			t.Fatalf("sipp did not listen on udp %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wait waits for SIPp to end and fails the test, with SIPp's errors, unless it succeeded: SIPp
// exits 0 only if every call went as its scenario says.
func (s *sippProc) wait(t *testing.T) {
	t.Helper()
	<-s.done
	if s.err != nil {
		errs, _ := os.ReadFile(filepath.Join(s.dir, "errors.log"))
		t.Fatalf("sipp: %v\nerror log:\n%s\noutput tail:\n%s", s.err, errs, tail(s.out.Bytes(), 1500))
	}
}

// trace returns the SIP messages SIPp logged with the given direction ("received" or "sent"), in
// order.
func (s *sippProc) trace(t *testing.T, direction string) []string {
	t.Helper()
	log, err := os.ReadFile(filepath.Join(s.dir, "messages.log"))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, block := range strings.Split(string(log), "-----------------------------------------------") {
		_, msg, ok := strings.Cut(block, "message "+direction)
		if !ok {
			continue
		}
		_, msg, _ = strings.Cut(msg, "\n\n")
		msgs = append(msgs, msg)
	}
	return msgs
}

func (s *sippProc) received(t *testing.T) []string { return s.trace(t, "received") }
func (s *sippProc) sent(t *testing.T) []string     { return s.trace(t, "sent") }

// sipRequest is a MESSAGE the gateway received, its body parsed as strict CPIM.
type sipRequest struct {
	line string // the request line
	raw  string
	body []byte
	cpim *cpim.Message
}

func (r sipRequest) text() string { return string(r.cpim.Content.Body) }

func texts(reqs []sipRequest) []string {
	var s []string
	for _, r := range reqs {
		s = append(s, r.text())
	}
	return s
}

var contentLength = regexp.MustCompile(`(?im)^(?:Content-Length|l)[ \t]*:[ \t]*(\d+)\r$`)

// requests returns the MESSAGE requests SIPp received; a body that is not conformant CPIM fails the
// test, since what the bridge sends must be.
func (s *sippProc) requests(t *testing.T) []sipRequest {
	t.Helper()
	var reqs []sipRequest
	for _, raw := range s.received(t) {
		if !strings.HasPrefix(raw, "MESSAGE ") {
			continue
		}
		head, rest, ok := strings.Cut(raw, "\r\n\r\n")
		n := contentLength.FindStringSubmatch(head + "\r\n")
		if !ok || n == nil {
			t.Fatalf("logged request has no header end or Content-Length:\n%s", raw)
		}
		size, _ := strconv.Atoi(n[1])
		if size > len(rest) {
			t.Fatalf("logged body shorter than Content-Length %d:\n%s", size, raw)
		}
		body := []byte(rest[:size])
		m, err := cpim.Parse(body)
		if err != nil {
			t.Fatalf("the bridge sent non-conformant CPIM: %v\n%s", err, body)
		}
		line, _, _ := strings.Cut(head, "\r\n")
		reqs = append(reqs, sipRequest{line: line, raw: raw, body: body, cpim: m})
	}
	return reqs
}

// sipHeader returns the first value of a header of a logged SIP message.
func sipHeader(msg, name string) string {
	m := regexp.MustCompile(`(?im)^` + regexp.QuoteMeta(name) + `[ \t]*:[ \t]*(.*?)\r$`).FindStringSubmatch(msg)
	if m == nil {
		return ""
	}
	return m[1]
}

// freeUDPPort finds a UDP port on 127.0.0.1 that is free for the bridge or SIPp to take.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}
