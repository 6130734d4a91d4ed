package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/qrun-dev/qrun/namekind"
)

// soloHistory fills a registry the way a solo user's would be: two plans
// at two times with their files, runs marked, a metric, a retired name.
func soloHistory(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	b1 := sweep([]string{qwen}, []def{int8F, fp8F}, []def{g64, g128}, `{"seed":1}`, `{"seed":2}`)
	b1.At = t0
	b2 := sweep([]string{"Qwen/Qwen3-4B"}, []def{nvfp4F}, []def{defaultG, perOut})
	b2.At = t0.Add(time.Hour)
	for _, b := range []PlanBatch{b1, b2} {
		for i := range b.Runs {
			b.Runs[i].Files = &RunFiles{Manifest: []byte("manifest of " + b.Runs[i].ID + "\n"), Recipe: []byte("recipe " + b.Runs[i].Format + "\n")}
		}
		mustPlan(t, s, b)
	}
	if err := s.Mark(ctx, b1.Runs[0].ID, StatusRunning, nil, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Mark(ctx, b1.Runs[0].ID, StatusSucceeded, map[string]float64{"wikitext_ppl": 9.5}, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Mark(ctx, b2.Runs[1].ID, StatusFailed, nil, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Retire(ctx, namekind.Granularity, perOut.name); err != nil {
		t.Fatal(err)
	}
}

// sameContent fails unless two registries hold the same runs, names,
// layouts, files and histories (event ids aside).
func sameContent(t *testing.T, a, b Store) {
	t.Helper()
	ctx := context.Background()
	x, err := Export(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := Export(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x.Layouts, y.Layouts) || !slices.Equal(x.Names, y.Names) || len(x.Runs) != len(y.Runs) {
		t.Fatalf("registries differ:\n%+v\n%+v", x, y)
	}
	for i := range x.Runs {
		p, q := x.Runs[i], y.Runs[i]
		if p.Run != q.Run || !eventsPrefix(p.Events, q.Events) || len(p.Events) != len(q.Events) ||
			(p.Files == nil) != (q.Files == nil) || (p.Files != nil && (string(p.Files.Manifest) != string(q.Files.Manifest) || string(p.Files.Recipe) != string(q.Files.Recipe))) {
			t.Fatalf("run %d differs:\n%+v\n%+v", i, p, q)
		}
	}
}

// A solo registry copied into a team one arrives whole (runs, names,
// layouts, events, files, statuses, times), verified; a second copy changes
// nothing; later history in the source follows on the next copy. Every
// direction between the backends.
func TestCopyMovesARegistry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, src backend) {
		forEachBackend(t, func(t *testing.T, dst backend) {
			ctx := context.Background()
			from, to := src.new(t), dst.new(t)
			soloHistory(t, from)
			want := Counts{Runs: 10, Names: 7, Layouts: 1, Events: 14, Files: 10}

			rep, err := Copy(ctx, from, to)
			if err != nil {
				t.Fatalf("copy: %v", err)
			}
			if rep.Source != want || rep.Added != want || !rep.Present.Zero() || rep.Verified != want || len(rep.Retired) != 0 {
				t.Fatalf("report %+v, want %+v copied and verified", rep, want)
			}
			sameContent(t, from, to)
			n, err := to.Name(ctx, namekind.Granularity, perOut.name)
			if err != nil || !n.Retired {
				t.Fatalf("retired name arrived as %+v, %v", n, err)
			}

			// Again: nothing changes.
			before := snapshot(t, to)
			rep, err = Copy(ctx, from, to)
			if err != nil {
				t.Fatalf("second copy: %v", err)
			}
			if !rep.Added.Zero() || rep.Present != want || rep.Verified != want {
				t.Fatalf("second copy report %+v", rep)
			}
			if snapshot(t, to) != before {
				t.Fatal("a second copy changed the target")
			}

			// The source goes on; the next copy brings the new history.
			runs, _ := from.Runs(ctx, RunFilter{Status: []string{"planned"}, Limit: 1})
			if err := from.Mark(ctx, runs[0].ID, StatusRunning, nil, ""); err != nil {
				t.Fatal(err)
			}
			rep, err = Copy(ctx, from, to)
			if err != nil || rep.Added != (Counts{Events: 1}) {
				t.Fatalf("copy after a mark: %+v, %v", rep, err)
			}
			sameContent(t, from, to)

			// The target goes on too (a team plans); copying the source
			// again leaves the team's runs alone.
			more := sweep([]string{"Qwen/Qwen3-14B"}, []def{int8F}, []def{g64})
			more.At = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			mustPlan(t, to, more)
			if err := to.Mark(ctx, runs[0].ID, StatusSucceeded, nil, ""); err != nil {
				t.Fatal(err)
			}
			before = snapshot(t, to)
			if rep, err := Copy(ctx, from, to); err != nil || !rep.Added.Zero() {
				t.Fatalf("copy into a registry that went on: %+v, %v", rep, err)
			}
			if snapshot(t, to) != before {
				t.Fatal("the copy changed the team's history")
			}
		})
	})
}

// refusedCopy copies from into to, which must come out of it unchanged:
// the copy's error.
func refusedCopy(t *testing.T, from, to Store) error {
	t.Helper()
	before := snapshot(t, to)
	_, err := Copy(context.Background(), from, to)
	if snapshot(t, to) != before {
		t.Fatal("a refused copy changed the target")
	}
	return err
}

// A name the target holds with another definition: nothing is copied, and
// the error names it (exit 3 in the CLI, as a blocked plan).
func TestCopyRefusesAConflictingDefinition(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		from := openTest(t, "")
		soloHistory(t, from)
		to := bk.new(t)
		edited := def{g64.name, "weights: {block_sizes: {-1: 64, type: dynamic}}\n"}
		mustPlan(t, to, sweep([]string{"Qwen/Qwen3-14B"}, []def{int8F}, []def{edited}))
		err := refusedCopy(t, from, to)
		if !errors.Is(err, ErrBlocked) {
			t.Fatalf("err = %v, want blocked", err)
		}
		got := Blocked(err)
		if len(got) != 1 || got[0].Reason != DefinitionConflict || got[0].Kind != namekind.Granularity || got[0].Name != g64.name ||
			got[0].OldDefinition != edited.text || got[0].NewDefinition != g64.text || got[0].Runs != 1 {
			t.Fatalf("blocked = %+v", got)
		}
		if !containsAll(err.Error(), "granularity w_group64 is registered in the target with another definition", fp(edited.text), fp(g64.text), "nothing is copied") {
			t.Errorf("message %q", err)
		}
		oneLine(t, err)
	})
}

