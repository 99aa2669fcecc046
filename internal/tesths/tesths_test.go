package tesths

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/id"
)

// pushedEvent is the part of an event in an appservice transaction that the
// test checks.
type pushedEvent struct {
	EventID id.EventID `json:"event_id"`
	RoomID  id.RoomID  `json:"room_id"`
	Sender  id.UserID  `json:"sender"`
	Type    string     `json:"type"`
	Content struct {
		Body string `json:"body"`
	} `json:"content"`
}

// fakeAppservice answers the homeserver's transaction pushes
// (Application Service API, PUT /_matrix/app/v1/transactions/{txnId}) and
// hands their events to the test.
func fakeAppservice(t *testing.T, hsToken string) (*httptest.Server, <-chan pushedEvent) {
	events := make(chan pushedEvent, 256)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+hsToken {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"errcode":"M_FORBIDDEN"}`)
			return
		}
		if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/_matrix/app/v1/transactions/") {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"errcode":"M_UNRECOGNIZED"}`)
			return
		}
		var txn struct {
			Events []pushedEvent `json:"events"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&txn); err != nil {
			t.Errorf("appservice transaction %s: %v", r.URL.Path, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for _, evt := range txn.Events {
			select {
			case events <- evt:
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, "{}")
	}))
	t.Cleanup(srv.Close)
	return srv, events
}

// TestHomeserver starts the homeserver that MATRIX_CPIM_TEST_HS selects
// with one appservice and checks what the bridge relies on: users, rooms,
// messages, the appservice's exclusive user namespace, masquerading as its
// users, and the push of room events to the appservice.
func TestHomeserver(t *testing.T) {
	hs := New(t)
	if !strings.HasPrefix(hs.URL, "http://127.0.0.1:") {
		t.Fatalf("URL = %q, want a loopback http URL", hs.URL)
	}

	reg := appservice.CreateRegistration()
	reg.ID = "tesths"
	reg.SenderLocalpart = "tesths_bot"
	reg.Namespaces.UserIDs = appservice.NamespaceList{{
		Regex:     "@tesths_.*:" + regexp.QuoteMeta(hs.ServerName),
		Exclusive: true,
	}}
	as, pushed := fakeAppservice(t, reg.ServerToken)
	reg.URL = as.URL
	regPath := filepath.Join(t.TempDir(), "registration.yaml")
	if err := reg.Save(regPath); err != nil {
		t.Fatal(err)
	}

	hs.Start(t, regPath)
	ctx := t.Context()

	alice := hs.RegisterUser(t, "alice")
	who, err := alice.Whoami(ctx)
	if err != nil {
		t.Fatalf("whoami: %v", err)
	}
	if want := hs.UserID("alice"); who.UserID != want {
		t.Fatalf("whoami = %s, want %s", who.UserID, want)
	}

	asClient, err := mautrix.NewClient(hs.URL, "", reg.AppToken)
	if err != nil {
		t.Fatal(err)
	}
	ghostID := hs.UserID("tesths_ghost")
	resp, _, err := asClient.Register(ctx, &mautrix.ReqRegister[any]{
		Username: ghostID.Localpart(), Type: mautrix.AuthTypeAppservice, InhibitLogin: true,
	})
	if err != nil {
		t.Fatalf("appservice registering %s: %v", ghostID, err)
	}
	if resp.UserID != ghostID {
		t.Fatalf("appservice registered %s, want %s", resp.UserID, ghostID)
	}
	_, _, err = asClient.Register(ctx, &mautrix.ReqRegister[any]{
		Username: "outsider", Type: mautrix.AuthTypeAppservice, InhibitLogin: true,
	})
	if !errors.Is(err, mautrix.MExclusive) {
		t.Fatalf("appservice registering a user outside its namespace: err = %v, want M_EXCLUSIVE", err)
	}

	room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{ghostID}})
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	ghost, err := mautrix.NewClient(hs.URL, ghostID, reg.AppToken)
	if err != nil {
		t.Fatal(err)
	}
	ghost.SetAppServiceUserID = true
	if _, err := ghost.JoinRoomByID(ctx, room.RoomID); err != nil {
		t.Fatalf("%s joining %s: %v", ghostID, room.RoomID, err)
	}

	const text = "hello from tesths"
	sent, err := alice.SendText(ctx, room.RoomID, text)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	waitPushed(t, pushed, sent.EventID, func(evt pushedEvent) {
		if evt.RoomID != room.RoomID || evt.Sender != alice.UserID || evt.Type != "m.room.message" || evt.Content.Body != text {
			t.Errorf("pushed event = %+v, want %s from %s in %s saying %q", evt, "m.room.message", alice.UserID, room.RoomID, text)
		}
	})

	reply, err := ghost.SendText(ctx, room.RoomID, "reply")
	if err != nil {
		t.Fatalf("send as %s: %v", ghostID, err)
	}
	// Dendrite's sync API learns of an event shortly after the send returns: look again until the
	// reply shows (30 s at most).
	deadline := time.Now().Add(30 * time.Second)
	for {
		msgs, err := alice.Messages(ctx, room.RoomID, "", "", mautrix.DirectionBackward, nil, 10)
		if err != nil {
			t.Fatalf("messages: %v", err)
		}
		for _, evt := range msgs.Chunk {
			if evt.ID == reply.EventID {
				if evt.Sender != ghostID {
					t.Errorf("reply sender = %s, want %s", evt.Sender, ghostID)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice does not see the reply %s among %d events", reply.EventID, len(msgs.Chunk))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitPushed waits for the homeserver to push the event with the given ID
// to the appservice; other events (joins, room creation) pass by.
func waitPushed(t *testing.T, pushed <-chan pushedEvent, want id.EventID, check func(pushedEvent)) {
	t.Helper()
	// A bound for a hung homeserver, not a performance requirement.
	timeout := time.After(time.Minute)
	for {
		select {
		case evt := <-pushed:
			if evt.EventID == want {
				check(evt)
				return
			}
		case <-timeout:
			t.Fatalf("event %s was not pushed to the appservice", want)
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		}
	}
}

func TestRegistrationMAC(t *testing.T) {
	// Expected values from Python's hmac module, as Synapse computes them.
	tests := []struct {
		admin bool
		want  string
	}{
		{false, "fee13bb82a77bf7165fcb5f13b2789358f5adba0"},
		{true, "0616def05fac52be160a7068ce739cfcc46412d8"},
	}
	for _, tt := range tests {
		if got := registrationMAC("s3cret", "abcnonce", "alice", "pw", tt.admin); got != tt.want {
			t.Errorf("registrationMAC(admin=%v) = %s, want %s", tt.admin, got, tt.want)
		}
	}
}
