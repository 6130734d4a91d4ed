package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qrun-dev/qrun/namekind"
)

func TestPlanRegistersRunsNamesAndEvents(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		b := sweep([]string{qwen}, []def{int8F, fp8F}, []def{defaultG, g64, g128})
		res := mustPlan(t, s, b)
		if res.Created != 6 || res.Resumed != 0 || len(res.Runs) != 6 {
			t.Fatalf("created %d, resumed %d, runs %d; want 6, 0, 6", res.Created, res.Resumed, len(res.Runs))
		}
		for i, r := range res.Runs {
			if r.ID != b.Runs[i].ID || r.Resumed || r.Status != StatusPlanned || r.LayoutFP != layoutA.Fingerprint {
				t.Errorf("run %d = %+v", i, r)
			}
		}
		if len(res.Registered) != 5 {
			t.Fatalf("registered %d names, want 5", len(res.Registered))
		}
		// Each name's first run is the first run of the sweep using it.
		want := map[string]string{
			"int8": b.Runs[0].ID, "fp8": b.Runs[3].ID,
			"default": b.Runs[0].ID, "w_group64": b.Runs[1].ID, "w_group128": b.Runs[2].ID,
		}
		names, err := s.Names(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != 5 {
			t.Fatalf("names = %+v", names)
		}
		for _, n := range names {
			if n.FirstRun != want[n.Name] {
				t.Errorf("%s %s first run %s, want %s", n.Kind, n.Name, n.FirstRun, want[n.Name])
			}
			if n.Retired || n.CreatedAt.IsZero() || n.Definition == "" || n.Fingerprint != fp(n.Definition) {
				t.Errorf("name %+v", n)
			}
		}
		ev, err := s.Events(ctx, b.Runs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ev) != 1 || ev[0].Kind != EventPlan || ev[0].Status != StatusPlanned || !strings.Contains(ev[0].Payload, `"dir":"/out/Qwen3-8B/int8/default"`) {
			t.Fatalf("events = %+v", ev)
		}
		ls, err := s.Layouts(ctx)
		if err != nil || len(ls) != 1 || ls[0] != (Layout{Fingerprint: layoutA.Fingerprint, Template: layoutA.Template, CreatedAt: ls[0].CreatedAt}) {
			t.Fatalf("layouts = %+v, %v", ls, err)
		}
	})
}

func TestPlanResumeIsIdempotent(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		b := sweep([]string{qwen}, []def{int8F, fp8F}, []def{defaultG, g64, g128}, `{"seed":1}`, `{"seed":2}`)
		first := mustPlan(t, s, b)
		before := snapshot(t, s)
		b.At = time.Now().Add(time.Hour) // a later re-plan
		again := mustPlan(t, s, b)
		if again.Created != 0 || again.Resumed != 12 || len(again.Registered) != 0 {
			t.Fatalf("re-plan: created %d, resumed %d, registered %d; want 0, 12, 0", again.Created, again.Resumed, len(again.Registered))
		}
		for i, r := range again.Runs {
			if !r.Resumed || r.Run != first.Runs[i].Run {
				t.Errorf("run %d: resumed %v, %+v, want %+v", i, r.Resumed, r.Run, first.Runs[i].Run)
			}
		}
		if after := snapshot(t, s); after != before {
			t.Fatalf("re-plan changed the registry:\n%s\nwant\n%s", after, before)
		}
		// A larger sweep resumes the old runs and adds the new ones only.
		bigger := sweep([]string{qwen}, []def{int8F, fp8F}, []def{defaultG, g64, g128, perOut}, `{"seed":1}`, `{"seed":2}`)
		res := mustPlan(t, s, bigger)
		if res.Created != 4 || res.Resumed != 12 || len(res.Registered) != 1 || res.Registered[0].Name != perOut.name {
			t.Fatalf("bigger sweep: created %d, resumed %d, registered %+v", res.Created, res.Resumed, res.Registered)
		}
	})
}

// The tests of blocked names below are wiring tests: the rule itself is
// CheckNames's (stability_test.go); these check that a plan reads the
// registered names it needs (by name, alias and fingerprint), counts the
// runs of each violation, and writes nothing when blocked.

