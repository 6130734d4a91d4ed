-- The files qrun wrote into each run directory, so that `qrun doctor` can
-- rewrite a lost file byte for byte and recognise one edited by hand.
-- Recipes are shared by every run of a format × granularity × target, so
-- they are stored once, by content.

-- +goose Up
CREATE TABLE recipes (
    sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    body   BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE run_files (
    run_id          TEXT PRIMARY KEY REFERENCES runs (id),
    manifest        BLOB NOT NULL,
    manifest_sha256 TEXT NOT NULL CHECK (length(manifest_sha256) = 64),
    recipe_sha256   TEXT NOT NULL REFERENCES recipes (sha256)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE run_files;
DROP TABLE recipes;
