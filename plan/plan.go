package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/qrun-dev/qrun/layout"
	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/namekind"
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
	// RequireExport makes a combination whose checkpoint export is not
	// deployable (SPEC §11.3) an invalid selection.
	RequireExport bool
	Pending       bool // only the runs not yet succeeded
	// MaxSweep is the largest sweep planned (DefaultMaxSweep when 0): a
	// larger selection is an invalid selection, refused before anything
	// is expanded.
	MaxSweep int64
	// Progress, when set, is called from the loop writing the run
	// directories after each run (done of total); it must be cheap (throttle
	// inside). It may start again from 0 if the registry retries the plan.
	Progress func(done, total int)
	// Open, when Store is nil, opens (and creates) the registry once every
	// check has passed: a refused plan leaves no registry behind.
	Open func(context.Context) (store.Store, error)
	// Emit, when set, receives the plan's runs in sweep order once the plan
	// is recorded (for --pending, those not yet succeeded), instead of
	// Result.Runs: a sweep of any size is printed without being held.
	Emit func(Run) error
	// Check, when set, is asked about every run (with its HydraArgs) in
	// the first pass, before anything is written: an error refuses the
	// plan (a launch line that cannot be written for a run, say).
	Check       func(Run) error
	QrunVersion string
	Host        string
	// Git, when set, returns the repository state recorded in every
	// manifest; it is called once, when the first manifest is encoded (a
	// dry run never calls it), so that its cost can overlap the checks.
	Git func() GitInfo
	Now func() time.Time
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
	KVCache          string // canonical KV-cache setting; "none" for none
	FormatTyped      string
	GranularityTyped string
	KVCacheTyped     string
	// QFormat is the hf_ptq --qformat name that matches the recipe at the
	// target, "" when the format has no ModelOpt preset (SPEC §13).
	QFormat   string
	Params    []manifest.Param
	Recorded  []manifest.Param
	Status    string // registry status; "new" for a dry run's unregistered run
	Created   bool   // registered by this plan
	HydraArgs []string
	Export    modelopt.Verdict // the export verdict of its combination
}

// Invalid is a combination that cannot be planned, and why.
type Invalid struct {
	Format      string
	Granularity string
	KVCache     string
	Reason      string
	// Export is the combination's export verdict when that is why it
	// cannot be planned (--require-export); zero otherwise.
	Export modelopt.Verdict
}

// Verdict is one combination's export verdict, and how many of the plan's
// runs have it.
type Verdict struct {
	Format, Granularity, KVCache string
	Export                       modelopt.Verdict
	Runs                         int
}

// Result is what a plan did.
type Result struct {
	Runs    []Run // in sweep order, unless Options.Emit took them
	Skipped []Invalid
	Created int // runs registered by this plan (a dry run: not registered)
	Resumed int // runs already registered
	Printed int // runs listed in Runs or given to Emit
	// Verdicts are the export verdicts of the plan's combinations, in
	// sweep order, with their runs counted.
	Verdicts []Verdict
}

// VerdictCounts counts the plan's runs by export verdict.
func (r *Result) VerdictCounts() map[modelopt.VerdictKind]int {
	out := map[modelopt.VerdictKind]int{}
	for _, v := range r.Verdicts {
		out[v.Export.Kind] += v.Runs
	}
	return out
}

// InvalidError lists every combination of a selection that cannot be
// planned; nothing was written.
type InvalidError struct {
	Invalid []Invalid
	Total   int
	Axes    string // "format × granularity", "× kv_cache" when the selection sweeps it
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d %s combinations cannot be planned (nothing was written; --skip-invalid plans the rest):", len(e.Invalid), e.Total, e.Axes)
	for _, inv := range e.Invalid {
		fmt.Fprintf(&b, "\n  %s", inv.Reason)
	}
	return b.String()
}

// Is makes an InvalidError an invalid selection (exit 4).
func (e *InvalidError) Is(target error) bool { return target == vocab.ErrInvalidSelection }

// comboKey is a combination as the selection typed it.
type comboKey struct{ format, granularity, kvCache string }