// Runs under another layout, or a run id or directory taken by another
// run: refused, nothing copied.
func TestCopyRefusesConflictingRunsAndLayouts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		from := openTest(t, "")
		soloHistory(t, from)

		to := bk.new(t)
		other := sweep([]string{"Qwen/Qwen3-14B"}, []def{int8F}, []def{g64})
		other.Layout = layoutB
		mustPlan(t, to, other)
		err := refusedCopy(t, from, to)
		if got := Blocked(err); len(got) != 1 || got[0].Reason != LayoutChanged {
			t.Fatalf("another layout: %v", err)
		}

		to = bk.new(t)
		moved := sweep([]string{qwen}, []def{int8F}, []def{g64}, `{"seed":1}`)
		moved.Runs[0].Dir = "/team/outputs/" + moved.Runs[0].ID
		taken := sweep([]string{"Qwen/Qwen3-14B"}, []def{int8F}, []def{g64})
		taken.Runs[0].Dir = runOf(qwen, fp8F, g128, `{"seed":2}`).Dir
		mustPlan(t, to, moved)
		mustPlan(t, to, taken)
		err = refusedCopy(t, from, to)
		if !errors.Is(err, ErrConflict) || errors.Is(err, ErrBlocked) {
			t.Fatalf("err = %v, want ErrConflict", err)
		}
		if !containsAll(err.Error(), "run "+moved.Runs[0].ID+" differs between the registries: directory /team/outputs/", "directory "+taken.Runs[0].Dir+" belongs to run "+taken.Runs[0].ID) {
			t.Errorf("message %q", err)
		}
	})
}

func TestCopyIntoReadOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		from := openTest(t, "")
		soloHistory(t, from)
		loc := bk.fresh(t)
		bk.open(t, loc).Close()
		ro := bk.open(t, loc, Options{ReadOnly: true})
		if _, err := Copy(context.Background(), from, ro); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("err = %v, want ErrReadOnly", err)
		}
	})
}
