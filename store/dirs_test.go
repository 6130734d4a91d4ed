package store

import (
	"context"
	"path/filepath"
	"testing"
)

// TestT21DirsRelativeToTheRoot: with an output root, the registry records
// run directories relative to it and gives them back under the root in
// effect, so a registry whose project moved finds its runs at the new
// place (by id and by directory); a row an older qrun wrote with an
// absolute directory is the same run when the relative directory is its
// tail, and a re-plan records it relative from then on. On both backends.
func TestT21DirsRelativeToTheRoot(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		loc := bk.fresh(t)
		b := sweep([]string{qwen}, []def{int8F}, []def{g64, g128}) // dirs under /out

		// An older qrun: no output root, absolute directories.
		old := bk.open(t, loc, Options{})
		mustPlan(t, old, b)
		old.Close()

		// The project moved: /out is now /moved/out.
		s := bk.open(t, loc, Options{OutputRoot: "/moved/out"})
		moved := b
		moved.Runs = nil
		for _, r := range b.Runs[:1] { // the other is not re-planned
			r.Dir = "/moved" + r.Dir
			moved.Runs = append(moved.Runs, r)
		}
		if res := mustPlan(t, s, moved); res.Created != 0 {
			t.Fatalf("re-plan after the move: %+v, want every run resumed", res)
		}
		var raw string
		if err := rawDB(s).QueryRow(rawDB(s).d.rebind(`SELECT dir FROM runs WHERE id = ?`), b.Runs[0].ID).Scan(&raw); err != nil || raw != "Qwen3-8B/int8/w_group64" {
			t.Fatalf("recorded dir = %q, %v; want it relative to the root", raw, err)
		}
		r, err := s.Run(ctx, b.Runs[0].ID)
		if err != nil || r.Dir != "/moved/out/Qwen3-8B/int8/w_group64" {
			t.Fatalf("Run = %s, %v; want its directory under the root in effect", r.Dir, err)
		}
		if r, err := s.RunByDir(ctx, "/moved/out/Qwen3-8B/int8/w_group64"); err != nil || r.ID != b.Runs[0].ID {
			t.Fatalf("RunByDir = %+v, %v", r, err)
		}
		// The other run is still recorded absolute (not re-planned):
		// found by its recorded path; doctor --fix moves it (MoveRun).
		if r, err := s.RunByDir(ctx, b.Runs[1].Dir); err != nil || r.ID != b.Runs[1].ID {
			t.Fatalf("RunByDir(recorded absolute) = %+v, %v", r, err)
		}
		if err := s.MoveRun(ctx, b.Runs[1].ID, "/moved"+b.Runs[1].Dir); err != nil {
			t.Fatal(err)
		}
		s.Close()

		// Copied whole elsewhere: the same registry, another root.
		s = bk.open(t, loc, Options{OutputRoot: "/copy/outputs"})
		runs, err := s.Runs(ctx, RunFilter{})
		if err != nil || len(runs) != 2 {
			t.Fatalf("Runs = %d, %v", len(runs), err)
		}
		for _, r := range runs {
			if filepath.Dir(filepath.Dir(filepath.Dir(r.Dir))) != "/copy/outputs" {
				t.Errorf("run %s in %s, want it under /copy/outputs", r.ID, r.Dir)
			}
		}
	})
}