func TestMeaningChangedIsBlocked(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		mustPlan(t, s, sweep([]string{qwen, "Qwen/Qwen3-4B"}, []def{int8F, fp8F}, []def{g64}))
		before := snapshot(t, s)

		edited := def{g64.name, "weights: {block_sizes: {-1: 32, type: static}}\n"}
		_, err := Plan(ctx, s, sweep([]string{qwen}, []def{int8F}, []def{edited}))
		if !errors.Is(err, ErrBlocked) {
			t.Fatalf("err = %v, want ErrBlocked", err)
		}
		var be *BlockedError
		if !errors.As(err, &be) {
			t.Fatalf("err = %T, want *BlockedError", err)
		}
		want := BlockedError{Reason: MeaningChanged, Kind: namekind.Granularity, Name: g64.name, Registered: g64.name,
			OldFingerprint: fp(g64.text), OldDefinition: g64.text, NewFingerprint: fp(edited.text), NewDefinition: edited.text,
			Runs: 4, FirstRun: runOf(qwen, int8F, g64, "").ID}
		if *be != want {
			t.Fatalf("blocked = %+v\nwant      %+v", *be, want)
		}
		msg := err.Error()
		for _, s := range []string{"granularity w_group64", "another definition", "used by 4 runs", fp(edited.text)} {
			if !strings.Contains(msg, s) {
				t.Errorf("message %q lacks %q", msg, s)
			}
		}
		if after := snapshot(t, s); after != before {
			t.Fatal("a blocked plan changed the registry")
		}
	})
}

func TestRenameInDisguiseIsBlocked(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		mustPlan(t, s, sweep([]string{qwen}, []def{int8F, fp8F}, []def{g64}))
		before := snapshot(t, s)

		renamed := def{"w_g64", g64.text}
		_, err := Plan(context.Background(), s, sweep([]string{qwen}, []def{int8F}, []def{renamed}))
		var be *BlockedError
		if !errors.As(err, &be) || !errors.Is(err, ErrBlocked) {
			t.Fatalf("err = %v, want a *BlockedError", err)
		}
		if be.Reason != RenameInDisguise || be.Name != "w_g64" || be.Registered != g64.name || be.Runs != 2 ||
			be.OldDefinition != g64.text || be.NewFingerprint != fp(g64.text) {
			t.Fatalf("blocked = %+v", *be)
		}
		if !strings.Contains(err.Error(), "rename in disguise") {
			t.Errorf("message %q", err)
		}
		if snapshot(t, s) != before {
			t.Fatal("a blocked plan changed the registry")
		}

		// The same definition under another kind is no rename.
		other := def{"w_group64_fmt", g64.text}
		b := sweep([]string{qwen}, []def{other}, []def{g64})
		mustPlan(t, s, b)
	})
}

func TestDeclaredAliasAllowsRename(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		mustPlan(t, s, sweep([]string{qwen}, []def{int8F}, []def{g64}))

		renamed := def{"w_g64", g64.text}
		b := sweep([]string{qwen}, []def{int8F}, []def{renamed})
		b.Names[1] = renamed.use(namekind.Granularity, "w_other", g64.name) // w_g64 declares w_group64 its alias
		res := mustPlan(t, s, b)
		if res.Created != 1 || len(res.Registered) != 1 || res.Registered[0].Name != "w_g64" {
			t.Fatalf("res = %+v", res)
		}
		n, err := s.Name(ctx, namekind.Granularity, "w_g64")
		if err != nil || n.Fingerprint != fp(g64.text) || n.FirstRun != b.Runs[0].ID {
			t.Fatalf("name = %+v, %v", n, err)
		}
		// Both names hold their own runs.
		for name, want := range map[string]int{"w_g64": 1, g64.name: 1} {
			if got, err := s.RunsUsingName(ctx, namekind.Granularity, name); err != nil || got != want {
				t.Errorf("runs using %s = %d, %v; want %d", name, got, err, want)
			}
		}
	})
}

