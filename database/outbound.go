package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.mau.fi/util/dbutil"
)

// Outbound is a Matrix message queued for a gateway.
type Outbound struct {
	Seq     int64
	TransID string
	// Conversation groups the messages whose order must be kept (one portal).
	Conversation string
	// Domain is the recipient's im: domain; the gateway is chosen when the message is sent.
	Domain string
	Body   []byte // the serialized CPIM message, sent as it is on every attempt
	// The Matrix event, for the message status shown when delivery ends.
	RoomID, EventID, Sender, EventType, MsgType string

	CreatedAt     time.Time
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
}

// OutboundQuery reads and writes cpim_outbound.
type OutboundQuery struct {
	db       *dbutil.Database
	bridgeID string
	queued   atomic.Pointer[func(conversation string)]
}

// OnQueued makes Enqueue call f with the conversation of every message it stores, once stored, so
// that the worker learns of new messages without reading the whole queue.
func (q *OutboundQuery) OnQueued(f func(conversation string)) { q.queued.Store(&f) }

const (
	outboundColumns      = `seq, trans_id, conversation, domain, body, room_id, event_id, sender, event_type, msg_type, created_at, attempts, next_attempt_at, last_error`
	enqueueOutboundQuery = `
		INSERT INTO cpim_outbound (bridge_id, trans_id, conversation, domain, body, room_id, event_id, sender, event_type, msg_type, created_at, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
		ON CONFLICT (bridge_id, trans_id) DO NOTHING
	`
	// The oldest message of every conversation: later ones wait behind it. The inner query reads
	// only the conversation index.
	getOutboundHeadsQuery = `
		SELECT conversation, next_attempt_at FROM cpim_outbound
		WHERE seq IN (SELECT MIN(seq) FROM cpim_outbound WHERE bridge_id=$1 GROUP BY conversation)
	`
	getOutboundHeadQuery = `
		SELECT ` + outboundColumns + ` FROM cpim_outbound WHERE bridge_id=$1 AND conversation=$2 ORDER BY seq LIMIT 1
	`
	rescheduleOutboundQuery = `
		UPDATE cpim_outbound SET attempts=$3, next_attempt_at=$4, last_error=$5 WHERE bridge_id=$1 AND seq=$2
	`
	deleteOutboundQuery = `DELETE FROM cpim_outbound WHERE bridge_id=$1 AND seq=$2`
	outboundStatsQuery  = `SELECT COUNT(*), COALESCE(MIN(created_at), 0) FROM cpim_outbound WHERE bridge_id=$1`
)

// Enqueue stores a message. It reports false, without error, if a message with the same TransID is
// already queued: the homeserver sent the event again.
func (q *OutboundQuery) Enqueue(ctx context.Context, o *Outbound) (bool, error) {
	res, err := q.db.Exec(ctx, enqueueOutboundQuery, q.bridgeID, o.TransID, o.Conversation, o.Domain, o.Body,
		o.RoomID, o.EventID, o.Sender, o.EventType, o.MsgType, o.CreatedAt.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("queue outbound message: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("queue outbound message: %w", err)
	}
	if f := q.queued.Load(); f != nil && n == 1 {
		(*f)(o.Conversation)
	}
	return n == 1, nil
}

// OutboundHead says when the oldest queued message of a conversation is due.
type OutboundHead struct {
	Conversation  string
	NextAttemptAt time.Time
}

// Heads returns every conversation that has queued messages, with when its oldest is due.
func (q *OutboundQuery) Heads(ctx context.Context) ([]OutboundHead, error) {
	rows, err := q.db.Query(ctx, getOutboundHeadsQuery, q.bridgeID)
	return dbutil.NewRowIterWithError(rows, func(row dbutil.Scannable) (OutboundHead, error) {
		var h OutboundHead
		var next int64
		err := row.Scan(&h.Conversation, &next)
		h.NextAttemptAt = time.UnixMilli(next)
		return h, err
	}, err).AsList()
}

// Head returns the oldest queued message of a conversation, the one to send next, or nil if the
// conversation has none.
func (q *OutboundQuery) Head(ctx context.Context, conversation string) (*Outbound, error) {
	o, err := scanOutbound(q.db.QueryRow(ctx, getOutboundHeadQuery, q.bridgeID, conversation))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return o, err
}

// Reschedule records a failed attempt and when to try again.
func (q *OutboundQuery) Reschedule(ctx context.Context, seq int64, attempts int, next time.Time, lastErr string) error {
	_, err := q.db.Exec(ctx, rescheduleOutboundQuery, q.bridgeID, seq, attempts, next.UnixMilli(), lastErr)
	return err
}

// Delete removes a message whose delivery has ended, delivered or not.
func (q *OutboundQuery) Delete(ctx context.Context, seq int64) error {
	_, err := q.db.Exec(ctx, deleteOutboundQuery, q.bridgeID, seq)
	return err
}

// Stats returns how many messages are queued and when the oldest was queued (zero if none).
func (q *OutboundQuery) Stats(ctx context.Context) (int, time.Time, error) {
	var n int
	var oldest int64
	if err := q.db.QueryRow(ctx, outboundStatsQuery, q.bridgeID).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, err
	}
	if n == 0 {
		return 0, time.Time{}, nil
	}
	return n, time.UnixMilli(oldest), nil
}

func scanOutbound(row dbutil.Scannable) (*Outbound, error) {
	var o Outbound
	var created, next int64
	err := row.Scan(&o.Seq, &o.TransID, &o.Conversation, &o.Domain, &o.Body, &o.RoomID, &o.EventID, &o.Sender,
		&o.EventType, &o.MsgType, &created, &o.Attempts, &next, &o.LastError)
	if err != nil {
		return nil, err
	}
	o.CreatedAt, o.NextAttemptAt = time.UnixMilli(created), time.UnixMilli(next)
	return &o, nil
}
