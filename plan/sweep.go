package plan

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/qrun-dev/qrun/hydra"
	"github.com/qrun-dev/qrun/layout"
	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/store"
	"github.com/qrun-dev/qrun/vocab"
)

// sweep generates a selection's runs, in sweep order (model, format,
// granularity, then the parameters' product), as often as a plan needs
// them: the same runs every time.
type sweep struct {
	opts     Options
	sel      Selection
	models   []string
	combos   map[comboKey]*combo
	created  string           // the manifests' creation time
	recorded []manifest.Param // recorded parameters, the same for every run
	layoutFP string
	target   string
	git      func() GitInfo // once
}

func newSweep(opts Options, sel Selection, models []string, combos map[comboKey]*combo, now time.Time) *sweep {
	sw := &sweep{opts: opts, sel: sel, models: models, combos: combos, created: now.Format(time.RFC3339),
		layoutFP: opts.Template.Fingerprint(), target: opts.Target.String()}
	for _, a := range sel.Recorded {
		sw.recorded = append(sw.recorded, manifest.Param{Key: a.Key, Value: a.Values[0]})
	}
	sw.git = func() GitInfo { return GitInfo{} }
	if opts.Git != nil {
		sw.git = sync.OnceValue(opts.Git)
	}
	return sw
}

// each calls fn with every run of the sweep and its combination, i counting
// from 0. The run is fn's to keep (its slices are its own).
func (sw *sweep) each(fn func(i int, r *Run, c *combo) error) error {
	i := 0
	for _, model := range sw.models {
		for _, f := range sw.sel.Formats {
			for _, g := range sw.sel.Granularities {
				for _, kv := range sw.sel.kvCaches() {
					c, ok := sw.combos[comboKey{f, g, kv}]
					if !ok {
						continue // invalid and skipped
					}
					err := sw.sel.eachParams(func(params []manifest.Param) error {
						r, err := sw.identify(model, c, params)
						if err != nil {
							return err
						}
						err = fn(i, &r, c)
						i++
						return err
					})
					if err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// identify lays out one run: identity, id, directory.
func (sw *sweep) identify(model string, c *combo, params []manifest.Param) (Run, error) {
	r := c.res
	format, granularity := c.format.RecordedAs(), c.granularity.RecordedAs()
	id := layout.Identity{Model: model, Format: format, Granularity: granularity}
	kv := layout.NoKVCache
	if c.kvCache.Name != "" {
		kv = c.kvCache.RecordedAs()
	}
	id.KVCache = kv
	for _, p := range params {
		lp, err := layout.NewParam(p.Key, p.Value)
		if err != nil {
			return Run{}, usagef("parameter %s: %v", p.Key, err)
		}
		id.Params = append(id.Params, lp)
	}
	if err := id.Validate(); err != nil {
		return Run{}, usagef("%v", err)
	}
	dir, err := layout.Dir(sw.opts.OutputRoot, sw.opts.Template, id)
	if err != nil {
		return Run{}, err
	}
	return Run{
		ID: layout.RunID(id), Dir: dir, Model: model, Format: format, Granularity: granularity, KVCache: kv,
		FormatTyped: typedAs(r.FormatTyped, r.Format.Name, format), GranularityTyped: typedAs(r.GranularityTyped, r.Granularity.Name, granularity),
		KVCacheTyped: typedAs(r.KVCacheTyped, r.KVCacheName(), kv), QFormat: c.qformat,
		Params: params, Recorded: sw.recorded, Export: c.verdict,
	}, nil
}

// typedAs is the name the user typed, when it is not the recorded one:
// typed ("" when the canonical name was typed) or else the canonical name.
func typedAs(typed, canonical, recorded string) string {
	if typed == "" {
		typed = canonical
	}
	if typed == recorded {
		return ""
	}
	return typed
}

// verdicts lists the combinations' export verdicts in sweep order, with
// their runs counted (each counts its runs as the last pass sees them).
func (sw *sweep) verdicts() []Verdict {
	var out []Verdict
	for _, f := range sw.sel.Formats {
		for _, g := range sw.sel.Granularities {
			for _, kv := range sw.sel.kvCaches() {
				c, ok := sw.combos[comboKey{f, g, kv}]
				if !ok || c.runs == 0 {
					continue
				}
				out = append(out, Verdict{Format: c.res.Format.Name, Granularity: c.res.Granularity.Name, KVCache: c.res.KVCacheName(),
					Export: c.verdict, Runs: c.runs})
			}
		}
	}
	return out
}

// hydraArgs are the Hydra overrides that launch the run.
func (sw *sweep) hydraArgs(r *Run, c *combo) []string {
	g := sw.opts.Groups.withDefaults()
	args := make([]string, 0, 5+len(r.Params)+len(r.Recorded))
	args = append(args,
		hydra.Arg(g.Model, r.Model),
		hydra.Arg(g.Format, c.res.Format.Name),
		hydra.Arg(g.Granularity, c.res.Granularity.Name),
		hydra.Arg(g.KVCache, c.res.KVCacheName()))
	for _, p := range mergeParams(r.Params, r.Recorded) {
		args = append(args, hydra.Arg(p.Key, p.Value))
	}
	return append(args, hydra.QuotedArg("hydra.run.dir", r.Dir))
}

// row is the run's registry row (without its files).
func (sw *sweep) row(r *Run, c *combo) store.Run {
	return store.Run{
		ID: r.ID, Model: r.Model, Format: r.Format, Granularity: r.Granularity,
		KVCache: r.KVCache, KVCacheFP: c.res.KVCacheFingerprint(),
		Params: ParamsJSON(r.Params), Dir: r.Dir,
		FormatFP: c.res.Format.Fingerprint(), GranularityFP: c.res.Granularity.Fingerprint(), ConfigFP: c.res.Fingerprint(),
		LayoutFP: sw.layoutFP, ModelOpt: sw.target,
		Export: store.ExportVerdict{Verdict: string(c.verdict.Kind), QuantAlgo: c.verdict.QuantAlgo, Why: c.verdict.Why},
	}
}

// kvName is the KV-cache setting as the manifest records it: nil for none,
// which leaves the manifest what it was before the axis existed.
func kvName(r *Run, res *vocab.Resolution) *manifest.Name {
	if res.KVCache == nil || res.KVCache.None() {
		return nil
	}
	return &manifest.Name{Name: r.KVCache, Typed: r.KVCacheTyped, Fingerprint: res.KVCache.Fingerprint()}
}

// files encodes the run's manifest; the recipe is its combination's.
func (sw *sweep) files(r *Run, c *combo) (manifest.Files, error) {
	res := c.res
	m := &manifest.Manifest{
		RunID: r.ID, Model: r.Model,
		Format:            manifest.Name{Name: r.Format, Typed: r.FormatTyped, Fingerprint: res.Format.Fingerprint()},
		Granularity:       manifest.Name{Name: r.Granularity, Typed: r.GranularityTyped, Fingerprint: res.Granularity.Fingerprint()},
		KVCache:           kvName(r, res),
		Params:            r.Params,
		Recorded:          r.Recorded,
		ConfigFingerprint: res.Fingerprint(),
		Weights:           c.weights,
		Activations:       c.activations,
		ModelOpt:          sw.target,
		Notes:             c.notes,
		Export:            &c.export,
		LayoutTemplate:    sw.opts.Template.String(),
		LayoutFingerprint: sw.layoutFP,
		HydraOverrides:    sw.hydraArgs(r, c),
		QrunVersion:       sw.opts.QrunVersion,
		Created:           sw.created,
		Host:              sw.opts.Host,
		GitCommit:         sw.git().Commit,
		GitDirty:          sw.git().Dirty,
	}
	mb, err := m.Encode()
	if err != nil {
		return manifest.Files{}, err
	}
	return manifest.Files{Manifest: mb, Recipe: c.recipe}, nil
}

// check is the first pass: every run's identity and directory, no two runs
// in one directory, and what is on disk on the way to each and where it
// goes. It returns the names the runs use and their count.
func (sw *sweep) check(ctx context.Context) ([]store.NameUse, int, error) {
	names := map[string]store.NameUse{}
	type dirKey [16]byte
	dirs := map[dirKey]string{} // a 128-bit hash of each directory → its run id
	var last *combo
	n := 0
	way, err := layout.NewChecker(sw.opts.OutputRoot)
	if err != nil {
		return nil, 0, err
	}
	err = sw.each(func(_ int, r *Run, c *combo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if c != last {
			addNames(names, c)
			last = c
		}
		h := sha256.Sum256([]byte(r.Dir))
		k := dirKey(h[:16])
		if other, ok := dirs[k]; ok && other != r.ID {
			return fmt.Errorf("runs %s and %s would share %s: add {params} or {run_id} to the layout template", other, r.ID, r.Dir)
		}
		dirs[k] = r.ID
		if sw.opts.Check != nil {
			r.HydraArgs = sw.hydraArgs(r, c)
			if err := sw.opts.Check(*r); err != nil {
				return err
			}
		}
		exists, err := way.Look(r.Dir)
		if err != nil {
			return err
		}
		// Whether the run is registered is known only in the registry's
		// transaction; refusals that do not depend on it come now, before
		// anything is written, and the writer looks again under the lock.
		if exists {
			if _, err := inspectDir(*r, sw.opts.DryRun); err != nil {
				return err
			}
		}
		n++
		return nil
	})
	return sortedNames(names), n, err
}

// writer writes a plan's run directories inside the registry's
// transaction, a chunk at a time, in a goroutine of its own: while it
// writes one chunk's files, the next chunk's rows go to the registry. It
// stops at its first error (a cancelled context is one), which the next
// submit (or finish) returns, so the plan rolls back; it remembers which
// run directories it created, for undo. See manifest.Batch for durability.
type writer struct {
	ctx      context.Context
	root     string
	maker    *layout.Maker
	batch    *manifest.Batch
	owner    manifest.Writer // the registry, whose temporary files these are
	total    int
	progress func(done, total int)
	created  []uint64 // bit i: the writer created run i's directory (read once it has exited)

	jobs   chan writeJob
	exited chan struct{}
	mu     sync.Mutex
	err    error // the first error, or errStopped
	closed bool
}

// writeJob is one chunk of runs to write: its runs, their files, and
// whether the registry already held each.
type writeJob struct {
	start   int
	runs    []Run
	files   []manifest.Files
	resumed []bool
}

var errStopped = errors.New("plan: writer stopped")

func newWriter(ctx context.Context, root string, owner manifest.Writer, total int, progress func(done, total int)) (*writer, error) {
	maker, err := layout.NewMaker(root)
	if err != nil {
		return nil, err
	}
	w := &writer{ctx: ctx, root: root, maker: maker, batch: manifest.NewBatch(owner), owner: owner, total: total, progress: progress,
		created: make([]uint64, (total+63)/64), jobs: make(chan writeJob, 1), exited: make(chan struct{})}
	go w.loop()
	return w, nil
}

func (w *writer) loop() {
	defer close(w.exited)
	for j := range w.jobs {
		if w.failed() != nil {
			continue // drain: nothing more is written
		}
		if err := w.write(j); err != nil {
			w.fail(err)
		}
	}
}

func (w *writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *writer) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// submit queues a chunk (waiting while the writer is a chunk behind), or
// returns the error that stopped the writer.
func (w *writer) submit(j writeJob) error {
	if err := w.failed(); err != nil {
		return err
	}
	w.jobs <- j
	return nil
}

// wait ends the queue and waits for the writer; it returns its error.
func (w *writer) wait() error {
	if !w.closed {
		w.closed = true
		close(w.jobs)
	}
	<-w.exited
	return w.failed()
}

// stop makes the writer drop what is queued and waits for it to end.
func (w *writer) stop() {
	w.fail(errStopped)
	w.wait()
}

// finish waits for every file to be written, then makes them all
// durable, with one sync of the output root's file system, before the
// registry commits.
func (w *writer) finish() error {
	if err := w.wait(); err != nil {
		return err
	}
	if w.progress != nil {
		w.progress(w.total, w.total)
	}
	return w.batch.Sync(w.root)
}

// write creates each run's directory (exclusively) and writes its files. A
// run the registry already held (resumed) keeps its files byte for byte;
// only missing ones are written. A run this plan registers owns its
// directory only if the directory is new, or holds nothing but an
// interrupted write (temp files, a recipe, or a manifest of this very run
// that no registry commit covered): those are written afresh, so that the
// registry's copy and the disk agree.
func (w *writer) write(j writeJob) error {
	for i := range j.runs {
		r := &j.runs[i]
		if err := w.ctx.Err(); err != nil {
			return err
		}
		if w.progress != nil {
			w.progress(j.start+i, w.total)
		}
		created, err := w.maker.Create(r.Dir)
		if err != nil {
			return err
		}
		if created {
			n := j.start + i
			w.created[n/64] |= 1 << (n % 64)
			if err := w.batch.WriteNew(r.Dir, j.files[i]); err != nil {
				return err
			}
			continue
		}
		action, err := inspectDir(*r, j.resumed[i])
		if err != nil {
			return err
		}
		switch action {
		case reuseReset:
			if err := w.owner.Reset(r.Dir); err != nil {
				return err
			}
		case reuseRewrite:
			if err := w.batch.WriteAll(r.Dir, j.files[i]); err != nil {
				return err
			}
		}
		// The registry's temporary files in a run directory are a crashed
		// writer's: its planners of one run are serialised by its lock.
		// Another registry's (one output root, two registries) are left.
		if err := w.owner.RemoveStrays(r.Dir); err != nil {
			return err
		}
		if _, err := w.batch.WriteMissing(r.Dir, j.files[i]); err != nil {
			return err
		}
	}
	return nil
}

// undo removes what a stopped writer created, once its plan rolled back:
// each run directory it made, with the files it wrote there (a directory
// holding anything else is left), then the parent directories it made,
// when empty. Directories that existed before keep what the writer wrote
// in them: a registered run's missing files, or the files of a run no
// registry holds, which the next plan of it rewrites. Best effort: what
// can't be removed is left for qrun doctor.
func (sw *sweep) undo(w *writer) {
	if slices.IndexFunc(w.created, func(b uint64) bool { return b != 0 }) >= 0 {
		sw.each(func(i int, r *Run, _ *combo) error {
			if w.created[i/64]&(1<<(i%64)) != 0 {
				w.owner.RemoveStrays(r.Dir)
				os.Remove(filepath.Join(r.Dir, manifest.ManifestFile))
				os.Remove(filepath.Join(r.Dir, manifest.RecipeFile))
				os.Remove(r.Dir) // only when empty
			}
			return nil
		})
	}
	made := w.maker.Made()
	for i := len(made) - 1; i >= 0; i-- {
		os.Remove(made[i]) // only when empty
	}
}

// roleValue is a role's resolved attributes as plain values (stages as a
// list), or nil when the role is not quantized.
func roleValue(c *combo, role modelopt.Role) any {
	r := c.res
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
