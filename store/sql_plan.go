package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/qrun-dev/qrun/namekind"
)

// Update runs fn in a write transaction holding the registry's write lock
// (see Store.Update). The retry wraps the whole attempt: a fresh
// transaction, fn, the commit. The database errors met through tx are
// remembered, so that whatever fn makes of them, the attempt fails with
// the database's own error, which the backend retries or explains; fn's
// other errors come back as they are, never retried nor reworded.
func (r *registry) Update(ctx context.Context, fn func(PlanTx) error) error {
	if r.readOnly {
		return r.d.readOnlyErr()
	}
	var fnErr error
	err := r.d.retry(ctx, func() error {
		fnErr = nil
		tx, err := r.begin(ctx, true) // SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock
		if err != nil {
			return err
		}
		defer tx.Rollback()
		t := &planTx{ctx: ctx, tx: tx, reg: r}
		defer t.close()
		err = fn(t)
		switch {
		case t.dbErr != nil:
			return t.dbErr
		case err != nil:
			fnErr = err
			return nil // rolled back by the deferred Rollback; nothing to retry
		}
		return tx.Commit()
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

// planTx is the PlanTx of a registry's write transaction.
type planTx struct {
	ctx   context.Context
	tx    wtx
	reg   *registry // for its output root
	head  *PlanHead
	at    time.Time
	fps   map[nameKey]string  // the plan's names → their fingerprints
	fresh map[nameKey]NameUse // the plan's new names, until a run registers them
	w     *runWriter
	// registered lists the names registered so far; planned holds the
	// last chunk's runs as planned (its array reused).
	registered []Name
	planned    []PlannedRun
	// dbErr is the first database error: the transaction is lost, every
	// later call fails with it, and Update with it.
	dbErr error
}

func (t *planTx) close() {
	if t.w != nil {
		t.w.Close()
	}
}

// db remembers a database error.
func (t *planTx) db(err error) error {
	if t.dbErr == nil {
		t.dbErr = err
	}
	return err
}

func (t *planTx) Check(h PlanHead) error {
	if t.dbErr != nil {
		return t.dbErr
	}
	if t.head != nil {
		return errors.New("plan: Check is called once, before the runs are added")
	}
	if err := h.validate(); err != nil {
		return err
	}
	var blocked []error
	be, err := checkLayout(t.ctx, t.tx, h.Layout)
	if err != nil {
		return t.db(err)
	}
	if be != nil {
		blocked = append(blocked, be)
	}
	registered, err := registeredFor(t.ctx, t.tx, h.Names)
	if err != nil {
		return t.db(err)
	}
	fresh, violations := CheckNames(h.Names, registered, ScopePlan)
	for _, v := range violations {
		if v.Runs, err = runsUsing(t.ctx, t.tx, v.Kind, v.Registered); err != nil {
			return t.db(err)
		}
		blocked = append(blocked, v)
	}
	if len(blocked) == 1 {
		return blocked[0]
	}
	if len(blocked) > 1 {
		return errors.Join(blocked...)
	}
	if err := checkRecorded(h.Names, registered); err != nil {
		return err
	}
	t.head = &h
	t.at = h.At
	if t.at.IsZero() {
		t.at = time.Now()
	}
	t.at = t.at.UTC()
	t.fps = h.nameFingerprints()
	t.fresh = make(map[nameKey]NameUse, len(fresh))
	for _, u := range fresh {
		t.fresh[nameKey{u.Kind, u.Name}] = u
	}
	return nil
}

func (t *planTx) AddRuns(runs []Run) ([]PlannedRun, error) {
	if t.dbErr != nil {
		return nil, t.dbErr
	}
	if t.head == nil {
		return nil, errors.New("plan: Check the plan before adding runs")
	}
	if len(runs) == 0 {
		return nil, nil
	}
	checked := make([]Run, len(runs)) // checkRun fills defaults in
	for i := range runs {
		checked[i] = runs[i]
		if err := t.head.checkRun(&checked[i], t.fps); err != nil {
			return nil, err
		}
		checked[i].Dir = t.reg.recordDir(checked[i].Dir)
	}
	if t.w == nil {
		if err := insertLayout(t.ctx, t.tx, t.head.Layout, t.at); err != nil {
			return nil, t.db(err)
		}
		w, err := newRunWriter(t.ctx, t.tx, t.at)
		if err != nil {
			return nil, t.db(err)
		}
		t.w = w
	}
	var err error
	if t.planned, err = t.w.addChunk(t.ctx, checked, t.planned[:0]); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, err
		}
		return nil, t.db(err)
	}
	for i := range t.planned {
		t.planned[i].Dir = t.reg.runDir(t.planned[i].Dir)
	}
	// A new name is registered with the first run using it (its row goes
	// in after the run's, which it refers to).
	for _, run := range checked {
		if len(t.fresh) == 0 {
			break
		}
		for _, k := range []nameKey{{namekind.Format, run.Format}, {namekind.Granularity, run.Granularity}, {namekind.KVCache, run.KVCache}} {
			u, ok := t.fresh[k]
			if !ok {
				continue
			}
			n := Name{Kind: u.Kind, Name: u.Name, Fingerprint: u.Fingerprint, Definition: u.Definition,
				FirstRun: run.ID, CreatedAt: t.at}
			if err := insertName(t.ctx, t.tx, n); err != nil {
				return nil, t.db(err)
			}
			delete(t.fresh, k)
			t.registered = append(t.registered, n)
		}
	}
	return t.planned, nil
}

func (t *planTx) Registered() []Name { return t.registered }

type nameKey struct {
	kind namekind.Kind
	name string
}

// registeredFor reads the registered names that name stability needs for
// uses (see CheckNames): those named by a use or one of its aliases, and
// those of a use's kind with its fingerprint. Ordered by kind and name.
func registeredFor(ctx context.Context, tx wtx, uses []NameUse) ([]Name, error) {
	var out []Name
	for _, k := range []namekind.Kind{namekind.Format, namekind.Granularity, namekind.KVCache} {
		var names, fps []any
		for _, u := range uses {
			if u.Kind != k {
				continue
			}
			names = append(names, u.Name)
			for _, a := range u.Aliases {
				names = append(names, a)
			}
			fps = append(fps, u.Fingerprint)
		}
		if len(names) == 0 {
			continue
		}
		args := append(append([]any{string(k)}, names...), fps...)
		rows, err := tx.QueryContext(ctx, `SELECT `+nameCols+` FROM names WHERE kind = ? AND (name IN (`+
			placeholders(len(names))+`) OR fingerprint IN (`+placeholders(len(fps))+`)) ORDER BY name`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			n, err := scanName(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// placeholders is "?, ?, …" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// checkLayout blocks a layout other than the one existing runs were planned
// under.
func checkLayout(ctx context.Context, tx wtx, l Layout) (*BlockedError, error) {
	// The smallest and the largest layout of the runs, each one seek in the
	// layout index (a scan for a layout "<> mine" would read the whole index
	// of a registry planned under one layout, before every plan).
	var lo, hi sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT (SELECT min(layout_fp) FROM runs), (SELECT max(layout_fp) FROM runs)`).Scan(&lo, &hi)
	if err != nil {
		return nil, err
	}
	old := ""
	switch {
	case !lo.Valid: // no runs
	case lo.String != l.Fingerprint:
		old = lo.String
	case hi.String != l.Fingerprint:
		old = hi.String
	}
	if old == "" {
		return nil, nil
	}
	be := &BlockedError{Reason: LayoutChanged, Name: l.Template, NewFingerprint: l.Fingerprint,
		NewDefinition: l.Template, OldFingerprint: old}
	err = tx.QueryRowContext(ctx, `
		SELECT (SELECT template FROM layouts WHERE fingerprint = ?),
		       (SELECT count(*) FROM runs WHERE layout_fp = ?)`, old, old).Scan(&be.Registered, &be.Runs)
	if err != nil {
		return nil, err
	}
	be.OldDefinition = be.Registered
	return be, nil
}

func insertLayout(ctx context.Context, tx wtx, l Layout, at time.Time) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO layouts (fingerprint, template, created_at) VALUES (?, ?, ?)
		ON CONFLICT (fingerprint) DO NOTHING`, l.Fingerprint, l.Template, at.UnixNano())
	return err
}

func insertName(ctx context.Context, tx wtx, n Name) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO names (kind, name, fingerprint, definition, first_run, created_at, retired)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		string(n.Kind), n.Name, n.Fingerprint, n.Definition, nullString(n.FirstRun), n.CreatedAt.UnixNano(), n.Retired)
	return err
}

// planEvent is the payload of a run's 'plan' event.
type planEvent struct {
	Model         string          `json:"model"`
	Format        string          `json:"format"`
	Granularity   string          `json:"granularity"`
	Params        json.RawMessage `json:"params"`
	Dir           string          `json:"dir"`
	FormatFP      string          `json:"format_fp"`
	GranularityFP string          `json:"granularity_fp"`
	KVCache       string          `json:"kv_cache,omitempty"`
	KVCacheFP     string          `json:"kv_cache_fp,omitempty"`
	ConfigFP      string          `json:"config_fp"`
	LayoutFP      string          `json:"layout_fp"`
	ModelOpt      string          `json:"modelopt"`
}

// runWriter adds a plan's runs, a chunk at a time: each new run with its
// 'plan' event and its files; a run already registered (in this directory)
// is resumed. A run id registered with another directory, or a directory
// registered for another run, is a conflict.
//
// A chunk costs a few statements, not a few per run: one multi-row INSERT
// … ON CONFLICT DO NOTHING RETURNING id for the runs, one for their events
// and one for their files; the runs the unique keys refused are looked up
// together. Nothing is kept per run but a 6-byte key of the ids it
// inserted, to tell a conflict within the plan from one with an earlier
// plan.
type runWriter struct {
	tx          wtx
	at          time.Time
	stmts       map[string]*sql.Stmt // prepared multi-row statements, by text
	recipe      *sql.Stmt
	byDir       *sql.Stmt
	fill        *sql.Stmt // fillExport's, prepared on first use
	recipesSeen map[string]bool
	inserted    map[[6]byte]struct{}
}

func newRunWriter(ctx context.Context, tx wtx, at time.Time) (*runWriter, error) {
	w := &runWriter{tx: tx, at: at, stmts: map[string]*sql.Stmt{}, recipesSeen: map[string]bool{}, inserted: map[[6]byte]struct{}{}}
	var err error
	if w.recipe, err = tx.PrepareContext(ctx, insertRecipeSQL); err != nil {
		return nil, err
	}
	if w.byDir, err = tx.PrepareContext(ctx, `SELECT `+runCols+` FROM runs WHERE dir = ?`); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Close releases the statements.
func (w *runWriter) Close() {
	for _, s := range w.stmts {
		s.Close()
	}
	for _, s := range []*sql.Stmt{w.recipe, w.byDir, w.fill} {
		if s != nil {
			s.Close()
		}
	}
}

// stmt returns the prepared statement for query (prepared on first use: a
// sweep's chunks share one size, so a plan prepares a handful).
func (w *runWriter) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := w.stmts[query]; ok {
		return s, nil
	}
	s, err := w.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = s
	return s, nil
}

// values is "head VALUES (?, …), (?, …)…" for rows rows of cols columns.
func values(head string, cols, rows int) string {
	var b strings.Builder
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	b.Grow(len(head) + 8 + rows*(len(row)+2))
	b.WriteString(head)
	b.WriteString(" VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

func runKey(id string) [6]byte {
	var k [6]byte
	hex.Decode(k[:], []byte(id)) // ids are validated: 12 hex digits
	return k
}

// maxChunk bounds the runs of one multi-row statement: 17 parameters a run
// stay well within SQLite's 32,766 and PostgreSQL's 65,535.
const maxChunk = 1024

// addChunk records runs (in plan order) and appends each as planned to out.
func (w *runWriter) addChunk(ctx context.Context, runs []Run, out []PlannedRun) ([]PlannedRun, error) {
	for len(runs) > maxChunk {
		var err error
		if out, err = w.addChunk(ctx, runs[:maxChunk], out); err != nil {
			return out, err
		}
		runs = runs[maxChunk:]
	}
	if len(runs) == 0 {
		return out, nil
	}
	// The runs, all at once; the ids that went in come back.
	args := make([]any, 0, runInsertCols*len(runs))
	for i := range runs {
		r := &runs[i]
		args = append(args, r.ID, r.Model, r.Format, r.Granularity, r.Params, r.Dir,
			r.FormatFP, r.GranularityFP, r.ConfigFP, r.LayoutFP, r.ModelOpt, string(StatusPlanned),
			w.at.UnixNano(), w.at.UnixNano(), r.Export.Verdict, r.Export.QuantAlgo, r.Export.Why, r.KVCache, r.KVCacheFP)
	}
	ins, err := w.stmt(ctx, values(insertRunHead, runInsertCols, len(runs))+` ON CONFLICT DO NOTHING RETURNING id`)
	if err != nil {
		return out, err
	}
	rows, err := ins.QueryContext(ctx, args...)
	if err != nil {
		return out, err
	}
	went := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return out, err
		}
		went[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, err
	}

	// In plan order: a run whose id went in is new (its first occurrence);
	// the others are registered already, or conflicts.
	start := len(out)
	var fresh []int // indexes in out
	var refused []string
	for i := range runs {
		r := runs[i]
		if went[r.ID] {
			delete(went, r.ID) // an exact repeat later in the chunk is resumed
			r.Status, r.CreatedAt, r.UpdatedAt = StatusPlanned, w.at, w.at
			w.inserted[runKey(r.ID)] = struct{}{}
			fresh = append(fresh, len(out))
			out = append(out, PlannedRun{Run: r})
			continue
		}
		out = append(out, PlannedRun{Run: r, Resumed: true}) // settled below
		refused = append(refused, r.ID)
	}
	if err := w.addRest(ctx, out, fresh); err != nil {
		return out, err
	}
	if len(refused) == 0 {
		return out, nil
	}
	registered, err := w.runsByID(ctx, refused)
	if err != nil {
		return out, err
	}
	for i := start; i < len(out); i++ {
		p := &out[i]
		if !p.Resumed {
			continue
		}
		if err := w.settle(ctx, p, registered); err != nil {
			return out, err
		}
	}
	return out, nil
}

// settle turns a run its unique keys refused into the registered run it
// repeats, or the conflict it is.
func (w *runWriter) settle(ctx context.Context, p *PlannedRun, registered map[string]Run) error {
	r := p.Run
	old, ok := registered[r.ID]
	_, ours := w.inserted[runKey(r.ID)] // planned earlier in this very plan
	switch {
	case ok && old.Dir != r.Dir && movedDir(old.Dir, r.Dir):
		// Recorded absolute by an older qrun, under an output root that
		// has moved since (or was reached through another path): the
		// same run, recorded from now on relative to the root.
		if _, err := w.tx.ExecContext(ctx, `UPDATE runs SET dir = ? WHERE id = ?`, r.Dir, old.ID); err != nil {
			return err
		}
		old.Dir = r.Dir
		fallthrough
	case ok && old.Dir == r.Dir:
		if err := w.fillExport(ctx, &old, r); err != nil {
			return err
		}
		if err := w.fillParams(ctx, &old, r); err != nil {
			return err
		}
		p.Run = old
		return nil
	case ok && ours:
		return errorf(ErrConflict, "run %s is planned in %s and in %s", r.ID, old.Dir, r.Dir)
	case ok:
		return errorf(ErrConflict, "run %s is already registered in %s, not %s", r.ID, old.Dir, r.Dir)
	}
	owner, err := scanRun(w.byDir.QueryRowContext(ctx, r.Dir))
	switch {
	case err == nil:
		if _, ours := w.inserted[runKey(owner.ID)]; ours {
			return errorf(ErrConflict, "directory %s belongs to runs %s and %s", r.Dir, owner.ID, r.ID)
		}
		return errorf(ErrConflict, "directory %s already belongs to run %s (%s, %s, %s %s), not %s",
			r.Dir, owner.ID, owner.Model, owner.Format, owner.Granularity, owner.Params, r.ID)
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("run %s in %s was neither inserted nor found", r.ID, r.Dir)
	}
	return err
}

// fillExport gives a run registered before verdicts ("unknown") the
// verdict its re-plan brings — only for the same resolved config and the
// same ModelOpt target, the two things the verdict is about, so that a
// registered verdict is never a wrong one.
func (w *runWriter) fillExport(ctx context.Context, old *Run, planned Run) error {
	if old.Export.Verdict != ExportUnknown || planned.Export.Verdict == ExportUnknown ||
		old.ConfigFP != planned.ConfigFP || old.ModelOpt != planned.ModelOpt {
		return nil
	}
	if w.fill == nil {
		var err error
		if w.fill, err = w.tx.PrepareContext(ctx, `UPDATE runs SET export_verdict = ?, export_quant_algo = ?, export_why = ?
			WHERE id = ? AND export_verdict = 'unknown'`); err != nil {
			return err
		}
	}
	if _, err := w.fill.ExecContext(ctx, planned.Export.Verdict, planned.Export.QuantAlgo, planned.Export.Why, old.ID); err != nil {
		return err
	}
	old.Export = planned.Export
	return nil
}

// fillParams gives a resumed run the params JSON its re-plan writes, when
// the registry's differs: a row written before qrun kept the Hydra type of
// a float ({"seed":1000} for seed=1000.0). The run id is a hash of the
// typed params, so the same id means the same params; only their JSON
// text changes, never the id.
func (w *runWriter) fillParams(ctx context.Context, old *Run, planned Run) error {
	if planned.Params == "" || old.Params == planned.Params {
		return nil
	}
	if _, err := w.tx.ExecContext(ctx, `UPDATE runs SET params = ? WHERE id = ?`, planned.Params, old.ID); err != nil {
		return err
	}
	old.Params = planned.Params
	return nil
}

// runsByID returns the registered runs among ids.
func (w *runWriter) runsByID(ctx context.Context, ids []string) (map[string]Run, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	// Not prepared: its length varies from chunk to chunk.
	rows, err := w.tx.QueryContext(ctx, `SELECT `+runCols+` FROM runs WHERE id IN (`+placeholders(len(ids))+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]Run, len(ids))
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out[r.ID] = r
	}
	return out, rows.Err()
}

// addRest inserts the plan events and files of the new runs planned[fresh],
// each kind in one statement.
func (w *runWriter) addRest(ctx context.Context, planned []PlannedRun, fresh []int) error {
	if len(fresh) == 0 {
		return nil
	}
	args := make([]any, 0, 5*len(fresh))
	for _, i := range fresh {
		r := &planned[i].Run
		payload, err := json.Marshal(planEvent{Model: r.Model, Format: r.Format, Granularity: r.Granularity,
			Params: json.RawMessage(r.Params), Dir: r.Dir, FormatFP: r.FormatFP, GranularityFP: r.GranularityFP,
			KVCache: kvCacheOrEmpty(r.KVCache), KVCacheFP: r.KVCacheFP, ConfigFP: r.ConfigFP, LayoutFP: r.LayoutFP, ModelOpt: r.ModelOpt})
		if err != nil {
			return err
		}
		args = append(args, r.ID, string(EventPlan), string(StatusPlanned), string(payload), w.at.UnixNano())
	}
	ev, err := w.stmt(ctx, values(insertEventHead, 5, len(fresh)))
	if err != nil {
		return err
	}
	if _, err := ev.ExecContext(ctx, args...); err != nil {
		return err
	}
	args = args[:0]
	n := 0
	for _, i := range fresh {
		r := &planned[i].Run
		f := r.Files
		if f == nil {
			continue
		}
		rs := sha256Hex(f.Recipe)
		if !w.recipesSeen[rs] {
			if _, err := w.recipe.ExecContext(ctx, rs, f.Recipe); err != nil {
				return err
			}
			w.recipesSeen[rs] = true
		}
		args = append(args, r.ID, f.Manifest, sha256Hex(f.Manifest), rs)
		n++
		r.Files = nil
	}
	if n == 0 {
		return nil
	}
	files, err := w.stmt(ctx, values(insertFilesHead, 4, n))
	if err != nil {
		return err
	}
	_, err = files.ExecContext(ctx, args...)
	return err
}

// Mark sets a run's status and/or records metrics (see Store.Mark).
func (r *registry) Mark(ctx context.Context, id string, status Status, metrics map[string]float64, note string) error {
	if note != "" && status == "" {
		return errors.New("a note goes with a status change: give the status too")
	}
	if status != "" && !status.Valid() {
		return fmt.Errorf("unknown status %q: want planned, running, succeeded or failed", status)
	}
	for k, v := range metrics {
		if k == "" {
			return errors.New("a metric needs a name")
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("metric %s: %v is not a finite number", k, v)
		}
	}
	if status == "" && len(metrics) == 0 {
		return nil
	}
	if r.readOnly {
		return r.d.readOnlyErr()
	}
	now := time.Now().UTC()
	return r.d.retry(ctx, func() error {
		tx, err := r.begin(ctx, false)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var cur string
		err = tx.QueryRowContext(ctx, `SELECT status FROM runs WHERE id = ?`+r.d.lockRow(), id).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return errorf(ErrNotFound, "run %s is not registered", id)
		}
		if err != nil {
			return err
		}
		if status != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = ?, updated_at = ? WHERE id = ?`,
				string(status), now.UnixNano(), id); err != nil {
				return err
			}
			ev := map[string]string{"from": cur, "to": string(status)}
			if note != "" {
				ev["note"] = note
			}
			payload, _ := json.Marshal(ev)
			if err := appendEvent(ctx, tx, id, EventStatus, status, payload, now); err != nil {
				return err
			}
			cur = string(status)
		}
		if len(metrics) > 0 {
			payload, err := json.Marshal(metrics) // keys sorted
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE runs SET updated_at = ? WHERE id = ?`, now.UnixNano(), id); err != nil {
				return err
			}
			if err := appendEvent(ctx, tx, id, EventMetric, Status(cur), payload, now); err != nil {
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return uncertainCommit{err} // appending the events twice is not a retry
		}
		return nil
	})
}

