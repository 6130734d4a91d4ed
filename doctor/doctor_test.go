package doctor

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/qrun-dev/qrun/layout"
	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/plan"
	"github.com/qrun-dev/qrun/store"
	"github.com/qrun-dev/qrun/vocab"
)

var groups = plan.Groups{Format: "quant_pair", Granularity: "quant_granularity"}

func openStore(t *testing.T, p string) *store.SQLite {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), p, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// planSweep plans int8 × {w_group64, w_group128} × seed {1, 2} into root.
func planSweep(t *testing.T, st store.Store, root string) []plan.Run {
	t.Helper()
	return planSweepWith(t, st, root, layout.MustParseTemplate(layout.DefaultTemplate), "seed=1,2")
}

// planSweepWith is planSweep under a layout template, with other seeds.
func planSweepWith(t *testing.T, st store.Store, root string, tmpl layout.Template, seeds string) []plan.Run {
	t.Helper()
	sel, err := plan.ParseSelection(plan.Flags{Models: []string{"Qwen/Qwen3-8B"}}, []string{"quant_pair=int8", "quant_granularity=w_group64,w_group128", seeds}, groups, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := plan.Plan(context.Background(), plan.Options{
		Vocab: vocab.Builtin(), Store: st, OutputRoot: root, Template: tmpl,
		Target: modelopt.DefaultTarget, Groups: groups, Now: time.Now,
	}, sel)
	if err != nil {
		t.Fatal(err)
	}
	return res.Runs
}

func kinds(ps []Problem) map[Kind]int {
	m := map[Kind]int{}
	for _, p := range ps {
		m[p.Kind]++
	}
	return m
}

func TestDoctorFindsAndFixes(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "outputs")
	st := openStore(t, filepath.Join(dir, "qrun.db"))
	runs := planSweep(t, st, root)
	opts := Options{Store: st, Root: root, Template: layout.MustParseTemplate(layout.DefaultTemplate), Vocab: vocab.Builtin()}

	ps, err := Run(context.Background(), opts)
	if err != nil || len(ps) != 0 {
		t.Fatalf("clean sweep: %v %+v", err, ps)
	}
	// Damage: a lost manifest, a lost directory, an edited recipe, a stray.
	os.Remove(filepath.Join(runs[0].Dir, manifest.ManifestFile))
	os.RemoveAll(runs[1].Dir)
	edited := filepath.Join(runs[2].Dir, manifest.RecipeFile)
	os.WriteFile(edited, []byte("edited by hand\n"), 0o644)
	os.WriteFile(filepath.Join(runs[3].Dir, manifest.TempPrefix+"manifest.yaml-1"), []byte("torn"), 0o644)

	ps, err = Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	got := kinds(ps)
	if got[MissingManifest] != 1 || got[MissingDir] != 1 || got[EditedRecipe] != 1 || got[StrayTemp] != 1 || len(ps) != 4 {
		t.Fatalf("problems = %+v", ps)
	}
	if _, err := os.Stat(runs[1].Dir); !os.IsNotExist(err) {
		t.Fatal("doctor without --fix repaired something")
	}
	opts.Fix = true
	ps, err = Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if Unfixed(ps) != 1 {
		t.Fatalf("after fix: %+v", ps)
	}
	if b, _ := os.ReadFile(edited); string(b) != "edited by hand\n" {
		t.Error("doctor overwrote a file edited by hand")
	}
	for _, r := range runs[:2] {
		files, _ := st.RunFiles(context.Background(), r.ID)
		m, _ := os.ReadFile(filepath.Join(r.Dir, manifest.ManifestFile))
		if string(m) != string(files.Manifest) {
			t.Errorf("%s: rewritten manifest differs from the original", r.Dir)
		}
	}
	if ents, _ := os.ReadDir(runs[3].Dir); len(ents) != 2 {
		t.Errorf("stray not removed: %d entries", len(ents))
	}
	os.WriteFile(edited, func() []byte { f, _ := st.RunFiles(context.Background(), runs[2].ID); return f.Recipe }(), 0o644)
	ps, _ = Run(context.Background(), Options{Store: st, Root: root, Template: opts.Template})
	if len(ps) != 0 {
		t.Errorf("after restoring the edited file: %+v", ps)
	}
}

func TestDoctorAdoptsOrphans(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "outputs")
	planSweep(t, openStore(t, filepath.Join(dir, "lost.db")), root)
	st := openStore(t, filepath.Join(dir, "fresh.db")) // the registry rows were lost
	opts := Options{Store: st, Root: root, Template: layout.MustParseTemplate(layout.DefaultTemplate), Vocab: vocab.Builtin()}
	ps, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if kinds(ps)[Orphan] != 4 {
		t.Fatalf("orphans = %+v", ps)
	}
	opts.Fix = true
	if ps, err = Run(context.Background(), opts); err != nil || Unfixed(ps) != 0 {
		t.Fatalf("adopt: %v %+v", err, ps)
	}
	if n, _ := st.CountRuns(context.Background(), store.RunFilter{}); n != 4 {
		t.Errorf("%d runs adopted, want 4", n)
	}
	opts.Fix = false
	if ps, _ = Run(context.Background(), opts); len(ps) != 0 {
		t.Errorf("after adoption: %+v", ps)
	}
	// A manifest moved by hand is not adopted.
	lost := filepath.Join(root, "moved")
	os.MkdirAll(lost, 0o755)
	runs, _ := st.Runs(context.Background(), store.RunFilter{Limit: 1})
	for _, f := range []string{manifest.ManifestFile, manifest.RecipeFile} {
		b, _ := os.ReadFile(filepath.Join(runs[0].Dir, f))
		os.WriteFile(filepath.Join(lost, f), b, 0o644)
	}
	ps, _ = Run(context.Background(), opts)
	if len(ps) != 1 || ps[0].Kind != ForeignDir {
		t.Errorf("moved copy: %+v", ps)
	}
}
