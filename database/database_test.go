package database_test

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/matrix-cpim/matrix-cpim/database"
	"github.com/matrix-cpim/matrix-cpim/internal/dbtest"
)

// forEachBackend runs f against a freshly upgraded database of every backend.
func forEachBackend(t *testing.T, f func(t *testing.T, db *database.Database)) {
	for _, b := range dbtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			db := database.New("test", b.Open(t), zerolog.Nop())
			if err := db.Upgrade(context.Background()); err != nil {
				t.Fatal("upgrade:", err)
			}
			f(t, db)
		})
	}
}
