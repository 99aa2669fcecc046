package harness

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Sink turns the message events that reach Matrix into arrivals: the sequence number in a message
// body goes to the current Tracker, and the room it arrived in becomes the room of its DM pair.
type Sink struct {
	Rooms   *Rooms
	pairs   int
	tracker atomic.Pointer[Tracker]
	other   atomic.Int64
}

// NewSink returns a sink for a topology of pairs DM portals.
func NewSink(pairs int) *Sink { return &Sink{Rooms: NewRooms(), pairs: pairs} }

// Track sends arrivals to t from now on; nil drops them.
func (s *Sink) Track(t *Tracker) { s.tracker.Store(t) }

// Other counts messages that carried no sequence number: notices of failed sends, for instance,
// which a benchmark should not see.
func (s *Sink) Other() int64 { return s.other.Load() }

// Message reports an m.room.message with content body in room.
func (s *Sink) Message(room id.RoomID, body []byte) {
	seq, ok := FindSeq(body)
	if !ok {
		s.other.Add(1)
		return
	}
	if t := s.tracker.Load(); t != nil {
		t.Arrived(seq, time.Now())
	}
	s.Rooms.Learn(seq%s.pairs, room)
}

// Observer is an appservice that only listens: registered with a real homeserver beside the
// bridge, with a non-exclusive namespace over the bridge's ghosts, it receives every event they
// send, as soon as the homeserver has it, and reports the message events to a Sink.
type Observer struct {
	RegPath string
	srv     *http.Server
	reg     *appservice.Registration
	sink    *Sink
}

// StartObserver listens on 127.0.0.1 and writes its registration into dir; userRegex names the
// ghosts to watch.
func StartObserver(dir, userRegex string, sink *Sink) (*Observer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	reg := appservice.CreateRegistration()
	reg.ID = "cpimbench-observer"
	reg.URL = "http://" + ln.Addr().String()
	reg.SenderLocalpart = "cpimbench-observer"
	reg.RateLimited = new(bool)
	reg.Namespaces.UserIDs = appservice.NamespaceList{{Regex: userRegex, Exclusive: false}}
	o := &Observer{RegPath: filepath.Join(dir, "observer-registration.yaml"), reg: reg, sink: sink}
	if err = reg.Save(o.RegPath); err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /_matrix/app/v1/transactions/{txn}", o.transaction)
	mux.HandleFunc("POST /_matrix/app/v1/ping", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("{}"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"errcode":"M_NOT_FOUND","error":"the observer owns no users or rooms"}`))
	})
	o.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+reg.ServerToken {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"errcode":"M_FORBIDDEN","error":"bad hs_token"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		mux.ServeHTTP(w, r)
	})}
	go func() { _ = o.srv.Serve(ln) }()
	return o, nil
}

// Close stops the server.
func (o *Observer) Close() error { return o.srv.Close() }

func (o *Observer) transaction(w http.ResponseWriter, r *http.Request) {
	var txn struct {
		Events []struct {
			Type    string          `json:"type"`
			RoomID  id.RoomID       `json:"room_id"`
			Content json.RawMessage `json:"content"`
		} `json:"events"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err == nil {
		err = json.Unmarshal(body, &txn)
	}
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"errcode":"M_NOT_JSON","error":"unreadable transaction"}`))
		return
	}
	for _, ev := range txn.Events {
		if ev.Type == event.EventMessage.Type {
			o.sink.Message(ev.RoomID, ev.Content)
		}
	}
	w.Write([]byte("{}"))
}
