package doctor

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/qrun-dev/qrun/layout"
	"github.com/qrun-dev/qrun/store"
	"github.com/qrun-dev/qrun/vocab"
)

// TestT21DoctorFixesWhatItCallsFixable: a registry an older qrun wrote
// (absolute directories) whose project then moved: every run is reported
// moved_dir and fixable — those found at their new place, and one lost
// there whose files the registry has — and --fix fixes each (the registry
// records the new place, relative to the root; the lost one is rewritten),
// after which doctor is clean and a re-plan resumes every run.
func TestT21DoctorFixesWhatItCallsFixable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldRoot, newRoot := filepath.Join(dir, "proj", "outputs"), filepath.Join(dir, "proj2", "outputs")
	db := filepath.Join(dir, "qrun.db")
	runs := planSweep(t, openStore(t, db), oldRoot) // no OutputRoot: absolute dirs, as an older qrun
	if err := os.Rename(filepath.Join(dir, "proj"), filepath.Join(dir, "proj2")); err != nil {
		t.Fatal(err)
	}
	lost := filepath.Join(newRoot, mustRel(t, oldRoot, runs[1].Dir))
	os.RemoveAll(lost)

	st, err := store.OpenSQLite(ctx, db, store.Options{OutputRoot: newRoot})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	opts := Options{Store: st, Root: newRoot, Template: layout.MustParseTemplate(layout.DefaultTemplate), Vocab: vocab.Builtin()}
	ps, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(ps); got[MovedDir] != len(runs) || len(ps) != len(runs) {
		t.Fatalf("problems = %+v, want %d moved_dir", ps, len(runs))
	}
	for _, p := range ps {
		if !p.Fixable || p.Fixed {
			t.Errorf("%+v: want fixable, not fixed", p)
		}
	}
	opts.Fix = true
	if ps, err = Run(ctx, opts); err != nil || Unfixed(ps) != 0 {
		t.Fatalf("--fix: %v, %+v: want every problem fixed", err, ps)
	}
	opts.Fix = false
	if ps, err = Run(ctx, opts); err != nil || len(ps) != 0 {
		t.Fatalf("after --fix: %v, %+v: want clean", err, ps)
	}
	if _, err := os.Stat(filepath.Join(lost, "manifest.yaml")); err != nil {
		t.Errorf("the lost run's files were not rewritten: %v", err)
	}
	for _, r := range planSweep(t, st, newRoot) {
		if r.Status != "planned" || r.Created {
			t.Errorf("re-plan after --fix: run %s %s created=%v, want resumed", r.ID, r.Status, r.Created)
		}
	}

	// Recorded outside the root and lost there: the registry's files
	// are rewritten at the run's place under the root.
	other := t.TempDir()
	st2 := openStore(t, filepath.Join(other, "qrun.db"))
	planSweep(t, st2, filepath.Join(other, "elsewhere", "outputs"))
	os.RemoveAll(filepath.Join(other, "elsewhere"))
	o2 := Options{Store: st2, Root: filepath.Join(other, "outputs"), Template: opts.Template}
	if ps, err = Run(ctx, o2); err != nil || len(ps) != len(runs) {
		t.Fatalf("lost elsewhere: %v, %+v", err, ps)
	}
	for _, p := range ps {
		if p.Kind != MovedDir || !p.Fixable {
			t.Errorf("%+v: want moved_dir, fixable", p)
		}
	}
	o2.Fix = true
	if ps, err = Run(ctx, o2); err != nil || Unfixed(ps) != 0 {
		t.Fatalf("--fix: %v, %+v", err, ps)
	}
}

func mustRel(t *testing.T, root, dir string) string {
	t.Helper()
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}