// combo is one resolved format × granularity × KV-cache setting, shared by
// all its runs.
type combo struct {
	res     *vocab.Resolution
	qformat string // hf_ptq --qformat at the target
	recipe  []byte
	notes   []string
	verdict modelopt.Verdict // for the plan's ModelOpt target
	export  manifest.Export  // the verdict as the manifests record it
	runs    int              // the plan's runs of this combination
	// the format, the granularity and the KV-cache setting (zero for
	// none) as name stability sees them, with the names their runs are
	// recorded under (store.RecordedName)
	format, granularity, kvCache store.NameUse
	// the resolved quantizers as the manifest shows them
	weights, activations any
}

// Plan turns a selection into runs: every combination is validated and
// every run checked before anything is written; the registry check, the
// run files and the registry rows form one transaction, so a sweep is
// recorded whole or not at all.
//
// A sweep is never held whole in memory: its runs are generated three times
// from the selection (cheaply; only the second pass encodes manifests). The
// first pass checks each run's identity and directory and what is already
// on disk, so that a refusal comes before anything is written; the second,
// inside the registry's transaction, writes rows and files a chunk at a
// time; the third, after the commit, hands the runs to Options.Emit (or
// lists them in Result.Runs). What is kept per run is its status (a byte)
// and a key of its directory.
func Plan(ctx context.Context, opts Options, sel Selection) (*Result, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if len(sel.Models) == 0 {
		return nil, usagef("no model selected: give --model ORG/NAME (or model=… , or model: in qrun.yaml)")
	}
	if err := sel.CheckSize(opts.MaxSweep); err != nil {
		return nil, err
	}
	models, err := checkModels(ctx, opts.Store, sel.Models)
	if err != nil {
		return nil, err
	}
	combos, invalid, err := resolveAll(opts, sel)
	if err != nil {
		return nil, err
	}
	if err := recordNames(ctx, opts.Store, combos); err != nil {
		return nil, err
	}
	if len(invalid) > 0 && !opts.SkipInvalid {
		return nil, &InvalidError{Invalid: invalid, Total: sel.Combinations(), Axes: sel.Axes()}
	}
	res := &Result{Skipped: invalid}
	now := opts.Now().UTC().Truncate(time.Second) // one instant for the manifests and the registry
	sw := newSweep(opts, sel, models, combos, now)
	names, total, err := sw.check(ctx)
	if err != nil || total == 0 {
		return res, interrupted(ctx, err, false) // total 0: every combination skipped, nothing to do
	}
	head := store.PlanHead{
		Layout: store.Layout{Fingerprint: opts.Template.Fingerprint(), Template: opts.Template.String()},
		Names:  names,
		At:     now,
	}
	statuses := make([]runStatus, total)
	if opts.DryRun {
		err = sw.dryRun(ctx, head, statuses)
	} else {
		err = sw.record(ctx, head, statuses)
	}
	if err != nil {
		return nil, interrupted(ctx, err, false)
	}
	for _, s := range statuses {
		if s == statusNew {
			res.Created++
		} else {
			res.Resumed++
		}
	}
	err = sw.each(func(i int, r *Run, c *combo) error {
		if err := ctx.Err(); err != nil {
			return err // the listing is cut short, not the plan
		}
		r.Status, r.Created = statuses[i].String(opts.DryRun), statuses[i] == statusNew
		c.runs++
		if opts.Pending && r.Status == string(store.StatusSucceeded) {
			return nil
		}
		res.Printed++
		r.HydraArgs = sw.hydraArgs(r, c)
		if opts.Emit != nil {
			return opts.Emit(*r)
		}
		res.Runs = append(res.Runs, *r)
		return nil
	})
	if err != nil {
		return nil, interrupted(ctx, err, !opts.DryRun)
	}
	res.Verdicts = sw.verdicts()
	return res, nil
}

// InterruptedError is a plan stopped by the cancellation of its context
// (qrun cancels it on SIGINT and SIGTERM). Before the plan is recorded,
// the registry's transaction is rolled back and the run directories the
// plan created are removed: nothing was recorded. After, only the listing
// of its runs is cut short.
type InterruptedError struct {
	Recorded bool  // the plan was recorded before the interruption
	Cause    error // context.Cause of the plan's context
}

