// Package hsstub is a stand-in Matrix homeserver for benchmarks: it answers the client-server API
// calls that a bridgev2 appservice makes at once, with plausible JSON and generated room and event
// IDs, so that a benchmark measures the bridge alone. It keeps only what the bridge reads back: the
// users that exist, and per room its creator, power levels and memberships. It reports every
// message event the bridge sends.
//
// Faked endpoints (under /_matrix/client unless shown, all but /versions authenticated by the
// appservice's as_token; "actor" is the user_id the appservice masquerades as, else the bot):
//
//	GET  /versions                                 spec v1.1–v1.11, no unstable features
//	GET  /v3/capabilities                          room version 10 only
//	GET  /v3/account/whoami                        the actor
//	POST /v1/appservice/{id}/ping                  {"duration_ms":0}, without calling back
//	POST /v3/register                              @{username}:{server}, which then exists
//	GET  /v3/profile/{user}[/{field}]              200 for added users and registered ghosts, else 404
//	PUT  /v3/profile/{user}/{field}                {}
//	POST /v3/createRoom                            a new room, created by the actor, with its power levels
//	POST /v3/join/{room}, /v3/rooms/{room}/join    the actor joins
//	POST /v3/rooms/{room}/invite, /kick            the body's user_id is invited, or leaves
//	POST /v3/rooms/{room}/leave                    the actor leaves
//	POST /v3/rooms/{room}/receipt/…, /read_markers {}
//	PUT  /v3/rooms/{room}/state/{type}[/{key}]     a new event ID; power levels and members are kept
//	GET  /v3/rooms/{room}/state/{type}[/{key}]     create, power levels, join rules, members; else 404
//	GET  /v3/rooms/{room}/members                  the memberships kept
//	GET  /v3/rooms/{room}/joined_members           the joined members kept
//	PUT  /v3/rooms/{room}/send/{type}/{txn}        a new event ID; reported to OnSend
//	PUT  /v3/rooms/{room}/typing/{user}            {}
//	GET  /v1/media/config, /_matrix/media/v3/config {"m.upload.size":52428800}
//	PUT  /v3/user/{user}/account_data/{type}       {}; GET gives 404
//	PUT  /v3/user/{user}/rooms/{room}/tags/{tag}   {}
//
// Any other request gets 404 M_UNRECOGNIZED and is counted under "unrouted" in Counts, so a run
// shows what the bridge asked that the stand-in does not know.
package hsstub

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"maunium.net/go/mautrix/id"
)

// maxBody bounds what the stand-in reads of one request; the bridge sends small JSON documents.
const maxBody = 1 << 20

// roomVersion is the version of every room; bridgev2 asks for it through m.room.create.
const roomVersion = "10"

// Sent is one event the bridge sent with PUT …/send/{type}/{txn}.
type Sent struct {
	Room   id.RoomID
	Sender id.UserID // the actor
	Type   string
	Body   []byte // the event content as sent
}

// Config sets up a Server.
type Config struct {
	ServerName string
	ASToken    string
	// BotLocalpart is the appservice bot's localpart, the actor of requests that name none.
	BotLocalpart string
	// OnSend, if set, is called with every message event, on the request's goroutine, before the
	// answer is written.
	OnSend func(Sent)
}

// Server is a running stand-in homeserver.
type Server struct {
	URL string // http://HOST:PORT

	cfg  Config
	bot  id.UserID
	srv  *http.Server
	next atomic.Uint64 // room and event ID counter

	mu       sync.Mutex
	users    map[id.UserID]bool // users the harness added, and ghosts the bridge registered
	rooms    map[id.RoomID]*room
	counts   map[string]int
	unrouted map[string]int
}

// room is what the stand-in keeps of a room.
type room struct {
	creator  id.UserID
	joinRule string
	power    json.RawMessage // m.room.power_levels content
	members  map[id.UserID]string
}

