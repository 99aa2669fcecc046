package harness

import (
	"net/http"
	"strings"
	"testing"

	"maunium.net/go/mautrix/appservice"
)

func TestObserverFeedsSink(t *testing.T) {
	sink := NewSink(4)
	o, err := StartObserver(t.TempDir(), "@cpim_.*", sink)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	reg, err := appservice.LoadRegistration(o.RegPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(reg.Namespaces.UserIDs) != 1 || reg.Namespaces.UserIDs[0].Exclusive || reg.Namespaces.UserIDs[0].Regex != "@cpim_.*" {
		t.Errorf("registration namespaces = %+v, want one non-exclusive @cpim_.*", reg.Namespaces)
	}
	put := func(token, body string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, reg.URL+"/_matrix/app/v1/transactions/1", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tr := NewTracker(10)
	sink.Track(tr)
	txn := `{"events":[
		{"type":"m.room.message","room_id":"!a:hs","content":{"body":"` + Text(5, 0) + `"}},
		{"type":"m.room.member","room_id":"!a:hs","content":{"membership":"join"}},
		{"type":"m.room.message","room_id":"!b:hs","content":{"body":"a failure notice"}}]}`
	if code := put("wrong", txn); code != http.StatusForbidden {
		t.Errorf("transaction with a wrong hs_token: %d, want 403", code)
	}
	if code := put(reg.ServerToken, txn); code != http.StatusOK {
		t.Fatalf("transaction: %d", code)
	}
	if code := put(reg.ServerToken, "{"); code != http.StatusBadRequest {
		t.Errorf("broken transaction: %d, want 400", code)
	}
	if n, _, _ := tr.Arrivals(); n != 1 || sink.Other() != 1 {
		t.Errorf("arrivals %d, other %d; want 1, 1", n, sink.Other())
	}
	if room, ok := sink.Rooms.Get(5 % 4); !ok || room != "!a:hs" {
		t.Errorf("room of pair 1 = %q, %v", room, ok)
	}
}
