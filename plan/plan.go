package plan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/qrun-dev/qrun/hydra"
	"github.com/qrun-dev/qrun/layout"
	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/store"
	"github.com/qrun-dev/qrun/vocab"
)

// Options are everything a plan needs besides the selection.
type Options struct {
	Vocab       *vocab.Vocabulary
	Store       store.Store // nil: no registry to consult (a dry run before the first plan)
	OutputRoot  string      // absolute
	Template    layout.Template
	Target      modelopt.Version
	Groups      Groups
	DryRun      bool // check everything, write nothing
	SkipInvalid bool // plan the valid combinations, report the others
	Pending     bool // only the runs not yet succeeded
	// Progress, when set, is called from the loop writing the run
	// directories after each run (done of total); it must be cheap (throttle
	// inside). It may start again from 0 if the registry retries the plan.
	Progress    func(done, total int)
	QrunVersion string
	Host        string
	Git         GitInfo
	Now         func() time.Time
}

// GitInfo is the working directory's repository state, if any.
type GitInfo struct {
	Commit string
	Dirty  bool
}

// Run is one planned run.
type Run struct {
	ID               string
	Dir              string // absolute
	Model            string
	Format           string
	Granularity      string
	FormatTyped      string
	GranularityTyped string
	Params           []manifest.Param
	Recorded         []manifest.Param
	Status           string // registry status; "new" for a dry run's unregistered run
	Created          bool   // registered by this plan
	HydraArgs        []string
}

// Invalid is a combination that cannot be planned, and why.
type Invalid struct {
	Format      string
	Granularity string
	Reason      string
}

// Result is what a plan did.
type Result struct {
	Runs    []Run
	Skipped []Invalid
	Created int
	Resumed int
}

// InvalidError lists every combination of a selection that cannot be
// planned; nothing was written.
type InvalidError struct {
	Invalid []Invalid
	Total   int
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d format × granularity combinations cannot be planned (nothing was written; --skip-invalid plans the rest):", len(e.Invalid), e.Total)
	for _, inv := range e.Invalid {
		fmt.Fprintf(&b, "\n  %s", inv.Reason)
	}
	return b.String()
}

// Is makes an InvalidError an invalid selection (exit 4).
func (e *InvalidError) Is(target error) bool { return target == vocab.ErrInvalidSelection }

// combo is one resolved format × granularity, shared by all its runs.
type combo struct {
	res    *vocab.Resolution
	recipe []byte
	notes  []string
}

// Plan turns a selection into runs: every combination is validated before
// anything is written; the registry check, the run files and the registry
// rows form one transaction, so a sweep is recorded whole or not at all.
func Plan(ctx context.Context, opts Options, sel Selection) (*Result, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if len(sel.Models) == 0 {
		return nil, usagef("no model selected: give --model ORG/NAME (or model=… , or model: in qrun.yaml)")
	}
	models, err := checkModels(ctx, opts.Store, sel.Models)
	if err != nil {
		return nil, err
	}
	combos, invalid, err := resolveAll(opts, sel)
	if err != nil {
		return nil, err
	}
	if len(invalid) > 0 && !opts.SkipInvalid {
		return nil, &InvalidError{Invalid: invalid, Total: len(sel.Formats) * len(sel.Granularities)}
	}
	res := &Result{Skipped: invalid}
	names := map[string]store.NameUse{}
	var runs []store.Run
	var files []manifest.Files
	now := opts.Now().UTC().Truncate(time.Second) // one instant for the manifests and the registry
	created := now.Format(time.RFC3339)
	for _, model := range models {
		for _, fname := range sel.Formats {
			for _, gname := range sel.Granularities {
				c, ok := combos[[2]string{fname, gname}]
				if !ok {
					continue // invalid and skipped
				}
				addNames(names, c.res)
				err := sel.eachParams(func(params []manifest.Param) error {
					r, sr, f, err := buildRun(opts, sel, model, c, params, created)
					if err != nil {
						return err
					}
					res.Runs = append(res.Runs, r)
					runs = append(runs, sr)
					files = append(files, f)
					return nil
				})
				if err != nil {
					return nil, err
				}
			}
		}
	}
	if err := noDuplicateDirs(res.Runs); err != nil {
		return nil, err
	}
	batch := store.PlanBatch{
		Layout: store.Layout{Fingerprint: opts.Template.Fingerprint(), Template: opts.Template.String()},
		Names:  sortedNames(names),
		Runs:   runs,
		At:     now,
	}
	if opts.DryRun {
		// Look at the way to every directory as the real plan would.
		for _, r := range res.Runs {
			if err := layout.Check(opts.OutputRoot, r.Dir); err != nil {
				return nil, err
			}
			if _, err := inspectDir(r, true); err != nil {
				return nil, err
			}
		}
		return res, dryRun(ctx, opts, batch, res)
	}
	if opts.Store == nil {
		return nil, errors.New("plan: no registry")
	}
	batch.BeforeCommit = func(pr store.PlanResult) error {
		return writeRuns(opts.OutputRoot, res.Runs, files, pr, opts.Progress)
	}
	pr, err := opts.Store.Plan(ctx, batch)
	if err != nil {
		return nil, err
	}
	for i, p := range pr.Runs {
		res.Runs[i].Status = string(p.Status)
		res.Runs[i].Created = !p.Resumed
	}
	res.Created, res.Resumed = pr.Created, pr.Resumed
	if opts.Pending {
		res.Runs = pending(res.Runs)
	}
	return res, nil
}

