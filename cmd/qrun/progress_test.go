package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProgressThrottled: updates within the interval are skipped, the last
// one is always written, and done erases the line.
func TestProgressThrottled(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	p := newProgress(&IOStreams{ErrOut: &buf, ErrIsTTY: true}, "writing runs", false)
	p.now = func() time.Time { return now }
	for i := 0; i < 1000; i++ {
		p.update(i, 1000)
		now = now.Add(time.Millisecond) // 1000 updates over one second
	}
	p.update(1000, 1000)
	p.done()
	out := buf.String()
	lines := strings.Split(out, "\r\x1b[K")
	// "" before the first, ~10 updates (every 100 ms), the last, the erase.
	if n := len(lines); n < 10 || n > 14 {
		t.Fatalf("%d writes for 1000 updates in 1 s: %q", n, out)
	}
	if !strings.HasSuffix(out, "writing runs: 1000/1000 (100%, 1000/s)\r\x1b[K") {
		t.Fatalf("last update and erase missing: %q", out[len(out)-60:])
	}
}

func TestProgressOnlyOnATerminalWithoutJSON(t *testing.T) {
	var buf bytes.Buffer
	if p := newProgress(&IOStreams{ErrOut: &buf}, "x", false); p != nil {
		t.Error("progress on a pipe")
	}
	if p := newProgress(&IOStreams{ErrOut: &buf, ErrIsTTY: true}, "x", true); p != nil {
		t.Error("progress with --json")
	}
	var p *progress
	p.update(1, 2) // a nil progress is a no-op
	p.done()
	if p.fn() != nil {
		t.Error("a nil progress gives a hook")
	}
}

// TestPlanProgressGivesWayToTheRuns: on a terminal (stdout and stderr the
// same screen), the progress line is erased before the runs are listed, so
// no run directory is drawn over.
func TestPlanProgressGivesWayToTheRuns(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	var screen bytes.Buffer
	io := &IOStreams{Out: &screen, ErrOut: &screen, IsTTY: true, ErrIsTTY: true}
	code := run(context.Background(), []string{"--root", filepath.Join(dir, "outputs"), "--db", filepath.Join(dir, "qrun.db"), "--conf", filepath.Join(dir, "conf"),
		"plan", "--model", "Qwen/Qwen3-8B", "quant_pair=int8,fp8", "quant_granularity=w_group64", "seed=range(0,400)"}, &Factory{IO: io, Getenv: noEnv}) // over 64 KiB of run directories: written while the plan runs
	out := screen.String()
	if code != 0 {
		t.Fatalf("plan exited %d: %s", code, out)
	}
	erase := strings.LastIndex(out, "\r\x1b[K")
	first := strings.Index(out, filepath.Join(dir, "outputs", "Qwen3-8B"))
	if erase < 0 || first < 0 || erase > first {
		t.Fatalf("the progress line is not erased before the first run is listed (erase at %d, first run at %d):\n%q", erase, first, out)
	}
	if !strings.Contains(out[:erase], "writing runs: 800/800") {
		t.Errorf("no final progress count before the runs:\n%q", out)
	}
}
