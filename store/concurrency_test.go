package store

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/qrun-dev/qrun/namekind"
)

// runAll starts every command, then waits for all of them.
func runAll(t *testing.T, cmds []*exec.Cmd) []helperOutcome {
	t.Helper()
	out := make([]helperOutcome, len(cmds))
	var wg sync.WaitGroup
	for i, c := range cmds {
		wg.Go(func() { out[i] = runHelper(t, c) })
	}
	wg.Wait()
	return out
}

// processes is how many processes the concurrency tests start: the 50 of
// SPEC §8 on SQLite, a SLURM array's 64 on PostgreSQL.
func processes(bk backend) int {
	if bk.name == "postgres" {
		return 64
	}
	return 50
}

// startAfter is when processes started now should all be running, so that
// they collide: more of them (and -race) take longer to start.
func startAfter(procs int) time.Time {
	return time.Now().Add(2*time.Second + time.Duration(procs)*40*time.Millisecond)
}

// Many processes open a fresh registry at once (the migration race) and
// plan overlapping sweeps: all succeed, and the registry holds exactly the
// union, each run once with one 'plan' event, each name once.
func TestConcurrentPlannersOnAFreshRegistry(t *testing.T) {
	forEachBackend(t, testConcurrentPlanners)
}

func testConcurrentPlanners(t *testing.T, bk backend) {
	procs := processes(bk)
	path := bk.fresh(t)
	formats := []def{int8F, fp8F, nvfp4F, int4F}
	grans := []def{defaultG, g64, g128, perOut}
	start := startAfter(procs)

	want := map[string]bool{}
	var cmds []*exec.Cmd
	for i := range procs {
		b := sweep([]string{qwen, "Qwen/Qwen3-4B"},
			[]def{formats[i%4], formats[(i+1)%4]},
			[]def{grans[i%4], grans[(i+2)%4]},
			`{"seed":1}`, fmt.Sprintf(`{"seed":%d}`, 2+i%3))
		for _, r := range b.Runs {
			want[r.ID] = true
		}
		cmds = append(cmds, helper(t, os.Args[0], "plan", helperArgs{DB: path, Start: start, LockTimeout: time.Minute, Batch: b}))
	}
	created := 0
	for i, o := range runAll(t, cmds) {
		if o.code != exitOK {
			t.Errorf("process %d: exit %d: %s%s", i, o.code, o.res.Err, o.stderr)
		}
		created += o.res.Created
	}
	if t.Failed() {
		return
	}
	s := bk.open(t, path)
	ctx := context.Background()
	runs, err := s.Runs(ctx, RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var wantIDs []string
	for id := range want {
		wantIDs = append(wantIDs, id)
	}
	slices.Sort(wantIDs)
	if got := runIDs(runs); !slices.Equal(got, wantIDs) {
		t.Fatalf("registry holds %d runs, want the union of %d", len(got), len(wantIDs))
	}
	if created != len(want) {
		t.Fatalf("processes created %d runs in all, want %d (each exactly once)", created, len(want))
	}
	var events int
	rawDB(s).QueryRow(`SELECT count(*) FROM events WHERE kind = 'plan'`).Scan(&events)
	if events != len(want) {
		t.Fatalf("%d plan events, want %d", events, len(want))
	}
	names, _ := s.Names(ctx, "")
	if len(names) != 8 {
		t.Fatalf("%d names, want 8", len(names))
	}
	if v := schemaOf(t, s); v != LatestSchema() {
		t.Fatalf("schema %d", v)
	}
}

// Two definitions of one new name race: exactly one is registered; every
// process with the other one is blocked and writes nothing. (6 against 6 on
// SQLite, 32 against 32 on PostgreSQL.)
func TestDefinitionRace(t *testing.T) {
	forEachBackend(t, testDefinitionRace)
}

func testDefinitionRace(t *testing.T, bk backend) {
	perSide := 6
	if bk.name == "postgres" {
		perSide = processes(bk) / 2
	}
	path := bk.fresh(t)
	sides := []def{
		{"w_new", "weights: {block_sizes: {-1: 32, type: static}}\n"},
		{"w_new", "weights: {block_sizes: {-2: 128, -1: 128}}\n"},
	}
	start := startAfter(2 * perSide)
	var cmds []*exec.Cmd
	var side []int
	for i := range 2 * perSide {
		b := sweep([]string{qwen}, []def{int8F}, []def{sides[i%2]}, fmt.Sprintf(`{"seed":%d}`, i))
		cmds = append(cmds, helper(t, os.Args[0], "plan", helperArgs{DB: path, Start: start, LockTimeout: time.Minute, Batch: b}))
		side = append(side, i%2)
	}
	outs := runAll(t, cmds)

	s := bk.open(t, path)
	n, err := s.Name(context.Background(), namekind.Granularity, "w_new")
	if err != nil {
		t.Fatal(err)
	}
	winner := slices.IndexFunc(sides, func(d def) bool { return fp(d.text) == n.Fingerprint })
	if winner < 0 {
		t.Fatalf("registered fingerprint %s is neither side's", n.Fingerprint)
	}
	for i, o := range outs {
		switch {
		case side[i] == winner && o.code != exitOK:
			t.Errorf("process %d (winning definition): exit %d: %s%s", i, o.code, o.res.Err, o.stderr)
		case side[i] != winner && (o.code != exitBlocked || !o.res.Blocked):
			t.Errorf("process %d (losing definition): exit %d, want %d (blocked): %s%s", i, o.code, exitBlocked, o.res.Err, o.stderr)
		}
	}
	runs, _ := s.Runs(context.Background(), RunFilter{})
	if len(runs) != perSide {
		t.Fatalf("%d runs registered, want %d (the winners')", len(runs), perSide)
	}
	for _, r := range runs {
		if r.GranularityFP != n.Fingerprint {
			t.Fatalf("run %s has the losing definition", r.ID)
		}
	}
}
