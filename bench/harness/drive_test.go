package harness

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

func TestInboundDriver(t *testing.T) {
	topo := Topology{ServerName: "hs.test", Users: 2, Ghosts: 2, Gateways: 2}
	var got []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := cpim.Parse(body); err != nil || r.URL.Path != InboundPath || r.Method != http.MethodPost {
			t.Errorf("%s %s: %v", r.Method, r.URL.Path, err)
		}
		got = append(got, r)
		if strings.Contains(r.Header.Get("Idempotency-Key"), "-3") {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	d := &InboundDriver{URL: srv.URL, Tokens: []string{"t0", "t1"}, Topo: topo, Run: "r", Size: 10, Client: srv.Client()}
	if err := d.Op(context.Background(), 0, 3); err != nil {
		t.Fatal(err)
	}
	if err := d.Op(context.Background(), 3, 1); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("Op on a 503 = %v, want an error naming the status", err)
	}
	if len(got) != 4 {
		t.Fatalf("%d requests, want 4", len(got))
	}
	// Message 1 is user 0, ghost 1, which gateway 1 serves.
	r := got[1]
	for h, want := range map[string]string{
		"Authorization": "Bearer t1", "Content-Type": "message/cpim", "Idempotency-Key": "r-1",
		HeaderTo: "@u0:hs.test", HeaderFrom: "c1@gw1.example",
	} {
		if r.Header.Get(h) != want {
			t.Errorf("%s = %q, want %q", h, r.Header.Get(h), want)
		}
	}
}

func TestTransactionDriver(t *testing.T) {
	topo := Topology{ServerName: "hs.test", Users: 1, Ghosts: 2, Gateways: 1}
	var txns []string
	var events [][]map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || r.Header.Get("Authorization") != "Bearer hs" {
			t.Errorf("%s with %q", r.Method, r.Header.Get("Authorization"))
		}
		var txn struct{ Events []map[string]any }
		if err := json.NewDecoder(r.Body).Decode(&txn); err != nil {
			t.Errorf("transaction is not JSON: %v", err)
		}
		txns = append(txns, strings.TrimPrefix(r.URL.Path, "/_matrix/app/v1/transactions/"))
		events = append(events, txn.Events)
		w.Write([]byte("{}"))
	}))
	defer srv.Close()
	rooms := NewRooms()
	d := &TransactionDriver{URL: srv.URL, HSToken: "hs", Topo: topo, Rooms: rooms, Run: "o", Size: 10, Client: srv.Client()}
	if err := d.Op(context.Background(), 0, 2); err == nil {
		t.Error("Op without known rooms succeeded")
	}
	if !rooms.Learn(0, "!a:hs.test") || !rooms.Learn(1, "!b:hs.test") || !rooms.Learn(0, "!a:hs.test") {
		t.Fatal("Learn refused a consistent room")
	}
	if rooms.Learn(1, "!other:hs.test") {
		t.Error("Learn accepted a second room for pair 1")
	}
	if err := d.Op(context.Background(), 0, 3); err != nil {
		t.Fatal(err)
	}
	if err := d.Op(context.Background(), 3, 1); err != nil {
		t.Fatal(err)
	}
	if len(txns) != 2 || txns[0] == txns[1] {
		t.Fatalf("transaction IDs %v, want two distinct", txns)
	}
	if len(events[0]) != 3 || events[0][2]["room_id"] != "!a:hs.test" || events[0][1]["room_id"] != "!b:hs.test" || events[0][0]["sender"] != "@u0:hs.test" {
		t.Errorf("first transaction's events = %v", events[0])
	}
}
