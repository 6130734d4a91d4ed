package plan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/qrun-dev/qrun/hydra"
	"github.com/qrun-dev/qrun/layout"
	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/store"
	"github.com/qrun-dev/qrun/vocab"
)

var groups = Groups{Format: "quant_pair", Granularity: "quant_granularity"}

type fixture struct {
	t     *testing.T
	dir   string
	root  string
	conf  string
	store *store.SQLite
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, ".qrun", "qrun.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &fixture{t: t, dir: dir, root: filepath.Join(dir, "outputs"), conf: filepath.Join(dir, "conf"), store: st}
}

func (f *fixture) writeVocab(rel, content string) {
	f.t.Helper()
	p := filepath.Join(f.conf, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) plan(args []string, mod func(*Options)) (*Result, error) {
	f.t.Helper()
	return f.planCtx(context.Background(), args, mod)
}

// mustPlan is plan for a plan that must succeed: an error ends the test.
func (f *fixture) mustPlan(args []string, mod func(*Options)) *Result {
	f.t.Helper()
	res, err := f.plan(args, mod)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *fixture) planCtx(ctx context.Context, args []string, mod func(*Options)) (*Result, error) {
	f.t.Helper()
	v, err := vocab.Load(vocab.Dirs{Granularity: filepath.Join(f.conf, "quant_granularity"), Format: filepath.Join(f.conf, "quant_pair")})
	if err != nil {
		f.t.Fatal(err)
	}
	sel, err := ParseSelection(Flags{Models: []string{"Qwen/Qwen3-8B"}}, args, groups, []string{"wandb.tags"})
	if err != nil {
		return nil, err
	}
	opts := Options{
		Vocab: v, Store: f.store, OutputRoot: f.root, Template: layout.MustParseTemplate(layout.DefaultTemplate),
		Target: modelopt.DefaultTarget, Groups: groups, QrunVersion: "test", Host: "h",
		Now: func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) },
	}
	if mod != nil {
		mod(&opts)
	}
	return Plan(ctx, opts, sel)
}

// snapshot maps every file under root to its content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.IsDir() {
			b, _ := os.ReadFile(p)
			out[p] = string(b)
		}
		return nil
	})
	return out
}

func TestPlanSweepThenReplanIsIdempotent(t *testing.T) {
	f := newFixture(t)
	f.writeVocab("quant_granularity/w_group32.yaml", "name: w_group32\nweights:\n  block_sizes: {-1: 32, type: static}\n")
	args := []string{"quant_pair=int8,fp8", "quant_granularity=w_group64,w_group32,a_per_token_dynamic", "seed=1,2"}
	res := f.mustPlan(args, nil)
	if len(res.Runs) != 12 || res.Created != 12 {
		t.Fatalf("runs %d created %d, want 12 and 12", len(res.Runs), res.Created)
	}
	for _, r := range res.Runs {
		ents, err := os.ReadDir(r.Dir)
		if err != nil || len(ents) != 2 {
			t.Fatalf("%s: %d entries, %v", r.Dir, len(ents), err)
		}
		if !strings.HasPrefix(r.Dir, f.root+string(filepath.Separator)+"Qwen3-8B"+string(filepath.Separator)) {
			t.Errorf("dir %s not under root/model", r.Dir)
		}
	}
	before := snapshot(t, f.root)
	again := f.mustPlan(args, nil)
	if again.Created != 0 || again.Resumed != 12 {
		t.Errorf("re-plan created %d resumed %d", again.Created, again.Resumed)
	}
	for i := range res.Runs {
		if res.Runs[i].Dir != again.Runs[i].Dir || res.Runs[i].ID != again.Runs[i].ID {
			t.Errorf("run %d moved: %s → %s", i, res.Runs[i].Dir, again.Runs[i].Dir)
		}
	}
	after := snapshot(t, f.root)
	if len(before) != len(after) {
		t.Fatalf("file count changed %d → %d", len(before), len(after))
	}
	for p, b := range before {
		if after[p] != b {
			t.Errorf("%s changed on re-plan", p)
		}
	}
	n, _ := f.store.CountRuns(context.Background(), store.RunFilter{Granularity: []string{"w_group32"}})
	if n != 4 {
		t.Errorf("runs with w_group32 = %d, want 4", n)
	}
}

