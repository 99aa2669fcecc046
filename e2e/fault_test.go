package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/internal/dbtest"
)

// Environment of TestFaultsExactlyOnce; scripts/faulttest.sh raises both.
const (
	envFaultN     = "MATRIX_CPIM_FAULT_N"     // messages each way (default 300)
	envFaultKills = "MATRIX_CPIM_FAULT_KILLS" // SIGKILLs of the bridge (default 4)
)

// maxStarts bounds the starts after one kill.
const maxStarts = 5

// faultContacts are the remote ends of the conversations; messages are spread over them.
var faultContacts = []string{"bob", "carol", "dave"}

// TestFaultsExactlyOnce sends N messages each way through a gateway that fails a share of the
// bridge's requests (5xx, hangs, resets, answers lost after the message was taken) while the
// bridge is killed with SIGKILL and restarted at random points. Afterwards every Matrix message
// is at the gateway under one Idempotency-Key (a resend after a crash may repeat it, with the
// same key), every gateway message is in Matrix exactly once, and both directions kept the order
// of each conversation.
func TestFaultsExactlyOnce(t *testing.T) {
	n := envInt(t, envFaultN, 300)
	kills := envInt(t, envFaultKills, 4)
	for _, db := range dbtest.Backends(t) {
		t.Run(db.Name, func(t *testing.T) { testFaultsExactlyOnce(t, db, n, kills) })
	}
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < len(faultContacts) {
		t.Fatalf("%s=%q: want a number of at least %d", name, v, len(faultContacts))
	}
	return n
}

