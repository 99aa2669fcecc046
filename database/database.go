// Package database holds this bridge's own tables, kept on the bridgev2 database next to the
// framework's tables and versioned separately (table cpim_version).
package database

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"

	"github.com/matrix-cpim/matrix-cpim/database/upgrades"
)

// Database is the connector's view of the bridge database.
type Database struct {
	*dbutil.Database
	Inbound  *InboundQuery
	Outbound *OutboundQuery
}

// New wraps the bridge's database; call Upgrade before use.
func New(bridgeID string, db *dbutil.Database, log zerolog.Logger) *Database {
	db = db.Child("cpim_version", upgrades.Table, dbutil.ZeroLogger(log))
	return &Database{
		Database: db,
		Inbound:  &InboundQuery{db: db, bridgeID: bridgeID},
		Outbound: &OutboundQuery{db: db, bridgeID: bridgeID},
	}
}

// Upgrade brings this bridge's tables to the latest version, then covers bridgev2's duplicate check
// of Matrix events on SQLite. bridgev2 looks every Matrix event up by its receiver and (mxid OR
// send_txn_id) before handling it (deduplicate_matrix_messages, which matrix-cpim turns on); SQLite
// answers that OR by reading every message row of the receiver, a cost that grows with the history
// (47–56 % of outbound CPU in BENCHMARKS.md), and with this index reads only index entries.
// PostgreSQL combines bridgev2's own indexes. The index is on bridgev2's table, so it is not part of
// this bridge's versioned schema: it is made again, if missing, on every start, in case a bridgev2
// upgrade rebuilt the table.
func (db *Database) Upgrade(ctx context.Context) error {
	if err := db.Database.Upgrade(ctx); err != nil {
		return err
	}
	if db.Dialect != dbutil.SQLite {
		return nil
	}
	if _, err := db.Exec(ctx, `CREATE INDEX IF NOT EXISTS cpim_message_dedup_idx ON message (bridge_id, room_receiver, mxid, send_txn_id)`); err != nil {
		return fmt.Errorf("index bridgev2's message table for its duplicate check: %w", err)
	}
	return nil
}
