package bridge

import (
	"context"
	"time"
)

// The delivery worker takes the messages Accept stored to Matrix, in the order they were accepted.

func (c *Connector) wakeDelivery() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// deliveryLoop delivers pending inbound messages, oldest first, until ctx ends. A failed delivery
// stops the round, so later messages never overtake it; the round is retried after a pause.
func (c *Connector) deliveryLoop(ctx context.Context) {
	log := c.Bridge.Log.With().Str("component", "cpim inbound").Logger()
	const retryPause = 5 * time.Second
	for {
		pause := time.Duration(0)
		pending, err := c.db.Inbound.Pending(ctx)
		if err != nil {
			log.Err(err).Msg("Failed to read pending inbound messages")
			pause = retryPause
		}
		for _, row := range pending {
			if err = c.deliver(ctx, row); err != nil {
				log.Err(err).Str("gateway", row.Gateway).Str("key", row.Key).Msg("Failed to deliver inbound message to Matrix, will retry")
				pause = retryPause
				break
			}
		}
		var timer <-chan time.Time
		if pause > 0 {
			timer = time.After(pause)
		}
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-timer:
		}
	}
}
