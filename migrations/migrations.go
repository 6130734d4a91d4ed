// Package migrations holds qrun's registry schema as numbered goose SQL
// migrations, embedded in the binary so that every qrun can bring a registry
// up to the schema it knows, and recognise one written by a newer qrun.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sqlite/*.sql postgres/*.sql
var embedded embed.FS

// SQLite is the SQLite registry's migrations: goose SQL files named
// NNNNN_description.sql at the root of the file system, each with a
// "-- +goose Up" and a "-- +goose Down" section. Migrations are append-only:
// a shipped file never changes, a schema change is a new file. (A function,
// not a variable: a command that opens no registry does no work for it.)
func SQLite() fs.FS { return sub(embedded, "sqlite") }

// Postgres is the PostgreSQL registry's migrations, in the same form. Each
// file has the number and the meaning of the SQLite file of the same number:
// the two dialects always hold the same schema version.
func Postgres() fs.FS { return sub(embedded, "postgres") }

func sub(fsys fs.FS, dir string) fs.FS {
	s, err := fs.Sub(fsys, dir)
	if err != nil {
		panic("migrations: " + err.Error()) // dir is a literal that go:embed guarantees
	}
	return s
}