func TestPlanInvalidCombinationsWriteNothing(t *testing.T) {
	f := newFixture(t)
	_, err := f.plan([]string{"quant_pair=int4_awq,nvfp4,int8", "quant_granularity=a_per_token_dynamic,w_group64"}, nil)
	var inv *InvalidError
	if !errors.As(err, &inv) || !errors.Is(err, vocab.ErrInvalidSelection) {
		t.Fatalf("err = %v", err)
	}
	if len(inv.Invalid) != 3 { // int4_awq×a_per_token, nvfp4×a_per_token, nvfp4×w_group64
		t.Errorf("%d invalid listed: %v", len(inv.Invalid), err)
	}
	if _, statErr := os.Stat(f.root); !errors.Is(statErr, os.ErrNotExist) {
		t.Error("output root was created for an invalid selection")
	}
	if n, _ := f.store.CountRuns(context.Background(), store.RunFilter{}); n != 0 {
		t.Errorf("%d runs registered", n)
	}
	res := f.mustPlan([]string{"quant_pair=int4_awq,nvfp4,int8", "quant_granularity=a_per_token_dynamic,w_group64"}, func(o *Options) { o.SkipInvalid = true })
	if len(res.Runs) != 3 || len(res.Skipped) != 3 {
		t.Errorf("skip-invalid: %d runs, %d skipped", len(res.Runs), len(res.Skipped))
	}
}

// TestT11UsedNameRedefinedBlocked: once a run used a name, redefining it is
// blocked (exit 3) and nothing is written.
func TestT11UsedNameRedefinedBlocked(t *testing.T) {
	f := newFixture(t)
	f.writeVocab("quant_granularity/w_group32.yaml", "name: w_group32\nweights:\n  block_sizes: {-1: 32, type: static}\n")
	f.mustPlan([]string{"quant_pair=int8", "quant_granularity=w_group32"}, nil)
	before := snapshot(t, f.root)
	f.writeVocab("quant_granularity/w_group32.yaml", "name: w_group32\nweights:\n  block_sizes: {-1: 48, type: static}\n")
	_, err := f.plan([]string{"quant_pair=int8,fp8", "quant_granularity=w_group32"}, nil)
	if !errors.Is(err, store.ErrBlocked) {
		t.Fatalf("redefined name: %v", err)
	}
	b := store.Blocked(err)
	if len(b) != 1 || b[0].Reason != store.MeaningChanged || b[0].Runs != 1 || !strings.Contains(b[0].OldDefinition, "32") || !strings.Contains(b[0].NewDefinition, "48") {
		t.Errorf("blocked = %+v", b)
	}
	if after := snapshot(t, f.root); len(after) != len(before) {
		t.Errorf("files written despite the block: %d → %d", len(before), len(after))
	}
	// A rename in disguise is blocked too.
	f.writeVocab("quant_granularity/w_group32.yaml", "name: w_group32\nweights:\n  block_sizes: {-1: 32, type: static}\n")
	f.writeVocab("quant_granularity/g32.yaml", "name: g32\nweights:\n  block_sizes: {-1: 32, type: static}\n")
	_, err = f.plan([]string{"quant_pair=int8", "quant_granularity=g32"}, nil)
	if b := store.Blocked(err); len(b) != 1 || b[0].Reason != store.RenameInDisguise {
		t.Errorf("rename in disguise: %v", err)
	}
}

