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
	"slices"
	"strings"
	"time"
)

// Plan records a plan in one write transaction holding the registry's write
// lock (see Store.Plan). Checks come first and write nothing; writes follow
// only when every check passed, and the commit makes them visible at once.
func (r *registry) Plan(ctx context.Context, b PlanBatch) (PlanResult, error) {
	if b.Stream != nil && b.Runs != nil {
		return PlanResult{}, errors.New("plan: give the runs either as Runs or as Stream, not both")
	}
	b.Runs = slices.Clone(b.Runs) // validate fills defaults in
	if err := b.validate(); err != nil {
		return PlanResult{}, err
	}
	if r.readOnly {
		return PlanResult{}, r.d.readOnlyErr()
	}
	at := b.At
	if at.IsZero() {
		at = time.Now()
	}
	var res PlanResult
	err := r.d.retry(ctx, func() error {
		var err error
		res, err = r.plan(ctx, &b, at.UTC())
		return err
	})
	if he, ok := err.(hookError); ok {
		return PlanResult{}, he.err // as it is: never retried nor reworded
	}
	return res, err
}

// hookError carries the caller's errors (BeforeCommit's, Chunk's, Stream's
// own) through the retry loop untouched: it has no Unwrap, so nothing
// mistakes it for a database error.
type hookError struct{ err error }

func (e hookError) Error() string { return e.err.Error() }

func (r *registry) plan(ctx context.Context, b *PlanBatch, at time.Time) (PlanResult, error) {
	tx, err := r.begin(ctx, true) // SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock
	if err != nil {
		return PlanResult{}, err
	}
	defer tx.Rollback()

	var blocked []error
	if b.Stream != nil || len(b.Runs) > 0 {
		be, err := checkLayout(ctx, tx, b.Layout)
		if err != nil {
			return PlanResult{}, err
		}
		if be != nil {
			blocked = append(blocked, be)
		}
	}
	fresh, bes, err := checkNames(ctx, tx, b.Names)
	if err != nil {
		return PlanResult{}, err
	}
	blocked = append(blocked, bes...)
	if len(blocked) == 1 {
		return PlanResult{}, blocked[0]
	}
	if len(blocked) > 1 {
		return PlanResult{}, errors.Join(blocked...)
	}

	w, err := newRunWriter(ctx, tx, at)
	if err != nil {
		return PlanResult{}, err
	}
	defer w.Close()
	var res PlanResult
	fps := b.nameFingerprints()
	first := map[nameKey]string{} // each name's first run in the batch
	done := 0
	var planned []PlannedRun
	var dbErr error // the last database error, told apart from the caller's
	add := func(chunk []Run) error {
		if len(chunk) == 0 {
			return nil
		}
		if done == 0 {
			if err := insertLayout(ctx, tx, b.Layout, at); err != nil {
				dbErr = err
				return err
			}
		}
		checked := chunk
		if b.Stream != nil { // Runs were validated as a whole
			checked = make([]Run, len(chunk))
			for i := range chunk {
				checked[i] = chunk[i]
				if err := b.checkRun(&checked[i], fps); err != nil {
					return err
				}
			}
		}
		for _, run := range checked {
			for _, k := range []nameKey{{KindFormat, run.Format}, {KindGranularity, run.Granularity}} {
				if _, ok := first[k]; !ok {
					first[k] = run.ID
				}
			}
		}
		var err error
		if planned, err = w.addChunk(ctx, checked, planned[:0]); err != nil {
			if !errors.Is(err, ErrConflict) {
				dbErr = err
			}
			return err
		}
		for _, p := range planned {
			if p.Resumed {
				res.Resumed++
			} else {
				res.Created++
			}
		}
		if b.Stream == nil {
			res.Runs = append(res.Runs, planned...)
		}
		if b.Chunk != nil {
			if err := b.Chunk(done, planned); err != nil {
				return hookError{err}
			}
		}
		done += len(chunk)
		return nil
	}
	if b.Stream != nil {
		err = b.Stream(add)
	} else if len(b.Runs) > 0 {
		err = add(b.Runs)
	}
	if err != nil {
		var he hookError
		if errors.As(err, &he) || err == dbErr || errors.Is(err, ErrConflict) {
			return PlanResult{}, err
		}
		return PlanResult{}, hookError{err} // Stream's own error, or the caller's mistake
	}
	for _, n := range fresh {
		reg := Name{Kind: n.Kind, Name: n.Name, Fingerprint: n.Fingerprint, Definition: n.Definition,
			FirstRun: first[nameKey{n.Kind, n.Name}], CreatedAt: at}
		if err := insertName(ctx, tx, reg); err != nil {
			return PlanResult{}, err
		}
		res.Registered = append(res.Registered, reg)
	}
	if b.BeforeCommit != nil {
		if err := b.BeforeCommit(res); err != nil {
			return PlanResult{}, hookError{err}
		}
	}
	if err := tx.Commit(); err != nil {
		return PlanResult{}, err
	}
	return res, nil
}