// Serve answers requests on ln until Close. The caller makes the listener, so that it knows the
// homeserver's URL before it has the appservice registration this needs.
func Serve(ln net.Listener, cfg Config) (*Server, error) {
	if cfg.ServerName == "" || cfg.ASToken == "" || cfg.BotLocalpart == "" {
		return nil, fmt.Errorf("hsstub: ServerName, ASToken and BotLocalpart are required")
	}
	s := &Server{
		URL:      "http://" + ln.Addr().String(),
		cfg:      cfg,
		bot:      id.NewUserID(cfg.BotLocalpart, cfg.ServerName),
		users:    map[id.UserID]bool{},
		rooms:    map[id.RoomID]*room{},
		counts:   map[string]int{},
		unrouted: map[string]int{},
	}
	s.srv = &http.Server{Handler: s.handler()}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// AddUser makes userID exist: its profile answers 200.
func (s *Server) AddUser(userID id.UserID) {
	s.mu.Lock()
	s.users[userID] = true
	s.mu.Unlock()
}

// Counts returns how many requests each route answered, keyed by its pattern; requests no route
// matched are keyed "unrouted METHOD PATH".
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := maps.Clone(s.counts)
	for k, v := range s.unrouted {
		out["unrouted "+k] = v
	}
	return out
}

// FormatCounts lists counts one route a line, busiest first.
func FormatCounts(counts map[string]int) string {
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b string) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%8d  %s\n", counts[k], k)
	}
	return b.String()
}

const c = "/_matrix/client"

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, `{}`) }
	fixed := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, body) }
	}
	mux.HandleFunc("GET "+c+"/versions", fixed(`{"versions":["v1.1","v1.2","v1.3","v1.4","v1.5","v1.6","v1.7","v1.8","v1.9","v1.10","v1.11"],"unstable_features":{}}`))
	mux.HandleFunc("GET "+c+"/v3/capabilities", fixed(`{"capabilities":{"m.room_versions":{"default":"`+roomVersion+`","available":{"`+roomVersion+`":"stable"}}}}`))
	mux.HandleFunc("GET "+c+"/v3/account/whoami", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, `{"user_id":`+strconv.Quote(string(s.actor(r)))+`}`)
	})
	mux.HandleFunc("POST "+c+"/v1/appservice/{id}/ping", fixed(`{"duration_ms":0}`))
	mux.HandleFunc("POST "+c+"/v3/register", s.register)
	mux.HandleFunc("GET "+c+"/v3/profile/{user}", s.profile)
	mux.HandleFunc("GET "+c+"/v3/profile/{user}/{field}", s.profile)
	mux.HandleFunc("PUT "+c+"/v3/profile/{user}/{field}", ok)
	mux.HandleFunc("POST "+c+"/v3/createRoom", s.createRoom)
	mux.HandleFunc("POST "+c+"/v3/join/{room}", s.join)
	mux.HandleFunc("POST "+c+"/v3/rooms/{room}/join", s.join)
	mux.HandleFunc("POST "+c+"/v3/rooms/{room}/invite", s.membershipOf("invite"))
	mux.HandleFunc("POST "+c+"/v3/rooms/{room}/kick", s.membershipOf("leave"))
	mux.HandleFunc("POST "+c+"/v3/rooms/{room}/leave", s.leave)
	mux.HandleFunc("POST "+c+"/v3/rooms/{room}/read_markers", ok)
	mux.HandleFunc("POST "+c+"/v3/rooms/{room}/receipt/{type}/{event}", ok)
	mux.HandleFunc("PUT "+c+"/v3/rooms/{room}/typing/{user}", ok)
	mux.HandleFunc("PUT "+c+"/v3/rooms/{room}/state/{rest...}", s.putState)
	mux.HandleFunc("GET "+c+"/v3/rooms/{room}/state/{rest...}", s.getState)
	mux.HandleFunc("GET "+c+"/v3/rooms/{room}/members", s.members(false))
	mux.HandleFunc("GET "+c+"/v3/rooms/{room}/joined_members", s.members(true))
	mux.HandleFunc("PUT "+c+"/v3/rooms/{room}/send/{type}/{txn}", s.send)
	media := fixed(`{"m.upload.size":52428800}`)
	mux.HandleFunc("GET "+c+"/v1/media/config", media)
	mux.HandleFunc("GET /_matrix/media/v3/config", media)
	mux.HandleFunc("PUT "+c+"/v3/user/{user}/account_data/{type}", ok)
	mux.HandleFunc("GET "+c+"/v3/user/{user}/account_data/{type}", notFound)
	mux.HandleFunc("PUT "+c+"/v3/user/{user}/rooms/{room}/tags/{tag}", ok)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.unrouted[r.Method+" "+r.URL.Path]++
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, `{"errcode":"M_UNRECOGNIZED","error":"not faked by hsstub"}`)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != c+"/versions" && r.Header.Get("Authorization") != "Bearer "+s.cfg.ASToken {
			writeJSON(w, http.StatusUnauthorized, `{"errcode":"M_UNKNOWN_TOKEN","error":"unknown token"}`)
			return
		}
		mux.ServeHTTP(w, r)
		if r.Pattern != "/" {
			s.mu.Lock()
			s.counts[r.Pattern]++
			s.mu.Unlock()
		}
	})
}

