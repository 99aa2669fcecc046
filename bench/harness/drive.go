package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"maunium.net/go/mautrix/id"
)

// Request headers that tell the baseline connector, which parses nothing, who a message is for and
// from. matrix-cpim ignores them and reads the CPIM headers.
const (
	HeaderTo   = "X-Bench-To"
	HeaderFrom = "X-Bench-From"
)

// InboundPath is where gateways POST messages, on the bridge's appservice listener.
const InboundPath = "/_cpim/v1/message"

// NewHTTPClient returns a client that keeps up to conns connections to one host open, so that a
// load of that concurrency does not open a connection per request.
func NewHTTPClient(conns int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = conns
	t.MaxIdleConnsPerHost = conns
	return &http.Client{Transport: t, Timeout: 2 * time.Minute}
}

// InboundDriver posts messages to the bridge as the gateways of Topo do.
type InboundDriver struct {
	URL    string   // bridge appservice listener
	Tokens []string // inbound token of gateway k
	Topo   Topology
	Run    string // keeps Idempotency-Keys of separate runs apart
	Size   int    // text size of each message
	Client *http.Client
}

// Op posts messages first … first+n-1, one request each, and wants 202 for every one.
func (d *InboundDriver) Op(ctx context.Context, first, n int) error {
	for seq := first; seq < first+n; seq++ {
		m, err := d.Topo.InboundMessage(d.Run, seq, d.Size)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL+InboundPath, bytes.NewReader(m.Body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+d.Tokens[m.Gateway])
		req.Header.Set("Content-Type", "message/cpim")
		req.Header.Set("Idempotency-Key", m.Key)
		req.Header.Set(HeaderTo, string(m.To))
		req.Header.Set(HeaderFrom, m.From)
		if err = expect(d.Client, req, http.StatusAccepted); err != nil {
			return fmt.Errorf("message %d: %w", seq, err)
		}
	}
	return nil
}

// Rooms remembers the Matrix room of each DM pair, learnt from where its messages arrived.
type Rooms struct {
	mu    sync.Mutex
	rooms map[int]id.RoomID
}

// NewRooms returns an empty Rooms.
func NewRooms() *Rooms { return &Rooms{rooms: map[int]id.RoomID{}} }

// Learn records that pair's messages go to room; it reports false if the pair was seen in another
// room before, which would mean the bridge split one conversation.
func (r *Rooms) Learn(pair int, room id.RoomID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.rooms[pair]; ok {
		return prev == room
	}
	r.rooms[pair] = room
	return true
}

// Get returns pair's room.
func (r *Rooms) Get(pair int) (id.RoomID, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	room, ok := r.rooms[pair]
	return room, ok
}

// Len is the number of pairs with a known room.
func (r *Rooms) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.rooms)
}

// TransactionDriver pushes m.room.message events to the bridge's appservice endpoint as a
// homeserver does: PUT /_matrix/app/v1/transactions/{txnID}, several events per transaction.
type TransactionDriver struct {
	URL     string // bridge appservice listener
	HSToken string
	Topo    Topology
	Rooms   *Rooms
	Run     string
	Size    int
	Client  *http.Client
	txn     atomic.Int64
}

// Op sends events first … first+n-1 in one transaction; event seq is from the user of pair
// seq mod Pairs, in that pair's room.
func (d *TransactionDriver) Op(ctx context.Context, first, n int) error {
	var body bytes.Buffer
	body.WriteString(`{"events":[`)
	now := time.Now().UnixMilli()
	for seq := first; seq < first+n; seq++ {
		pair := seq % d.Topo.Pairs()
		room, ok := d.Rooms.Get(pair)
		if !ok {
			return fmt.Errorf("message %d: no room known for pair %d", seq, pair)
		}
		if seq > first {
			body.WriteByte(',')
		}
		u, _ := d.Topo.Pair(seq)
		body.Write(MatrixEvent(d.Run, seq, d.Size, room, d.Topo.User(u), now))
	}
	body.WriteString(`]}`)
	txnID := d.Run + "-" + strconv.FormatInt(d.txn.Add(1), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, d.URL+"/_matrix/app/v1/transactions/"+txnID, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+d.HSToken)
	req.Header.Set("Content-Type", "application/json")
	if err = expect(d.Client, req, http.StatusOK); err != nil {
		return fmt.Errorf("transaction %s: %w", txnID, err)
	}
	return nil
}

// expect does req and wants status; the answer is read to the end so the connection is reused.
func expect(c *http.Client, req *http.Request, status int) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != status {
		return fmt.Errorf("%s, want %d: %.200s", resp.Status, status, body)
	}
	return nil
}
