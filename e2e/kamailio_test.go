package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/internal/dbtest"
	"github.com/matrix-cpim/matrix-cpim/internal/tesths"
)

// kamailioModules is where Debian's kamailio package keeps its modules.
const kamailioModules = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"

// TestKamailio puts Kamailio, the SIP proxy docs/sip.md §4 shows how to configure, between the
// bridge and the SIP users of example.org (a SIPp): bob's MESSAGE reaches the proxy over UDP and
// the bridge over TCP, and alice's answer goes from the bridge to the proxy, which routes it to bob
// by the To domain. The proxy's configuration is the one of the docs (testdata/kamailio.cfg).
// Kamailio is Debian's package kamailio; without it the test fails rather than skips.
func TestKamailio(t *testing.T) {
	for _, bin := range []string{"kamailio", "sipp"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed (Debian packages kamailio and sip-tester): %v", bin, err)
		}
	}
	hs := tesths.New(t)
	bridgeTCP, proxyPort, userPort := freePort(t), freeUDPAndTCPPort(t), freeUDPPort(t)
	b := setupBridge(t, hs, dbtest.SQLite(t), map[string]any{
		"sip":               map[string]any{"listen_udp": "", "listen_tcp": fmt.Sprintf("127.0.0.1:%d", bridgeTCP)},
		"gateways":          []any{exampleOrgSIP("kamailio", fmt.Sprintf("sip:127.0.0.1:%d;transport=tcp", proxyPort))},
		"delivery_deadline": "30s",
	})
	hs.Start(t, b.reg)
	b.start(t)
	startKamailio(t, map[string]any{
		"Port": proxyPort, "ModulePath": kamailioModules, "BridgeDomain": hs.ServerName,
		"BridgeTCP": bridgeTCP, "UserPort": userPort,
	})
	alice := hs.RegisterUser(t, "alice")
	bobGhost := id.NewUserID("cpim_bob=40example.org", hs.ServerName)

	// bob → proxy (UDP) → bridge (TCP): SIPp gets the bridge's 202 through the proxy.
	const hello = "Hello Alice, via Kamailio"
	uac := startSIPp(t, "uac_cpim.xml", "-t", "u1", "-p", strconv.Itoa(freeUDPPort(t)), "-m", "1",
		"-s", "alice", "-key", "domain", hs.ServerName, "-key", "text", hello, fmt.Sprintf("127.0.0.1:%d", proxyPort))
	uac.wait(t)
	if got := uac.received(t); len(got) != 1 || !strings.HasPrefix(got[0], "SIP/2.0 202 ") {
		t.Errorf("sipp received %q, want the bridge's 202", got)
	}
	room := waitInvite(t, alice, map[id.RoomID]bool{})
	waitMessage(t, alice, room, "bob's message through the proxy", func(e *event.Event, c *event.MessageEventContent) bool {
		return e.Sender == bobGhost && c.Body == hello
	})

	// alice → bridge → proxy (TCP) → bob (UDP), addressed to bob at his domain again.
	gw := startGatewaySIPp(t, userPort, "uas_200.xml", 1)
	sendText(t, alice, room, "Hello Bob, via Kamailio")
	gw.wait(t)
	reqs := gw.requests(t)
	if len(reqs) != 1 {
		t.Fatalf("bob received %d MESSAGEs, want 1", len(reqs))
	}
	if want := "MESSAGE sip:bob@example.org SIP/2.0"; reqs[0].line != want {
		t.Errorf("request line %q, want %q (the proxy gives the Request-URI the To domain back)", reqs[0].line, want)
	}
	if via := sipHeader(reqs[0].raw, "Via"); !strings.Contains(via, fmt.Sprintf("127.0.0.1:%d", proxyPort)) {
		t.Errorf("top Via %q is not the proxy's: the request did not go through it", via)
	}
	if m := reqs[0].cpim; m.From.URI != "im:alice@"+hs.ServerName || len(m.To) != 1 || m.To[0].URI != "im:bob@example.org" || reqs[0].text() != "Hello Bob, via Kamailio" {
		t.Errorf("CPIM From %v To %v text %q", m.From, m.To, reqs[0].text())
	}
}

// startKamailio runs Kamailio in the foreground with testdata/kamailio.cfg filled in from fields,
// waits until it listens on TCP, and stops it when the test ends.
func startKamailio(t *testing.T, fields map[string]any) {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join("testdata", "kamailio.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kamailio.cfg")
	var buf bytes.Buffer
	if err = tmpl.Execute(&buf, fields); err != nil {
		t.Fatal(err)
	}
	if err = os.WriteFile(cfg, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "kamailio", "-f", cfg, "-DD", "-E", "-Y", dir, "-P", filepath.Join(dir, "kamailio.pid"))
	cmd.Stdout, cmd.Stderr = &out, &out
	// Kamailio forks its workers, which keep the output pipe open: stop the whole process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err = cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start kamailio: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("kamailio output:\n%s", tail(out.Bytes(), 4000))
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%v", fields["Port"])
	deadline := time.Now().Add(waitTimeout)
	for {
		select {
		case <-exited:
			t.Fatalf("kamailio ended: %v\n%s", waitErr, tail(out.Bytes(), 4000))
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kamailio did not listen on %s:\n%s", addr, tail(out.Bytes(), 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeUDPAndTCPPort finds a port on 127.0.0.1 free for both UDP and TCP, as Kamailio listens on
// both: a free UDP port may be taken for TCP by another process.
func freeUDPAndTCPPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		port := freeUDPPort(t)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no port on 127.0.0.1 is free for both UDP and TCP")
	return 0
}