// uncertainCommit is a failed COMMIT of a write that must not be repeated:
// when the connection was lost, the server may have committed it.
type uncertainCommit struct{ err error }

func (e uncertainCommit) Error() string { return e.err.Error() }
func (e uncertainCommit) Unwrap() error { return e.err }

func appendEvent(ctx context.Context, tx wtx, runID string, kind EventKind, status Status, payload []byte, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO events (run_id, kind, status, payload, at) VALUES (?, ?, ?, ?, ?)`,
		runID, string(kind), string(status), string(payload), at.UnixNano())
	return err
}

// Retire marks a registered name retired (see Store.Retire).
func (r *registry) Retire(ctx context.Context, kind namekind.Kind, name string) error {
	return r.updateOne(ctx, errorf(ErrNotFound, "%s %s is not registered", kind, name),
		`UPDATE names SET retired = ? WHERE kind = ? AND name = ?`, true, string(kind), name)
}

// updateOne runs one UPDATE in a transaction holding the registry's write
// lock, the retry around the whole attempt; an UPDATE that changes no row
// fails with notFound. A read-only registry refuses it at once.
func (r *registry) updateOne(ctx context.Context, notFound error, query string, args ...any) error {
	if r.readOnly {
		return r.d.readOnlyErr()
	}
	return r.d.retry(ctx, func() error {
		tx, err := r.begin(ctx, true)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return notFound
		}
		return tx.Commit()
	})
}

// kvCacheOrEmpty is the KV-cache setting as a plan event records it: none
// is left out, so that a run without a KV cache is recorded as before the
// axis existed.
func kvCacheOrEmpty(kv string) string {
	if kv == NoKVCache {
		return ""
	}
	return kv
}

// kvCacheOrNone is the KV-cache setting as the registry stores it.
func kvCacheOrNone(kv string) string {
	if kv == "" {
		return NoKVCache
	}
	return kv
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

const (
	insertRunHead = `INSERT INTO runs (id, model, format, granularity, params, dir, format_fp, granularity_fp,
		                  config_fp, layout_fp, modelopt, status, created_at, updated_at,
		                  export_verdict, export_quant_algo, export_why, kv_cache, kv_cache_fp)`
	runInsertCols   = 19
	insertRunSQL    = insertRunHead + ` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	insertEventHead = `INSERT INTO events (run_id, kind, status, payload, at)`
	insertRecipeSQL = `INSERT INTO recipes (sha256, body) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING`
	insertFilesHead = `INSERT INTO run_files (run_id, manifest, manifest_sha256, recipe_sha256)`
)

// runInserts are the prepared statements that add runs with their events
// and files (a plan, a copy).
type runInserts struct {
	run, event, recipe, files *sql.Stmt
}

func prepareRunInserts(ctx context.Context, tx wtx) (*runInserts, error) {
	st := &runInserts{}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&st.run, insertRunSQL},
		{&st.event, insertEventHead + ` VALUES (?, ?, ?, ?, ?)`},
		{&st.recipe, insertRecipeSQL},
		{&st.files, insertFilesHead + ` VALUES (?, ?, ?, ?)`},
	} {
		stmt, err := tx.PrepareContext(ctx, p.query)
		if err != nil {
			st.Close()
			return nil, err
		}
		*p.dst = stmt
	}
	return st, nil
}

// Close releases the statements.
func (st *runInserts) Close() {
	for _, s := range []*sql.Stmt{st.run, st.event, st.recipe, st.files} {
		if s != nil {
			s.Close()
		}
	}
}