// actor is the user a request acts as: the appservice's user_id parameter, else the bot.
func (s *Server) actor(r *http.Request) id.UserID {
	if u := r.URL.Query().Get("user_id"); u != "" {
		return id.UserID(u)
	}
	return s.bot
}

// decode reads a JSON request body into v, answering 400 and reporting false if it cannot.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err == nil {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, `{"errcode":"M_NOT_JSON","error":`+strconv.Quote(err.Error())+`}`)
		return false
	}
	return true
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Username == "" {
		writeJSON(w, http.StatusBadRequest, `{"errcode":"M_INVALID_USERNAME","error":"no username"}`)
		return
	}
	userID := id.NewUserID(req.Username, s.cfg.ServerName)
	s.AddUser(userID)
	writeJSON(w, http.StatusOK, `{"user_id":`+strconv.Quote(string(userID))+`}`)
}

func (s *Server) profile(w http.ResponseWriter, r *http.Request) {
	userID := id.UserID(r.PathValue("user"))
	s.mu.Lock()
	known := s.users[userID]
	s.mu.Unlock()
	if !known {
		writeJSON(w, http.StatusNotFound, `{"errcode":"M_NOT_FOUND","error":"Profile was not found"}`)
		return
	}
	localpart, _, _ := userID.ParseAndDecode()
	writeJSON(w, http.StatusOK, `{"displayname":`+strconv.Quote(localpart)+`}`)
}

// createRoom makes a room whose power levels are the spec's defaults, with the creator at 100,
// overridden by the request's power_level_content_override; its join rule follows the preset.
func (s *Server) createRoom(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Invite   []id.UserID    `json:"invite"`
		Preset   string         `json:"preset"`
		Override map[string]any `json:"power_level_content_override"`
	}
	if !decode(w, r, &req) {
		return
	}
	creator := s.actor(r)
	users := map[string]any{string(creator): 100}
	power := map[string]any{
		"users_default": 0, "events": map[string]any{}, "events_default": 0, "state_default": 50,
		"ban": 50, "kick": 50, "redact": 50, "invite": 0,
	}
	for k, v := range req.Override {
		if k == "users" {
			if m, ok := v.(map[string]any); ok {
				maps.Copy(users, m)
			}
			continue
		}
		power[k] = v
	}
	power["users"] = users
	raw, err := json.Marshal(power)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, `{"errcode":"M_BAD_JSON","error":"power_level_content_override"}`)
		return
	}
	roomID := id.RoomID(s.newID('!', "r"))
	joinRule := "invite"
	if req.Preset == "public_chat" {
		joinRule = "public"
	}
	rm := &room{creator: creator, joinRule: joinRule, power: raw, members: map[id.UserID]string{creator: "join"}}
	for _, u := range req.Invite {
		rm.members[u] = "invite"
	}
	s.mu.Lock()
	s.rooms[roomID] = rm
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, `{"room_id":`+strconv.Quote(string(roomID))+`}`)
}

// setMembership records a membership and reports whether the room exists.
func (s *Server) setMembership(roomID id.RoomID, user id.UserID, membership string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rm := s.rooms[roomID]
	if rm != nil {
		rm.members[user] = membership
	}
	return rm != nil
}

func (s *Server) join(w http.ResponseWriter, r *http.Request) {
	roomID := id.RoomID(r.PathValue("room"))
	if !s.setMembership(roomID, s.actor(r), "join") {
		notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, `{"room_id":`+strconv.Quote(string(roomID))+`}`)
}

func (s *Server) leave(w http.ResponseWriter, r *http.Request) {
	if !s.setMembership(id.RoomID(r.PathValue("room")), s.actor(r), "leave") {
		notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, `{}`)
}

// membershipOf handles invite and kick, which name their target in the body.
func (s *Server) membershipOf(membership string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			UserID id.UserID `json:"user_id"`
		}
		if !decode(w, r, &req) {
			return
		}
		if !s.setMembership(id.RoomID(r.PathValue("room")), req.UserID, membership) {
			notFound(w, r)
			return
		}
		writeJSON(w, http.StatusOK, `{}`)
	}
}

