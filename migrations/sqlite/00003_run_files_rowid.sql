-- run_files becomes an ordinary (rowid) table. As a WITHOUT ROWID table,
-- whose rows may keep only about a quarter of a page in the tree, every
-- manifest (about a kilobyte) spilled onto an overflow page of its own: four
-- times the space, and four times the pages a sweep writes. An ordinary
-- table keeps such a row whole in its page.

-- +goose Up
CREATE TABLE run_files_rowid (
    run_id          TEXT PRIMARY KEY REFERENCES runs (id),
    manifest        BLOB NOT NULL,
    manifest_sha256 TEXT NOT NULL CHECK (length(manifest_sha256) = 64),
    recipe_sha256   TEXT NOT NULL REFERENCES recipes (sha256)
);
INSERT INTO run_files_rowid (run_id, manifest, manifest_sha256, recipe_sha256)
    SELECT run_id, manifest, manifest_sha256, recipe_sha256 FROM run_files;
DROP TABLE run_files;
ALTER TABLE run_files_rowid RENAME TO run_files;

-- +goose Down
CREATE TABLE run_files_norowid (
    run_id          TEXT PRIMARY KEY REFERENCES runs (id),
    manifest        BLOB NOT NULL,
    manifest_sha256 TEXT NOT NULL CHECK (length(manifest_sha256) = 64),
    recipe_sha256   TEXT NOT NULL REFERENCES recipes (sha256)
) WITHOUT ROWID;
INSERT INTO run_files_norowid (run_id, manifest, manifest_sha256, recipe_sha256)
    SELECT run_id, manifest, manifest_sha256, recipe_sha256 FROM run_files;
DROP TABLE run_files;
ALTER TABLE run_files_norowid RENAME TO run_files;
