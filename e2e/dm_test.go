package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/internal/dbtest"
)

const (
	tokenOut = "bridge-to-gateway-secret"
	tokenIn  = "gateway-to-bridge-secret"
)

// TestDirectMessages is the first thing a user does: DM im:bob@example.net through the bridge,
// get an answer, see a failure when the gateway refuses, and nobody gets in who should not.
func TestDirectMessages(t *testing.T) {
	for _, db := range dbtest.Backends(t) {
		t.Run(db.Name, func(t *testing.T) { testDirectMessages(t, db) })
	}
}

func testDirectMessages(t *testing.T, db dbtest.Backend) {
	start := time.Now()
	gw := newTestGateway(t)
	hs, b := startWithPartner(t, db, gw.srv.URL, map[string]any{
		"delivery_deadline": "3s",
	})

	alice := hs.RegisterUser(t, "alice")
	aliceIM := "im:alice@" + hs.ServerName
	bot := id.NewUserID("cpimbot", hs.ServerName)
	bobGhost := id.NewUserID("cpim_bob=40example.net", hs.ServerName)
	seen := map[id.RoomID]bool{}

	t.Logf("step 1 after %s", time.Since(start))
	// 1. start-chat in the management room opens a DM; what alice writes reaches the gateway.
	mgmt := openManagementRoom(t, alice, bot)
	seen[mgmt] = true
	sendText(t, alice, mgmt, "gateways")
	waitMessage(t, alice, mgmt, "gateway list", func(e *event.Event, c *event.MessageEventContent) bool {
		return e.Sender == bot && strings.Contains(c.Body, "partner") && strings.Contains(c.Body, "example.net — reachable")
	})
	sendText(t, alice, mgmt, "start-chat im:bob@example.net")
	room := waitInvite(t, alice, seen)

	evtID := sendText(t, alice, room, "Hello Bob")
	req, body := gw.next(t)
	if got := req.Header.Get("Authorization"); got != "Bearer "+tokenOut {
		t.Errorf("Authorization = %q", got)
	}
	if got := req.Header.Get("Content-Type"); got != "message/cpim" {
		t.Errorf("Content-Type = %q", got)
	}
	m, err := cpim.Parse(body) // strict: what the bridge sends must be conformant
	if err != nil {
		t.Fatalf("bridge sent non-conformant CPIM: %v\n%s", err, body)
	}
	if m.From.URI != aliceIM || len(m.To) != 1 || m.To[0].URI != "im:bob@example.net" {
		t.Errorf("From %v To %v, want %s -> im:bob@example.net", m.From, m.To, aliceIM)
	}
	if m.Content.Type() != "text/plain" || string(m.Content.Body) != "Hello Bob" {
		t.Errorf("content %q %q, want text/plain Hello Bob", m.Content.Type(), m.Content.Body)
	}
	msgID, _ := m.Get(imdn.Namespace, imdn.HeaderMessageID)
	if want, _ := imdn.EncodeMessageID(string(evtID)); msgID != want || req.Header.Get("Idempotency-Key") != want {
		t.Errorf("imdn.Message-ID %q, Idempotency-Key %q; want both %q", msgID, req.Header.Get("Idempotency-Key"), want)
	}

	t.Logf("step 2 after %s", time.Since(start))
	// 2. bob answers through the gateway; alice sees it in the same room, from bob's ghost, once,
	// even though the gateway sends it twice.
	reply := cpim.NewText(cpim.Address{Name: "Bob Example", URI: "im:bob@example.net"}, cpim.Address{URI: aliceIM}, "Hi Alice")
	for range 2 {
		if code, resp := post(t, b.URL+"/_cpim/v1/message", tokenIn, "message/cpim", "reply-1", reply.Bytes()); code != http.StatusAccepted {
			t.Fatalf("gateway reply: %d %s", code, resp)
		}
	}
	waitMessage(t, alice, room, "reply from bob", func(e *event.Event, c *event.MessageEventContent) bool {
		return e.Sender == bobGhost && c.Body == "Hi Alice"
	})
	profile, err := alice.GetProfile(t.Context(), bobGhost)
	if err != nil || profile.DisplayName != "Bob Example" {
		t.Errorf("bob's ghost profile = %+v, %v; want displayname Bob Example", profile, err)
	}

	t.Logf("step 3 after %s", time.Since(start))
	// 3. the gateway refuses a message: alice is told, with the gateway's reason.
	gw.status.Store(http.StatusForbidden)
	gw.errBody.Store(`{"errcode":"BLOCKED","error":"bob blocked you"}`)
	sendText(t, alice, room, "this one is refused")
	gw.next(t)
	waitMessage(t, alice, room, "failure notice", func(e *event.Event, c *event.MessageEventContent) bool {
		return c.MsgType == event.MsgNotice && strings.Contains(c.Body, "bob blocked you")
	})
	gw.status.Store(http.StatusOK)

	t.Logf("step 4 after %s", time.Since(start))
	// 4. refusals: each gets its documented answer and nothing reaches Matrix.
	spoofed := cpim.NewText(cpim.Address{URI: "im:mallory@evil.example"}, cpim.Address{URI: aliceIM}, "spoofed")
	foreign := cpim.NewText(cpim.Address{URI: "im:bob@example.net"}, cpim.Address{URI: "im:carol@elsewhere.example"}, "relay me")
	unknown := cpim.NewText(cpim.Address{URI: "im:bob@example.net"}, cpim.Address{URI: "im:nobody-here@" + hs.ServerName}, "to nobody")
	for _, tc := range []struct {
		name, token, ctype string
		body               []byte
		status             int
		errContains        string
	}{
		{"spoofed From", tokenIn, "message/cpim", spoofed.Bytes(), http.StatusForbidden, "evil.example"},
		{"bad token", "wrong", "message/cpim", reply.Bytes(), http.StatusUnauthorized, ""},
		{"no token", "", "message/cpim", reply.Bytes(), http.StatusUnauthorized, ""},
		{"malformed", tokenIn, "message/cpim", []byte("From: <im:bob@example.net>\r\nTo <broken\r\n\r\n"), http.StatusBadRequest, "line 2"},
		{"wrong content type", tokenIn, "text/plain", reply.Bytes(), http.StatusUnsupportedMediaType, ""},
		{"foreign recipient", tokenIn, "message/cpim", foreign.Bytes(), http.StatusNotFound, ""},
		{"unknown local user", tokenIn, "message/cpim", unknown.Bytes(), http.StatusNotFound, ""},
	} {
		code, resp := post(t, b.URL+"/_cpim/v1/message", tc.token, tc.ctype, "", tc.body)
		var e struct{ Errcode, Error string }
		_ = json.Unmarshal([]byte(resp), &e)
		if code != tc.status || e.Errcode == "" || !strings.Contains(e.Error, tc.errContains) {
			t.Errorf("%s: got %d %s, want %d with an errcode and an error mentioning %q", tc.name, code, resp, tc.status, tc.errContains)
		}
	}
	t.Logf("step 4b after %s", time.Since(start))
	// A last good message marks the end: everything before it from bob must be the one reply.
	last := cpim.NewText(cpim.Address{Name: "Bob Example", URI: "im:bob@example.net"}, cpim.Address{URI: aliceIM}, "last")
	if code, resp := post(t, b.URL+"/_cpim/v1/message", tokenIn, "message/cpim", "last-1", last.Bytes()); code != http.StatusAccepted {
		t.Fatalf("last message: %d %s", code, resp)
	}
	waitMessage(t, alice, room, "last message", func(e *event.Event, c *event.MessageEventContent) bool { return c.Body == "last" })
	if got := messagesFrom(t, alice, room, bobGhost); strings.Join(got, "|") != "Hi Alice|last" {
		t.Errorf("bob's messages in the room = %q, want [Hi Alice last]", got)
	}

	t.Logf("step 5 after %s", time.Since(start))
	// The lines docs/setup.md tells admins to look for are in the log.
	for _, want := range []map[string]any{
		{"message": "CPIM gateways ready"},
		{"component": "cpim http", "status": 401.0, "errcode": "CPIM_UNAUTHORIZED", "message": "missing or unknown bearer token"},
		{"component": "cpim http", "status": 404.0, "errcode": "CPIM_UNKNOWN_RECIPIENT", "message": "im:nobody-here@" + hs.ServerName + " is not a user of this bridge"},
		{"component": "cpim outbound", "message": "Delivery failed for good"},
	} {
		if !logHas(t, b.Log, want) {
			t.Errorf("bridge log has no line with %v", want)
		}
	}

	// The counters an admin watches moved with all this.
	metricsText := get(t, b.URL+"/metrics")
	for _, want := range []string{
		`cpim_messages_total{direction="in",gateway="partner",result="accepted"} 3`,
		`cpim_messages_total{direction="out",gateway="partner",result="delivered"} 1`,
		`cpim_failures_total{direction="in",gateway="partner",reason="CPIM_UNKNOWN_RECIPIENT"} 1`,
		`cpim_delivery_seconds_count{direction="in",gateway="partner"} 2`,
		`cpim_homeserver_up 1`,
	} {
		if !strings.Contains(metricsText, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if health := get(t, b.URL+"/_cpim/v1/health"); !strings.Contains(health, `"homeserver":{"ok":true`) {
		t.Errorf("health = %s", health)
	}

	// 5. inviting a ghost to a new DM also opens a conversation.
	carolGhost := id.NewUserID("cpim_carol=40example.net", hs.ServerName)
	dm, err := alice.CreateRoom(t.Context(), &mautrix.ReqCreateRoom{Invite: []id.UserID{carolGhost}, IsDirect: true, Preset: "trusted_private_chat"})
	if err != nil {
		t.Fatal(err)
	}
	waitJoined(t, alice, dm.RoomID, carolGhost)
	sendText(t, alice, dm.RoomID, "Hello Carol")
	_, body = gw.next(t)
	if m, err = cpim.Parse(body); err != nil || m.To[0].URI != "im:carol@example.net" || string(m.Content.Body) != "Hello Carol" {
		t.Errorf("message to carol: %v %s", err, body)
	}
}

// logHas reports whether a line of the bridge's JSON log has all the given fields.
func logHas(t *testing.T, path string, fields map[string]any) bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil {
			continue
		}
		match := true
		for k, v := range fields {
			match = match && entry[k] == v
		}
		if match {
			return true
		}
	}
	return false
}
