package main

// Reliability tests with real qrun processes (SPEC §8): many planners at
// once on a fresh registry, a definition race, and SIGKILL at random moments.
// The test binary doubles as qrun (testscript.Main dispatches on argv[0]), so
// each "process" is a separate OS process running the real command.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/namekind"
	"github.com/qrun-dev/qrun/store"
)

// qrunExe returns a path that runs this test binary as qrun.
func qrunExe(t *testing.T) string {
	t.Helper()
	return testExe(t, "qrun")
}

// testExe returns a path that runs this test binary as name: TestMain
// picks the program by the name it is called by.
func testExe(t *testing.T, name string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	return link
}

type result struct {
	code           int
	stdout, stderr string
}

func qrunCmd(exe, dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	// A race-built process sleeps a second before a clean exit (GORACE
	// atexit_sleep_ms, default 1000): not here, where hundreds start.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(append(os.Environ(), "QRUN_FORCE_TTY=", "GORACE="+gorace), env...)
	return cmd
}

func runCmd(cmd *exec.Cmd) result {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return result{code, out.String(), errb.String()}
}

// runAll starts every command at once and waits for all of them.
func runAll(cmds []*exec.Cmd) []result {
	out := make([]result, len(cmds))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range cmds {
		wg.Add(1)
		go func(i int, c *exec.Cmd) {
			defer wg.Done()
			<-start
			out[i] = runCmd(c)
		}(i, c)
	}
	close(start)
	wg.Wait()
	return out
}

