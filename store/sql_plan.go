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
		planned = planned[:0]
		for _, run := range chunk {
			if b.Stream != nil { // Runs were validated as a whole
				if err := b.checkRun(&run, fps); err != nil {
					return err
				}
			}
			for _, k := range []nameKey{{KindFormat, run.Format}, {KindGranularity, run.Granularity}} {
				if _, ok := first[k]; !ok {
					first[k] = run.ID
				}
			}
			p, err := w.add(ctx, run)
			if err != nil {
				if !errors.Is(err, ErrConflict) {
					dbErr = err
				}
				return err
			}
			if p.Resumed {
				res.Resumed++
			} else {
				res.Created++
			}
			planned = append(planned, p)
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
	var old string
	err := tx.QueryRowContext(ctx, `SELECT layout_fp FROM runs WHERE layout_fp <> ? LIMIT 1`, l.Fingerprint).Scan(&old)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
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

// runWriter adds a plan's runs: each new run with its 'plan' event and its
// files; a run already registered (in this directory) is resumed. A run id
// registered with another directory, or a directory registered for another
// run, is a conflict.
//
// It inserts first and looks up only when the insert did nothing (ON
// CONFLICT DO NOTHING): a new run costs its inserts alone, and the unique
// keys, not a lookup, find a run planned twice. Nothing is kept per run but
// a 6-byte key of the ids it inserted, to tell a conflict within the plan
// from one with an earlier plan.
type runWriter struct {
	st          *runInserts
	add1        *sql.Stmt // INSERT … ON CONFLICT DO NOTHING
	byID, byDir *sql.Stmt
	at          time.Time
	recipesSeen map[string]bool
	inserted    map[[6]byte]struct{}
}

func newRunWriter(ctx context.Context, tx wtx, at time.Time) (*runWriter, error) {
	w := &runWriter{at: at, recipesSeen: map[string]bool{}, inserted: map[[6]byte]struct{}{}}
	var err error
	if w.st, err = prepareRunInserts(ctx, tx); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&w.add1, insertRunSQL + ` ON CONFLICT DO NOTHING`},
		{&w.byID, `SELECT ` + runCols + ` FROM runs WHERE id = ?`},
		{&w.byDir, `SELECT ` + runCols + ` FROM runs WHERE dir = ?`},
	} {
		if *p.dst, err = tx.PrepareContext(ctx, p.query); err != nil {
			w.Close()
			return nil, err
		}
	}
	return w, nil
}

// Close releases the statements.
func (w *runWriter) Close() {
	w.st.Close()
	for _, s := range []*sql.Stmt{w.add1, w.byID, w.byDir} {
		if s != nil {
			s.Close()
		}
	}
}

func runKey(id string) [6]byte {
	var k [6]byte
	hex.Decode(k[:], []byte(id)) // ids are validated: 12 hex digits
	return k
}

// add records one run of the plan and says whether it was new.
func (w *runWriter) add(ctx context.Context, r Run) (PlannedRun, error) {
	r.Status, r.CreatedAt, r.UpdatedAt = StatusPlanned, w.at, w.at
	res, err := w.add1.ExecContext(ctx, r.ID, r.Model, r.Format, r.Granularity, r.Params, r.Dir,
		r.FormatFP, r.GranularityFP, r.ConfigFP, r.LayoutFP, r.ModelOpt, string(r.Status),
		w.at.UnixNano(), w.at.UnixNano())
	if err != nil {
		return PlannedRun{}, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return PlannedRun{}, err
	}
	if n == 1 {
		if err := w.addRest(ctx, &r); err != nil {
			return PlannedRun{}, err
		}
		w.inserted[runKey(r.ID)] = struct{}{}
		return PlannedRun{Run: r}, nil
	}
	_, ours := w.inserted[runKey(r.ID)] // planned earlier in this very plan
	old, err := scanRun(w.byID.QueryRowContext(ctx, r.ID))
	switch {
	case err == nil && old.Dir == r.Dir:
		return PlannedRun{Run: old, Resumed: true}, nil
	case err == nil && ours:
		return PlannedRun{}, errorf(ErrConflict, "run %s is planned in %s and in %s", r.ID, old.Dir, r.Dir)
	case err == nil:
		return PlannedRun{}, errorf(ErrConflict, "run %s is already registered in %s, not %s", r.ID, old.Dir, r.Dir)
	case !errors.Is(err, ErrNotFound):
		return PlannedRun{}, err
	}
	owner, err := scanRun(w.byDir.QueryRowContext(ctx, r.Dir))
	switch {
	case err == nil:
		if _, ours := w.inserted[runKey(owner.ID)]; ours {
			return PlannedRun{}, errorf(ErrConflict, "directory %s belongs to runs %s and %s", r.Dir, owner.ID, r.ID)
		}
		return PlannedRun{}, errorf(ErrConflict, "directory %s already belongs to run %s (%s, %s, %s %s), not %s",
			r.Dir, owner.ID, owner.Model, owner.Format, owner.Granularity, owner.Params, r.ID)
	case errors.Is(err, ErrNotFound):
		return PlannedRun{}, fmt.Errorf("run %s in %s was neither inserted nor found", r.ID, r.Dir)
	}
	return PlannedRun{}, err
}

// addRest inserts a new run's plan event and files.
func (w *runWriter) addRest(ctx context.Context, r *Run) error {
	payload, err := json.Marshal(planEvent{Model: r.Model, Format: r.Format, Granularity: r.Granularity,
		Params: json.RawMessage(r.Params), Dir: r.Dir, FormatFP: r.FormatFP, GranularityFP: r.GranularityFP,
		ConfigFP: r.ConfigFP, LayoutFP: r.LayoutFP, ModelOpt: r.ModelOpt})
	if err != nil {
		return err
	}
	if _, err := w.st.event.ExecContext(ctx, r.ID, string(EventPlan), string(StatusPlanned), string(payload), w.at.UnixNano()); err != nil {
		return err
	}
	if f := r.Files; f != nil {
		rs, ms := sha256Hex(f.Recipe), sha256Hex(f.Manifest)
		if !w.recipesSeen[rs] {
			if _, err := w.st.recipe.ExecContext(ctx, rs, f.Recipe); err != nil {
				return err
			}
			w.recipesSeen[rs] = true
		}
		if _, err := w.st.files.ExecContext(ctx, r.ID, f.Manifest, ms, rs); err != nil {
			return err
		}
	}
	r.Files = nil
	return nil
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

const insertRunSQL = `INSERT INTO runs (id, model, format, granularity, params, dir, format_fp, granularity_fp,
		                  config_fp, layout_fp, modelopt, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

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
		{&st.event, `INSERT INTO events (run_id, kind, status, payload, at) VALUES (?, ?, ?, ?, ?)`},
		{&st.recipe, `INSERT INTO recipes (sha256, body) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING`},
		{&st.files, `INSERT INTO run_files (run_id, manifest, manifest_sha256, recipe_sha256) VALUES (?, ?, ?, ?)`},
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
