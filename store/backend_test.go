package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/qrun-dev/qrun/internal/pgtest"
)

// backend is one implementation of Store under test.
type backend struct {
	name  string // "sqlite" or "postgres"
	title string // the subtest's name: not "sqlite", which t.TempDir's
	// random digits could turn into "sqlite3", a word messages must not say
	// fresh returns the location of a new, empty registry.
	fresh func(t *testing.T) string
}

var (
	sqliteBackend = backend{name: "sqlite", title: "SQLite", fresh: func(t *testing.T) string {
		return filepath.Join(t.TempDir(), ".qrun", "qrun.db")
	}}
	postgresBackend = backend{name: "postgres", title: "PostgreSQL", fresh: func(t *testing.T) string {
		return pgtest.NewDatabase(t)
	}}
	backends = []backend{sqliteBackend, postgresBackend}
)

// forEachBackend runs f as a subtest per backend: every behaviour of the
// registry is checked on SQLite and on PostgreSQL alike. The PostgreSQL
// subtests skip with one line where no PostgreSQL is installed (and fail
// instead under CI=true or QRUN_REQUIRE_POSTGRES=1).
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.title, func(t *testing.T) {
			if b.name == "postgres" {
				pgtest.Shared(t)
			}
			f(t, b)
		})
	}
}

// forEachStore runs f once per backend with a new, empty registry.
func forEachStore(t *testing.T, f func(t *testing.T, s Store)) {
	forEachBackend(t, func(t *testing.T, b backend) { f(t, b.new(t)) })
}

// open opens the registry at loc, closed when the test ends.
func (b backend) open(t *testing.T, loc string, opts ...Options) Store {
	t.Helper()
	o := Options{LockTimeout: 10 * time.Second}
	if len(opts) > 0 {
		o = opts[0]
	}
	s, err := Open(context.Background(), loc, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// new opens a new, empty registry.
func (b backend) new(t *testing.T) Store { return b.open(t, b.fresh(t)) }

// testDB is a registry's connection pool for tests reaching under the
// interface, with ? placeholders rewritten for the driver.
type testDB struct {
	*sql.DB
	d dialect
}

func rawDB(s Store) testDB {
	switch s := s.(type) {
	case *SQLite:
		return testDB{s.db, s}
	case *Postgres:
		return testDB{s.db, s}
	}
	panic("rawDB: unknown store")
}

func (d testDB) Exec(q string, args ...any) (sql.Result, error) {
	return d.DB.Exec(d.d.rebind(q), args...)
}

func (d testDB) Query(q string, args ...any) (*sql.Rows, error) {
	return d.DB.Query(d.d.rebind(q), args...)
}

func (d testDB) QueryRow(q string, args ...any) *sql.Row {
	return d.DB.QueryRow(d.d.rebind(q), args...)
}

// column is the one column of q's rows, read through db (a testDB or a
// transaction).
func column[T any](t *testing.T, db interface {
	Query(string, ...any) (*sql.Rows, error)
}, q string) []T {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// schemaOf is the registry's schema version.
func schemaOf(t *testing.T, s Store) int64 {
	t.Helper()
	var v int64
	var err error
	switch s := s.(type) {
	case *SQLite:
		v, err = s.schema(context.Background(), s.db)
	case *Postgres:
		v, err = s.schema(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}