// openRegistry opens the registry at loc (a SQLite path or a PostgreSQL
// URL) read-only, with output root root, until the test ends.
func openRegistry(t *testing.T, loc, root string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), loc, store.Options{ReadOnly: true, OutputRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// checkRunDirs verifies every registered run: its directory holds exactly
// its two files, byte-identical to what the registry says qrun wrote.
func checkRunDirs(t *testing.T, st store.Store) int {
	t.Helper()
	runs, err := st.Runs(context.Background(), store.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		ents, err := os.ReadDir(r.Dir)
		if err != nil {
			t.Errorf("run %s: %v", r.ID, err)
			continue
		}
		var names []string
		for _, e := range ents {
			if !e.IsDir() {
				names = append(names, e.Name())
			}
		}
		if len(names) != 2 {
			t.Errorf("run %s: %s holds %v, want exactly the two run files", r.ID, r.Dir, names)
		}
		files, err := st.RunFiles(context.Background(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := os.ReadFile(filepath.Join(r.Dir, manifest.ManifestFile))
		rc, _ := os.ReadFile(filepath.Join(r.Dir, manifest.RecipeFile))
		if !bytes.Equal(m, files.Manifest) || !bytes.Equal(rc, files.Recipe) {
			t.Errorf("run %s: files on disk differ from what the registry recorded", r.ID)
		}
	}
	return len(runs)
}

// TestConcurrentPlannersOnAFreshRegistry: 32 processes with overlapping
// sweeps start at once on a registry that does not exist yet (the first-open
// migration race included): all exit 0, nobody sees "database is locked",
// the registry holds exactly the union, every directory its two whole files.
func TestConcurrentPlannersOnAFreshRegistry(t *testing.T) {
	t.Parallel() // beside the scripts: a real process each, in folders of its own
	exe := qrunExe(t)
	dir := t.TempDir()
	env := []string{"QRUN_DB=" + filepath.Join(dir, "shared", "qrun.db"), "QRUN_ROOT=" + filepath.Join(dir, "outputs")}
	const procs = 32
	var cmds []*exec.Cmd
	for i := 0; i < procs; i++ {
		cmds = append(cmds, qrunCmd(exe, dir, env, "plan", "--model", "Qwen/Qwen3-8B",
			"quant_pair=int8,fp8", "quant_granularity=w_group64,w_group128,a_per_token_dynamic",
			fmt.Sprintf("seed=%d,%d", i%5, (i+1)%5)))
	}
	for i, r := range runAll(cmds) {
		if r.code != 0 {
			t.Errorf("planner %d exited %d: %s", i, r.code, r.stderr)
		}
		if strings.Contains(strings.ToLower(r.stderr), "locked") {
			t.Errorf("planner %d saw a lock error: %s", i, r.stderr)
		}
	}
	st := openRegistry(t, filepath.Join(dir, "shared", "qrun.db"), filepath.Join(dir, "outputs"))
	if n := checkRunDirs(t, st); n != 2*3*5 {
		t.Errorf("registry holds %d runs, want the union 30", n)
	}
}

// TestDefinitionRaceHasOneWinner: processes seeing two different definitions
// of one new name plan at once against one registry and root: exactly one
// definition is registered, every process of the other side exits 3 and
// writes nothing.
func TestDefinitionRaceHasOneWinner(t *testing.T) {
	t.Parallel() // beside the scripts: a real process each, in folders of its own
	exe := qrunExe(t)
	dir := t.TempDir()
	for side, size := range map[string]int{"a": 32, "b": 48} {
		p := filepath.Join(dir, "conf-"+side, "quant_granularity", "w_new.yaml")
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(fmt.Sprintf("name: w_new\nweights:\n  block_sizes: {-1: %d, type: static}\n", size)), 0o644)
	}
	root := filepath.Join(dir, "outputs")
	env := []string{"QRUN_DB=" + filepath.Join(dir, "qrun.db"), "QRUN_ROOT=" + root}
	const perSide = 6
	var cmds []*exec.Cmd
	for i := 0; i < 2*perSide; i++ {
		side := "a"
		if i%2 == 1 {
			side = "b"
		}
		cmds = append(cmds, qrunCmd(exe, dir, env, "--conf", "conf-"+side, "plan", "--model", "Qwen/Qwen3-8B",
			"--format", "int8", "--granularity", "w_new", "--param", fmt.Sprintf("seed=%d", i)))
	}
	res := runAll(cmds)
	winner, loser := raceSides(t, res, perSide)
	st := openRegistry(t, filepath.Join(dir, "qrun.db"), root)
	n, err := st.Name(context.Background(), namekind.Granularity, "w_new")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "32", "b": "48"}[winner]
	if !strings.Contains(n.Definition, "-1: "+want) {
		t.Errorf("registered definition %q is not the winner's (%s)", n.Definition, want)
	}
	checkRaceOutcome(t, root, st, len(res), winner, loser)
}

// TestCrashSafetySIGKILL kills a several-hundred-run plan at random moments,
// checks after every kill that no torn file is visible under a final name,
// then re-plans: it converges to the complete, correct state.
func TestCrashSafetySIGKILL(t *testing.T) {
	t.Parallel() // beside the scripts: a real process each, in folders of its own
	if testing.Short() {
		t.Skip("skipping the SIGKILL loop in -short mode")
	}
	exe := qrunExe(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "outputs")
	env := []string{"QRUN_DB=" + filepath.Join(dir, "qrun.db"), "QRUN_ROOT=" + root}
	args := []string{"plan", "--model", "Qwen/Qwen3-8B", "quant_pair=int8,fp8,w4a8_int", "quant_granularity=w_group64,w_group128,w_per_out_channel,default", "seed=range(0,25)"}
	const kills = 20
	// Learn the recipe every combination must have.
	recipes := map[string][]byte{}
	for _, f := range []string{"int8", "fp8", "w4a8_int"} {
		for _, g := range []string{"w_group64", "w_group128", "w_per_out_channel", "default"} {
			r := runCmd(qrunCmd(exe, dir, nil, "resolve", "--format", f, "--granularity", g))
			if r.code != 0 {
				t.Fatal(r.stderr)
			}
			recipes[f+"/"+g] = []byte(r.stdout)
		}
	}
	// Time a whole plan elsewhere, so the kills spread over all its phases.
	scratch := t.TempDir()
	began := time.Now()
	if r := runCmd(qrunCmd(exe, scratch, []string{"QRUN_DB=" + filepath.Join(scratch, "q.db"), "QRUN_ROOT=" + filepath.Join(scratch, "o")}, args...)); r.code != 0 {
		t.Fatal(r.stderr)
	}
	whole := time.Since(began)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	killed := 0
	for i := 0; i < kills; i++ {
		cmd := qrunCmd(exe, dir, env, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Int63n(int64(whole / 3)))) // re-plans of written files run faster
		cmd.Process.Signal(syscall.SIGKILL)
		if err := cmd.Wait(); err != nil {
			if ee, ok := err.(*exec.ExitError); ok && ee.Sys().(syscall.WaitStatus).Signaled() {
				killed++
			}
		}
		checkNoTornFiles(t, root, recipes)
	}
	t.Logf("a whole plan takes %v; %d of %d plans were killed before finishing (seed %d)", whole.Round(time.Millisecond), killed, kills, seed)
	if killed < kills/2 {
		t.Errorf("only %d of %d plans were killed mid-way: the test did not exercise crashes", killed, kills)
	}
	r := runCmd(qrunCmd(exe, dir, env, args...))
	if r.code != 0 {
		t.Fatalf("re-plan after the kills exited %d: %s", r.code, r.stderr)
	}
	st := openRegistry(t, filepath.Join(dir, "qrun.db"), root)
	if n := checkRunDirs(t, st); n != 3*4*25 {
		t.Errorf("registry holds %d runs after convergence, want 300", n)
	}
	if r := runCmd(qrunCmd(exe, dir, env, "doctor")); r.code != 0 {
		t.Errorf("doctor after convergence exited %d: %s%s", r.code, r.stdout, r.stderr)
	}
}