// TestT12TwoModelsSameBasenameRefused: org1/X and org2/X never share a
// directory, in one sweep or across plans.
func TestT12TwoModelsSameBasenameRefused(t *testing.T) {
	f := newFixture(t)
	v := vocab.Builtin()
	opts := Options{Vocab: v, Store: f.store, OutputRoot: f.root, Template: layout.MustParseTemplate(layout.DefaultTemplate), Target: modelopt.DefaultTarget, Groups: groups}
	sel, _ := ParseSelection(Flags{Models: []string{"org1/X", "org2/X"}, Formats: []string{"int8"}}, nil, groups, nil)
	if _, err := Plan(context.Background(), opts, sel); !errors.Is(err, vocab.ErrInvalidSelection) || !strings.Contains(err.Error(), "share the directory segment") {
		t.Fatalf("one sweep: %v", err)
	}
	sel, _ = ParseSelection(Flags{Models: []string{"org1/X"}, Formats: []string{"int8"}}, nil, groups, nil)
	if _, err := Plan(context.Background(), opts, sel); err != nil {
		t.Fatal(err)
	}
	sel, _ = ParseSelection(Flags{Models: []string{"org2/X"}, Formats: []string{"fp8"}}, nil, groups, nil)
	if _, err := Plan(context.Background(), opts, sel); !errors.Is(err, vocab.ErrInvalidSelection) {
		t.Fatalf("across plans: %v", err)
	}
}

// TestT1EmitsGroupSelectionNeverFieldNotation: the seed's field notation is
// accepted on input, but emitted lines always select Hydra group options.
func TestT1EmitsGroupSelectionNeverFieldNotation(t *testing.T) {
	f := newFixture(t)
	res := f.mustPlan([]string{"quant_pair.format_name=int8_sq", "quant_granularity.name=w_group64,w_group128", "seed=1"}, nil)
	for _, r := range res.Runs {
		line := hydra.Line(r.HydraArgs)
		if strings.Contains(line, ".format_name=") || strings.Contains(line, ".name=") {
			t.Errorf("field notation emitted: %s", line)
		}
		if !strings.HasPrefix(line, "model=Qwen/Qwen3-8B quant_pair=int8_smoothquant quant_granularity="+r.Granularity+" quant_kv_cache=none seed=1 ") {
			t.Errorf("line does not select the canonical group options: %s", line)
		}
	}
}

// TestT2NoMultirunOneLinePerRun: one line per run, each with its own
// hydra.run.dir, never -m (under which Hydra ignores hydra.run.dir).
func TestT2NoMultirunOneLinePerRun(t *testing.T) {
	f := newFixture(t)
	res := f.mustPlan([]string{"quant_pair=int8", "quant_granularity=w_group64", "seed=range(0,5)"}, nil)
	if len(res.Runs) != 5 {
		t.Fatalf("%d runs", len(res.Runs))
	}
	dirs := map[string]bool{}
	for _, r := range res.Runs {
		line := hydra.Line(r.HydraArgs)
		if strings.Contains(line, " -m") || strings.Contains(line, "--multirun") || strings.Contains(line, ",") && !strings.Contains(line, "hydra.run.dir") {
			t.Errorf("multirun syntax in %s", line)
		}
		last := r.HydraArgs[len(r.HydraArgs)-1]
		o, err := hydra.Parse(last)
		if err != nil || o.Key != "hydra.run.dir" || o.Values[0] != r.Dir {
			t.Errorf("last argument %q does not set hydra.run.dir to %s", last, r.Dir)
		}
		dirs[r.Dir] = true
	}
	if len(dirs) != 5 {
		t.Errorf("%d distinct dirs for 5 runs", len(dirs))
	}
}

func TestPlanDryRunWritesNothing(t *testing.T) {
	f := newFixture(t)
	res := f.mustPlan([]string{"quant_pair=int8", "quant_granularity=w_group64"}, func(o *Options) { o.DryRun = true })
	if len(res.Runs) != 1 || res.Runs[0].Status != "new" {
		t.Errorf("dry run: %+v", res.Runs)
	}
	if _, err := os.Stat(f.root); !errors.Is(err, os.ErrNotExist) {
		t.Error("dry run created the output root")
	}
	if n, _ := f.store.CountRuns(context.Background(), store.RunFilter{}); n != 0 {
		t.Error("dry run registered runs")
	}
}

