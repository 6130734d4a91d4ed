-- The KV cache is a third identity axis (SPEC §12): each run records its
-- KV-cache setting and that setting's fingerprint, and KV-cache names are
-- registered like formats and granularities. Runs planned before the axis
-- existed quantized no KV cache: 'none', with no fingerprint (none is not
-- a registered name). Adding columns with constant defaults rewrites no
-- row (PostgreSQL 11 and newer); the names' kind constraint is replaced.

-- +goose Up
ALTER TABLE runs ADD COLUMN kv_cache TEXT COLLATE "C" NOT NULL DEFAULT 'none' CHECK (kv_cache <> '');
ALTER TABLE runs ADD COLUMN kv_cache_fp TEXT COLLATE "C" NOT NULL DEFAULT '';
-- qrun runs --kv-cache K: newest first, as the other filters.
CREATE INDEX runs_kv_cache_created ON runs (kv_cache, created_at DESC, id);
ALTER TABLE names DROP CONSTRAINT names_kind_check;
ALTER TABLE names ADD CONSTRAINT names_kind_check CHECK (kind IN ('format', 'granularity', 'kv_cache'));

-- +goose Down
DELETE FROM names WHERE kind = 'kv_cache';
ALTER TABLE names DROP CONSTRAINT names_kind_check;
ALTER TABLE names ADD CONSTRAINT names_kind_check CHECK (kind IN ('format', 'granularity'));
DROP INDEX runs_kv_cache_created;
ALTER TABLE runs DROP COLUMN kv_cache_fp;
ALTER TABLE runs DROP COLUMN kv_cache;
