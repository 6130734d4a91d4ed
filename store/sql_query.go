package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/qrun-dev/qrun/namekind"
)

const runCols = `id, model, format, granularity, params, dir, format_fp, granularity_fp,
	config_fp, layout_fp, modelopt, status, created_at, updated_at, export_verdict, export_quant_algo, export_why,
	kv_cache, kv_cache_fp`

const nameCols = `kind, name, fingerprint, definition, first_run, created_at, retired`

type scanner interface{ Scan(dest ...any) error }

// scanRun reads one runs row; sql.ErrNoRows becomes ErrNotFound.
func scanRun(row scanner) (Run, error) {
	var r Run
	var status string
	var created, updated int64
	err := row.Scan(&r.ID, &r.Model, &r.Format, &r.Granularity, &r.Params, &r.Dir, &r.FormatFP,
		&r.GranularityFP, &r.ConfigFP, &r.LayoutFP, &r.ModelOpt, &status, &created, &updated,
		&r.Export.Verdict, &r.Export.QuantAlgo, &r.Export.Why, &r.KVCache, &r.KVCacheFP)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, ErrNotFound
	}
	if err != nil {
		return Run{}, err
	}
	r.Status = Status(status)
	r.CreatedAt, r.UpdatedAt = fromNanos(created), fromNanos(updated)
	return r, nil
}

func scanName(row scanner) (Name, error) {
	var n Name
	var kind string
	var first sql.NullString
	var created int64
	var retired flag
	err := row.Scan(&kind, &n.Name, &n.Fingerprint, &n.Definition, &first, &created, &retired)
	if errors.Is(err, sql.ErrNoRows) {
		return Name{}, ErrNotFound
	}
	if err != nil {
		return Name{}, err
	}
	n.Kind, n.FirstRun, n.CreatedAt, n.Retired = namekind.Kind(kind), first.String, fromNanos(created), bool(retired)
	return n, nil
}

func fromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func getName(ctx context.Context, tx wtx, kind namekind.Kind, name string) (Name, error) {
	return scanName(tx.QueryRowContext(ctx, `SELECT `+nameCols+` FROM names WHERE kind = ? AND name = ?`,
		string(kind), name))
}

// querier is what rdb and wtx have in common.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func runsUsing(ctx context.Context, q querier, kind namekind.Kind, name string) (int, error) {
	col := "granularity"
	switch kind {
	case namekind.Format:
		col = "format"
	case namekind.Granularity:
	case namekind.KVCache:
		col = "kv_cache"
	default:
		return 0, fmt.Errorf("unknown name kind %q", kind)
	}
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM runs WHERE `+col+` = ?`, name).Scan(&n)
	return n, err
}

// Run returns a run by id.
func (r *registry) Run(ctx context.Context, id string) (Run, error) {
	var run Run
	err := r.d.retry(ctx, func() error {
		var err error
		run, err = scanRun(r.read().QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE id = ?`, id))
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return Run{}, errorf(ErrNotFound, "no run %s in the registry", id)
	}
	return r.resolve(run), err
}

