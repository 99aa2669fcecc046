package bridge

import (
	"context"
	"fmt"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/database"
	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/metrics"
)

// The outbound worker takes queued Matrix messages to their gateways. Each conversation is a lane
// (see laneScheduler): its messages go out in order, a message waiting until the one before it was
// delivered or given up, while the conversations proceed independently, up to outboundParallel
// sends at a time. A gateway that is down therefore delays only its own conversations.

const (
	outboundParallel = 8
	outboundIdlePoll = 30 * time.Second
)

func (c *Connector) outboundLoop(ctx context.Context) {
	s := &laneScheduler{
		log:      c.Bridge.Log.With().Str("component", "cpim outbound").Logger(),
		parallel: outboundParallel,
		heads: func(ctx context.Context) ([]laneHead, error) {
			heads, err := c.db.Outbound.Heads(ctx)
			lanes := make([]laneHead, len(heads))
			for i, h := range heads {
				lanes[i] = laneHead{lane: h.Conversation, due: h.NextAttemptAt}
			}
			return lanes, err
		},
		idlePoll: outboundIdlePoll,
		step:     c.outboundStep,
		news:     make(chan string, newsBuffer),
		missed:   make(chan struct{}, 1),
	}
	c.db.Outbound.OnQueued(s.notify)
	s.run(ctx)
}

// outboundStep makes one attempt at the oldest queued message of a conversation, if it is due.
func (c *Connector) outboundStep(ctx context.Context, conversation string) (laneStep, time.Time) {
	o, err := c.db.Outbound.Head(ctx, conversation)
	if err != nil {
		if ctx.Err() == nil {
			c.Bridge.Log.Err(err).Str("component", "cpim outbound").Msg("Failed to read the outbound queue")
		}
		return laneWait, time.Now().Add(time.Second)
	}
	if o == nil {
		return laneEmpty, time.Time{}
	}
	if o.NextAttemptAt.After(time.Now()) {
		return laneWait, o.NextAttemptAt
	}
	c.attempt(ctx, o)
	return laneMore, time.Time{}
}

// attempt sends one queued message once and records the outcome.
func (c *Connector) attempt(ctx context.Context, o *database.Outbound) {
	log := c.Bridge.Log.With().Str("component", "cpim outbound").Str("trans_id", o.TransID).Logger()
	gwName, err := c.sendQueued(ctx, o)
	if ctx.Err() != nil {
		return // shutting down: the message stays queued for the next start
	}
	if err == nil {
		c.metrics.ObserveDelivery(metrics.Out, gwName, time.Since(o.CreatedAt))
		if err = c.db.Outbound.Delete(ctx, o.Seq); err != nil {
			log.Err(err).Msg("Delivered, but failed to remove from the queue; it may be sent again")
		}
		return
	}
	o.Attempts++
	deadline := o.CreatedAt.Add(c.Config.DeliveryDeadline)
	next := time.Now().Add(gateway.RetryPolicy{}.Backoff(o.Attempts, err))
	if gateway.IsTemporary(err) && next.Before(deadline) {
		log.Warn().Err(err).Int("attempts", o.Attempts).Time("next_attempt", next).Msg("Delivery failed, will retry")
		if err = c.db.Outbound.Reschedule(ctx, o.Seq, o.Attempts, next, err.Error()); err != nil {
			log.Err(err).Msg("Failed to reschedule")
		}
		return
	}
	if gateway.IsTemporary(err) {
		err = fmt.Errorf("gave up after %d attempts in %s: %w", o.Attempts, c.Config.DeliveryDeadline, err)
	}
	log.Warn().Err(err).Msg("Delivery failed for good")
	c.metrics.ObserveFailure(metrics.Out, gwName, err)
	if o.EventID != "" { // IMDNs the bridge sends have no Matrix event
		c.reportFailure(ctx, o, err)
	}
	if err = c.db.Outbound.Delete(ctx, o.Seq); err != nil {
		log.Err(err).Msg("Failed to remove a failed message from the queue")
	}
}

// sendQueued makes one attempt and returns the name of the gateway it went to.
func (c *Connector) sendQueued(ctx context.Context, o *database.Outbound) (string, error) {
	m, err := cpim.Parse(o.Body)
	if err != nil {
		return "", fmt.Errorf("queued message does not parse: %w", err)
	}
	sender, gwName, err := c.router.Route(ctx, o.Domain)
	if err != nil {
		return "", err
	}
	if err = sender.Send(ctx, &gateway.Outbound{TransID: o.TransID, Message: m, Body: o.Body}); err != nil {
		return gwName, fmt.Errorf("gateway %s: %w", gwName, err)
	}
	return gwName, nil
}

// reportFailure shows the user that a message did not reach the contact, with the reason.
func (c *Connector) reportFailure(ctx context.Context, o *database.Outbound, err error) {
	status := sendFailure(err, event.MessageStatusNetworkError)
	c.Bridge.Matrix.SendMessageStatus(ctx, &status, &bridgev2.MessageStatusEventInfo{
		RoomID:        id.RoomID(o.RoomID),
		SourceEventID: id.EventID(o.EventID),
		EventType:     event.NewEventType(o.EventType),
		MessageType:   event.MessageType(o.MsgType),
		Sender:        id.UserID(o.Sender),
	})
}
