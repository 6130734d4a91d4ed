package main

// SIGINT and SIGTERM with real qrun processes (SPEC §14): a plan stopped
// mid-sweep rolls back, removes what it wrote, and exits 130 with one line.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qrun-dev/qrun/internal/pgtest"
	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/store"
)

func TestSignalStopsAPlan(t *testing.T) {
	t.Parallel() // beside the scripts: a real process each, in folders of its own
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "qrun.db")
			testSignalStopsAPlan(t, dir, db, sig, func(t *testing.T) store.Store { return openRegistry(t, db, filepath.Join(dir, "outputs")) })
		})
	}
}

func TestPostgresSignalStopsAPlan(t *testing.T) {
	t.Parallel() // beside the scripts: a real process each, in folders of its own
	srv := pgtest.Shared(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			url := newDatabase(t, srv)
			dir := t.TempDir()
			testSignalStopsAPlan(t, dir, url, sig, func(t *testing.T) store.Store { return openRegistry(t, url, filepath.Join(dir, "outputs")) })
		})
	}
}

// signalSweep is big enough to be caught in the middle: its runs take
// about a second to write (the signal comes after the first 20).
const signalSweep = 1500

// testSignalStopsAPlan: a registry holding a few runs; a big sweep is
// signalled once its writer has made some run directories. The process
// exits 130 with one line; the registry is as it was, no temporary file is
// left, no directory of the sweep (nor the parent it made), and doctor
// finds registry and disk in agreement. Then, after SIGINT, the same sweep
// converges (after SIGTERM too, as the state it starts from is the one
// checked here for both: the signals differ only in how the context is
// cancelled).
func testSignalStopsAPlan(t *testing.T, dir, db string, sig syscall.Signal, open func(*testing.T) store.Store) {
	exe := qrunExe(t)
	root := filepath.Join(dir, "outputs")
	env := []string{"QRUN_DB=" + db, "QRUN_ROOT=" + root}
	if r := runCmd(qrunCmd(exe, dir, env, "plan", "--model", "Qwen/Qwen3-8B", "--format", "int8", "--granularity", "w_group128", "seed=range(0,5)")); r.code != 0 {
		t.Fatalf("first plan exited %d: %s", r.code, r.stderr)
	}
	before := registryContent(t, open(t))

	args := []string{"plan", "--model", "Qwen/Qwen3-8B", "--format", "int8", "--granularity", "w_group64", fmt.Sprintf("seed=range(0,%d)", signalSweep)}
	cmd := qrunCmd(exe, dir, env, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sweepDir := filepath.Join(root, "Qwen3-8B", "int8", "w_group64")
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(2 * time.Millisecond) {
		if ents, _ := os.ReadDir(sweepDir); len(ents) >= 20 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the sweep wrote no run directory within a minute")
		}
	}
	cmd.Process.Signal(sig)
	signalled := time.Now()
	err := cmd.Wait()
	t.Logf("%s stopped the plan in %v", sig, time.Since(signalled).Round(time.Millisecond))
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != exitInterrupted || stderr.String() != "qrun: interrupted; nothing was recorded\n" {
		t.Fatalf("signalled plan exited %d (%v) with %q; want 130 and one line", code, err, stderr.String())
	}

	if after := registryContent(t, open(t)); after != before {
		t.Errorf("the registry changed:\n%s\nwant\n%s", after, before)
	}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), manifest.TempPrefix) {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
	if _, err := os.Stat(sweepDir); !os.IsNotExist(err) {
		ents, _ := os.ReadDir(sweepDir)
		t.Errorf("%s left with %d entries by the signalled plan (%v)", sweepDir, len(ents), err)
	}
	if r := runCmd(qrunCmd(exe, dir, env, "doctor")); r.code != 0 {
		t.Errorf("doctor after the signal exited %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if sig != syscall.SIGINT {
		return
	}

	if r := runCmd(qrunCmd(exe, dir, env, args...)); r.code != 0 || strings.Count(r.stdout, "\n") != signalSweep {
		t.Fatalf("re-plan exited %d with %d lines: %s", r.code, strings.Count(r.stdout, "\n"), r.stderr)
	}
	if n := checkRunDirs(t, open(t)); n != 5+signalSweep {
		t.Errorf("registry holds %d runs after the re-plan, want %d", n, 5+signalSweep)
	}
	if r := runCmd(qrunCmd(exe, dir, env, "doctor")); r.code != 0 {
		t.Errorf("doctor after the re-plan exited %d: %s%s", r.code, r.stdout, r.stderr)
	}
}

// signalledMain is a command that ignores its cancelled context (what a
// second signal is for): it says when it is ready, and when its context is
// cancelled, then goes on.
func signalledMain() int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	notifySignals(ctx, cancel)
	fmt.Println("ready")
	<-ctx.Done()
	fmt.Println("cancelled")
	time.Sleep(time.Minute)
	return 0
}

