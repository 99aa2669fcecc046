package bridge

import (
	"context"
	"time"

	"maunium.net/go/mautrix"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
)

// bridgev2 sends a message to Matrix first and stores that it did second, with a random
// transaction ID, so a crash between the two would make the redelivery after the restart a second
// copy. Every inbound message therefore carries its inbound key in its Matrix event, and before a
// message that was being sent when the bridge stopped is sent again, the room is searched for it.

// inboundKeyField is the event content field holding the cpim_inbound key of the message.
const inboundKeyField = "org.matrix-cpim.inbound_key"

// resendSearchDepth is how far back the room is searched: messages are delivered in order, so an
// interrupted one is among the last the ghost sent.
const resendSearchDepth = 50

// adoptSent looks for an earlier copy of the message in its room and, if there is one, records it
// in bridgev2's message table as if bridgev2 had finished sending it.
func (c *Connector) adoptSent(ctx context.Context, key networkid.PortalKey, ghostID networkid.UserID, msgID networkid.MessageID, ts time.Time, inboundKey string, meta any) (bool, error) {
	p, err := c.Bridge.GetExistingPortalByKey(ctx, key)
	if err != nil || p == nil || p.MXID == "" {
		return false, err
	}
	ghost := c.matrix.FormatGhostMXID(ghostID)
	resp, err := c.matrix.AS.Intent(ghost).Messages(ctx, p.MXID, "", "", mautrix.DirectionBackward, nil, resendSearchDepth)
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