func TestPlanRefusesForeignDirectoryAndAdoptsCrashLeftovers(t *testing.T) {
	f := newFixture(t)
	res := f.mustPlan([]string{"quant_pair=int8", "quant_granularity=w_group64"}, func(o *Options) { o.DryRun = true; o.Store = nil })
	dir := res.Runs[0].Dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644)
	if _, err := f.plan([]string{"quant_pair=int8", "quant_granularity=w_group64"}, nil); err == nil || !strings.Contains(err.Error(), "is not a qrun run directory") {
		t.Fatalf("foreign dir: %v", err)
	}
	if n, _ := f.store.CountRuns(context.Background(), store.RunFilter{}); n != 0 {
		t.Error("run registered although its files could not be written")
	}
	os.Remove(filepath.Join(dir, "notes.txt"))
	os.WriteFile(filepath.Join(dir, manifest.TempPrefix+"manifest.yaml-123"), []byte("torn"), 0o644)
	if _, err := f.plan([]string{"quant_pair=int8", "quant_granularity=w_group64"}, nil); err != nil {
		t.Fatalf("crash leftovers not adopted: %v", err)
	}
	if id, err := manifest.ReadIdentity(dir); err != nil || id.RunID != res.Runs[0].ID {
		t.Errorf("identity after adoption: %+v %v", id, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("adopted dir holds %d entries, want the two run files (strays removed)", len(ents))
	}
	files, err := f.store.RunFiles(context.Background(), res.Runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	onDisk, _ := os.ReadFile(filepath.Join(dir, manifest.ManifestFile))
	if string(files.Manifest) != string(onDisk) {
		t.Error("the registry's copy of the manifest differs from the file")
	}
}

func TestParseSelection(t *testing.T) {
	sel, err := ParseSelection(Flags{Models: []string{"a/b"}, Params: []string{"calib_size=512"}}, []string{"quant_pair=int8", "seed=1,2", "wandb.tags=x"}, groups, []string{"wandb.tags"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sel.Params) != 2 || sel.Params[0].Key != "calib_size" || len(sel.Recorded) != 1 || sel.Size() != 2 {
		t.Errorf("selection = %+v", sel)
	}
	for args, want := range map[string]string{
		"quant_pair=int8 quant_pair.format_name=fp8": "given twice",
		"quant_pair=int8 hydra.run.dir=/x":           "hydra.run.dir",
		"quant_pair=int8 quant_pair.weights=x":       "selected as a whole",
		"quant_pair=int8 wandb.tags=a,b":             "cannot sweep",
		"seed=1":                                     "no format selected",
		"quant_pair=int8 seed=choice(1,2)":           "choice",
	} {
		_, err := ParseSelection(Flags{}, strings.Fields(args), groups, []string{"wandb.tags"})
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrUsage) {
			t.Errorf("%s: %v, want usage error with %q", args, err, want)
		}
	}
}

// TestUncommittedFilesAreRewritten: files of a run whose plan never
// committed (here: planned into another registry) are written afresh by the
// plan that registers it, so the registry's copy matches the disk.
func TestUncommittedFilesAreRewritten(t *testing.T) {
	f := newFixture(t)
	args := []string{"quant_pair=int8", "quant_granularity=w_group64"}
	if _, err := f.plan(args, func(o *Options) {
		o.Now = func() time.Time { return time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) }
	}); err != nil {
		t.Fatal(err)
	}
	other, err := store.OpenSQLite(context.Background(), filepath.Join(f.dir, "other.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	res := f.mustPlan(args, func(o *Options) { o.Store = other })
	files, _ := other.RunFiles(context.Background(), res.Runs[0].ID)
	disk, _ := os.ReadFile(filepath.Join(res.Runs[0].Dir, manifest.ManifestFile))
	if string(disk) != string(files.Manifest) || !strings.Contains(string(disk), "2026-11-25") {
		t.Errorf("manifest not rewritten for the registering plan:\n%s", disk)
	}
}

// TestPlanSweepInChunks: a sweep of several registry chunks is recorded,
// written and handed to Emit in sweep order, the same runs as Result.Runs
// lists without Emit; a re-plan resumes every run; --pending hands over
// only the runs not yet succeeded.
func TestPlanSweepInChunks(t *testing.T) {
	f := newFixture(t)
	n := 2*chunkSize + 17
	args := []string{"quant_pair=int8,fp8", "quant_granularity=w_group64", "seed=range(0," + strconv.Itoa(n/2+1) + ")"}
	dry := f.mustPlan(args, func(o *Options) { o.DryRun = true })
	total := len(dry.Runs)
	if total <= 2*chunkSize || dry.Created != total || dry.Printed != total {
		t.Fatalf("dry run: %d runs, %d new, %d printed; want more than %d, all new", total, dry.Created, dry.Printed, 2*chunkSize)
	}
	var emitted []Run
	res := f.mustPlan(args, func(o *Options) { o.Emit = func(r Run) error { emitted = append(emitted, r); return nil } })
	if res.Runs != nil || res.Created != total || res.Printed != total || len(emitted) != total {
		t.Fatalf("plan: %d listed, %d created, %d printed, %d emitted; want none listed and %d of the rest", len(res.Runs), res.Created, res.Printed, len(emitted), total)
	}
	for i, r := range emitted {
		if r.ID != dry.Runs[i].ID || r.Dir != dry.Runs[i].Dir || !r.Created || r.Status != "planned" || len(r.HydraArgs) == 0 {
			t.Fatalf("run %d emitted as %+v, want %s in %s, created and planned", i, r, dry.Runs[i].ID, dry.Runs[i].Dir)
		}
		if id, err := manifest.ReadIdentity(r.Dir); err != nil || id.RunID != r.ID {
			t.Fatalf("run %d: manifest %+v %v", i, id, err)
		}
	}
	last := emitted[total-1]
	if err := f.store.Mark(context.Background(), last.ID, store.StatusSucceeded, nil, ""); err != nil {
		t.Fatal(err)
	}
	again := f.mustPlan(args, func(o *Options) { o.Pending = true })
	if again.Created != 0 || again.Resumed != total || again.Printed != total-1 || len(again.Runs) != total-1 {
		t.Fatalf("re-plan --pending: %d new, %d resumed, %d printed (%d listed); want 0, %d, %d", again.Created, again.Resumed, again.Printed, len(again.Runs), total, total-1)
	}
	for _, r := range again.Runs {
		if r.ID == last.ID || r.Created {
			t.Fatalf("re-plan --pending listed %+v", r)
		}
	}
}

// TestPlanRefusesBeforeWritingAnything: a directory in the way of a run
// late in a sweep is found by the first pass, before the registry is
// opened or any directory created.
func TestPlanRefusesBeforeWritingAnything(t *testing.T) {
	f := newFixture(t)
	args := []string{"quant_pair=int8", "quant_granularity=w_group64", "seed=range(0," + strconv.Itoa(chunkSize+50) + ")"}
	dry := f.mustPlan(args, func(o *Options) { o.DryRun = true; o.Store = nil })
	blocker := dry.Runs[len(dry.Runs)-3].Dir
	if err := os.MkdirAll(filepath.Dir(blocker), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blocker, []byte("not a run directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opened := false
	_, err := f.plan(args, func(o *Options) {
		o.Store = nil
		o.Open = func(context.Context) (store.Store, error) { opened = true; return f.store, nil }
	})
	if err == nil || !strings.Contains(err.Error(), "is a file where a run directory goes") {
		t.Fatalf("plan: %v, want the file in the way", err)
	}
	if opened {
		t.Error("the registry was opened before the refusal")
	}
	if _, err := os.Stat(dry.Runs[0].Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the first run's directory was created by a refused plan: %v", err)
	}
	if n, _ := f.store.CountRuns(context.Background(), store.RunFilter{}); n != 0 {
		t.Errorf("%d runs recorded by a refused plan", n)
	}
}

// TestPlanWriterFailureRollsBack: a refusal found only while writing (a
// registered run's manifest torn, seen under the registry's lock) stops the
// sweep's writer; the plan rolls back: none of its new runs is recorded and
// no directory after the refused one is written.
func TestPlanWriterFailureRollsBack(t *testing.T) {
	f := newFixture(t)
	sweep := func(n int) []string {
		return []string{"quant_pair=int8", "quant_granularity=w_group64", "seed=range(0," + strconv.Itoa(n) + ")"}
	}
	first := f.mustPlan(sweep(chunkSize+44), nil)
	torn := first.Runs[len(first.Runs)-1]
	if err := os.WriteFile(filepath.Join(torn.Dir, manifest.ManifestFile), []byte("qrun_manifest: 1\nrun_"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := f.plan(sweep(3*chunkSize), nil)
	if err == nil || !strings.Contains(err.Error(), torn.Dir) || !strings.Contains(err.Error(), "move it away") {
		t.Fatalf("plan over a torn registered manifest: %v", err)
	}
	if n, _ := f.store.CountRuns(context.Background(), store.RunFilter{}); n != len(first.Runs) {
		t.Errorf("%d runs registered after the refused plan, want the first plan's %d", n, len(first.Runs))
	}
	for seed := len(first.Runs); seed < 3*chunkSize; seed++ {
		dir := filepath.Join(filepath.Dir(torn.Dir), "seed="+strconv.Itoa(seed))
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s written by the refused plan after the refusal: %v", dir, err)
		}
	}
}

// chunkFailing is a registry whose plan transaction fails at one of the
// plan's chunks, as a database error or an interruption would, after
// calling at (when set).
type chunkFailing struct {
	store.Store
	failAt int
	at     func() error
}

func (s chunkFailing) Update(ctx context.Context, fn func(store.PlanTx) error) error {
	return s.Store.Update(ctx, func(tx store.PlanTx) error {
		return fn(&failingTx{PlanTx: tx, s: s})
	})
}

type failingTx struct {
	store.PlanTx
	s chunkFailing
	n int
}

var errChunk = errors.New("the database went away")

func (t *failingTx) AddRuns(runs []store.Run) ([]store.PlannedRun, error) {
	if t.n++; t.n == t.s.failAt {
		if t.s.at != nil {
			if err := t.s.at(); err != nil {
				return nil, err
			}
		}
		return nil, errChunk
	}
	return t.PlanTx.AddRuns(runs)
}

// waitFiles waits until root holds at least n files.
func waitFiles(t *testing.T, root string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(snapshot(t, root)) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d files under %s, want %d", len(snapshot(t, root)), root, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPlanFailureRemovesWhatItWrote: when the registry fails in the middle
// of a sweep (the writer a chunk or two behind), the writer stops, and the
// run directories the plan created are removed with their parents: by the
// time Plan returns, the disk is as before, and stays so.
func TestPlanFailureRemovesWhatItWrote(t *testing.T) {
	f := newFixture(t)
	first := f.mustPlan([]string{"quant_pair=int8", "quant_granularity=w_group128", "seed=range(0,3)"}, nil)
	before := snapshot(t, f.root)
	failing := chunkFailing{Store: f.store, failAt: 3, at: func() error {
		waitFiles(t, f.root, len(before)+2*chunkSize) // the first chunk is on disk
		return nil
	}}
	args := []string{"quant_pair=int8,fp8", "quant_granularity=w_group64,w_group128", "seed=range(0," + strconv.Itoa(2*chunkSize) + ")"}
	_, err := f.plan(args, func(o *Options) { o.Store = failing })
	if !errors.Is(err, errChunk) {
		t.Fatalf("plan: %v, want the registry's error", err)
	}
	if after := snapshot(t, f.root); len(after) != len(before) {
		t.Fatalf("%d files after the failed plan, want the %d from before", len(after), len(before))
	}
	time.Sleep(100 * time.Millisecond) // a writer still running would go on writing
	if after := snapshot(t, f.root); len(after) != len(before) {
		t.Fatalf("%d files once the failed plan returned, want %d", len(after), len(before))
	}
	if _, err := os.Stat(filepath.Join(f.root, "Qwen3-8B", "int8", "w_group64")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a parent directory the failed plan made is left: %v", err)
	}
	for _, r := range first.Runs {
		if _, err := os.Stat(filepath.Join(r.Dir, manifest.ManifestFile)); err != nil {
			t.Errorf("a registered run's files were removed: %v", err)
		}
	}
	if n, _ := f.store.CountRuns(context.Background(), store.RunFilter{}); n != len(first.Runs) {
		t.Errorf("%d runs recorded, want the first plan's %d", n, len(first.Runs))
	}
}

// TestPlanInterrupted: a plan whose context is cancelled mid-sweep (qrun:
// SIGINT or SIGTERM) says so with an *InterruptedError (errors.Is
// context.Canceled), records nothing and leaves no directory of its own;
// the same plan then converges. Interrupted while it lists the runs, the
// plan stays recorded and says so.
func TestPlanInterrupted(t *testing.T) {
	f := newFixture(t)
	args := []string{"quant_pair=int8,fp8", "quant_granularity=w_group64", "seed=range(0," + strconv.Itoa(3*chunkSize) + ")"}
	ctx, cancel := context.WithCancel(context.Background())
	interrupt := chunkFailing{Store: f.store, failAt: 4, at: func() error {
		waitFiles(t, f.root, 2*chunkSize)
		cancel()
		return ctx.Err()
	}}
	_, err := f.planCtx(ctx, args, func(o *Options) { o.Store = interrupt })
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.Recorded || !errors.Is(err, context.Canceled) || err.Error() != "interrupted; nothing was recorded" {
		t.Fatalf("plan: %v, want an interruption with nothing recorded", err)
	}
	if after := snapshot(t, f.root); len(after) != 0 {
		t.Fatalf("%d files left by the interrupted plan", len(after))
	}
	if ents, _ := os.ReadDir(f.root); len(ents) != 0 {
		t.Fatalf("the interrupted plan left %v under the root", ents)
	}
	if n, _ := f.store.CountRuns(context.Background(), store.RunFilter{}); n != 0 {
		t.Fatalf("%d runs recorded by an interrupted plan", n)
	}
	res, err := f.plan(args, nil)
	if err != nil || res.Created != 6*chunkSize {
		t.Fatalf("re-plan: %v, %+v", err, res)
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	listed := 0
	_, err = f.planCtx(ctx, args, func(o *Options) {
		o.Emit = func(Run) error {
			if listed++; listed == 10 {
				cancel()
			}
			return nil
		}
	})
	if !errors.As(err, &ie) || !ie.Recorded || listed != 10 {
		t.Fatalf("interrupted while listing: %v after %d runs, want the plan recorded", err, listed)
	}
}

// A planner of the same run may commit its manifest between inspectDir's
// two reads (the manifest, then the listing): the directory is read again,
// not refused as someone else's. 32 planners at once hit this
// (TestConcurrentPlannersOnAFreshRegistry in cmd/qrun).
func TestInspectDirRereadsAManifestCommittedMeanwhile(t *testing.T) {
	f := newFixture(t)
	res := f.mustPlan([]string{"quant_pair=int8", "quant_granularity=w_group64"}, nil)
	run := res.Runs[0]
	reads := 0
	readIdentity = func(dir string) (manifest.Identity, error) {
		reads++
		if reads == 1 {
			return manifest.Identity{}, manifest.ErrNoManifest // read just before the other planner's rename
		}
		return manifest.ReadIdentity(dir)
	}
	t.Cleanup(func() { readIdentity = manifest.ReadIdentity })
	action, err := inspectDir(run, true)
	if err != nil || action != reuseKeep || reads != 2 {
		t.Fatalf("inspectDir = %v, %v after %d reads; want the registered run kept after a second read", action, err, reads)
	}

	// A manifest that is never there when read but always there when
	// listed is not waited on for ever.
	readIdentity = func(string) (manifest.Identity, error) { return manifest.Identity{}, manifest.ErrNoManifest }
	if _, err := inspectDir(run, true); err == nil || !strings.Contains(err.Error(), "keeps changing while qrun reads it") {
		t.Fatalf("inspectDir = %v, want the keeps-changing error", err)
	}

	// A directory whose listing shows no manifest stays someone else's.
	readIdentity = manifest.ReadIdentity
	os.Remove(filepath.Join(run.Dir, manifest.ManifestFile))
	os.WriteFile(filepath.Join(run.Dir, "notes.txt"), []byte("mine"), 0o644)
	if _, err := inspectDir(run, true); err == nil || !strings.Contains(err.Error(), "is not a qrun run directory") {
		t.Fatalf("inspectDir = %v, want the foreign-directory error", err)
	}
}