func pending(runs []Run) []Run {
	out := runs[:0]
	for _, r := range runs {
		if r.Status != string(store.StatusSucceeded) {
			out = append(out, r)
		}
	}
	return out
}

// dryRun reports each run's registry status and checks the names in a
// transaction that is rolled back; no file is touched.
func dryRun(ctx context.Context, opts Options, batch store.PlanBatch, res *Result) error {
	if opts.Store == nil {
		for i := range res.Runs {
			res.Runs[i].Status = "new"
		}
		res.Created = len(res.Runs)
		return nil
	}
	errDry := errors.New("dry run")
	var pr store.PlanResult
	batch.BeforeCommit = func(p store.PlanResult) error { pr = p; return errDry }
	if _, err := opts.Store.Plan(ctx, batch); err != nil && !errors.Is(err, errDry) {
		if errors.Is(err, store.ErrReadOnly) {
			return markFromLookups(ctx, opts.Store, res)
		}
		return err
	}
	for i, p := range pr.Runs {
		if p.Resumed {
			res.Runs[i].Status = string(p.Status)
			res.Resumed++
		} else {
			res.Runs[i].Status = "new"
			res.Created++
		}
	}
	if opts.Pending {
		res.Runs = pending(res.Runs)
	}
	return nil
}

func markFromLookups(ctx context.Context, s store.Store, res *Result) error {
	for i := range res.Runs {
		r, err := s.Run(ctx, res.Runs[i].ID)
		switch {
		case err == nil:
			res.Runs[i].Status = string(r.Status)
			res.Resumed++
		case errors.Is(err, store.ErrNotFound):
			res.Runs[i].Status = "new"
			res.Created++
		default:
			return err
		}
	}
	return nil
}

// maxModelID bounds a model id (a Hugging Face id or a local path).
const maxModelID = 1024