func (e *InterruptedError) Error() string {
	if e.Recorded {
		return "interrupted while listing the runs; the plan was recorded (run it again to list them)"
	}
	return "interrupted; nothing was recorded"
}

// Unwrap makes errors.Is(err, context.Canceled) true.
func (e *InterruptedError) Unwrap() error { return e.Cause }

// interrupted turns the failure of a plan whose context was cancelled
// into an *InterruptedError (a refusal by name stability stays what it
// is); other errors are returned as they are.
func interrupted(ctx context.Context, err error, recorded bool) error {
	if err == nil || ctx.Err() == nil || store.Blocked(err) != nil {
		return err
	}
	return &InterruptedError{Recorded: recorded, Cause: context.Cause(ctx)}
}

// runStatus is a run's registry status as this plan found or made it.
type runStatus uint8

const (
	statusNew runStatus = iota // registered by this plan; in a dry run, not registered
	statusPlanned
	statusRunning
	statusSucceeded
	statusFailed
)

func statusOf(p store.PlannedRun) runStatus {
	if !p.Resumed {
		return statusNew
	}
	return registered(p.Status)
}

func registered(s store.Status) runStatus {
	switch s {
	case store.StatusRunning:
		return statusRunning
	case store.StatusSucceeded:
		return statusSucceeded
	case store.StatusFailed:
		return statusFailed
	}
	return statusPlanned
}

// String is the status a run is reported with: "new" for a dry run's
// unregistered run.
func (s runStatus) String(dryRun bool) string {
	switch s {
	case statusNew:
		if dryRun {
			return "new"
		}
		return string(store.StatusPlanned)
	case statusRunning:
		return string(store.StatusRunning)
	case statusSucceeded:
		return string(store.StatusSucceeded)
	case statusFailed:
		return string(store.StatusFailed)
	}
	return string(store.StatusPlanned)
}

// record writes the plan in one registry transaction: Check, then the
// sweep a chunk at a time (a chunk's rows go in, then its files are written
// on the other core while the next chunk's rows go in), then one sync of
// the files before the commit. Whatever fails (a refusal, the registry, a
// file, an interruption) rolls the transaction back and removes the run
// directories this attempt created; a retried transaction starts afresh.
func (sw *sweep) record(ctx context.Context, head store.PlanHead, statuses []runStatus) error {
	st := sw.opts.Store
	if st == nil && sw.opts.Open != nil {
		// Every check has passed: now the registry may be created.
		var err error
		if st, err = sw.opts.Open(ctx); err != nil {
			return err
		}
		if _, err := checkModels(ctx, st, sw.models); err != nil {
			return err
		}
	}
	if st == nil {
		return errors.New("plan: no registry")
	}
	return st.Update(ctx, func(tx store.PlanTx) error {
		if err := tx.Check(head); err != nil {
			return err
		}
		w, err := newWriter(ctx, sw.opts.OutputRoot, manifest.RegistryWriter(st.ID()), len(statuses), sw.opts.Progress)
		if err != nil {
			return err
		}
		if err := sw.write(ctx, tx, w, statuses); err != nil {
			w.stop() // never a file written after the transaction ends
			sw.undo(w)
			return err
		}
		return nil
	})
}

// write is the second pass: the sweep's rows and files, a chunk at a time,
// then the sync. An interruption during the sync still rolls back.
func (sw *sweep) write(ctx context.Context, tx store.PlanTx, w *writer, statuses []runStatus) error {
	start := 0
	err := sw.chunks(true, func(chunk []Run, files []manifest.Files, rows []store.Run) error {
		planned, err := tx.AddRuns(rows)
		if err != nil {
			return err
		}
		resumed := make([]bool, len(planned))
		for i, p := range planned {
			statuses[start+i] = statusOf(p)
			resumed[i] = p.Resumed
		}
		// The slices are the generator's: copied.
		j := writeJob{start: start, runs: slices.Clone(chunk), files: slices.Clone(files), resumed: resumed}
		start += len(planned)
		return w.submit(j)
	})
	if err != nil {
		return err
	}
	if err := w.finish(); err != nil {
		return err
	}
	return ctx.Err()
}