func TestLayoutChangeIsBlocked(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		mustPlan(t, s, sweep([]string{qwen}, []def{int8F, fp8F}, []def{g64, g128}))
		before := snapshot(t, s)

		b := sweep([]string{qwen}, []def{int8F}, []def{perOut})
		b.Layout = layoutB
		for i := range b.Runs {
			b.Runs[i].Dir = "/elsewhere/" + b.Runs[i].ID
		}
		_, err := Plan(context.Background(), s, b)
		var be *BlockedError
		if !errors.As(err, &be) || !errors.Is(err, ErrBlocked) {
			t.Fatalf("err = %v, want a *BlockedError", err)
		}
		if be.Reason != LayoutChanged || be.Runs != 4 || be.Registered != layoutA.Template || be.Name != layoutB.Template ||
			be.OldFingerprint != layoutA.Fingerprint || be.NewFingerprint != layoutB.Fingerprint {
			t.Fatalf("blocked = %+v", *be)
		}
		if snapshot(t, s) != before {
			t.Fatal("a blocked plan changed the registry")
		}
	})
}

func TestLayoutFreeWithoutRuns(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		b := sweep([]string{qwen}, []def{int8F}, []def{g64})
		b.Layout = layoutB
		mustPlan(t, s, b)
		ls, _ := s.Layouts(context.Background())
		if len(ls) != 1 || ls[0].Fingerprint != layoutB.Fingerprint {
			t.Fatalf("layouts = %+v", ls)
		}
	})
}

// A blocked name in the middle of a sweep: nothing of the sweep is written,
// not the runs before it, not the new names, not their events.
func TestPlanIsAllOrNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		mustPlan(t, s, sweep([]string{qwen}, []def{int8F}, []def{g64}))
		before := snapshot(t, s)

		edited := def{g64.name, "weights: {block_sizes: {-1: 48, type: static}}\n"}
		b := sweep([]string{qwen, "Qwen/Qwen3-4B"}, []def{fp8F, nvfp4F}, []def{g128, edited, perOut})
		_, err := Plan(ctx, s, b)
		if !errors.Is(err, ErrBlocked) {
			t.Fatalf("err = %v, want ErrBlocked", err)
		}
		if after := snapshot(t, s); after != before {
			t.Fatalf("a blocked sweep changed the registry:\n%s\nwant\n%s", after, before)
		}

		// Several violations are all reported, and still nothing is written.
		twin := def{"w_g64", g64.text}
		b = sweep([]string{qwen}, []def{fp8F}, []def{edited, twin})
		b.Layout = layoutB
		_, err = Plan(ctx, s, b)
		got := Blocked(err)
		if len(got) != 3 || got[0].Reason != LayoutChanged || got[1].Reason != MeaningChanged || got[2].Reason != RenameInDisguise {
			t.Fatalf("blocked = %v", err)
		}
		if !errors.Is(err, ErrBlocked) {
			t.Fatal("joined errors don't match ErrBlocked")
		}
		if snapshot(t, s) != before {
			t.Fatal("a blocked sweep changed the registry")
		}

		// A conflict after valid runs also writes nothing.
		b = sweep([]string{qwen}, []def{fp8F}, []def{g128, perOut})
		b.Runs[1].Dir = "/out/Qwen3-8B/int8/w_group64" // already int8 × w_group64's
		if _, err := Plan(ctx, s, b); !errors.Is(err, ErrConflict) {
			t.Fatalf("err = %v, want ErrConflict", err)
		}
		if snapshot(t, s) != before {
			t.Fatal("a conflicting sweep changed the registry")
		}
	})
}

func TestRetiredNameIsBlocked(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		mustPlan(t, s, sweep([]string{qwen}, []def{int8F}, []def{g64}))
		if err := s.Retire(ctx, namekind.Granularity, g64.name); err != nil {
			t.Fatal(err)
		}
		if err := s.Retire(ctx, namekind.Granularity, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("retire unknown: %v", err)
		}
		_, err := Plan(ctx, s, sweep([]string{"Qwen/Qwen3-4B"}, []def{int8F}, []def{g64}))
		var be *BlockedError
		if !errors.As(err, &be) || be.Reason != RetiredName || be.Runs != 1 {
			t.Fatalf("err = %v", err)
		}
		n, err := s.Name(ctx, namekind.Granularity, g64.name)
		if err != nil || !n.Retired {
			t.Fatalf("name = %+v, %v", n, err)
		}
	})
}