func testFaultsExactlyOnce(t *testing.T, db dbtest.Backend, n, kills int) {
	start := time.Now()
	gw := newFlakyGateway(t)
	hs, b := startWithPartner(t, db, gw.srv.URL, map[string]any{
		// Long enough that no flaky failure ends in giving up: every message must arrive.
		"delivery_deadline": "1h",
	})

	alice := hs.RegisterUser(t, "alice")
	aliceIM := "im:alice@" + hs.ServerName
	mgmt := openManagementRoom(t, alice, id.NewUserID("cpimbot", hs.ServerName))
	seen := map[id.RoomID]bool{mgmt: true}
	convs := make([]*faultConv, len(faultContacts))
	for i, name := range faultContacts {
		c := &faultConv{contact: "im:" + name + "@example.net", ghost: id.NewUserID("cpim_"+name+"=40example.net", hs.ServerName)}
		sendText(t, alice, mgmt, "start-chat "+c.contact)
		c.room = waitChatInvite(t, alice, seen)
		// Conversation i gets messages i, i+len, i+2·len… of each direction.
		for j := i; j < n; j += len(faultContacts) {
			c.out = append(c.out, fmt.Sprintf("out %s %d", name, j))
			c.in = append(c.in, fmt.Sprintf("in %s %d", name, j))
		}
		convs[i] = c
	}
	gw.fail.Store(true)
	t.Logf("setup took %s; %d messages each way over %d conversations, %d kills, database %s",
		time.Since(start), n, len(convs), kills, db.Name)

	// Traffic: per conversation one Matrix sender and one gateway client, each sending in order.
	trafficStart := time.Now()
	var progress atomic.Int64 // messages sent in either direction
	var inStats postStats
	ctx, cancel := context.WithTimeout(t.Context(), drainTimeout(n))
	defer cancel()
	var traffic sync.WaitGroup
	for _, c := range convs {
		// The gateway keeps step with alice, so that every kill finds both directions busy:
		// it posts its j-th message after alice sent hers.
		step := make(chan struct{}, len(c.out))
		traffic.Go(func() {
			for _, text := range c.out {
				resp, err := alice.SendText(ctx, c.room, text)
				if err != nil {
					t.Errorf("alice sending %q: %v", text, err)
					return
				}
				c.outEvents = append(c.outEvents, resp.EventID)
				progress.Add(1)
				step <- struct{}{}
			}
		})
		traffic.Go(func() {
			for j, text := range c.in {
				select {
				case <-step:
				case <-ctx.Done():
					t.Errorf("gateway sending %q: %v", text, ctx.Err())
					return
				}
				m := cpim.NewText(cpim.Address{URI: c.contact}, cpim.Address{URI: aliceIM}, text)
				err := postUntilAccepted(ctx, b.URL, inboundKey(c.contact, j), m.Bytes(), &inStats)
				if errors.Is(err, errNotRetryable) {
					// A gateway drops the message and goes on with the next: the checks
					// below count it as missing.
					t.Errorf("gateway sending %q: %v", text, err)
					continue
				} else if err != nil {
					t.Errorf("gateway sending %q: %v", text, err)
					return
				}
				progress.Add(1)
			}
		})
	}

	// The killer: SIGKILL at random points of the traffic, restart after a random pause during
	// which Synapse queues transactions and the gateway client keeps retrying.
	killed := make(chan int, 1)
	go func() {
		done := 0
		defer func() { killed <- done }()
		for _, at := range killPoints(kills, 2*int64(n)) {
			for progress.Load() < at {
				select {
				case <-ctx.Done():
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
			b.Kill()
			done++
			time.Sleep(time.Duration(300+rand.IntN(1700)) * time.Millisecond)
			// A bridge that exits during start-up is a failure, but the test goes on as a
			// supervisor would, starting it again, to see what becomes of the messages.
			for try := 1; ; try++ {
				err := b.Start(ctx)
				if err == nil {
					break
				}
				t.Errorf("start %d after kill %d: %v", try, done, err)
				if try == maxStarts || ctx.Err() != nil {
					return
				}
			}
		}
	}()
	traffic.Wait()
	sentAt := time.Since(trafficStart)
	doneKills := <-killed
	if doneKills != kills {
		t.Errorf("the bridge was killed %d times, want %d", doneKills, kills)
	}

	// Drain: until the gateway has every message and the bridge's queues are empty.
	outKeys := map[string]string{} // Idempotency-Key -> text, as alice sent them
	for _, c := range convs {
		for i, evt := range c.outEvents {
			key, err := imdn.EncodeMessageID(string(evt))
			if err != nil {
				t.Fatal(err)
			}
			outKeys[key] = c.out[i]
		}
	}
	for ctx.Err() == nil && !(gw.hasAll(outKeys) && queuesEmpty(b.URL)) {
		time.Sleep(time.Second)
	}
	drainedAt := time.Since(trafficStart)

	// Outbound: every message at the gateway, each under its own key, in order.
	arrivals, injected := gw.snapshot()
	keysOf := map[string]map[string]bool{} // text -> keys it arrived under
	firstSeen := map[string]bool{}
	order := map[string][]string{} // To -> texts in order of first arrival
	for _, a := range arrivals {
		if keysOf[a.text] == nil {
			keysOf[a.text] = map[string]bool{}
		}
		keysOf[a.text][a.key] = true
		if want, ok := outKeys[a.key]; !ok {
			t.Errorf("the gateway received key %q (%q) that no Matrix event has", a.key, a.text)
		} else if want != a.text {
			t.Errorf("key %q carried %q, want %q", a.key, a.text, want)
		}
		if !firstSeen[a.key] {
			firstSeen[a.key] = true
			order[a.to] = append(order[a.to], a.text)
		}
	}
	missingOut := 0
	for key := range outKeys {
		if !firstSeen[key] {
			missingOut++ // checkSequence below names them
		}
	}
	for text, keys := range keysOf {
		if len(keys) > 1 {
			t.Errorf("%q arrived under %d different keys: %v", text, len(keys), keys)
		}
	}
	for _, c := range convs {
		checkSequence(t, "at the gateway for "+c.contact, order[c.contact], c.out, func(string) string { return "" })
	}

	// Inbound: every message in Matrix exactly once, in order, and no failure notices.
	matrixIn, matrixDups, notices := 0, 0, 0
	for _, c := range convs {
		var fromGhost []string
		ts := map[string]int64{} // the bridge sends the time it accepted the message
		for _, evt := range allRoomMessages(t, alice, c.room) {
			msg := evt.Content.AsMessage()
			if evt.Sender == c.ghost {
				fromGhost = append(fromGhost, msg.Body)
				ts[msg.Body] = evt.Timestamp
			} else if msg.MsgType == event.MsgNotice {
				notices++
				t.Errorf("notice in %s's room: %q", c.contact, msg.Body)
			}
		}
		matrixIn += len(fromGhost)
		_, dups := checkSequence(t, "in Matrix from "+c.contact, fromGhost, c.in, func(body string) string {
			return fmt.Sprintf(" (key %s, ts %d)", inboundKey(c.contact, slices.Index(c.in, body)), ts[body])
		})
		matrixDups += dups
	}
	if ctx.Err() != nil {
		t.Errorf("not drained within %s", drainTimeout(n))
	}

	t.Logf("Matrix→gateway: %d sent, %d distinct keys at the gateway, %d missing, %d arrivals (%d duplicates, same key)",
		len(outKeys), len(firstSeen), missingOut, len(arrivals), len(arrivals)-len(firstSeen))
	t.Logf("gateway faults injected: %v", injected)
	t.Logf("gateway→Matrix: %d sent, %d accepted with 202 after %d POSTs (%d network errors, statuses %v); %d messages in Matrix (%d duplicates), %d notices",
		n, inStats.accepted.Load(), inStats.posts.Load(), inStats.netErrs.Load(), inStats.statusCounts(), matrixIn, matrixDups, notices)
	t.Logf("kills %d; traffic sent in %s, drained after %s, whole test %s", doneKills, sentAt, drainedAt, time.Since(start))
}

// waitChatInvite waits for an invite to a room not in seen that is not a space, and joins it: the
// bridge also invites users to its personal filtering space, at a time of its choosing.
func waitChatInvite(t *testing.T, cli *mautrix.Client, seen map[id.RoomID]bool) id.RoomID {
	t.Helper()
	for {
		room := waitInvite(t, cli, seen)
		if !isSpace(t, cli, room) {
			return room
		}
	}
}

func isSpace(t *testing.T, cli *mautrix.Client, room id.RoomID) bool {
	t.Helper()
	var create event.CreateEventContent
	if err := cli.StateEvent(t.Context(), room, event.StateCreate, "", &create); err != nil {
		t.Fatalf("create event of %s: %v", room, err)
	}
	return create.Type == event.RoomTypeSpace
}

// faultConv is one DM between alice and a contact, with the messages each side sends.
type faultConv struct {
	contact   string
	ghost     id.UserID
	room      id.RoomID
	out, in   []string
	outEvents []id.EventID
}

// drainTimeout bounds the whole traffic and drain: generous, as Synapse on a busy 2-core runner
// takes up to a second per message.
func drainTimeout(n int) time.Duration { return 3*time.Minute + time.Duration(n)*300*time.Millisecond }

// killPoints returns k progress counts in the middle 80% of total, ascending, at which to kill.
func killPoints(k int, total int64) []int64 {
	points := make([]int64, k)
	for i := range points {
		points[i] = total/10 + rand.Int64N(total*8/10+1)
	}
	slices.Sort(points)
	return points
}

// inboundKey is the Idempotency-Key of the j-th message from contact. The hash prefix keeps keys
// from sorting in sending order, as a gateway's random keys would not.
func inboundKey(contact string, j int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s %d", contact, j))
	return hex.EncodeToString(sum[:6]) + "-" + strconv.Itoa(j)
}

// postStats counts what a gateway client saw.
type postStats struct {
	posts, accepted, netErrs atomic.Int64
	mu                       sync.Mutex
	statuses                 map[int]int
}

func (s *postStats) status(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.statuses == nil {
		s.statuses = map[int]int{}
	}
	s.statuses[code]++
}

func (s *postStats) statusCounts() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.statuses)
}