// TestSecondSignalEndsTheProcess: the first SIGINT cancels the context; a
// process that does not stop then ends at the second one.
func TestSecondSignalEndsTheProcess(t *testing.T) {
	t.Parallel() // beside the scripts: a real process each, in folders of its own
	cmd := qrunCmd(testExe(t, "signalled"), t.TempDir(), nil)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(out)
	expect := func(want string) {
		t.Helper()
		if !lines.Scan() || lines.Text() != want {
			t.Fatalf("read %q (%v), want %q", lines.Text(), lines.Err(), want)
		}
	}
	expect("ready")
	cmd.Process.Signal(syscall.SIGINT)
	expect("cancelled")
	cmd.Process.Signal(syscall.SIGINT)
	err = cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("wait: %v, want the process ended by the signal", err)
	}
	if ws := ee.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Fatalf("the process ended with %v, want the second SIGINT's default action", ee)
	}
}

// TestOnlyWritingCommandsCatchSignals: a command that writes the registry
// or run directories catches SIGINT and SIGTERM (its context is cancelled);
// the others keep the default action, which ends them with the same exit
// status, and start without signal handling.
func TestOnlyWritingCommandsCatchSignals(t *testing.T) {
	for _, c := range []struct {
		args  []string
		catch bool
	}{
		{[]string{"plan", "--help"}, false}, // help runs no command
		{[]string{"--version"}, false},
		{[]string{"resolve", "--format", "fp8"}, false},
		{[]string{"vocab", "list"}, false},
		{[]string{"runs"}, false},
		{[]string{"plan", "--dry-run", "--model", "m/x", "--format", "fp8"}, true},
		{[]string{"mark", "0123456789ab", "running"}, true},
		{[]string{"doctor"}, true},
		{[]string{"db", "copy", "--from", "a", "--to", "b"}, true},
	} {
		caught := false
		ctx := context.WithValue(context.Background(), signalCatcher{}, func() { caught = true })
		dir := t.TempDir()
		t.Chdir(dir)
		run(ctx, c.args, &Factory{IO: &IOStreams{In: strings.NewReader(""), Out: &strings.Builder{}, ErrOut: &strings.Builder{}}, Getenv: noEnv})
		if caught != c.catch {
			t.Errorf("qrun %s: catches signals %v, want %v", strings.Join(c.args, " "), caught, c.catch)
		}
	}
}

// registryContent lists a registry's runs, names and layouts, to tell that
// a refused plan changed nothing.
func registryContent(t *testing.T, st store.Store) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	runs, err := st.Runs(ctx, store.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		fmt.Fprintln(&b, r.ID, r.Dir, r.Status, r.CreatedAt.UnixNano())
	}
	names, err := st.Names(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		fmt.Fprintln(&b, n.Kind, n.Name, n.Fingerprint, n.FirstRun)
	}
	layouts, err := st.Layouts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layouts {
		fmt.Fprintln(&b, l.Fingerprint, l.Template)
	}
	return b.String()
}
