package hsstub

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"maunium.net/go/mautrix/id"
)

const token = "as-secret"

type fixture struct {
	s    *Server
	mu   sync.Mutex
	sent []Sent
}

func start(t *testing.T) *fixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{}
	f.s, err = Serve(ln, Config{ServerName: "hs.test", ASToken: token, BotLocalpart: "bot", OnSend: func(s Sent) {
		f.mu.Lock()
		f.sent = append(f.sent, s)
		f.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.s.Close() })
	return f
}

// do makes a request as the appservice (acting as user when set) and returns status and body.
func (f *fixture) do(t *testing.T, method, path, user, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		q := req.URL.Query()
		q.Set("user_id", user)
		req.URL.RawQuery = q.Encode()
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func (f *fixture) json(t *testing.T, method, path, user, body string, want int) map[string]any {
	t.Helper()
	code, data := f.do(t, method, path, user, body)
	if code != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, code, data, want)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %v: %s", method, path, err, data)
	}
	return v
}

func TestAuthentication(t *testing.T) {
	f := start(t)
	resp, err := http.Get(f.s.URL + "/_matrix/client/versions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("versions without a token: %d, want 200", resp.StatusCode)
	}
	resp, err = http.Get(f.s.URL + "/_matrix/client/v3/account/whoami")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("whoami without a token: %d, want 401", resp.StatusCode)
	}
	if got := f.json(t, "GET", "/_matrix/client/v3/account/whoami", "", "", 200)["user_id"]; got != "@bot:hs.test" {
		t.Errorf("whoami = %v, want the bot", got)
	}
	if got := f.json(t, "GET", "/_matrix/client/v3/account/whoami", "@ghost:hs.test", "", 200)["user_id"]; got != "@ghost:hs.test" {
		t.Errorf("whoami as a ghost = %v", got)
	}
}

func TestProfiles(t *testing.T) {
	f := start(t)
	f.s.AddUser("@alice:hs.test")
	f.json(t, "GET", "/_matrix/client/v3/profile/@alice:hs.test", "", "", 200)
	f.json(t, "GET", "/_matrix/client/v3/profile/@nobody:hs.test", "", "", 404)
	f.json(t, "GET", "/_matrix/client/v3/profile/@ghost_1:hs.test", "", "", 404)
	reg := f.json(t, "POST", "/_matrix/client/v3/register", "", `{"type":"m.login.application_service","username":"ghost_1"}`, 200)
	if reg["user_id"] != "@ghost_1:hs.test" {
		t.Errorf("register = %v", reg)
	}
	f.json(t, "GET", "/_matrix/client/v3/profile/@ghost_1:hs.test/displayname", "", "", 200)
	f.json(t, "POST", "/_matrix/client/v3/register", "", `{"username":""}`, 400)
	f.json(t, "POST", "/_matrix/client/v3/register", "", `not json`, 400)
}

