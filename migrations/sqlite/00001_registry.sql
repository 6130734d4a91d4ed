-- The qrun registry: runs, the names they use, output layouts, and an
-- append-only event log.
--
-- Times are INTEGER unix nanoseconds (UTC) everywhere: compact, totally
-- ordered, and compared without parsing. Fingerprints are the text qrun
-- computes ("sha256:…"). Run ids are the first 12 hex digits of the sha256
-- of a run's identity, the same in every registry.

-- +goose Up
CREATE TABLE layouts (
    fingerprint TEXT    NOT NULL PRIMARY KEY,
    template    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE runs (
    id             TEXT    NOT NULL PRIMARY KEY
                           CHECK (length(id) = 12 AND id NOT GLOB '*[^0-9a-f]*'),
    model          TEXT    NOT NULL CHECK (model <> ''),
    format         TEXT    NOT NULL CHECK (format <> ''),
    granularity    TEXT    NOT NULL CHECK (granularity <> ''),
    params         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
    dir            TEXT    NOT NULL UNIQUE CHECK (dir <> ''),
    format_fp      TEXT    NOT NULL,
    granularity_fp TEXT    NOT NULL,
    config_fp      TEXT    NOT NULL,
    layout_fp      TEXT    NOT NULL REFERENCES layouts (fingerprint),
    modelopt       TEXT    NOT NULL,
    status         TEXT    NOT NULL DEFAULT 'planned'
                           CHECK (status IN ('planned', 'running', 'succeeded', 'failed')),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

-- qrun runs: one filter (or none), newest first, ties by id; the trailing id
-- lets the index deliver the whole ORDER BY without a sort.
CREATE INDEX runs_granularity_created ON runs (granularity, created_at DESC, id);
CREATE INDEX runs_format_created      ON runs (format, created_at DESC, id);
CREATE INDEX runs_model_created       ON runs (model, created_at DESC, id);
CREATE INDEX runs_status_created      ON runs (status, created_at DESC, id);
CREATE INDEX runs_created             ON runs (created_at DESC, id);
-- layout-change check: is there a run under another layout?
CREATE INDEX runs_layout              ON runs (layout_fp);

CREATE TABLE names (
    kind        TEXT    NOT NULL CHECK (kind IN ('format', 'granularity')),
    name        TEXT    NOT NULL CHECK (name <> ''),
    fingerprint TEXT    NOT NULL,
    definition  TEXT    NOT NULL,
    first_run   TEXT    REFERENCES runs (id),
    created_at  INTEGER NOT NULL,
    retired     INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1)),
    PRIMARY KEY (kind, name)
);

-- rename in disguise: which registered name has this definition?
CREATE INDEX names_kind_fingerprint ON names (kind, fingerprint);

CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id  TEXT    NOT NULL REFERENCES runs (id),
    kind    TEXT    NOT NULL CHECK (kind IN ('plan', 'status', 'metric')),
    status  TEXT    CHECK (status IN ('planned', 'running', 'succeeded', 'failed')),
    payload TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    at      INTEGER NOT NULL
);

CREATE INDEX events_run ON events (run_id, id);

-- The event log is append-only: history is never rewritten.
-- +goose StatementBegin
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only: events cannot be changed');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only: events cannot be deleted');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER events_no_delete;
DROP TRIGGER events_no_update;
DROP TABLE events;
DROP TABLE names;
DROP TABLE runs;
DROP TABLE layouts;
