package bridge

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"maunium.net/go/mautrix"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"
)

// bridgev2 sends a message to Matrix first and stores that it did second, with a random
// transaction ID, so a crash between the two would make the redelivery after the restart a second
// copy. Two things prevent that. Every inbound message carries its inbound key in its Matrix
// event, and the send's transaction ID is made from it (sendTxnIDs), so the homeserver answers a
// second send of the message with the first one's event, even while the first is still being
// handled when the bridge restarts (Synapse keeps transaction IDs for 30 minutes, in memory).
// Beyond that, before a message that was being sent when the bridge stopped is sent again, the
// room is searched for it (adoptSent).

// inboundKeyField is the event content field holding the cpim_inbound key of the message.
const inboundKeyField = "org.matrix-cpim.inbound_key"

// resendSearchDepth is how far back the room is searched: messages are delivered in order, so an
// interrupted one is among the last the ghost sent.
const resendSearchDepth = 50

// adoptSent reports whether the message is in its room already. If bridgev2 has not recorded it
// (the bridge stopped between sending and storing), it looks for an earlier copy in the room and,
// if there is one, records it in bridgev2's message table as if bridgev2 had finished sending it.
func (c *Connector) adoptSent(ctx context.Context, key networkid.PortalKey, ghostID networkid.UserID, msgID networkid.MessageID, ts time.Time, inboundKey string, meta any) (bool, error) {
	// The bridge may also have stopped after bridgev2 stored the message but before the delivery
	// was marked: then it is known, and adding it again would break the table's primary key.
	if known, err := c.Bridge.DB.Message.GetFirstPartByID(ctx, key.Receiver, msgID); err != nil || known != nil {
		return known != nil, err
	}
	p, err := c.Bridge.GetExistingPortalByKey(ctx, key)
	if err != nil || p == nil || p.MXID == "" {
		return false, err
	}
	ghost := c.matrix.FormatGhostMXID(ghostID)
	// Only the ghost's events: the Matrix user may have written a lot while the bridge was down.
	filter := &mautrix.FilterPart{Senders: []id.UserID{ghost}}
	resp, err := c.matrix.AS.Intent(ghost).Messages(ctx, p.MXID, "", "", mautrix.DirectionBackward, filter, resendSearchDepth)
	if err != nil {
		return false, err
	}
	for _, evt := range resp.Chunk {
		if evt.Sender != ghost || evt.Content.Raw[inboundKeyField] != inboundKey {
			continue
		}
		c.Bridge.Log.Info().Str("cpim_key", inboundKey).Stringer("event_id", evt.ID).
			Msg("Message was sent to Matrix before the bridge stopped; not sending it again")
		return true, c.Bridge.DB.Message.Insert(ctx, &bridgedb.Message{
			ID:         msgID,
			MXID:       evt.ID,
			Room:       key,
			SenderID:   ghostID,
			SenderMXID: ghost,
			Timestamp:  ts,
			Metadata:   meta,
		})
	}
	return false, nil
}

// installSendTxnIDs puts sendTxnIDs in the transport of the appservice's HTTP client, which every
// ghost's client shares.
func (c *Connector) installSendTxnIDs() {
	hc := c.matrix.AS.HTTPClient
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc.Transport = sendTxnIDs{next}
}

// sendTxnIDs is the transport of the bridge's requests to the homeserver. It replaces the random
// transaction ID of every event send that carries an inbound key by one made from the key and the
// sending ghost, so that sending one inbound message twice gives one Matrix event.
type sendTxnIDs struct{ next http.RoundTripper }

// inboundKeyJSON is how the inbound key starts in an event's JSON; it cannot occur in a string
// value, where the quotes would be escaped.
var inboundKeyJSON = []byte(`"` + inboundKeyField + `":`)

func (t sendTxnIDs) RoundTrip(req *http.Request) (*http.Response, error) {
	if txnID := inboundTxnID(req); txnID != "" {
		// The escaped path, where a slash in the room ID is still %2F.
		path := req.URL.EscapedPath()
		path = path[:strings.LastIndexByte(path, '/')+1] + txnID
		req = req.Clone(req.Context())
		req.URL.RawPath = path
		req.URL.Path, _ = url.PathUnescape(path)
	}
	return t.next.RoundTrip(req)
}

// inboundTxnID returns the transaction ID for req if it sends an event carrying an inbound key
// (PUT /_matrix/client/*/rooms/{room}/send/{type}/{txnId}), else "".
func inboundTxnID(req *http.Request) string {
	if req.Method != http.MethodPut || req.GetBody == nil || !strings.Contains(req.URL.EscapedPath(), "/send/") {
		return ""
	}
	body, err := req.GetBody()
	if err != nil {
		return ""
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil || !bytes.Contains(data, inboundKeyJSON) {
		return ""
	}
	var content map[string]json.RawMessage
	var key string
	if json.Unmarshal(data, &content) != nil || json.Unmarshal(content[inboundKeyField], &key) != nil || key == "" {
		return ""
	}
	// The user_id parameter is the ghost, and a ghost's messages come through one gateway, the one
	// its domain belongs to: together with the key it names one inbound message.
	sum := sha256.Sum256([]byte(req.URL.Query().Get("user_id") + "\x00" + key))
	return "cpim-in-" + base64.RawURLEncoding.EncodeToString(sum[:])
}