func TestPlanConflicts(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		b := sweep([]string{qwen}, []def{int8F}, []def{g64})
		mustPlan(t, s, b)
		before := snapshot(t, s)

		moved := b
		moved.Runs = slices.Clone(b.Runs)
		moved.Runs[0].Dir = "/moved"
		_, err := Plan(ctx, s, moved)
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "already registered in /out/Qwen3-8B/int8/w_group64") {
			t.Fatalf("same id, other dir: %v", err)
		}

		other := sweep([]string{qwen}, []def{int8F}, []def{g64}, `{"seed":1}`)
		other.Runs[0].Dir = b.Runs[0].Dir
		_, err = Plan(ctx, s, other)
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "already belongs to run "+b.Runs[0].ID) {
			t.Fatalf("same dir, other id: %v", err)
		}
		if snapshot(t, s) != before {
			t.Fatal("a conflicting plan changed the registry")
		}
	})
}

func TestPlanValidatesTheBatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		good := func() PlanBatch { return sweep([]string{qwen}, []def{int8F}, []def{g64}) }
		cases := map[string]func(*PlanBatch){
			"bad id":            func(b *PlanBatch) { b.Runs[0].ID = "XYZ" },
			"no layout":         func(b *PlanBatch) { b.Layout = Layout{} },
			"undefined name":    func(b *PlanBatch) { b.Names = b.Names[:1] },
			"fingerprint":       func(b *PlanBatch) { b.Runs[0].GranularityFP = fp("other") },
			"params not object": func(b *PlanBatch) { b.Runs[0].Params = "[1]" },
			"empty dir":         func(b *PlanBatch) { b.Runs[0].Dir = "" },
			"name twice":        func(b *PlanBatch) { b.Names = append(b.Names, b.Names[0]) },
			"bad kind":          func(b *PlanBatch) { b.Names[0].Kind = "model" },
		}
		for name, mutate := range cases {
			b := good()
			mutate(&b)
			if _, err := Plan(context.Background(), s, b); err == nil || errors.Is(err, ErrBlocked) {
				t.Errorf("%s: err = %v", name, err)
			}
		}
		if n, _ := s.CountRuns(context.Background(), RunFilter{}); n != 0 {
			t.Fatalf("%d runs written", n)
		}
	})
}

func TestMarkAppendsEvents(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		b := sweep([]string{qwen}, []def{int8F}, []def{g64})
		mustPlan(t, s, b)
		id := b.Runs[0].ID
		if err := s.Mark(ctx, id, StatusRunning, nil, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.Mark(ctx, id, StatusSucceeded, map[string]float64{"wikitext_ppl": 9.25, "acc": 0.5}, ""); err != nil {
			t.Fatal(err)
		}
		r, err := s.Run(ctx, id)
		if err != nil || r.Status != StatusSucceeded || !r.UpdatedAt.After(r.CreatedAt) {
			t.Fatalf("run = %+v, %v", r, err)
		}
		ev, _ := s.Events(ctx, id)
		var kinds []string
		for _, e := range ev {
			kinds = append(kinds, string(e.Kind)+":"+string(e.Status))
		}
		if strings.Join(kinds, " ") != "plan:planned status:running status:succeeded metric:succeeded" {
			t.Fatalf("events = %v", kinds)
		}
		if ev[3].Payload != `{"acc":0.5,"wikitext_ppl":9.25}` || ev[1].Payload != `{"from":"planned","to":"running"}` {
			t.Fatalf("payloads %q %q", ev[1].Payload, ev[3].Payload)
		}
		if err := s.Mark(ctx, "0123456789ab", StatusRunning, nil, ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown run: %v", err)
		}
		if err := s.Mark(ctx, id, "done", nil, ""); err == nil {
			t.Fatal("unknown status accepted")
		}
	})
}

