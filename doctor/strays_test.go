package doctor

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/qrun-dev/qrun/layout"
	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/vocab"
)

// TestDoctorRemovesOnlyItsOwnTempFiles: under an output root two
// registries write to, doctor calls a stray temporary file fixable (and
// --fix removes it) only when it is its registry's or an older qrun's;
// another writer's is reported, not fixable, and left by --fix.
func TestDoctorRemovesOnlyItsOwnTempFiles(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "outputs")
	st := openStore(t, filepath.Join(dir, "qrun.db"))
	runs := planSweep(t, st, root)
	mine := manifest.RegistryWriter(st.ID())
	theirs := manifest.RegistryWriter("postgres:db.example:5432/team?search_path=")
	names := map[string]bool{ // name → doctor's to remove
		manifest.TempPrefix + mine.Tag() + "~manifest.yaml-7-1":   true,
		manifest.TempPrefix + "modelopt_recipe.yaml-7-2":          true, // an older qrun's
		manifest.TempPrefix + theirs.Tag() + "~manifest.yaml-7-3": false,
		manifest.TempPrefix + "p12345~report.html-12345-1":        false, // a process's
	}
	for n := range names {
		os.WriteFile(filepath.Join(runs[0].Dir, n), []byte("x"), 0o644)
	}
	opts := Options{Store: st, Root: root, Template: layout.MustParseTemplate(layout.DefaultTemplate), Vocab: vocab.Builtin(), Writer: mine}
	ps, err := Run(context.Background(), opts)
	if err != nil || len(ps) != len(names) {
		t.Fatalf("problems = %+v, %v", ps, err)
	}
	for _, p := range ps {
		if want := names[filepath.Base(p.Path)]; p.Kind != StrayTemp || p.Fixable != want {
			t.Errorf("%s: %s fixable=%v, want stray_temp fixable=%v", filepath.Base(p.Path), p.Kind, p.Fixable, want)
		}
	}
	opts.Fix = true
	if ps, err = Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Fixed != p.Fixable {
			t.Errorf("%s: fixable=%v but fixed=%v", filepath.Base(p.Path), p.Fixable, p.Fixed)
		}
	}
	for n, removed := range names {
		_, err := os.Stat(filepath.Join(runs[0].Dir, n))
		if os.IsNotExist(err) != removed {
			t.Errorf("%s: removed = %v, want %v", n, os.IsNotExist(err), removed)
		}
	}
}

// TestDoctorOrphanFixableOnlyIfAdoptable: an orphan whose registration
// the registry would refuse (here: it holds runs under another layout) is
// reported, not as fixable, and --fix leaves it: doctor says fixable only
// for what --fix then fixes.
func TestDoctorOrphanFixableOnlyIfAdoptable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	root := filepath.Join(dir, "outputs")
	st := openStore(t, filepath.Join(dir, "qrun.db"))
	planSweep(t, st, root) // under the default layout
	other := layout.MustParseTemplate("{format}/{granularity}/{model}")
	elsewhere := openStore(t, filepath.Join(dir, "elsewhere.db"))
	planSweepWith(t, elsewhere, root, other, "seed=3,4") // run directories st does not know, under another layout
	opts := Options{Store: st, Root: root, Template: other, Vocab: vocab.Builtin()}
	ps, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	orphans := 0
	for _, p := range ps {
		if p.Kind == Orphan {
			orphans++
			if p.Fixable {
				t.Errorf("%+v: an orphan the registry would refuse is called fixable", p)
			}
		}
	}
	if orphans != 4 {
		t.Fatalf("orphans = %d, want 4: %+v", orphans, ps)
	}
	opts.Fix = true
	if ps, err = Run(ctx, opts); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Fixed != p.Fixable {
			t.Errorf("%+v: fixable and fixed differ", p)
		}
	}
}