func TestRoomState(t *testing.T) {
	f := start(t)
	created := f.json(t, "POST", "/_matrix/client/v3/createRoom", "", `{"preset":"private_chat","invite":["@alice:hs.test"],
		"power_level_content_override":{"users":{"@alice:hs.test":50},"events":{"m.room.tombstone":100}}}`, 200)
	room, _ := created["room_id"].(string)
	if !strings.HasPrefix(room, "!") || !strings.HasSuffix(room, ":hs.test") {
		t.Fatalf("room_id = %q", room)
	}
	base := "/_matrix/client/v3/rooms/" + room
	pl := f.json(t, "GET", base+"/state/m.room.power_levels/", "", "", 200)
	users, _ := pl["users"].(map[string]any)
	if users["@bot:hs.test"] != 100.0 || users["@alice:hs.test"] != 50.0 || pl["state_default"] != 50.0 {
		t.Errorf("power levels = %v, want the bot at 100, alice at 50 and the defaults", pl)
	}
	if ev, _ := pl["events"].(map[string]any); ev["m.room.tombstone"] != 100.0 {
		t.Errorf("power levels events = %v, want the override", pl["events"])
	}
	create := f.json(t, "GET", base+"/state/m.room.create/?format=event", "", "", 200)
	if content, _ := create["content"].(map[string]any); create["type"] != "m.room.create" || content["room_version"] != roomVersion {
		t.Errorf("create event = %v", create)
	}
	if jr := f.json(t, "GET", base+"/state/m.room.join_rules/", "", "", 200); jr["join_rule"] != "invite" {
		t.Errorf("join rules = %v", jr)
	}
	f.json(t, "GET", base+"/state/m.room.topic/", "", "", 404)

	f.json(t, "POST", base+"/invite", "", `{"user_id":"@ghost:hs.test"}`, 200)
	f.json(t, "POST", base+"/join", "@ghost:hs.test", `{}`, 200)
	f.json(t, "PUT", base+"/state/m.room.member/@alice:hs.test", "", `{"membership":"join"}`, 200)
	f.json(t, "PUT", base+"/state/m.room.power_levels/", "", `{"users":{"@bot:hs.test":100},"ban":99}`, 200)
	if pl := f.json(t, "GET", base+"/state/m.room.power_levels/", "", "", 200); pl["ban"] != 99.0 {
		t.Errorf("power levels after PUT = %v, want the new content", pl)
	}
	joined := f.json(t, "GET", base+"/joined_members", "", "", 200)["joined"].(map[string]any)
	if len(joined) != 3 || joined["@ghost:hs.test"] == nil || joined["@alice:hs.test"] == nil {
		t.Errorf("joined members = %v, want bot, ghost and alice", joined)
	}
	f.json(t, "POST", base+"/leave", "@ghost:hs.test", `{}`, 200)
	chunk := f.json(t, "GET", base+"/members", "", "", 200)["chunk"].([]any)
	memberships := map[string]string{}
	for _, e := range chunk {
		ev := e.(map[string]any)
		memberships[ev["state_key"].(string)] = ev["content"].(map[string]any)["membership"].(string)
	}
	if memberships["@ghost:hs.test"] != "leave" || memberships["@alice:hs.test"] != "join" || memberships["@bot:hs.test"] != "join" {
		t.Errorf("members = %v", memberships)
	}
	if m := f.json(t, "GET", base+"/state/m.room.member/@alice:hs.test", "", "", 200); m["membership"] != "join" {
		t.Errorf("alice's member state = %v", m)
	}

	const missing = "/_matrix/client/v3/rooms/!nope:hs.test"
	f.json(t, "POST", missing+"/join", "", `{}`, 404)
	f.json(t, "PUT", missing+"/state/m.room.name/", "", `{"name":"x"}`, 404)
	f.json(t, "GET", missing+"/members", "", "", 404)
	f.json(t, "PUT", base+"/state/m.room.name/", "", `not json`, 400)
}

func TestSendReportsMessages(t *testing.T) {
	f := start(t)
	room := id.RoomID(f.json(t, "POST", "/_matrix/client/v3/createRoom", "", `{}`, 200)["room_id"].(string))
	path := "/_matrix/client/v3/rooms/" + string(room) + "/send/m.room.message/txn1"
	a := f.json(t, "PUT", path, "@ghost:hs.test", `{"msgtype":"m.text","body":"hi"}`, 200)
	b := f.json(t, "PUT", path, "", `{"msgtype":"m.text","body":"again"}`, 200)
	if a["event_id"] == b["event_id"] || !strings.HasPrefix(a["event_id"].(string), "$") {
		t.Errorf("event IDs %v and %v, want two distinct $ IDs", a["event_id"], b["event_id"])
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sent) != 2 {
		t.Fatalf("OnSend saw %d events, want 2", len(f.sent))
	}
	if s := f.sent[0]; s.Room != room || s.Sender != "@ghost:hs.test" || s.Type != "m.room.message" || string(s.Body) != `{"msgtype":"m.text","body":"hi"}` {
		t.Errorf("first send = %+v", s)
	}
	if f.sent[1].Sender != "@bot:hs.test" {
		t.Errorf("second send from %s, want the bot", f.sent[1].Sender)
	}
}

func TestCounts(t *testing.T) {
	f := start(t)
	f.json(t, "GET", "/_matrix/client/v3/capabilities", "", "", 200)
	f.json(t, "GET", "/_matrix/client/v3/capabilities", "", "", 200)
	f.json(t, "GET", "/_matrix/client/v1/media/config", "", "", 200)
	f.json(t, "GET", "/_matrix/client/v3/sync", "", "", 404)
	counts := f.s.Counts()
	want := map[string]int{
		"GET /_matrix/client/v3/capabilities":  2,
		"GET /_matrix/client/v1/media/config":  1,
		"unrouted GET /_matrix/client/v3/sync": 1,
	}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("Counts()[%q] = %d, want %d (all: %v)", k, counts[k], n, counts)
		}
	}
	lines := strings.Split(strings.TrimSpace(FormatCounts(counts)), "\n")
	if len(lines) != len(counts) || !strings.HasSuffix(lines[0], "GET /_matrix/client/v3/capabilities") {
		t.Errorf("FormatCounts, busiest first:\n%s", FormatCounts(counts))
	}
}

func TestServeNeedsConfig(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := Serve(ln, Config{ServerName: "hs.test"}); err == nil {
		t.Error("Serve without ASToken and BotLocalpart succeeded")
	}
}