// TestUpdateRollsBackOnTheFunctionsError: the function sees its rows
// inside the transaction; its error rolls everything back and comes back
// as it is (errors.Is and errors.As see it; nothing rewords it); a blocked
// Check stops it before a row is written; its success commits.
func TestUpdateRollsBackOnTheFunctionsError(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		mustPlan(t, s, sweep([]string{qwen}, []def{int8F}, []def{g64}))
		before := snapshot(t, s)

		errDry := errors.New("dry run")
		b := sweep([]string{qwen}, []def{int8F, fp8F}, []def{g64})
		var seen []PlannedRun
		var registered []Name
		err := planChunks(ctx, s, b, 1, func(_ int, p []PlannedRun) error {
			seen = append(seen, p...)
			return nil
		}, func(tx PlanTx) error {
			registered = slices.Clone(tx.Registered())
			return errDry
		})
		if err != errDry {
			t.Fatalf("err = %v, want the function's own", err)
		}
		if len(seen) != 2 || !seen[0].Resumed || seen[1].Resumed || len(registered) != 1 ||
			registered[0].Name != fp8F.name || registered[0].FirstRun != b.Runs[1].ID {
			t.Fatalf("the function saw %+v, registered %+v", seen, registered)
		}
		if snapshot(t, s) != before {
			t.Fatal("a plan whose function failed changed the registry")
		}

		full := &fs.PathError{Op: "write", Path: "/out/x", Err: syscall.ENOSPC}
		wrapped := fmt.Errorf("write the run directories: %w", full)
		err = planChunks(ctx, s, b, 2, nil, func(PlanTx) error { return wrapped })
		var pe *fs.PathError
		if err != wrapped || !errors.As(err, &pe) || pe != full || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("err = %v, want the function's wrapped error as it is", err)
		}

		// A blocked plan stops at Check.
		called := false
		edited := def{g64.name, "weights: {axis: 1}\n"}
		err = planChunks(ctx, s, sweep([]string{qwen}, []def{fp8F}, []def{edited}), 1,
			func(int, []PlannedRun) error { called = true; return nil }, nil)
		if !errors.Is(err, ErrBlocked) || called {
			t.Fatalf("err = %v, called = %v", err, called)
		}
		if snapshot(t, s) != before {
			t.Fatal("a blocked plan changed the registry")
		}

		// Runs come after Check, which comes once.
		err = s.Update(ctx, func(tx PlanTx) error {
			_, err := tx.AddRuns(b.Runs)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "Check the plan before adding runs") {
			t.Fatalf("runs before Check: %v", err)
		}
		err = s.Update(ctx, func(tx PlanTx) error {
			if err := tx.Check(b.PlanHead); err != nil {
				return err
			}
			return tx.Check(b.PlanHead)
		})
		if err == nil || !strings.Contains(err.Error(), "Check is called once") {
			t.Fatalf("Check twice: %v", err)
		}

		// Its success commits.
		b = sweep([]string{qwen}, []def{fp8F}, []def{g64})
		if err := planChunks(ctx, s, b, 1, nil, func(PlanTx) error { called = true; return nil }); err != nil || !called {
			t.Fatalf("err = %v, called = %v", err, called)
		}
		if n, _ := s.CountRuns(ctx, RunFilter{}); n != 2 {
			t.Fatalf("%d runs, want 2", n)
		}
		models, err := s.Models(ctx)
		if err != nil || !slices.Equal(models, []string{qwen}) {
			t.Fatalf("models = %v, %v", models, err)
		}
	})
}