// checkNoTornFiles: every file under a final name is whole — a recipe equals
// its combination's recipe, a manifest names its run and its recipe exists.
func checkNoTornFiles(t *testing.T, root string, recipes map[string][]byte) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		switch d.Name() {
		case manifest.RecipeFile:
			rel, _ := filepath.Rel(root, filepath.Dir(p))
			parts := strings.Split(rel, string(filepath.Separator))
			b, _ := os.ReadFile(p)
			if want := recipes[parts[1]+"/"+parts[2]]; !bytes.Equal(b, want) {
				t.Errorf("torn or wrong recipe visible at %s", p)
			}
		case manifest.ManifestFile:
			if _, err := manifest.ReadIdentity(filepath.Dir(p)); err != nil {
				t.Errorf("torn manifest visible at %s: %v", p, err)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(p), manifest.RecipeFile)); err != nil {
				t.Errorf("manifest without its recipe at %s", p)
			}
		}
		return nil
	})
}

// raceSides checks a definition race whose even-numbered processes saw
// definition "a" and odd ones "b": one side all exit 0, the other all 3.
// checkRaceOutcome checks what a definition race left: each of the n
// processes (even: side a, odd: side b) planned seed=i of w_new; the
// winner's runs are on disk and registered, none of the loser's.
func checkRaceOutcome(t *testing.T, root string, st store.Store, n int, winner, loser string) {
	t.Helper()
	for i := range n {
		side := map[bool]string{true: "a", false: "b"}[i%2 == 0]
		d := filepath.Join(root, "Qwen3-8B", "int8", "w_new", fmt.Sprintf("seed=%d", i))
		_, err := os.Stat(d)
		if side == loser && err == nil {
			t.Errorf("a blocked process wrote %s", d)
		}
		if side == winner && err != nil {
			t.Errorf("a winning process's run is missing: %v", err)
		}
	}
	if c := checkRunDirs(t, st); c != n/2 {
		t.Errorf("%d runs registered, want %d", c, n/2)
	}
}

func raceSides(t *testing.T, res []result, perSide int) (winner, loser string) {
	t.Helper()
	codes := map[string]map[int]int{"a": {}, "b": {}}
	for i, r := range res {
		side := map[bool]string{true: "a", false: "b"}[i%2 == 0]
		codes[side][r.code]++
		if r.code != 0 && r.code != 3 {
			t.Errorf("process %d (side %s) exited %d: %s", i, side, r.code, r.stderr)
		}
	}
	winner, loser = "a", "b"
	if codes["b"][0] > 0 {
		winner, loser = "b", "a"
	}
	if codes[winner][0] != perSide || codes[loser][3] != perSide {
		t.Fatalf("exit codes by side: %v; want one side all 0 and the other all 3", codes)
	}
	return winner, loser
}
