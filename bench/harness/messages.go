package harness

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// marker tags every benchmark message text with its sequence number, so that the far end can tell
// which message arrived without decoding anything: the number follows it, ended by a non-digit.
const marker = "#seq="

// Text is the body of message seq: the marker and seq, padded with filler to at least size bytes.
func Text(seq, size int) string {
	s := "cpimbench " + marker + strconv.Itoa(seq) + " "
	if pad := size - len(s); pad > 0 {
		s += strings.Repeat("x", pad)
	}
	return s
}

// FindSeq returns the sequence number that follows the first marker in b.
func FindSeq(b []byte) (int, bool) {
	i := bytes.Index(b, []byte(marker))
	if i < 0 {
		return 0, false
	}
	b = b[i+len(marker):]
	n, digits := 0, 0
	for digits < len(b) && digits < 9 && b[digits] >= '0' && b[digits] <= '9' {
		n = n*10 + int(b[digits]-'0')
		digits++
	}
	return n, digits > 0
}

// Topology is who talks to whom: Users Matrix users (@u0 … on ServerName), each in a DM with Ghosts
// remote contacts (im:c0@gw0.example …) spread over Gateways gateways. Message seq goes to pair
// seq mod Pairs, so consecutive messages go to different portals.
type Topology struct {
	ServerName string
	Users      int
	Ghosts     int
	Gateways   int
}

// Pairs is the number of DM portals.
func (t Topology) Pairs() int { return t.Users * t.Ghosts }

// User is the Matrix ID of user u.
func (t Topology) User(u int) id.UserID { return id.NewUserID("u"+strconv.Itoa(u), t.ServerName) }

// Pair splits message seq into its user and ghost.
func (t Topology) Pair(seq int) (user, ghost int) {
	p := seq % t.Pairs()
	return p / t.Ghosts, p % t.Ghosts
}

// Gateway is the gateway that serves ghost g.
func (t Topology) Gateway(g int) int { return g % t.Gateways }

// GatewayDomain is the im: domain gateway k serves.
func GatewayDomain(k int) string { return "gw" + strconv.Itoa(k) + ".example" }

// GhostURI is the im: address of ghost g.
func (t Topology) GhostURI(g int) string {
	return "im:c" + strconv.Itoa(g) + "@" + GatewayDomain(t.Gateway(g))
}

// Inbound is one message as a gateway posts it.
type Inbound struct {
	Gateway int
	To      id.UserID
	From    string // the ghost's ID in the bridge (user@domain)
	Key     string // Idempotency-Key
	Body    []byte // message/cpim
}

// InboundMessage builds message seq of run (the run name keeps keys of separate runs apart).
func (t Topology) InboundMessage(run string, seq, size int) (Inbound, error) {
	u, g := t.Pair(seq)
	to := t.User(u)
	from := t.GhostURI(g)
	ghost, err := portal.GhostID(from)
	if err != nil {
		return Inbound{}, fmt.Errorf("ghost %s: %w", from, err)
	}
	m := cpim.NewText(cpim.Address{Name: "Contact " + strconv.Itoa(g), URI: from}, cpim.Address{URI: "im:" + to.Localpart() + "@" + t.ServerName}, Text(seq, size))
	return Inbound{Gateway: t.Gateway(g), To: to, From: string(ghost), Key: run + "-" + strconv.Itoa(seq), Body: m.Bytes()}, nil
}

// MatrixEvent is the JSON of an m.room.message from sender in room, as a homeserver puts it in an
// appservice transaction.
func MatrixEvent(run string, seq, size int, room id.RoomID, sender id.UserID, tsMillis int64) []byte {
	return fmt.Appendf(nil, `{"type":"m.room.message","room_id":%q,"sender":%q,"event_id":"$%s-%d","origin_server_ts":%d,"content":{"msgtype":"m.text","body":%q}}`,
		room, sender, run, seq, tsMillis, Text(seq, size))
}
