// Package database holds this bridge's own tables, kept on the bridgev2 database next to the
// framework's tables and versioned separately (table cpim_version).
package database

import (
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
