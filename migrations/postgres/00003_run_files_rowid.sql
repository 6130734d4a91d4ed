-- The SQLite registry's run_files becomes an ordinary (rowid) table in this
-- version (see the SQLite migration of the same number). PostgreSQL stores
-- every table one way, and large values out of line: nothing to change here;
-- the file keeps the two dialects at the same schema version.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
