package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Snapshot is a registry's whole content: what Export reads through the
// Store interface and Import writes into another registry.
type Snapshot struct {
	Layouts []Layout
	Names   []Name
	Runs    []RunRecord // oldest first (ties by id)
}

// RunRecord is a run with its history and files.
type RunRecord struct {
	Run              // as registered: status and times included; Files unused
	Events []Event   // in the order they were appended
	Files  *RunFiles // nil when the registry holds none for the run
}

// Counts are how many of each thing a registry (or an operation) holds.
type Counts struct {
	Runs, Names, Layouts, Events, Files int
}

func (c Counts) String() string {
	return fmt.Sprintf("%s, %s, %s, %s and %s", plural(c.Runs, "run"), plural(c.Names, "name"),
		plural(c.Layouts, "layout"), plural(c.Events, "event"), plural(c.Files, "run file record"))
}

// Zero reports whether c counts nothing.
func (c Counts) Zero() bool { return c == Counts{} }

// Counts counts what the snapshot holds.
func (s *Snapshot) Counts() Counts {
	c := Counts{Runs: len(s.Runs), Names: len(s.Names), Layouts: len(s.Layouts)}
	for _, r := range s.Runs {
		c.Events += len(r.Events)
		if r.Files != nil {
			c.Files++
		}
	}
	return c
}

