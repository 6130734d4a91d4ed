-- The files qrun wrote into each run directory (see
-- migrations/sqlite/00002_run_files.sql): recipes once per content.

-- +goose Up
CREATE TABLE recipes (
    sha256 TEXT  COLLATE "C" PRIMARY KEY CHECK (length(sha256) = 64),
    body   BYTEA NOT NULL
);

CREATE TABLE run_files (
    run_id          TEXT  COLLATE "C" PRIMARY KEY REFERENCES runs (id),
    manifest        BYTEA NOT NULL,
    manifest_sha256 TEXT  COLLATE "C" NOT NULL CHECK (length(manifest_sha256) = 64),
    recipe_sha256   TEXT  COLLATE "C" NOT NULL REFERENCES recipes (sha256)
);

-- +goose Down
DROP TABLE run_files;
DROP TABLE recipes;
