-- The qrun registry on PostgreSQL: the same tables, columns, constraints and
-- meaning as migrations/sqlite/00001_registry.sql, spelled for PostgreSQL.
--
-- Dialect differences, each deliberate:
--   * times are BIGINT unix nanoseconds (UTC), as in SQLite: the same values,
--     the same order, no rounding to timestamptz's microseconds;
--   * every text column compares and sorts bytewise (COLLATE "C"), as SQLite's
--     BINARY collation does, so that lists come out in the same order whatever
--     the database's locale;
--   * retired is a BOOLEAN (SQLite: 0/1);
--   * events.id is an identity column (SQLite: AUTOINCREMENT);
--   * the append-only rule is a trigger function, and also refuses TRUNCATE.

-- +goose Up
CREATE TABLE layouts (
    fingerprint TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    template    TEXT   COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE runs (
    id             TEXT   COLLATE "C" NOT NULL PRIMARY KEY CHECK (id ~ '^[0-9a-f]{12}$'),
    model          TEXT   COLLATE "C" NOT NULL CHECK (model <> ''),
    format         TEXT   COLLATE "C" NOT NULL CHECK (format <> ''),
    granularity    TEXT   COLLATE "C" NOT NULL CHECK (granularity <> ''),
    params         TEXT   COLLATE "C" NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params::jsonb) = 'object'),
    dir            TEXT   COLLATE "C" NOT NULL UNIQUE CHECK (dir <> ''),
    format_fp      TEXT   COLLATE "C" NOT NULL,
    granularity_fp TEXT   COLLATE "C" NOT NULL,
    config_fp      TEXT   COLLATE "C" NOT NULL,
    layout_fp      TEXT   COLLATE "C" NOT NULL REFERENCES layouts (fingerprint),
    modelopt       TEXT   COLLATE "C" NOT NULL,
    status         TEXT   COLLATE "C" NOT NULL DEFAULT 'planned'
                          CHECK (status IN ('planned', 'running', 'succeeded', 'failed')),
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

-- qrun runs: one filter (or none), newest first, ties by id.
CREATE INDEX runs_granularity_created ON runs (granularity, created_at DESC, id);
CREATE INDEX runs_format_created      ON runs (format, created_at DESC, id);
CREATE INDEX runs_model_created       ON runs (model, created_at DESC, id);
CREATE INDEX runs_status_created      ON runs (status, created_at DESC, id);
CREATE INDEX runs_created             ON runs (created_at DESC, id);
-- layout-change check: is there a run under another layout?
CREATE INDEX runs_layout              ON runs (layout_fp);

CREATE TABLE names (
    kind        TEXT    COLLATE "C" NOT NULL CHECK (kind IN ('format', 'granularity')),
    name        TEXT    COLLATE "C" NOT NULL CHECK (name <> ''),
    fingerprint TEXT    COLLATE "C" NOT NULL,
    definition  TEXT    COLLATE "C" NOT NULL,
    first_run   TEXT    COLLATE "C" REFERENCES runs (id),
    created_at  BIGINT  NOT NULL,
    retired     BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (kind, name)
);

-- rename in disguise: which registered name has this definition?
CREATE INDEX names_kind_fingerprint ON names (kind, fingerprint);

CREATE TABLE events (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id  TEXT   COLLATE "C" NOT NULL REFERENCES runs (id),
    kind    TEXT   COLLATE "C" NOT NULL CHECK (kind IN ('plan', 'status', 'metric')),
    status  TEXT   COLLATE "C" CHECK (status IN ('planned', 'running', 'succeeded', 'failed')),
    payload TEXT   COLLATE "C" NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload::jsonb) = 'object'),
    at      BIGINT NOT NULL
);

CREATE INDEX events_run ON events (run_id, id);

-- The event log is append-only: history is never rewritten.
-- +goose StatementBegin
CREATE FUNCTION qrun_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'the event log is append-only: events cannot be changed';
    END IF;
    RAISE EXCEPTION 'the event log is append-only: events cannot be deleted';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION qrun_events_append_only();
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION qrun_events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION qrun_events_append_only();

-- +goose Down
DROP TRIGGER events_no_truncate ON events;
DROP TRIGGER events_no_delete ON events;
DROP TRIGGER events_no_update ON events;
DROP FUNCTION qrun_events_append_only();
DROP TABLE events;
DROP TABLE names;
DROP TABLE runs;
DROP TABLE layouts;