// RunByDir returns the run planned in dir.
func (r *registry) RunByDir(ctx context.Context, dir string) (Run, error) {
	var run Run
	err := r.d.retry(ctx, func() error {
		var err error
		// As recorded now (relative to the root), or by an older qrun.
		run, err = scanRun(r.read().QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE dir = ? OR dir = ? ORDER BY dir = ? DESC LIMIT 1`,
			r.recordDir(dir), dir, r.recordDir(dir)))
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return Run{}, errorf(ErrNotFound, "no run in %s is registered", dir)
	}
	return r.resolve(run), err
}

// where builds the WHERE clause of a filter.
func (f RunFilter) where() (string, []any, error) {
	var conds []string
	var args []any
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		conds = append(conds, col+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ")+")")
		for _, v := range vals {
			args = append(args, v)
		}
	}
	for _, st := range f.Status {
		if !Status(st).Valid() {
			return "", nil, fmt.Errorf("unknown status %q: want planned, running, succeeded or failed", st)
		}
	}
	for _, v := range f.Export {
		if !slices.Contains(ExportVerdicts, v) {
			return "", nil, fmt.Errorf("unknown export verdict %q: want %s", v, strings.Join(ExportVerdicts, ", "))
		}
	}
	if f.Limit < 0 {
		return "", nil, fmt.Errorf("invalid limit %d: want 0 (no limit) or more", f.Limit)
	}
	in("granularity", f.Granularity)
	in("format", f.Format)
	in("model", f.Model)
	in("kv_cache", f.KVCache)
	in("status", f.Status)
	in("export_verdict", f.Export)
	for _, p := range f.Params {
		// The params JSON is canonical (keys sorted, no spaces): the pair
		// is followed by a comma or the closing brace. replace() is
		// case-sensitive in both dialects, unlike SQLite's LIKE.
		conds = append(conds, "(replace(params, ?, '') <> params OR replace(params, ?, '') <> params)")
		args = append(args, p+",", p+"}")
	}
	if !f.Since.IsZero() {
		conds = append(conds, "created_at >= ?")
		args = append(args, f.Since.UnixNano())
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// query is the SELECT of the filter's runs, newest first, with its limit.
func (f RunFilter) query() (string, []any, error) {
	where, args, err := f.where()
	if err != nil {
		return "", nil, err
	}
	q := `SELECT ` + runCols + ` FROM runs` + where + ` ORDER BY created_at DESC, id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return q, args, nil
}

// Runs lists runs, newest first.
func (r *registry) Runs(ctx context.Context, f RunFilter) ([]Run, error) {
	q, args, err := f.query()
	if err != nil {
		return nil, err
	}
	return readAll(ctx, r, q, args, func(rows *sql.Rows) (Run, error) {
		run, err := scanRun(rows)
		return r.resolve(run), err
	})
}

// RunsWithMetrics lists runs, newest first, each with its metric events:
// the filtered runs (with their limit) joined to their metric events in
// one SELECT.
func (r *registry) RunsWithMetrics(ctx context.Context, f RunFilter) ([]RunMetrics, error) {
	runs, args, err := f.query()
	if err != nil {
		return nil, err
	}
	q := `SELECT r.*, e.id, coalesce(e.status, ''), e.payload, e.at
		FROM (` + runs + `) r LEFT JOIN events e ON e.run_id = r.id AND e.kind = ?
		ORDER BY r.created_at DESC, r.id, e.id`
	args = append(args, string(EventMetric))
	out := []RunMetrics{}
	err = r.readRows(ctx, q, args, func() { out = out[:0] }, func(rows *sql.Rows) error {
		var id, at sql.NullInt64
		var status, payload sql.NullString
		run, err := scanRun(withExtra{rows, []any{&id, &status, &payload, &at}})
		if err != nil {
			return err
		}
		run = r.resolve(run)
		if n := len(out); n == 0 || out[n-1].ID != run.ID {
			out = append(out, RunMetrics{Run: run, Metrics: []Event{}})
		}
		if id.Valid { // a run without metric events has one row of nulls
			last := &out[len(out)-1]
			last.Metrics = append(last.Metrics, Event{
				ID: id.Int64, RunID: run.ID, Kind: EventMetric, Status: Status(status.String),
				Payload: payload.String, At: fromNanos(at.Int64),
			})
		}
		return nil
	})
	return out, err
}

// withExtra scans a row's leading columns as the wrapped scan wants them
// and the columns after them into extra.
type withExtra struct {
	row   scanner
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.row.Scan(append(dest, w.extra...)...) }

// CountRuns counts runs.
func (r *registry) CountRuns(ctx context.Context, f RunFilter) (int, error) {
	where, args, err := f.where()
	if err != nil {
		return 0, err
	}
	var n int
	err = r.d.retry(ctx, func() error {
		return r.read().QueryRowContext(ctx, `SELECT count(*) FROM runs`+where, args...).Scan(&n)
	})
	return n, err
}

// Models lists the registered model ids.
// modelsSQL lists the distinct models by hopping through the model index,
// one seek per model: SELECT DISTINCT would read the whole index, which
// for a million runs is a tenth of a second before every plan.
const modelsSQL = `WITH RECURSIVE m (model) AS (
		SELECT min(model) FROM runs
		UNION ALL
		SELECT (SELECT min(r.model) FROM runs r WHERE r.model > m.model) FROM m WHERE m.model IS NOT NULL)
	SELECT model FROM m WHERE model IS NOT NULL ORDER BY model`

func (r *registry) Models(ctx context.Context) ([]string, error) {
	return r.readStrings(ctx, modelsSQL)
}

// readStrings reads the one text column of q's rows (never nil), retried
// as every read is.
func (r *registry) readStrings(ctx context.Context, q string, args ...any) ([]string, error) {
	return readAll(ctx, r, q, args, func(rows *sql.Rows) (string, error) {
		var v string
		err := rows.Scan(&v)
		return v, err
	})
}

// readAll reads what scan makes of each of q's rows (never nil), retried
// as every read is.
func readAll[T any](ctx context.Context, r *registry, q string, args []any, scan func(*sql.Rows) (T, error)) ([]T, error) {
	out := []T{}
	err := r.readRows(ctx, q, args, func() { out = out[:0] }, func(rows *sql.Rows) error {
		v, err := scan(rows)
		if err == nil {
			out = append(out, v)
		}
		return err
	})
	return out, err
}

// readRows runs q and hands each row to each, the whole read retried on a
// busy registry or a lost connection: start is called before each try, to
// drop what an earlier one collected.
func (r *registry) readRows(ctx context.Context, q string, args []any, start func(), each func(*sql.Rows) error) error {
	return r.d.retry(ctx, func() error {
		start()
		rows, err := r.read().QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := each(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// Name returns a registered name.
func (r *registry) Name(ctx context.Context, kind namekind.Kind, name string) (Name, error) {
	var n Name
	err := r.d.retry(ctx, func() error {
		var err error
		n, err = scanName(r.read().QueryRowContext(ctx, `SELECT `+nameCols+` FROM names WHERE kind = ? AND name = ?`,
			string(kind), name))
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return Name{}, errorf(ErrNotFound, "%s %s is not registered", kind, name)
	}
	return n, err
}

// Names lists registered names.
func (r *registry) Names(ctx context.Context, kind namekind.Kind) ([]Name, error) {
	if kind != "" && !kind.Valid() {
		return nil, fmt.Errorf("unknown name kind %q", kind)
	}
	return readAll(ctx, r, `SELECT `+nameCols+` FROM names WHERE ? = '' OR kind = ? ORDER BY kind, name`,
		[]any{string(kind), string(kind)}, func(rows *sql.Rows) (Name, error) { return scanName(rows) })
}

// RunsUsingName counts the runs using a name.
func (r *registry) RunsUsingName(ctx context.Context, kind namekind.Kind, name string) (int, error) {
	if !kind.Valid() {
		return 0, fmt.Errorf("unknown name kind %q", kind)
	}
	var n int
	err := r.d.retry(ctx, func() error {
		var err error
		n, err = runsUsing(ctx, r.read(), kind, name)
		return err
	})
	return n, err
}

// Layouts lists the layouts runs were planned under.
func (r *registry) Layouts(ctx context.Context) ([]Layout, error) {
	return readAll(ctx, r, `SELECT fingerprint, template, created_at FROM layouts ORDER BY created_at, fingerprint`, nil,
		func(rows *sql.Rows) (Layout, error) {
			var l Layout
			var created int64
			err := rows.Scan(&l.Fingerprint, &l.Template, &created)
			l.CreatedAt = fromNanos(created)
			return l, err
		})
}

// Events returns a run's events in order.
func (r *registry) Events(ctx context.Context, runID string) ([]Event, error) {
	return readAll(ctx, r, `SELECT id, run_id, kind, coalesce(status, ''), payload, at FROM events WHERE run_id = ? ORDER BY id`,
		[]any{runID}, func(rows *sql.Rows) (Event, error) {
			var e Event
			var kind, status string
			var at int64
			err := rows.Scan(&e.ID, &e.RunID, &kind, &status, &e.Payload, &at)
			e.Kind, e.Status, e.At = EventKind(kind), Status(status), fromNanos(at)
			return e, err
		})
}

// RunFiles returns the files recorded for a run (see Store.RunFiles).
func (r *registry) RunFiles(ctx context.Context, id string) (RunFiles, error) {
	var f RunFiles
	err := r.d.retry(ctx, func() error {
		err := r.read().QueryRowContext(ctx, `
			SELECT f.manifest, r.body, f.manifest_sha256, f.recipe_sha256
			FROM run_files f JOIN recipes r ON r.sha256 = f.recipe_sha256
			WHERE f.run_id = ?`, id).Scan(&f.Manifest, &f.Recipe, &f.ManifestSHA256, &f.RecipeSHA256)
		if errors.Is(err, sql.ErrNoRows) {
			return errorf(ErrNotFound, "no files recorded for run %s", id)
		}
		return err
	})
	return f, err
}
