// Package upgrades holds the schema migrations of this bridge's own tables.
package upgrades

import (
	"embed"

	"go.mau.fi/util/dbutil"
)

//go:embed *.sql
var rawUpgrades embed.FS

// Table is applied by database.Database.Upgrade, after bridgev2's own tables.
var Table = dbutil.BuildUpgradeTable().WithFS(rawUpgrades).Finish()
