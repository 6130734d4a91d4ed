-- The KV cache is a third identity axis (SPEC §12): each run records its
-- KV-cache setting and that setting's fingerprint, and KV-cache names are
-- registered like formats and granularities. Runs planned before the axis
-- existed quantized no KV cache: 'none', with no fingerprint (none is not
-- a registered name). Adding columns with constant defaults rewrites no
-- run; the names table is rebuilt (SQLite cannot change a CHECK in place),
-- keeping every row.

-- +goose Up
ALTER TABLE runs ADD COLUMN kv_cache TEXT NOT NULL DEFAULT 'none' CHECK (kv_cache <> '');
ALTER TABLE runs ADD COLUMN kv_cache_fp TEXT NOT NULL DEFAULT '';
-- qrun runs --kv-cache K: newest first, as the other filters.
CREATE INDEX runs_kv_cache_created ON runs (kv_cache, created_at DESC, id);

CREATE TABLE names_kv (
    kind        TEXT    NOT NULL CHECK (kind IN ('format', 'granularity', 'kv_cache')),
    name        TEXT    NOT NULL CHECK (name <> ''),
    fingerprint TEXT    NOT NULL,
    definition  TEXT    NOT NULL,
    first_run   TEXT    REFERENCES runs (id),
    created_at  INTEGER NOT NULL,
    retired     INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1)),
    PRIMARY KEY (kind, name)
);
INSERT INTO names_kv (kind, name, fingerprint, definition, first_run, created_at, retired)
    SELECT kind, name, fingerprint, definition, first_run, created_at, retired FROM names;
DROP TABLE names;
ALTER TABLE names_kv RENAME TO names;
CREATE INDEX names_kind_fingerprint ON names (kind, fingerprint);

-- +goose Down
DELETE FROM names WHERE kind = 'kv_cache';
CREATE TABLE names_fg (
    kind        TEXT    NOT NULL CHECK (kind IN ('format', 'granularity')),
    name        TEXT    NOT NULL CHECK (name <> ''),
    fingerprint TEXT    NOT NULL,
    definition  TEXT    NOT NULL,
    first_run   TEXT    REFERENCES runs (id),
    created_at  INTEGER NOT NULL,
    retired     INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1)),
    PRIMARY KEY (kind, name)
);
INSERT INTO names_fg (kind, name, fingerprint, definition, first_run, created_at, retired)
    SELECT kind, name, fingerprint, definition, first_run, created_at, retired FROM names;
DROP TABLE names;
ALTER TABLE names_fg RENAME TO names;
CREATE INDEX names_kind_fingerprint ON names (kind, fingerprint);
DROP INDEX runs_kv_cache_created;
ALTER TABLE runs DROP COLUMN kv_cache_fp;
ALTER TABLE runs DROP COLUMN kv_cache;
