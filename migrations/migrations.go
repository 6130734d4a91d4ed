// Package migrations holds qrun's registry schema as numbered goose SQL
// migrations, embedded in the binary so that every qrun can bring a registry
// up to the schema it knows, and recognise one written by a newer qrun.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sqlite/*.sql
var embedded embed.FS

// SQLite is the SQLite registry's migrations: goose SQL files named
// NNNNN_description.sql at the root of the file system, each with a
// "-- +goose Up" and a "-- +goose Down" section. Migrations are append-only:
// a shipped file never changes, a schema change is a new file.
var SQLite fs.FS = sub(embedded, "sqlite")

func sub(fsys fs.FS, dir string) fs.FS {
	s, err := fs.Sub(fsys, dir)
	if err != nil {
		panic("migrations: " + err.Error()) // dir is a literal that go:embed guarantees
	}
	return s
}
