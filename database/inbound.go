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

// Inbound is a message a gateway handed over, as received.
type Inbound struct {
	Gateway    string
	Key        string
	Recipient  string // Matrix user ID the message is for
	Body       []byte // the CPIM message octets as received, so it can be parsed again after a restart
	ReceivedAt time.Time
	// AttemptedAt is when the message was last handed to bridgev2, zero if never.
	AttemptedAt time.Time
	// DeliveredAt is zero while the message has not reached Matrix yet.
	DeliveredAt time.Time
	// Lane names the conversation: messages of one lane reach Matrix in the order they were
	// accepted, different lanes independently.
	Lane string
}

// InboundQuery reads and writes cpim_inbound.
type InboundQuery struct {
	db       *dbutil.Database
	bridgeID string
	stored   atomic.Pointer[func(lane string)]
}

// OnStored makes Insert call f with the lane of every new message it stores, once stored, so that
// the delivery worker learns of new messages without reading all pending ones.
func (q *InboundQuery) OnStored(f func(lane string)) { q.stored.Store(&f) }

const (
	insertInboundQuery = `
		INSERT INTO cpim_inbound (bridge_id, gateway, idem_key, recipient, body, received_at, lane)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (bridge_id, gateway, idem_key) DO NOTHING
	`
	markInboundAttemptedQuery = `
		UPDATE cpim_inbound SET attempted_at=$4 WHERE bridge_id=$1 AND gateway=$2 AND idem_key=$3
	`
	markInboundDeliveredQuery = `
		UPDATE cpim_inbound SET delivered_at=$4 WHERE bridge_id=$1 AND gateway=$2 AND idem_key=$3
	`
	inboundColumns             = `gateway, idem_key, recipient, body, received_at, attempted_at, delivered_at, lane`
	getPendingLanesQuery       = `SELECT DISTINCT lane FROM cpim_inbound WHERE bridge_id=$1 AND delivered_at IS NULL`
	getNextPendingInboundQuery = `
		SELECT ` + inboundColumns + ` FROM cpim_inbound
		WHERE bridge_id=$1 AND lane=$2 AND delivered_at IS NULL ORDER BY seq LIMIT 1
	`
	getInboundQuery = `
		SELECT ` + inboundColumns + ` FROM cpim_inbound WHERE bridge_id=$1 AND gateway=$2 AND idem_key=$3
	`
	inboundStatsQuery = `
		SELECT gateway, COUNT(*), MIN(received_at) FROM cpim_inbound
		WHERE bridge_id=$1 AND delivered_at IS NULL GROUP BY gateway
	`
	deleteExpiredInboundQuery = `
		DELETE FROM cpim_inbound WHERE bridge_id=$1 AND delivered_at IS NOT NULL AND received_at<$2
	`
)

// Insert stores a newly accepted message. It reports false, without error, when the gateway already
// handed over a message with the same key: that is a retry, and the first copy stands.
func (q *InboundQuery) Insert(ctx context.Context, in *Inbound) (bool, error) {
	res, err := q.db.Exec(ctx, insertInboundQuery, q.bridgeID, in.Gateway, in.Key, in.Recipient, in.Body, in.ReceivedAt.UnixMilli(), in.Lane)
	if err != nil {
		return false, fmt.Errorf("store inbound message: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store inbound message: %w", err)
	}
	if f := q.stored.Load(); f != nil && n == 1 {
		(*f)(in.Lane)
	}
	return n == 1, nil
}

// MarkAttempted records that the message is being handed to bridgev2, which sends it to Matrix
// before it stores that it did: a message attempted but not delivered when the bridge stopped may
// be in Matrix already.
func (q *InboundQuery) MarkAttempted(ctx context.Context, gateway, key string, at time.Time) error {
	_, err := q.db.Exec(ctx, markInboundAttemptedQuery, q.bridgeID, gateway, key, at.UnixMilli())
	return err
}

// MarkDelivered records that the message reached Matrix.
func (q *InboundQuery) MarkDelivered(ctx context.Context, gateway, key string, at time.Time) error {
	_, err := q.db.Exec(ctx, markInboundDeliveredQuery, q.bridgeID, gateway, key, at.UnixMilli())
	return err
}

// Get returns one message, or nil if there is none.
func (q *InboundQuery) Get(ctx context.Context, gateway, key string) (*Inbound, error) {
	in, err := scanInbound(q.db.QueryRow(ctx, getInboundQuery, q.bridgeID, gateway, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return in, err
}

// PendingLanes returns the lanes that have messages not in Matrix yet.
func (q *InboundQuery) PendingLanes(ctx context.Context) ([]string, error) {
	rows, err := q.db.Query(ctx, getPendingLanesQuery, q.bridgeID)
	return dbutil.NewRowIterWithError(rows, dbutil.ScanSingleColumn[string], err).AsList()
}

// NextPending returns the oldest message of lane that has not reached Matrix, or nil if there is
// none.
func (q *InboundQuery) NextPending(ctx context.Context, lane string) (*Inbound, error) {
	in, err := scanInbound(q.db.QueryRow(ctx, getNextPendingInboundQuery, q.bridgeID, lane))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return in, err
}

// QueueStat is the backlog of one gateway's accepted messages not yet in Matrix.
type QueueStat struct {
	Gateway string
	Depth   int
	Oldest  time.Time
}

// Stats returns the backlog per gateway; gateways without one are left out.
func (q *InboundQuery) Stats(ctx context.Context) ([]QueueStat, error) {
	rows, err := q.db.Query(ctx, inboundStatsQuery, q.bridgeID)
	return dbutil.NewRowIterWithError(rows, func(row dbutil.Scannable) (QueueStat, error) {
		var st QueueStat
		var oldest int64
		err := row.Scan(&st.Gateway, &st.Depth, &oldest)
		st.Oldest = time.UnixMilli(oldest)
		return st, err
	}, err).AsList()
}

// DeleteExpired forgets delivered messages received before cutoff; after that a gateway retry with
// the same key would be taken as a new message, so cutoff is the idempotency window.
func (q *InboundQuery) DeleteExpired(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := q.db.Exec(ctx, deleteExpiredInboundQuery, q.bridgeID, cutoff.UnixMilli())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func scanInbound(row dbutil.Scannable) (*Inbound, error) {
	var in Inbound
	var received int64
	var attempted, delivered sql.NullInt64
	if err := row.Scan(&in.Gateway, &in.Key, &in.Recipient, &in.Body, &received, &attempted, &delivered, &in.Lane); err != nil {
		return nil, err
	}
	in.ReceivedAt = time.UnixMilli(received)
	if attempted.Valid {
		in.AttemptedAt = time.UnixMilli(attempted.Int64)
	}
	if delivered.Valid {
		in.DeliveredAt = time.UnixMilli(delivered.Int64)
	}
	return &in, nil
}
