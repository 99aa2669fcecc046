// Package dbtest gives tests a fresh database of each backend the bridge supports.
package dbtest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/lib/pq"
	"go.mau.fi/util/dbutil"
	_ "go.mau.fi/util/dbutil/litestream" // registers sqlite3-fk-wal, as mxmain does
)

// EnvPostgres names a PostgreSQL server URL (postgres://user@host:port/db?sslmode=disable) that tests
// may create throwaway databases on. .ci/run starts such a server and sets it.
const EnvPostgres = "MATRIX_CPIM_TEST_POSTGRES"

// Backend is a database a test can use: Type and URI as they go into the bridge's database config.
type Backend struct {
	Name string
	Type string
	URI  string
}

// Backends returns a fresh, empty database of every supported backend: SQLite always, PostgreSQL when
// EnvPostgres is set. Under CI (CI=true) a missing EnvPostgres fails the test rather than silently
// testing SQLite alone.
func Backends(t testing.TB) []Backend {
	t.Helper()
	b := []Backend{SQLite(t)}
	if os.Getenv(EnvPostgres) != "" {
		b = append(b, Postgres(t))
	} else if os.Getenv("CI") != "" {
		t.Fatalf("CI run without %s: PostgreSQL would go untested", EnvPostgres)
	}
	return b
}

// SQLite returns a new SQLite database file in the test's temporary directory.
func SQLite(t testing.TB) Backend {
	return Backend{Name: "sqlite", Type: "sqlite3-fk-wal", URI: "file:" + filepath.Join(t.TempDir(), "bridge.db") + "?_txlock=immediate"}
}

// Postgres creates a new database on the server named by EnvPostgres and drops it when the test ends.
func Postgres(t testing.TB) Backend {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Fatalf("%s is not set", EnvPostgres)
	}
	admin, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "cpimtest_" + hex.EncodeToString(rnd[:])
	if _, err = admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database on %s: %v", base, err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return Backend{Name: "postgres", Type: "postgres", URI: u.String()}
}

// Open connects to the backend; the connection is closed when the test ends.
func (b Backend) Open(t testing.TB) *dbutil.Database {
	t.Helper()
	db, err := dbutil.NewWithDialect(b.URI, b.Type)
	if err != nil {
		t.Fatalf("open %s: %v", b.Name, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
