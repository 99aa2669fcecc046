// Command quickstart runs matrix-cpim on this machine with everything it needs: a Synapse
// homeserver on loopback (the one the tests use), a user, and cpimtool serve as a demo gateway that
// echoes what it receives. It shows one message crossing both ways, then keeps running until
// Ctrl-C so you can talk to the bridge yourself. scripts/quickstart.sh builds and starts it.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/internal/devbridge"
	"github.com/matrix-cpim/matrix-cpim/internal/tesths"
)

func main() {
	dir := flag.String("dir", ".quickstart", "where the bridge's config, registration, database and logs go")
	bin := flag.String("bin", ".", "folder with the matrix-cpim and cpimtool binaries (./build.sh makes them)")
	password := flag.String("password", "", "password for the Matrix user alice (default: random, printed)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := devbridge.RunSession(ctx, *dir, "", func(s *devbridge.Session) error { return run(s, *dir, *bin, *password) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// run starts everything under dir. s stands in for a *testing.T, so the homeserver starts exactly
// as in the tests (tesths.T).
func run(s *devbridge.Session, dir, binDir, password string) (err error) {
	binDir, err = filepath.Abs(binDir)
	if err != nil {
		return err
	}
	// Every run starts afresh: the homeserver of the previous one is gone with its users and rooms.
	old, _ := filepath.Glob(filepath.Join(dir, "tmp*"))
	for _, d := range append(old, filepath.Join(dir, "bridge")) {
		if err = os.RemoveAll(d); err != nil {
			return err
		}
	}
	if err = os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if password == "" {
		password = rand.Text()[:16]
	}
	tokenOut, tokenIn := "out-"+rand.Text(), "in-"+rand.Text()
	gwPort, err := devbridge.FreePort()
	if err != nil {
		return err
	}

	say("Starting a homeserver on loopback")
	hs := tesths.New(s)
	bridgeDir, _ := filepath.Abs(filepath.Join(dir, "bridge"))
	if err = os.MkdirAll(bridgeDir, 0o700); err != nil {
		return err
	}
	b, err := devbridge.Setup(filepath.Join(binDir, "matrix-cpim"), bridgeDir,
		devbridge.Homeserver{URL: hs.URL, ServerName: hs.ServerName, OldSpec: hs.Kind == tesths.Dendrite},
		"sqlite3-fk-wal", "file:"+filepath.Join(bridgeDir, "matrix-cpim.db")+"?_txlock=immediate",
		map[string]any{"gateways": []any{map[string]any{
			"name": "demo", "transport": "http", "url": fmt.Sprintf("http://127.0.0.1:%d/", gwPort),
			"token": tokenOut, "inbound_token": tokenIn, "domains": []any{"example.net"},
		}}})
	if err != nil {
		return err
	}
	hs.Start(s, b.Reg)
	say("Starting matrix-cpim (config: %s)", b.Config)
	if err = b.Start(s.Context()); err != nil {
		return err
	}
	s.Cleanup(b.Stop)

	inbound := b.URL + "/_cpim/v1/message"
	say("Starting the demo gateway: cpimtool serve, echoing every message for example.net")
	gw := exec.Command(filepath.Join(binDir, "cpimtool"), "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", gwPort),
		"--token", tokenOut, "--reply-to", inbound, "--reply-token", tokenIn, "--echo")
	gw.Stderr = os.Stderr
	out, err := gw.StdoutPipe()
	if err != nil {
		return err
	}
	if err = gw.Start(); err != nil {
		return err
	}
	s.Cleanup(func() { _ = gw.Process.Signal(os.Interrupt); _ = gw.Wait() })
	go prefixLines("  [gateway] ", out)

	alice := hs.RegisterUserWithPassword(s, "alice", password)
	bot := id.NewUserID("cpimbot", hs.ServerName)
	say("Demo: alice asks the bridge bot to start a chat with im:bob@example.net")
	wait, cancel := context.WithTimeout(s.Context(), time.Minute)
	defer cancel()
	mgmt, err := devbridge.OpenManagementRoom(wait, alice, bot)
	if err != nil {
		return err
	}
	if _, err = alice.SendText(wait, mgmt, "start-chat im:bob@example.net"); err != nil {
		return err
	}
	room, err := devbridge.WaitInvite(wait, alice, map[id.RoomID]bool{mgmt: true})
	if err != nil {
		return err
	}
	say("Demo: alice writes \"Hello Bob\" in the new room %s", room)
	if _, err = alice.SendText(wait, room, "Hello Bob"); err != nil {
		return err
	}
	if _, err = devbridge.WaitMessage(wait, alice, room, func(e *event.Event, c *event.MessageEventContent) bool {
		return c.Body == "echo: Hello Bob"
	}); err != nil {
		return fmt.Errorf("the echo did not come back: %w (logs: %s)", err, b.Log)
	}
	say("Demo: the gateway's echo is in alice's room, from the ghost of bob. Both ways work.")

	fmt.Printf(`
The bridge is running. Stop everything with Ctrl-C.

  Homeserver    %s  (server name %s)
  Matrix user   @alice:%s  password %s
  Bridge bot    %s  (send "help" in a DM with it)
  Bridge        %s  config %s, log %s
  Demo gateway  http://127.0.0.1:%d/  serves im: domain example.net and echoes

Log in with any Matrix client at the homeserver URL, or talk to the bridge as a gateway would:

  %s send --gateway %s --token %s \
      --from im:carol@example.net --to im:alice@%s --text "Hi from carol"

`, hs.URL, hs.ServerName, hs.ServerName, password, bot, b.URL, b.Config, b.Log, gwPort,
		filepath.Join(binDir, "cpimtool"), inbound, tokenIn, hs.ServerName)
	select {
	case <-s.Context().Done():
	case <-b.Exited():
		return fmt.Errorf("the bridge stopped; see %s", b.Log)
	}
	say("Stopping")
	return nil
}

func say(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

func prefixLines(prefix string, r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fmt.Println(prefix + strings.TrimRight(sc.Text(), "\r"))
	}
}