var errNotRetryable = errors.New("answer that must not be retried")

// postUntilAccepted posts a message as a gateway following docs/http-binding.md §7 would: the same
// body and Idempotency-Key until 202, retrying network errors, 408, 429 and 5xx.
func postUntilAccepted(ctx context.Context, bridgeURL, key string, body []byte, st *postStats) error {
	hc := &http.Client{Timeout: 30 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, bridgeURL+"/_cpim/v1/message", strings.NewReader(string(body)))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tokenIn)
		req.Header.Set("Content-Type", "message/cpim")
		req.Header.Set("Idempotency-Key", key)
		st.posts.Add(1)
		resp, err := hc.Do(req)
		wait := 100 * time.Millisecond
		if err != nil {
			st.netErrs.Add(1)
		} else {
			data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			st.status(resp.StatusCode)
			switch code := resp.StatusCode; {
			case code == http.StatusAccepted:
				st.accepted.Add(1)
				return nil
			case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
				if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
					wait = time.Duration(s) * time.Second
				}
			default:
				return fmt.Errorf("%w: %d %s", errNotRetryable, code, data)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still not accepted: %w (last error %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

// queuesEmpty reports whether the bridge answers and its /metrics show no waiting message in
// either direction: everything accepted reached Matrix, everything queued reached the gateway.
func queuesEmpty(bridgeURL string) bool {
	resp, err := http.Get(bridgeURL + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return false
	}
	sawOut := false
	for line := range strings.Lines(string(data)) {
		if !strings.HasPrefix(line, "cpim_queue_depth{") {
			continue
		}
		if strings.Contains(line, `direction="out"`) {
			sawOut = true
		}
		if f := strings.Fields(line); f[len(f)-1] != "0" {
			return false
		}
	}
	return sawOut
}

// waitQueuesEmpty waits up to 30 s for queuesEmpty, and fails the test naming when it began waiting.
func waitQueuesEmpty(t *testing.T, bridgeURL, since string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !queuesEmpty(bridgeURL) {
		if time.Now().After(deadline) {
			t.Fatalf("messages still waiting in the bridge's queues 30 s %s", since)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// allRoomMessages pages through the whole room and returns its message events, oldest first.
func allRoomMessages(t *testing.T, cli *mautrix.Client, roomID id.RoomID) []*event.Event {
	t.Helper()
	var msgs []*event.Event
	from := ""
	for {
		resp, err := cli.Messages(t.Context(), roomID, from, "", mautrix.DirectionBackward, nil, 500)
		if err != nil {
			t.Fatalf("messages in %s: %v", roomID, err)
		}
		for _, evt := range resp.Chunk {
			if evt.Type != event.EventMessage {
				continue
			}
			_ = evt.Content.ParseRaw(evt.Type)
			if _, ok := evt.Content.Parsed.(*event.MessageEventContent); ok {
				msgs = append(msgs, evt)
			}
		}
		if resp.End == "" || len(resp.Chunk) == 0 {
			break
		}
		from = resp.End
	}
	slices.Reverse(msgs)
	return msgs
}

// checkSequence compares the messages of one conversation as they arrived (got) with those sent,
// in order (want), and reports every message missing, every one that arrived more than once and
// the first one that overtook an earlier one, with what detail says of each. It returns the numbers
// missing and repeated.
func checkSequence(t *testing.T, where string, got, want []string, detail func(string) string) (missing, dups int) {
	t.Helper()
	index := make(map[string]int, len(want))
	for i, w := range want {
		index[w] = i
	}
	count := map[string]int{}
	last, inverted := -1, false
	for _, g := range got {
		i, ok := index[g]
		if !ok {
			t.Errorf("%s: %q was never sent", where, g)
			continue
		}
		if count[g]++; count[g] > 1 {
			dups++
			t.Errorf("%s: %q arrived %d times", where, g, count[g])
			continue
		}
		if i < last && !inverted {
			inverted = true
			t.Errorf("%s: %q%s arrived after %q%s", where, g, detail(g), want[last], detail(want[last]))
		}
		last = max(last, i)
	}
	for _, w := range want {
		if count[w] == 0 {
			if missing++; missing <= 5 {
				t.Errorf("%s: %q is missing", where, w)
			}
		}
	}
	if missing > 5 {
		t.Errorf("%s: %d messages missing in all", where, missing)
	}
	return missing, dups
}

// flakyGateway is an HTTP gateway that fails a share of the requests once fail is set, and records
// the messages it took responsibility for: those it answered 2xx, and those whose answer it lost.
type flakyGateway struct {
	srv  *httptest.Server
	fail atomic.Bool

	mu       sync.Mutex
	arrivals []gwArrival
	injected map[string]int
	problems []string
}

type gwArrival struct{ key, to, text string }

// The fault mix, in percent of requests.
const (
	faultStatus  = 6 // 503 with a JSON error
	faultHang    = 3 // no answer for a second, then the connection closes
	faultReset   = 3 // the connection is reset before an answer
	faultLostAns = 2 // the message is taken, then the connection is reset: the bridge must resend
)

func newFlakyGateway(t *testing.T) *flakyGateway {
	g := &flakyGateway{injected: map[string]int{}}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(func() {
		g.srv.CloseClientConnections()
		g.srv.Close()
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, p := range g.problems {
			t.Errorf("gateway: %s", p)
		}
	})
	return g
}

func (g *flakyGateway) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusNoContent) // the bridge's health probe
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return // the bridge went away mid-request
	}
	key := r.Header.Get("Idempotency-Key")
	m, err := cpim.Parse(body)
	if err != nil || len(m.To) != 1 {
		g.problem("unparsable or multi-recipient message (%v): %q", err, body)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+tokenOut {
		g.problem("Authorization %q", got)
	}
	if msgID, _ := m.Get(imdn.Namespace, imdn.HeaderMessageID); msgID != key || key == "" {
		g.problem("Idempotency-Key %q but imdn.Message-ID %q", key, msgID)
	}
	arrival := gwArrival{key: key, to: m.To[0].URI, text: string(m.Content.Body)}
	fate := 100
	if g.fail.Load() {
		fate = rand.IntN(100)
	}
	switch {
	case fate < faultStatus:
		g.count("503")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"errcode":"BUSY","error":"try again"}`)
	case fate < faultStatus+faultHang:
		g.count("hang")
		time.Sleep(time.Second)
		g.abort(w, false)
	case fate < faultStatus+faultHang+faultReset:
		g.count("reset")
		g.abort(w, true)
	case fate < faultStatus+faultHang+faultReset+faultLostAns:
		g.count("lost answer")
		g.record(arrival)
		g.abort(w, true)
	default:
		g.record(arrival)
		w.WriteHeader(http.StatusAccepted)
	}
}

// abort ends the connection without an answer; with reset the peer sees a TCP RST.
func (g *flakyGateway) abort(w http.ResponseWriter, reset bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		g.problem("hijack: %v", err)
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok && reset {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

func (g *flakyGateway) record(a gwArrival) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.arrivals = append(g.arrivals, a)
}

func (g *flakyGateway) count(fault string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.injected[fault]++
}

func (g *flakyGateway) problem(format string, args ...any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.problems = append(g.problems, fmt.Sprintf(format, args...))
}

// hasAll reports whether every key of want has arrived.
func (g *flakyGateway) hasAll(want map[string]string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	got := map[string]bool{}
	for _, a := range g.arrivals {
		got[a.key] = true
	}
	for k := range want {
		if !got[k] {
			return false
		}
	}
	return true
}

func (g *flakyGateway) snapshot() ([]gwArrival, map[string]int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.arrivals), maps.Clone(g.injected)
}
