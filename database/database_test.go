package database_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"

	"github.com/matrix-cpim/matrix-cpim/database"
	"github.com/matrix-cpim/matrix-cpim/internal/dbtest"
)

// forEachBackend runs f against a freshly upgraded database of every backend.
func forEachBackend(t *testing.T, f func(t *testing.T, db *database.Database)) {
	for _, b := range dbtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			raw := b.Open(t)
			// The bridge's tables come after bridgev2's, as in Connector.Start.
			if err := bridgedb.New("test", bridgedb.MetaTypes{}, raw).Upgrade(context.Background()); err != nil {
				t.Fatal("bridgev2 upgrade:", err)
			}
			db := database.New("test", raw, zerolog.Nop())
			if err := db.Upgrade(context.Background()); err != nil {
				t.Fatal("upgrade:", err)
			}
			f(t, db)
		})
	}
}

// TestMessageDedupIndex checks that SQLite answers bridgev2's duplicate check of Matrix events
// (bridgev2/database MessageQuery.GetPartByTxnID) from cpim_message_dedup_idx instead of reading
// every message of the receiver.
func TestMessageDedupIndex(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *database.Database) {
		if db.Dialect != dbutil.SQLite {
			t.Skip("PostgreSQL combines bridgev2's own indexes")
		}
		rows, err := db.Query(context.Background(), `EXPLAIN QUERY PLAN SELECT * FROM message
			WHERE bridge_id=$1 AND (room_receiver=$2 OR room_receiver='') AND (mxid=$3 OR send_txn_id=$4)`, "b", "r", "$e", "t")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err = rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if p := strings.Join(plan, "; "); !strings.Contains(p, "cpim_message_dedup_idx") {
			t.Errorf("query plan %q does not use cpim_message_dedup_idx", p)
		}
	})
}