func (s *Server) putState(w http.ResponseWriter, r *http.Request) {
	roomID := id.RoomID(r.PathValue("room"))
	evType, key, _ := strings.Cut(r.PathValue("rest"), "/")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil || !json.Valid(body) {
		writeJSON(w, http.StatusBadRequest, `{"errcode":"M_NOT_JSON","error":"state content is not JSON"}`)
		return
	}
	s.mu.Lock()
	rm := s.rooms[roomID]
	if rm != nil {
		switch evType {
		case "m.room.power_levels":
			rm.power = body
		case "m.room.member":
			var m struct {
				Membership string `json:"membership"`
			}
			if json.Unmarshal(body, &m) == nil && m.Membership != "" {
				rm.members[id.UserID(key)] = m.Membership
			}
		}
	}
	s.mu.Unlock()
	if rm == nil {
		notFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, `{"event_id":`+strconv.Quote(s.newID('$', "e"))+`}`)
}

// getState answers the state the stand-in keeps, as content or, with format=event, as an event.
func (s *Server) getState(w http.ResponseWriter, r *http.Request) {
	roomID := id.RoomID(r.PathValue("room"))
	evType, key, _ := strings.Cut(r.PathValue("rest"), "/")
	var content []byte
	var sender id.UserID
	s.mu.Lock()
	if rm := s.rooms[roomID]; rm != nil {
		sender = rm.creator
		switch {
		case evType == "m.room.create" && key == "":
			content = fmt.Appendf(nil, `{"creator":%q,"room_version":%q}`, rm.creator, roomVersion)
		case evType == "m.room.power_levels" && key == "":
			content = rm.power
		case evType == "m.room.join_rules" && key == "":
			content = fmt.Appendf(nil, `{"join_rule":%q}`, rm.joinRule)
		case evType == "m.room.member" && rm.members[id.UserID(key)] != "":
			content = fmt.Appendf(nil, `{"membership":%q}`, rm.members[id.UserID(key)])
		}
	}
	s.mu.Unlock()
	if content == nil {
		notFound(w, r)
		return
	}
	if r.URL.Query().Get("format") == "event" {
		content = fmt.Appendf(nil, `{"type":%q,"state_key":%q,"sender":%q,"room_id":%q,"event_id":%q,"origin_server_ts":0,"content":%s}`,
			evType, key, sender, roomID, s.newID('$', "e"), content)
	}
	writeJSON(w, http.StatusOK, string(content))
}

// members answers /members (every membership as an m.room.member event) or, with joinedOnly,
// /joined_members.
func (s *Server) members(joinedOnly bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		roomID := id.RoomID(r.PathValue("room"))
		var b strings.Builder
		s.mu.Lock()
		rm := s.rooms[roomID]
		if rm != nil {
			if joinedOnly {
				b.WriteString(`{"joined":{`)
			} else {
				b.WriteString(`{"chunk":[`)
			}
			n := 0
			for u, m := range rm.members {
				if joinedOnly && m != "join" {
					continue
				}
				if n > 0 {
					b.WriteByte(',')
				}
				n++
				if joinedOnly {
					fmt.Fprintf(&b, `%q:{}`, u)
				} else {
					fmt.Fprintf(&b, `{"type":"m.room.member","state_key":%q,"sender":%q,"room_id":%q,"event_id":"$m%d","origin_server_ts":0,"content":{"membership":%q}}`,
						u, u, roomID, n, m)
				}
			}
			if joinedOnly {
				b.WriteString(`}}`)
			} else {
				b.WriteString(`]}`)
			}
		}
		s.mu.Unlock()
		if rm == nil {
			notFound(w, r)
			return
		}
		writeJSON(w, http.StatusOK, b.String())
	}
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, `{"errcode":"M_NOT_JSON","error":"unreadable body"}`)
		return
	}
	if s.cfg.OnSend != nil {
		s.cfg.OnSend(Sent{Room: id.RoomID(r.PathValue("room")), Sender: s.actor(r), Type: r.PathValue("type"), Body: body})
	}
	writeJSON(w, http.StatusOK, `{"event_id":`+strconv.Quote(s.newID('$', "e"))+`}`)
}

// newID returns sigil+prefix+N, with :server for room IDs (event IDs of room v3+ have no server).
func (s *Server) newID(sigil byte, prefix string) string {
	n := strconv.FormatUint(s.next.Add(1), 36)
	if sigil == '!' {
		return "!" + prefix + n + ":" + s.cfg.ServerName
	}
	return string(sigil) + prefix + n
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, `{"errcode":"M_NOT_FOUND","error":"not found"}`)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