// chunkSize is how many runs go to the registry (and then to disk) at a
// time: enough to amortise the calls, few enough to keep memory flat.
const chunkSize = 256

// chunks generates the sweep's runs with their registry rows (and, with
// files, their encoded files), a chunk at a time; the slices are reused.
func (sw *sweep) chunks(files bool, fn func([]Run, []manifest.Files, []store.Run) error) error {
	runs := make([]Run, 0, chunkSize)
	fs := make([]manifest.Files, 0, chunkSize)
	rows := make([]store.Run, 0, chunkSize)
	flush := func() error {
		if len(runs) == 0 {
			return nil
		}
		err := fn(runs, fs, rows)
		runs, fs, rows = runs[:0], fs[:0], rows[:0]
		return err
	}
	err := sw.each(func(i int, r *Run, c *combo) error {
		row := sw.row(r, c)
		if files {
			f, err := sw.files(r, c)
			if err != nil {
				return err
			}
			row.Files = &store.RunFiles{Manifest: f.Manifest, Recipe: f.Recipe}
			fs = append(fs, f)
		}
		runs, rows = append(runs, *r), append(rows, row)
		if len(runs) == chunkSize {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// dryRun finds each run's registry status, checking the names in a
// transaction that is rolled back; no file is touched.
func (sw *sweep) dryRun(ctx context.Context, head store.PlanHead, statuses []runStatus) error {
	st := sw.opts.Store
	if st == nil {
		return nil // no registry yet: every run is new
	}
	errDry := errors.New("dry run")
	err := st.Update(ctx, func(tx store.PlanTx) error {
		if err := tx.Check(head); err != nil {
			return err
		}
		start := 0
		err := sw.chunks(false, func(_ []Run, _ []manifest.Files, rows []store.Run) error {
			planned, err := tx.AddRuns(rows)
			if err != nil {
				return err
			}
			for i, p := range planned {
				statuses[start+i] = statusOf(p)
			}
			start += len(planned)
			return nil
		})
		if err != nil {
			return err
		}
		return errDry // roll back
	})
	switch {
	case err == errDry:
		return nil
	case errors.Is(err, store.ErrReadOnly):
		// A registry this user may only read: look each run up.
		return sw.each(func(i int, r *Run, _ *combo) error {
			reg, err := st.Run(ctx, r.ID)
			switch {
			case err == nil:
				statuses[i] = registered(reg.Status)
			case errors.Is(err, store.ErrNotFound):
				statuses[i] = statusNew
			default:
				return err
			}
			return nil
		})
	}
	return err
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

// resolveAll resolves each combination once and encodes its recipe.
func resolveAll(opts Options, sel Selection) (map[comboKey]*combo, []Invalid, error) {
	// Unknown or retired names are typos or mistakes, not combinations to
	// skip: refuse them all at once.
	var bad []string
	check := func(k namekind.Kind, names []string, get func(string) (*vocab.Entry, error)) {
		for _, n := range names {
			if e, err := get(n); err != nil {
				bad = append(bad, err.Error())
			} else if e.Retired {
				bad = append(bad, fmt.Sprintf("%s %s is retired: it stays reserved for its past runs and cannot be planned again", k, e.Name))
			}
		}
	}
	check(namekind.Format, sel.Formats, func(n string) (*vocab.Entry, error) {
		f, err := opts.Vocab.Format(n)
		if err != nil {
			return nil, err
		}
		return &f.Entry, nil
	})
	check(namekind.Granularity, sel.Granularities, func(n string) (*vocab.Entry, error) {
		g, err := opts.Vocab.Granularity(n)
		if err != nil {
			return nil, err
		}
		return &g.Entry, nil
	})
	check(namekind.KVCache, sel.kvCaches(), func(n string) (*vocab.Entry, error) {
		c, err := opts.Vocab.KVCache(n)
		if err != nil {
			return nil, err
		}
		return &c.Entry, nil
	})
	if len(bad) > 0 {
		return nil, nil, &vocab.SelectionError{Msg: strings.Join(bad, "\n")}
	}
	combos := map[comboKey]*combo{}
	var invalid []Invalid
	seen := map[comboKey]bool{}
	for _, f := range sel.Formats {
		for _, g := range sel.Granularities {
			for _, kv := range sel.kvCaches() {
				r, err := opts.Vocab.ResolveKV(f, g, kv)
				if err != nil {
					if !errors.Is(err, vocab.ErrInvalidSelection) {
						return nil, nil, err
					}
					invalid = append(invalid, Invalid{Format: f, Granularity: g, KVCache: kv, Reason: err.Error()})
					continue
				}
				key := comboKey{r.Format.Name, r.Granularity.Name, r.KVCacheName()}
				if seen[key] {
					continue // an alias and its name in one sweep: one run
				}
				seen[key] = true
				name := r.Name()
				recipe, notes, err := r.Recipe(opts.Target)
				if err != nil {
					invalid = append(invalid, Invalid{Format: f, Granularity: g, KVCache: kv, Reason: fmt.Sprintf("%s cannot be written for ModelOpt %s: %v", name, opts.Target, err)})
					continue
				}
				c := &combo{res: r, qformat: r.QFormat(opts.Target), recipe: recipe, verdict: r.Export(opts.Target)}
				if opts.RequireExport && c.verdict.Kind != modelopt.Deployable {
					invalid = append(invalid, Invalid{Format: f, Granularity: g, KVCache: kv, Export: c.verdict,
						Reason: fmt.Sprintf("%s is not deployable with ModelOpt %s (--require-export): %s", name, opts.Target, c.verdict.Summary())})
					continue
				}
				c.export = manifest.Export{Verdict: string(c.verdict.Kind), QuantAlgo: c.verdict.QuantAlgo, Why: c.verdict.Why,
					KVCacheQuantAlgo: c.verdict.KVCacheQuantAlgo, ModelOpt: opts.Target.String()}
				c.weights, c.activations = roleValue(c, modelopt.Weights), roleValue(c, modelopt.Activations)
				for _, n := range notes {
					c.notes = append(c.notes, string(n))
				}
				combos[comboKey{f, g, kv}] = c
			}
		}
	}
	return combos, invalid, nil
}

func addNames(names map[string]store.NameUse, c *combo) {
	names["format:"+c.format.Name] = c.format
	names["granularity:"+c.granularity.Name] = c.granularity
	if c.kvCache.Name != "" {
		names["kv_cache:"+c.kvCache.Name] = c.kvCache
	}
}

// kvCacheUse is a KV-cache setting as name stability sees it.
func kvCacheUse(c *vocab.KVCache) store.NameUse {
	return store.NameUse{Kind: namekind.KVCache, Name: c.Name, Fingerprint: c.Fingerprint(),
		Definition: vocab.Definition(c.Meaning()), Aliases: c.Aliases}
}

// recordNames finds, for each combination's format, granularity and
// KV-cache setting, the name its runs are recorded under: after a declared
// rename, the name the registry first recorded the definition under (see
// store.RecordedName), so that runs planned before keep their ids and
// directories.
func recordNames(ctx context.Context, st store.Store, combos map[comboKey]*combo) error {
	uses := map[string]store.NameUse{}
	for _, c := range combos {
		uses["format:"+c.res.Format.Name] = formatUse(c.res.Format)
		uses["granularity:"+c.res.Granularity.Name] = granularityUse(c.res.Granularity)
		if kv := c.res.KVCache; kv != nil && !kv.None() {
			uses["kv_cache:"+kv.Name] = kvCacheUse(kv)
		}
	}
	list := sortedNames(uses)
	if err := store.FillRecorded(ctx, st, list); err != nil {
		return err
	}
	for _, u := range list {
		uses[string(u.Kind)+":"+u.Name] = u
	}
	for _, c := range combos {
		c.format = uses["format:"+c.res.Format.Name]
		c.granularity = uses["granularity:"+c.res.Granularity.Name]
		if kv := c.res.KVCache; kv != nil && !kv.None() {
			c.kvCache = uses["kv_cache:"+kv.Name]
		}
	}
	return nil
}

// formatUse is a format as name stability sees it.
func formatUse(f *vocab.Format) store.NameUse {
	return store.NameUse{Kind: namekind.Format, Name: f.Name, Fingerprint: f.Fingerprint(),
		Definition: vocab.Definition(f.Meaning()), Aliases: f.Aliases}
}

// granularityUse is a granularity as name stability sees it.
func granularityUse(g *vocab.Granularity) store.NameUse {
	return store.NameUse{Kind: namekind.Granularity, Name: g.Name, Fingerprint: g.Fingerprint(),
		Definition: vocab.Definition(g.Meaning()), Aliases: g.Aliases}
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

// AllParams are the run's identity and recorded parameters, sorted by key:
// what a launch line passes.
func (r Run) AllParams() []manifest.Param { return mergeParams(r.Params, r.Recorded) }

func mergeParams(a, b []manifest.Param) []manifest.Param {
	out := append(append([]manifest.Param{}, a...), b...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// ParamsJSON is the registry's canonical JSON object of typed parameters,
// keys in order: each "key":value as ParamJSON writes it.
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
		b.WriteString(ParamJSON(p))
	}
	b.WriteByte('}')
	return b.String()
}

// ParamJSON is one parameter as the registry's JSON writes it, "key":value,
// the value's Hydra type kept: an integer as a JSON integer (1000), a float
// always with a fraction or an exponent (1000.0, 0.5, 1e+21), so that
// seed=1000 and seed=1000.0 stay two values in the registry and in every
// --json output, as they are two runs.
func ParamJSON(p manifest.Param) string {
	k, _ := json.Marshal(p.Key)
	return string(k) + ":" + string(ParamValueJSON(p.Value))
}

// ParamValueJSON is a parameter value as JSON, its type kept (see
// ParamJSON).
func ParamValueJSON(v any) json.RawMessage {
	switch x := v.(type) {
	case float32:
		return ParamValueJSON(float64(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			// JSON has no such numbers (Hydra refuses them as values).
			b, _ := json.Marshal(strconv.FormatFloat(x, 'g', -1, 64))
			return b
		}
		b, _ := json.Marshal(x)
		if !bytes.ContainsAny(b, ".eE") {
			b = append(b, ".0"...)
		}
		return b
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(fmt.Sprint(v))
	}
	return b
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
	// Another planner of the same run may commit its manifest between our
	// two reads of the directory (its manifest, then its listing): a
	// listing that shows a manifest the first read did not see is read
	// again, not taken for someone else's directory.
	for attempt := 0; ; attempt++ {
		action, err := inspectDirOnce(r, resumed)
		if errors.Is(err, errManifestAppeared) && attempt < 3 {
			continue
		}
		if errors.Is(err, errManifestAppeared) {
			err = fmt.Errorf("%s: its manifest keeps changing while qrun reads it: is another program writing there?", r.Dir)
		}
		return action, err
	}
}

// errManifestAppeared: the directory had no manifest, then had one.
var errManifestAppeared = errors.New("manifest appeared")

// readIdentity reads a run directory's manifest (a variable for the tests
// of the race above).
var readIdentity = manifest.ReadIdentity

func inspectDirOnce(r Run, resumed bool) (reuse, error) {
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
	id, err := readIdentity(r.Dir)
	switch {
	case errors.Is(err, manifest.ErrNoManifest):
		uncommitted, eerr := manifest.Uncommitted(r.Dir)
		if eerr != nil {
			return 0, fmt.Errorf("cannot read %s: %w", r.Dir, eerr)
		}
		if !uncommitted {
			if st, serr := os.Lstat(filepath.Join(r.Dir, manifest.ManifestFile)); serr == nil && st.Mode().IsRegular() {
				return 0, errManifestAppeared
			}
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