// Export reads a registry's whole content.
func Export(ctx context.Context, s Store) (*Snapshot, error) {
	snap := &Snapshot{}
	var err error
	if snap.Layouts, err = s.Layouts(ctx); err != nil {
		return nil, err
	}
	if snap.Names, err = s.Names(ctx, ""); err != nil {
		return nil, err
	}
	runs, err := s.Runs(ctx, RunFilter{})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(runs, func(a, b Run) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	snap.Runs = make([]RunRecord, len(runs))
	for i, r := range runs {
		rec := RunRecord{Run: r}
		if rec.Events, err = s.Events(ctx, r.ID); err != nil {
			return nil, err
		}
		f, err := s.RunFiles(ctx, r.ID)
		switch {
		case err == nil:
			rec.Files = &f
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
		snap.Runs[i] = rec
	}
	return snap, nil
}

// ImportResult is what Import did.
type ImportResult struct {
	Added   Counts // written by the import
	Present Counts // already in the target, the same
	// Retired are names the source has retired and the target had not:
	// the import retired them there too.
	Retired []Name
}

// Importer is a registry that can take in another registry's content:
// both SQLite and Postgres are.
type Importer interface {
	Import(ctx context.Context, snap *Snapshot) (ImportResult, error)
}

// Import writes a snapshot into the registry in one transaction holding
// the registry's write lock, keeping every run's status, times, events and
// files, and every name's definition, first run and creation time. What is
// already there and the same is left alone, so importing twice changes
// nothing. Nothing is written when the target holds a name with another
// definition (a *BlockedError, reason DefinitionConflict), runs under
// another layout (LayoutChanged), or a run whose id or directory belongs to
// another run or whose history differs (ErrConflict).
func (r *registry) Import(ctx context.Context, snap *Snapshot) (ImportResult, error) {
	if r.readOnly {
		return ImportResult{}, r.d.readOnlyErr()
	}
	var res ImportResult
	err := r.d.retry(ctx, func() error {
		var err error
		res, err = r.importTx(ctx, snap)
		return err
	})
	return res, err
}

func (r *registry) importTx(ctx context.Context, snap *Snapshot) (ImportResult, error) {
	var res ImportResult
	tx, err := r.begin(ctx, true)
	if err != nil {
		return res, err
	}
	defer tx.Rollback()

	// Names: the same name must mean the same in both registries.
	var blocked []error
	var freshNames []Name
	for _, n := range snap.Names {
		old, err := getName(ctx, tx, n.Kind, n.Name)
		switch {
		case errors.Is(err, ErrNotFound):
			freshNames = append(freshNames, n)
			continue
		case err != nil:
			return res, err
		}
		if old.Fingerprint != n.Fingerprint {
			be := &BlockedError{Reason: DefinitionConflict, Kind: n.Kind, Name: n.Name, Registered: old.Name,
				OldFingerprint: old.Fingerprint, OldDefinition: old.Definition,
				NewFingerprint: n.Fingerprint, NewDefinition: n.Definition, FirstRun: old.FirstRun}
			if be.Runs, err = runsUsing(ctx, tx, n.Kind, n.Name); err != nil {
				return res, err
			}
			blocked = append(blocked, be)
			continue
		}
		res.Present.Names++
		if n.Retired && !old.Retired {
			res.Retired = append(res.Retired, old)
		}
	}

	// Layout: the target's runs and the source's must share one.
	if len(snap.Runs) > 0 {
		var srcFP string
		for _, rec := range snap.Runs {
			if rec.LayoutFP != srcFP && srcFP != "" {
				return res, fmt.Errorf("the source registry holds runs under two layouts (%s and %s): check it with qrun doctor first", srcFP, rec.LayoutFP)
			}
			srcFP = rec.LayoutFP
		}
		tmpl := srcFP
		for _, l := range snap.Layouts {
			if l.Fingerprint == srcFP {
				tmpl = l.Template
			}
		}
		be, err := checkLayout(ctx, tx, Layout{Fingerprint: srcFP, Template: tmpl})
		if err != nil {
			return res, err
		}
		if be != nil {
			blocked = append([]error{be}, blocked...)
		}
	}
	if len(blocked) == 1 {
		return res, blocked[0]
	}
	if len(blocked) > 1 {
		return res, errors.Join(blocked...)
	}

	// What the target holds, read once.
	have, err := targetRuns(ctx, tx)
	if err != nil {
		return res, err
	}
	byDir := make(map[string]string, len(have))
	for id, h := range have {
		byDir[h.run.Dir] = id
	}

	for _, l := range snap.Layouts {
		out, err := tx.ExecContext(ctx, `
			INSERT INTO layouts (fingerprint, template, created_at) VALUES (?, ?, ?)
			ON CONFLICT (fingerprint) DO NOTHING`, l.Fingerprint, l.Template, l.CreatedAt.UnixNano())
		if err != nil {
			return res, err
		}
		if n, _ := out.RowsAffected(); n > 0 {
			res.Added.Layouts++
		} else {
			res.Present.Layouts++
		}
	}

	var conflicts []error
	var newRuns []RunRecord
	type update struct {
		rec    RunRecord
		events []Event // to append
	}
	var updates []update
	var newFiles []RunRecord
	for _, rec := range snap.Runs {
		h, ok := have[rec.ID]
		if !ok {
			if owner, taken := byDir[rec.Dir]; taken {
				conflicts = append(conflicts, errorf(ErrConflict, "directory %s belongs to run %s in the target and to run %s in the source", rec.Dir, owner, rec.ID))
				continue
			}
			newRuns = append(newRuns, rec)
			continue
		}
		if diff := sameRun(h.run, rec.Run); diff != "" {
			conflicts = append(conflicts, errorf(ErrConflict, "run %s differs between the registries: %s", rec.ID, diff))
			continue
		}
		switch {
		case eventsPrefix(h.events, rec.Events):
			if extra := rec.Events[len(h.events):]; len(extra) > 0 {
				updates = append(updates, update{rec, extra})
			}
			res.Present.Events += len(h.events)
		case eventsPrefix(rec.Events, h.events):
			res.Present.Events += len(rec.Events) // the target is ahead
		default:
			conflicts = append(conflicts, errorf(ErrConflict, "run %s has another history in the target than in the source (%d and %d events that differ)", rec.ID, len(h.events), len(rec.Events)))
			continue
		}
		res.Present.Runs++
		switch {
		case rec.Files != nil && !h.files:
			newFiles = append(newFiles, rec)
		case rec.Files != nil:
			res.Present.Files++
		}
	}
	if len(conflicts) > 0 {
		return res, errors.Join(conflicts...)
	}

	st, err := prepareRunInserts(ctx, tx)
	if err != nil {
		return res, err
	}
	defer st.Close()
	ins, ev, recipe, files := st.run, st.event, st.recipe, st.files
	addEvents := func(id string, events []Event) error {
		for _, e := range events {
			if _, err := ev.ExecContext(ctx, id, string(e.Kind), nullString(string(e.Status)), e.Payload, e.At.UnixNano()); err != nil {
				return err
			}
			res.Added.Events++
		}
		return nil
	}
	recipesSeen := map[string]bool{}
	addFiles := func(id string, f *RunFiles) error {
		if !recipesSeen[f.RecipeSHA256] {
			if _, err := recipe.ExecContext(ctx, f.RecipeSHA256, f.Recipe); err != nil {
				return err
			}
			recipesSeen[f.RecipeSHA256] = true
		}
		if _, err := files.ExecContext(ctx, id, f.Manifest, f.ManifestSHA256, f.RecipeSHA256); err != nil {
			return err
		}
		res.Added.Files++
		return nil
	}

	for _, rec := range newRuns {
		x := rec.Run
		if _, err := ins.ExecContext(ctx, x.ID, x.Model, x.Format, x.Granularity, x.Params, x.Dir,
			x.FormatFP, x.GranularityFP, x.ConfigFP, x.LayoutFP, x.ModelOpt, string(x.Status),
			x.CreatedAt.UnixNano(), x.UpdatedAt.UnixNano(), x.Export.Verdict, x.Export.QuantAlgo, x.Export.Why,
			kvCacheOrNone(x.KVCache), x.KVCacheFP); err != nil {
			return res, err
		}
		res.Added.Runs++
		if err := addEvents(x.ID, rec.Events); err != nil {
			return res, err
		}
		if rec.Files != nil {
			if err := addFiles(x.ID, rec.Files); err != nil {
				return res, err
			}
		}
	}
	for _, u := range updates {
		if err := addEvents(u.rec.ID, u.events); err != nil {
			return res, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = ?, updated_at = ? WHERE id = ?`,
			string(u.rec.Status), u.rec.UpdatedAt.UnixNano(), u.rec.ID); err != nil {
			return res, err
		}
	}
	for _, rec := range newFiles {
		if err := addFiles(rec.ID, rec.Files); err != nil {
			return res, err
		}
	}
	for _, n := range freshNames {
		if err := insertName(ctx, tx, n); err != nil {
			return res, err
		}
		res.Added.Names++
	}
	for _, n := range res.Retired {
		if _, err := tx.ExecContext(ctx, `UPDATE names SET retired = ? WHERE kind = ? AND name = ?`, true, string(n.Kind), n.Name); err != nil {
			return res, err
		}
	}
	if err := tx.Commit(); err != nil {
		return res, err
	}
	return res, nil
}

// held is a run the target already holds.
type held struct {
	run    Run
	events []Event
	files  bool
}

// targetRuns reads every run of the target with its events.
func targetRuns(ctx context.Context, tx wtx) (map[string]*held, error) {
	out := map[string]*held{}
	rows, err := tx.QueryContext(ctx, `SELECT `+runCols+`, EXISTS (SELECT 1 FROM run_files f WHERE f.run_id = runs.id) FROM runs`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var h held
		var r Run
		var status string
		var created, updated int64
		if err := rows.Scan(&r.ID, &r.Model, &r.Format, &r.Granularity, &r.Params, &r.Dir, &r.FormatFP,
			&r.GranularityFP, &r.ConfigFP, &r.LayoutFP, &r.ModelOpt, &status, &created, &updated,
			&r.Export.Verdict, &r.Export.QuantAlgo, &r.Export.Why, &r.KVCache, &r.KVCacheFP, (*flag)(&h.files)); err != nil {
			return nil, err
		}
		r.Status, r.CreatedAt, r.UpdatedAt = Status(status), fromNanos(created), fromNanos(updated)
		h.run = r
		out[r.ID] = &h
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	ev, err := tx.QueryContext(ctx, `SELECT id, run_id, kind, coalesce(status, ''), payload, at FROM events ORDER BY run_id, id`)
	if err != nil {
		return nil, err
	}
	defer ev.Close()
	for ev.Next() {
		var e Event
		var kind, status string
		var at int64
		if err := ev.Scan(&e.ID, &e.RunID, &kind, &status, &e.Payload, &at); err != nil {
			return nil, err
		}
		e.Kind, e.Status, e.At = EventKind(kind), Status(status), fromNanos(at)
		if h := out[e.RunID]; h != nil {
			h.events = append(h.events, e)
		}
	}
	return out, ev.Err()
}

// sameRun says how two registrations of one run id differ ("" when they
// are the same run: same selection, directory and fingerprints).
func sameRun(a, b Run) string {
	var diffs []string
	for _, f := range []struct{ what, x, y string }{
		{"directory", a.Dir, b.Dir}, {"model", a.Model, b.Model}, {"format", a.Format, b.Format},
		{"granularity", a.Granularity, b.Granularity}, {"params", a.Params, b.Params},
		{"format fingerprint", a.FormatFP, b.FormatFP}, {"granularity fingerprint", a.GranularityFP, b.GranularityFP},
		{"KV cache", kvCacheOrNone(a.KVCache), kvCacheOrNone(b.KVCache)}, {"KV-cache fingerprint", a.KVCacheFP, b.KVCacheFP},
		{"config fingerprint", a.ConfigFP, b.ConfigFP}, {"layout", a.LayoutFP, b.LayoutFP},
		{"ModelOpt target", a.ModelOpt, b.ModelOpt},
	} {
		if f.x != f.y {
			diffs = append(diffs, fmt.Sprintf("%s %s in the target, %s in the source", f.what, f.x, f.y))
		}
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		diffs = append(diffs, "planned at another time")
	}
	return strings.Join(diffs, ", ")
}

// eventsPrefix reports whether a is a prefix of b (ids aside: each
// registry numbers its own events).
func eventsPrefix(a, b []Event) bool {
	if len(a) > len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Kind != y.Kind || x.Status != y.Status || x.Payload != y.Payload || !x.At.Equal(y.At) {
			return false
		}
	}
	return true
}

// CopyReport is what Copy did and checked.
type CopyReport struct {
	Source   Counts // what the source holds
	Added    Counts // written into the target
	Present  Counts // already in the target, the same
	Retired  []Name // retired in the target because the source has them retired
	Verified Counts // compared, after the copy, between source and target
}

// Copy copies every run, name, layout, event and run file of from into
// to (see Import), then reads the target back and verifies that it holds
// everything of the source with the same fingerprints and checksums.
func Copy(ctx context.Context, from, to Store) (CopyReport, error) {
	var rep CopyReport
	imp, ok := to.(Importer)
	if !ok {
		return rep, errors.New("the target registry cannot import")
	}
	snap, err := Export(ctx, from)
	if err != nil {
		return rep, err
	}
	rep.Source = snap.Counts()
	res, err := imp.Import(ctx, snap)
	if err != nil {
		return rep, err
	}
	rep.Added, rep.Present, rep.Retired = res.Added, res.Present, res.Retired
	after, err := Export(ctx, to)
	if err != nil {
		return rep, err
	}
	rep.Verified, err = verifyCopy(snap, after)
	return rep, err
}

// verifyCopy checks that dst holds everything of src, the same.
func verifyCopy(src, dst *Snapshot) (Counts, error) {
	var c Counts
	var problems []string
	layouts := map[string]Layout{}
	for _, l := range dst.Layouts {
		layouts[l.Fingerprint] = l
	}
	for _, l := range src.Layouts {
		if d, ok := layouts[l.Fingerprint]; !ok || d.Template != l.Template {
			problems = append(problems, "layout "+l.Template+" is missing")
			continue
		}
		c.Layouts++
	}
	names := map[nameKey]Name{}
	for _, n := range dst.Names {
		names[nameKey{n.Kind, n.Name}] = n
	}
	for _, n := range src.Names {
		d, ok := names[nameKey{n.Kind, n.Name}]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s %s is missing", n.Kind, n.Name))
		case d.Fingerprint != n.Fingerprint || d.Definition != n.Definition || (n.Retired && !d.Retired):
			problems = append(problems, fmt.Sprintf("%s %s differs", n.Kind, n.Name))
		default:
			c.Names++
		}
	}
	runs := map[string]RunRecord{}
	for _, r := range dst.Runs {
		runs[r.ID] = r
	}
	for _, r := range src.Runs {
		d, ok := runs[r.ID]
		switch {
		case !ok:
			problems = append(problems, "run "+r.ID+" is missing")
			continue
		case sameRun(d.Run, r.Run) != "":
			problems = append(problems, "run "+r.ID+" differs: "+sameRun(d.Run, r.Run))
			continue
		case !eventsPrefix(r.Events, d.Events):
			problems = append(problems, "run "+r.ID+" lacks events")
			continue
		}
		c.Runs++
		c.Events += len(r.Events)
		if r.Files == nil {
			continue
		}
		if d.Files == nil || d.Files.ManifestSHA256 != r.Files.ManifestSHA256 || d.Files.RecipeSHA256 != r.Files.RecipeSHA256 ||
			sha256Hex(d.Files.Manifest) != r.Files.ManifestSHA256 || sha256Hex(d.Files.Recipe) != r.Files.RecipeSHA256 {
			problems = append(problems, "the files of run "+r.ID+" differ")
			continue
		}
		c.Files++
	}
	if len(problems) > 0 {
		more := ""
		if len(problems) > 5 {
			more = fmt.Sprintf(" (and %d more)", len(problems)-5)
			problems = problems[:5]
		}
		return c, fmt.Errorf("the copy did not verify: %s%s", strings.Join(problems, "; "), more)
	}
	return c, nil
}