type nameKey struct {
	kind Kind
	name string
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

// checkNames checks every name of the batch against the registry and
// against the batch's other new names, returning the names to register and
// every violation.
func checkNames(ctx context.Context, tx wtx, uses []NameUse) (fresh []NameUse, blocked []error, err error) {
	newByFP := map[nameKey]string{} // (kind, fingerprint) → new name earlier in the batch
	for _, u := range uses {
		reg, err := getName(ctx, tx, u.Kind, u.Name)
		switch {
		case err == nil:
			if reg.Retired || reg.Fingerprint != u.Fingerprint {
				be := &BlockedError{Reason: MeaningChanged, Kind: u.Kind, Name: u.Name, Registered: reg.Name,
					OldFingerprint: reg.Fingerprint, OldDefinition: reg.Definition,
					NewFingerprint: u.Fingerprint, NewDefinition: u.Definition, FirstRun: reg.FirstRun}
				if reg.Retired {
					be.Reason = RetiredName
				}
				if be.Runs, err = runsUsing(ctx, tx, u.Kind, u.Name); err != nil {
					return nil, nil, err
				}
				blocked = append(blocked, be)
			}
			continue
		case !errors.Is(err, ErrNotFound):
			return nil, nil, err
		}
		twin, err := twinOf(ctx, tx, u)
		if err != nil {
			return nil, nil, err
		}
		if twin != nil {
			be := &BlockedError{Reason: RenameInDisguise, Kind: u.Kind, Name: u.Name, Registered: twin.Name,
				OldFingerprint: twin.Fingerprint, OldDefinition: twin.Definition,
				NewFingerprint: u.Fingerprint, NewDefinition: u.Definition, FirstRun: twin.FirstRun}
			if be.Runs, err = runsUsing(ctx, tx, u.Kind, twin.Name); err != nil {
				return nil, nil, err
			}
			blocked = append(blocked, be)
			continue
		}
		k := nameKey{u.Kind, u.Fingerprint}
		if other, ok := newByFP[k]; ok && !slices.Contains(u.Aliases, other) {
			blocked = append(blocked, &BlockedError{Reason: RenameInDisguise, Kind: u.Kind, Name: u.Name,
				Registered: other, OldFingerprint: u.Fingerprint, NewFingerprint: u.Fingerprint,
				OldDefinition: u.Definition, NewDefinition: u.Definition})
			continue
		}
		if _, ok := newByFP[k]; !ok {
			newByFP[k] = u.Name
		}
		fresh = append(fresh, u)
	}
	return fresh, blocked, nil
}

// twinOf returns a registered name of u's kind with u's fingerprint that u
// does not declare among its aliases, or nil.
func twinOf(ctx context.Context, tx wtx, u NameUse) (*Name, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+nameCols+` FROM names
		WHERE kind = ? AND fingerprint = ? ORDER BY created_at, name`, string(u.Kind), u.Fingerprint)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		n, err := scanName(rows)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(u.Aliases, n.Name) {
			return &n, nil
		}
	}
	return nil, rows.Err()
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
			w.at.UnixNano(), w.at.UnixNano(), r.Export.Verdict, r.Export.QuantAlgo, r.Export.Why)
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
	case ok && old.Dir == r.Dir:
		if err := w.fillExport(ctx, &old, r); err != nil {
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

// runsByID returns the registered runs among ids.
func (w *runWriter) runsByID(ctx context.Context, ids []string) (map[string]Run, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	// Not prepared: its length varies from chunk to chunk.
	rows, err := w.tx.QueryContext(ctx, `SELECT `+runCols+` FROM runs WHERE id IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")+`)`, args...)
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
			ConfigFP: r.ConfigFP, LayoutFP: r.LayoutFP, ModelOpt: r.ModelOpt})
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
func (r *registry) Retire(ctx context.Context, kind Kind, name string) error {
	if r.readOnly {
		return r.d.readOnlyErr()
	}
	return r.d.retry(ctx, func() error {
		tx, err := r.begin(ctx, true)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		res, err := tx.ExecContext(ctx, `UPDATE names SET retired = ? WHERE kind = ? AND name = ?`, true, string(kind), name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errorf(ErrNotFound, "%s %s is not registered", kind, name)
		}
		return tx.Commit()
	})
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

const (
	insertRunHead = `INSERT INTO runs (id, model, format, granularity, params, dir, format_fp, granularity_fp,
		                  config_fp, layout_fp, modelopt, status, created_at, updated_at,
		                  export_verdict, export_quant_algo, export_why)`
	runInsertCols   = 17
	insertRunSQL    = insertRunHead + ` VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
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
