package bridge

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"

	"github.com/matrix-cpim/matrix-cpim/database"
	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/metrics"
)

// The delivery worker takes the messages Accept stored to Matrix. Each conversation is a lane (see
// laneScheduler): its messages reach Matrix in the order they were accepted, and a message that
// fails is retried after a pause, with the later messages of its conversation waiting behind it,
// while the other conversations go on, up to inboundParallel at a time.

const (
	inboundParallel   = 8
	inboundIdlePoll   = 30 * time.Second
	inboundRetryPause = 5 * time.Second
)

// deliveryLoop delivers pending inbound messages until ctx ends.
func (c *Connector) deliveryLoop(ctx context.Context) {
	s := &laneScheduler{
		log:      c.Bridge.Log.With().Str("component", "cpim inbound").Logger(),
		parallel: inboundParallel,
		heads: func(ctx context.Context) ([]laneHead, error) {
			pending, err := c.db.Inbound.PendingLanes(ctx)
			lanes := make([]laneHead, len(pending))
			for i, l := range pending {
				lanes[i] = laneHead{lane: l}
			}
			return lanes, err
		},
		idlePoll: inboundIdlePoll,
		step:     c.deliveryStep,
		news:     make(chan string, newsBuffer),
		missed:   make(chan struct{}, 1),
	}
	c.db.Inbound.OnStored(s.notify)
	s.run(ctx)
}

// inboundLog is the log of inbound delivery, made when there is something to say: the step that
// uses it runs for every message.
func (c *Connector) inboundLog() *zerolog.Logger {
	log := c.Bridge.Log.With().Str("component", "cpim inbound").Logger()
	return &log
}

// deliveryStep delivers the oldest pending message of a lane.
func (c *Connector) deliveryStep(ctx context.Context, lane string) (laneStep, time.Time) {
	row, err := c.db.Inbound.NextPending(ctx, lane)
	if err != nil {
		if ctx.Err() == nil {
			c.inboundLog().Err(err).Msg("Failed to read pending inbound messages")
		}
		return laneWait, time.Now().Add(inboundRetryPause)
	}
	if row == nil {
		return laneEmpty, time.Time{}
	}
	if err = c.deliver(ctx, row); err != nil && ctx.Err() == nil {
		var refusal *gateway.Refusal
		if errors.As(err, &refusal) {
			err = c.dropInbound(ctx, row, err)
		} else {
			c.inboundLog().Err(err).Str("gateway", row.Gateway).Str("key", row.Key).Msg("Failed to deliver inbound message to Matrix, will retry")
		}
	}
	if err != nil {
		return laneWait, time.Now().Add(inboundRetryPause)
	}
	return laneMore, time.Time{}
}

// dropInbound ends the delivery of a message that can never reach Matrix: deliver refuses it the
// way Accept refuses a message, because something changed since it was accepted (the bridge now
// runs with split_portals and it is a group message, say). Retrying would hold up its conversation
// for good, so it is logged, counted as refused, answered with a failed delivery notification if
// the sender asked for one (RFC 5438), and marked done. A retry from the gateway gets Accept's
// refusal, for the same reason.
func (c *Connector) dropInbound(ctx context.Context, row *database.Inbound, reason error) error {
	log := c.inboundLog().With().Str("gateway", row.Gateway).Str("key", row.Key).Logger()
	log.Error().Err(reason).Msg("Dropping an inbound message that cannot reach Matrix")
	if err := c.answerFailed(ctx, row); err != nil {
		log.Err(err).Msg("Failed to queue the failed delivery notification, will retry")
		return err
	}
	if err := c.db.Inbound.MarkDelivered(ctx, row.Gateway, row.Key, time.Now()); err != nil {
		log.Err(err).Msg("Failed to mark the dropped message done, will retry")
		return err
	}
	c.metrics.ObserveFailure(metrics.In, row.Gateway, reason)
	return nil
}