// TestUpdateCancelled: a context cancelled while the function runs fails
// its next call on the transaction, and nothing is recorded; once the
// function has returned nil, the commit goes ahead.
func TestUpdateCancelled(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		mustPlan(t, s, sweep([]string{qwen}, []def{int8F}, []def{g64}))
		before := snapshot(t, s)
		b := sweep([]string{qwen}, []def{int8F, fp8F}, []def{g64, g128}, `{"seed":1}`, `{"seed":2}`)

		ctx, cancel := context.WithCancel(context.Background())
		err := planChunks(ctx, s, b, 2, func(start int, _ []PlannedRun) error {
			if start == 2 {
				cancel() // a signal, while the runs go in
			}
			return nil
		}, nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if snapshot(t, s) != before {
			t.Fatal("a cancelled plan changed the registry")
		}

		ctx, cancel = context.WithCancel(context.Background())
		defer cancel()
		if err := planChunks(ctx, s, b, 2, nil, func(PlanTx) error { cancel(); return nil }); err != nil {
			t.Fatalf("cancelled after the function's work: %v", err)
		}
		if n, _ := s.CountRuns(context.Background(), RunFilter{}); n != len(b.Runs)+1 {
			t.Fatalf("%d runs, want %d: the plan committed", n, len(b.Runs)+1)
		}
	})
}

// TestRunFilesAreKeptAndRecipesShared: the files a plan wrote are recorded
// with the run (for doctor), recipes once per content.
func TestRunFilesAreKeptAndRecipesShared(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		b := sweep([]string{qwen}, []def{int8F}, []def{g64}, `{"seed":1}`, `{"seed":2}`)
		for i := range b.Runs {
			b.Runs[i].Files = &RunFiles{Manifest: []byte("manifest " + b.Runs[i].ID + "\n"), Recipe: []byte("shared recipe\n")}
		}
		mustPlan(t, s, b)
		for _, r := range b.Runs {
			f, err := s.RunFiles(context.Background(), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if string(f.Manifest) != "manifest "+r.ID+"\n" || string(f.Recipe) != "shared recipe\n" || f.ManifestSHA256 != sha256Hex(f.Manifest) || f.RecipeSHA256 != sha256Hex(f.Recipe) {
				t.Errorf("files of %s = %+v", r.ID, f)
			}
		}
		var recipes int
		if err := rawDB(s).QueryRow(`SELECT count(*) FROM recipes`).Scan(&recipes); err != nil || recipes != 1 {
			t.Errorf("recipes stored %d times (%v), want once", recipes, err)
		}
		if _, err := s.RunFiles(context.Background(), "000000000000"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown run: %v", err)
		}
	})
}

// Plans are serialised: while one plan's function is running (its rows
// written, not committed), another plan of the same new name with another
// definition waits for it, then sees its registration and is blocked. This
// is the one-winner rule of the process race tests, made deterministic.
func TestPlansAreSerialised(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		loc := bk.fresh(t)
		a, b := bk.open(t, loc), bk.open(t, loc)
		first := def{"w_new", "weights: {block_sizes: {-1: 32, type: static}}\n"}
		second := def{"w_new", "weights: {block_sizes: {-1: 48, type: static}}\n"}

		inside, release := make(chan struct{}), make(chan struct{})
		batchA := sweep([]string{qwen}, []def{int8F}, []def{first})
		doneA := make(chan error, 1)
		go func() {
			doneA <- planChunks(ctx, a, batchA, 1, nil, func(PlanTx) error {
				close(inside)
				<-release
				return nil
			})
		}()
		<-inside

		doneB := make(chan error, 1)
		go func() {
			_, err := Plan(ctx, b, sweep([]string{"Qwen/Qwen3-4B"}, []def{int8F}, []def{second}))
			doneB <- err
		}()
		select {
		case err := <-doneB:
			t.Fatalf("the second plan finished while the first held the write lock: %v", err)
		case <-time.After(500 * time.Millisecond):
		}
		close(release)
		if err := <-doneA; err != nil {
			t.Fatalf("first plan: %v", err)
		}
		err := <-doneB
		var be *BlockedError
		if !errors.As(err, &be) || be.Reason != MeaningChanged || be.Runs != 1 || be.OldFingerprint != fp(first.text) {
			t.Fatalf("second plan: %v, want blocked by the first's definition", err)
		}
		if n, _ := a.CountRuns(ctx, RunFilter{}); n != 1 {
			t.Fatalf("%d runs, want the first plan's one", n)
		}
	})
}