// checkModels refuses two model ids that would share a {model} directory
// segment (org1/X and org2/X), in the selection or against the registry.
func checkModels(ctx context.Context, s store.Store, models []string) ([]string, error) {
	bySeg := map[string]string{}
	var out []string
	for _, m := range models {
		if len(m) > maxModelID {
			return nil, usagef("model id is %d characters long; a model id is at most %d", len(m), maxModelID)
		}
		id := layout.CleanModelID(m)
		if err := (layout.Identity{Model: id, Format: "f", Granularity: "g"}).Validate(); err != nil {
			return nil, usagef("model %q: %v", m, err)
		}
		seg := layout.ModelSegment(id)
		if prev, ok := bySeg[seg]; ok && prev != id {
			return nil, modelCollision(id, prev, seg)
		}
		if _, ok := bySeg[seg]; !ok {
			out = append(out, id)
		}
		bySeg[seg] = id
	}
	if s == nil {
		return out, nil
	}
	registered, err := s.Models(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range registered {
		seg := layout.ModelSegment(r)
		if mine, ok := bySeg[seg]; ok && mine != r {
			return nil, modelCollision(mine, r, seg)
		}
	}
	return out, nil
}

func modelCollision(a, b, seg string) error {
	return &vocab.SelectionError{Msg: fmt.Sprintf("models %q and %q would share the directory segment %q; qrun never lets two models share a directory: rename the local copy, or use a layout with another {model} root", a, b, seg)}
}

// resolveAll resolves each format × granularity once and encodes its recipe.
func resolveAll(opts Options, sel Selection) (map[[2]string]*combo, []Invalid, error) {
	// Unknown or retired names are typos or mistakes, not combinations to
	// skip: refuse them all at once.
	var bad []string
	for _, f := range sel.Formats {
		if fm, err := opts.Vocab.Format(f); err != nil {
			bad = append(bad, err.Error())
		} else if fm.Retired {
			bad = append(bad, fmt.Sprintf("format %s is retired: it stays reserved for its past runs and cannot be planned again", fm.Name))
		}
	}
	for _, g := range sel.Granularities {
		if gr, err := opts.Vocab.Granularity(g); err != nil {
			bad = append(bad, err.Error())
		} else if gr.Retired {
			bad = append(bad, fmt.Sprintf("granularity %s is retired: it stays reserved for its past runs and cannot be planned again", gr.Name))
		}
	}
	if len(bad) > 0 {
		return nil, nil, &vocab.SelectionError{Msg: strings.Join(bad, "\n")}
	}
	combos := map[[2]string]*combo{}
	var invalid []Invalid
	seen := map[[2]string]bool{}
	for _, f := range sel.Formats {
		for _, g := range sel.Granularities {
			r, err := opts.Vocab.Resolve(f, g)
			if err != nil {
				if !errors.Is(err, vocab.ErrInvalidSelection) {
					return nil, nil, err
				}
				invalid = append(invalid, Invalid{Format: f, Granularity: g, Reason: err.Error()})
				continue
			}
			key := [2]string{r.Format.Name, r.Granularity.Name}
			if seen[key] {
				continue // an alias and its name in one sweep: one run
			}
			seen[key] = true
			recipe, notes, err := r.Recipe(opts.Target)
			if err != nil {
				invalid = append(invalid, Invalid{Format: f, Granularity: g, Reason: fmt.Sprintf("format %s x granularity %s cannot be written for ModelOpt %s: %v", r.Format.Name, r.Granularity.Name, opts.Target, err)})
				continue
			}
			c := &combo{res: r, recipe: recipe}
			for _, n := range notes {
				c.notes = append(c.notes, string(n))
			}
			combos[[2]string{f, g}] = c
		}
	}
	return combos, invalid, nil
}

func addNames(names map[string]store.NameUse, r *vocab.Resolution) {
	names["format:"+r.Format.Name] = store.NameUse{
		Kind: store.KindFormat, Name: r.Format.Name, Fingerprint: r.Format.Fingerprint(),
		Definition: vocab.Definition(r.Format.Meaning()), Aliases: r.Format.Aliases,
	}
	names["granularity:"+r.Granularity.Name] = store.NameUse{
		Kind: store.KindGranularity, Name: r.Granularity.Name, Fingerprint: r.Granularity.Fingerprint(),
		Definition: vocab.Definition(r.Granularity.Meaning()), Aliases: r.Granularity.Aliases,
	}
}

func sortedNames(m map[string]store.NameUse) []store.NameUse {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]store.NameUse, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// buildRun lays out one run: identity, id, directory, manifest, overrides.
func buildRun(opts Options, sel Selection, model string, c *combo, params []manifest.Param, created string) (Run, store.Run, manifest.Files, error) {
	r := c.res
	id := layout.Identity{Model: model, Format: r.Format.Name, Granularity: r.Granularity.Name}
	for _, p := range params {
		lp, err := layout.NewParam(p.Key, p.Value)
		if err != nil {
			return Run{}, store.Run{}, manifest.Files{}, usagef("parameter %s: %v", p.Key, err)
		}
		id.Params = append(id.Params, lp)
	}
	if err := id.Validate(); err != nil {
		return Run{}, store.Run{}, manifest.Files{}, usagef("%v", err)
	}
	runID := layout.RunID(id)
	dir, err := layout.Dir(opts.OutputRoot, opts.Template, id)
	if err != nil {
		return Run{}, store.Run{}, manifest.Files{}, err
	}
	var recorded []manifest.Param
	for _, a := range sel.Recorded {
		recorded = append(recorded, manifest.Param{Key: a.Key, Value: a.Values[0]})
	}
	args := []string{
		hydra.Arg(opts.Groups.Format, r.Format.Name),
		hydra.Arg(opts.Groups.Granularity, r.Granularity.Name),
	}
	if sel.ModelFromHydra {
		args = append(args, hydra.Arg("model", model))
	}
	for _, p := range mergeParams(params, recorded) {
		args = append(args, hydra.Arg(p.Key, p.Value))
	}
	args = append(args, hydra.QuotedArg("hydra.run.dir", dir))
	m := &manifest.Manifest{
		RunID: runID, Model: model,
		Format:            manifest.Name{Name: r.Format.Name, Typed: r.FormatTyped, Fingerprint: r.Format.Fingerprint()},
		Granularity:       manifest.Name{Name: r.Granularity.Name, Typed: r.GranularityTyped, Fingerprint: r.Granularity.Fingerprint()},
		Params:            params,
		Recorded:          recorded,
		ConfigFingerprint: r.Fingerprint(),
		Weights:           roleValue(r, modelopt.Weights),
		Activations:       roleValue(r, modelopt.Activations),
		ModelOpt:          opts.Target.String(),
		Notes:             c.notes,
		LayoutTemplate:    opts.Template.String(),
		LayoutFingerprint: opts.Template.Fingerprint(),
		HydraOverrides:    args,
		QrunVersion:       opts.QrunVersion,
		Created:           created,
		Host:              opts.Host,
		GitCommit:         opts.Git.Commit,
		GitDirty:          opts.Git.Dirty,
	}
	mb, err := m.Encode()
	if err != nil {
		return Run{}, store.Run{}, manifest.Files{}, err
	}
	run := Run{
		ID: runID, Dir: dir, Model: model, Format: r.Format.Name, Granularity: r.Granularity.Name,
		FormatTyped: r.FormatTyped, GranularityTyped: r.GranularityTyped,
		Params: params, Recorded: recorded, HydraArgs: args,
	}
	sr := store.Run{
		ID: runID, Model: model, Format: r.Format.Name, Granularity: r.Granularity.Name,
		Params: ParamsJSON(params), Dir: dir,
		FormatFP: r.Format.Fingerprint(), GranularityFP: r.Granularity.Fingerprint(), ConfigFP: r.Fingerprint(),
		LayoutFP: opts.Template.Fingerprint(), ModelOpt: opts.Target.String(),
		Files: &store.RunFiles{Manifest: mb, Recipe: c.recipe},
	}
	return run, sr, manifest.Files{Manifest: mb, Recipe: c.recipe}, nil
}

// roleValue is a role's resolved attributes as plain values (stages as a
// list), or nil when the role is not quantized.
func roleValue(r *vocab.Resolution, role modelopt.Role) any {
	i := r.Config.RoleIndex(role)
	if i < 0 {
		return nil
	}
	e := r.Config.Entries[i]
	switch {
	case e.Stages != nil:
		out := make([]any, len(e.Stages))
		for j, s := range e.Stages {
			out[j] = s.Value()
		}
		return out
	case e.Cfg != nil:
		return e.Cfg.Value()
	}
	return nil
}

func mergeParams(a, b []manifest.Param) []manifest.Param {
	out := append(append([]manifest.Param{}, a...), b...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// ParamsJSON is the registry's canonical JSON object of typed parameters.
func ParamsJSON(params []manifest.Param) string {
	if len(params) == 0 {
		return "{}"
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, p := range params {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.Key)
		v, _ := json.Marshal(p.Value)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.String()
}

func noDuplicateDirs(runs []Run) error {
	byDir := map[string]string{}
	for _, r := range runs {
		if other, ok := byDir[r.Dir]; ok && other != r.ID {
			return fmt.Errorf("runs %s and %s would share %s: add {params} or {run_id} to the layout template", other, r.ID, r.Dir)
		}
		byDir[r.Dir] = r.ID
	}
	return nil
}

// writeRuns creates each run's directory (exclusively) and writes its
// files. A run the registry already held (resumed) keeps its files byte for
// byte; only missing ones are written. A run this plan registers owns its
// directory only if the directory is new, or holds nothing but an
// interrupted write (temp files, a recipe, or a manifest of this very run
// that no registry commit covered): those are written afresh, so that the
// registry's copy and the disk agree.
func writeRuns(root string, runs []Run, files []manifest.Files, pr store.PlanResult, progress func(done, total int)) error {
	// First look at every directory that exists, so that a refusal comes
	// before anything is written.
	actions := make([]reuse, len(runs))
	for i, r := range runs {
		a, err := inspectDir(r, pr.Runs[i].Resumed)
		if err != nil {
			return err
		}
		actions[i] = a
	}
	maker, err := layout.NewMaker(root)
	if err != nil {
		return err
	}
	batch := manifest.NewBatch()
	for i, r := range runs {
		if progress != nil {
			progress(i, len(runs))
		}
		created, err := maker.Create(r.Dir)
		if err != nil {
			return err
		}
		if created {
			if err := batch.WriteNew(r.Dir, files[i]); err != nil {
				return err
			}
			continue
		}
		switch actions[i] {
		case reuseReset:
			if err := manifest.Reset(r.Dir); err != nil {
				return err
			}
		case reuseRewrite:
			if err := batch.WriteAll(r.Dir, files[i]); err != nil {
				return err
			}
		}
		// Temporary files in a run directory are a crashed writer's:
		// planners of one run are serialised by the registry's lock.
		if err := manifest.RemoveStrays(r.Dir); err != nil {
			return err
		}
		if _, err := batch.WriteMissing(r.Dir, files[i]); err != nil {
			return err
		}
	}
	if progress != nil {
		progress(len(runs), len(runs))
	}
	// One sync of the output root's file system makes every file durable
	// before the registry commits (see manifest.Batch for why that is safe).
	return batch.Sync(root)
}

// reuse is what to do with a run directory that already exists.
type reuse int

const (
	reuseKeep    reuse = iota // this run, registered: keep its files, write missing ones
	reuseReset                // an interrupted write before the manifest: start afresh
	reuseRewrite              // this run's files from a plan that never committed: rewrite
)

// inspectDir decides, without writing, what to do with a run's directory
// if it exists; a directory that belongs to someone else is an error.
func inspectDir(r Run, resumed bool) (reuse, error) {
	st, err := os.Lstat(r.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return reuseKeep, nil
	}
	switch {
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return 0, fmt.Errorf("cannot check %s: %v", r.Dir, err)
	case st.Mode()&fs.ModeSymlink != 0:
		return 0, fmt.Errorf("%s is a symbolic link; run directories never go through links below the output root: remove it or choose another root", r.Dir)
	case !st.IsDir():
		return 0, fmt.Errorf("%s is a file where a run directory goes: move it away", r.Dir)
	}
	id, err := manifest.ReadIdentity(r.Dir)
	switch {
	case errors.Is(err, manifest.ErrNoManifest):
		uncommitted, eerr := manifest.Uncommitted(r.Dir)
		if eerr != nil {
			return 0, fmt.Errorf("cannot read %s: %w", r.Dir, eerr)
		}
		if !uncommitted {
			return 0, fmt.Errorf("%s exists and is not a qrun run directory (no %s): move it away, or choose another output root", r.Dir, manifest.ManifestFile)
		}
		return reuseReset, nil
	case err != nil && !resumed && manifest.Torn(r.Dir):
		// What a power loss can leave of an unsynced write of an
		// unregistered run: an empty or cut-short qrun manifest.
		return reuseRewrite, nil
	case err != nil:
		return 0, fmt.Errorf("%s exists and %v: move it away, or choose another output root", r.Dir, err)
	case id.RunID != r.ID:
		return 0, fmt.Errorf("%s already holds run %s (%s, %s × %s), not run %s: move it away, or choose another output root", r.Dir, id.RunID, id.Model, id.Format, id.Granularity, r.ID)
	case !resumed:
		return reuseRewrite, nil // this run's files from a plan that never committed
	}
	return reuseKeep, nil
}