// TestFirstPlanConflictsWithinTheBatch: a plan inserts without looking up
// first; the unique keys still refuse two runs in one directory
// (nothing recorded), and an exact repeat counts as one run.
func TestFirstPlanConflictsWithinTheBatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		b := sweep([]string{qwen}, []def{int8F}, []def{g64})
		twin := b.Runs[0]
		twin.ID = "0123456789ab"
		b.Runs = append(b.Runs, twin)
		if _, err := Plan(context.Background(), s, b); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "belongs to runs") {
			t.Fatalf("two runs in one directory: %v", err)
		}
		if n, _ := s.CountRuns(context.Background(), RunFilter{}); n != 0 {
			t.Fatalf("%d runs recorded by a refused plan", n)
		}
		b = sweep([]string{qwen}, []def{int8F}, []def{g64})
		b.Runs = append(b.Runs, b.Runs[0])
		res, err := Plan(context.Background(), s, b)
		if err != nil || res.Created != 1 || res.Resumed != 1 {
			t.Fatalf("exact repeat: %+v %v", res, err)
		}
	})
}

// TestUpdateStreamsChunks: a plan added a chunk at a time records what the
// same plan added whole records, each chunk's runs as planned coming back
// from AddRuns, and each new name with the first run using it; a re-plan
// resumes every run as registered; the function's errors come back as
// they are, with nothing recorded.
func TestUpdateStreamsChunks(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		b := sweep([]string{qwen}, []def{int8F, fp8F}, []def{g64}, `{"seed":1}`, `{"seed":2}`, `{"seed":3}`)
		want := b.Runs

		var starts []int
		var got []PlannedRun
		collect := func(start int, runs []PlannedRun) error {
			starts = append(starts, start)
			got = append(got, runs...)
			return nil
		}
		var registered []Name
		err := planChunks(ctx, s, b, 4, collect, func(tx PlanTx) error { registered = slices.Clone(tx.Registered()); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(starts, []int{0, 4}) || len(got) != 6 || len(registered) != 3 {
			t.Fatalf("chunks start at %v with %d runs, %d names registered; want [0 4], 6 and 3", starts, len(got), len(registered))
		}
		for i, p := range got {
			if p.ID != want[i].ID || p.Resumed || p.Status != StatusPlanned {
				t.Errorf("chunk run %d: %s resumed=%v %s, want %s new and planned", i, p.ID, p.Resumed, p.Status, want[i].ID)
			}
		}
		if n, _ := s.Name(ctx, namekind.Format, "fp8"); n.FirstRun != want[3].ID {
			t.Errorf("fp8's first run %q, want %s (the first of the plan using it)", n.FirstRun, want[3].ID)
		}

		// The same plan again: every run resumed, as registered.
		got = nil
		if err := planChunks(ctx, s, b, 4, collect, nil); err != nil {
			t.Fatalf("re-plan: %v", err)
		}
		for i, p := range got {
			if !p.Resumed || p.Dir != want[i].Dir || p.CreatedAt.IsZero() {
				t.Errorf("re-planned run %d: %+v, want the registered row", i, p)
			}
		}

		// The function's errors, as they are; nothing of the plan recorded.
		more := sweep([]string{qwen}, []def{int8F}, []def{g128}, `{"seed":1}`, `{"seed":2}`)
		errStop := errors.New("stop")
		err = planChunks(ctx, s, more, 1, func(start int, _ []PlannedRun) error {
			if start == 1 {
				return errStop
			}
			return nil
		}, nil)
		if err != errStop {
			t.Errorf("the function's error: %v, want it as it is", err)
		}
		undefined := more
		undefined.Names = undefined.Names[:1] // the granularity is missing
		if err := planChunks(ctx, s, undefined, 1, nil, nil); err == nil || !strings.Contains(err.Error(), "which the plan does not define") {
			t.Errorf("a run using an undefined name: %v", err)
		}
		if n, _ := s.CountRuns(ctx, RunFilter{}); n != 6 {
			t.Errorf("%d runs after refused plans, want 6", n)
		}
		if _, err := s.Name(ctx, namekind.Granularity, "w_group128"); !errors.Is(err, ErrNotFound) {
			t.Errorf("w_group128 registered by a refused plan: %v", err)
		}
	})
}
