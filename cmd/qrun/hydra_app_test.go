package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qrun-dev/qrun/hydra"
)

// TestT19HydraLinesThroughARealHydraApp runs issue 15's sweep through a real
// Hydra 1.3 app (testdata/hydra_app): a multi-model × format × KV-cache
// sweep, each --emit hydra line run as `python3 app.py <line>`; every job
// must have run its own model, format, granularity, KV cache and seed, in
// its own directory. It needs python3 with hydra-core; Debian ships none,
// so without it the test says so and skips (qrun's override parser tests
// and the T1, T2 and T19 scripts check the lines there).
//
// QRUN_TEST_PYTHON names the interpreter (default python3); PYTHONPATH is
// passed on, for a Hydra checkout.
func TestT19HydraLinesThroughARealHydraApp(t *testing.T) {
	python := os.Getenv("QRUN_TEST_PYTHON")
	if python == "" {
		python = "python3"
	}
	probe := exec.Command(python, "-c", "from hydra import main; from hydra.core.hydra_config import HydraConfig")
	probe.Dir = t.TempDir() // not the repository, whose hydra/ folder Python would import
	if out, err := probe.CombinedOutput(); err != nil {
		t.Skipf("skipped: %s cannot import hydra-core here (pip install hydra-core==1.3.2, or set QRUN_TEST_PYTHON, to run it): %s", python, strings.TrimSpace(lastLine(string(out))))
	}
	exe := qrunExe(t)
	dir := t.TempDir()
	app, err := filepath.Abs(filepath.Join("testdata", "hydra_app"))
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "app")
	if err := os.CopyFS(conf, os.DirFS(app)); err != nil {
		t.Fatal(err)
	}
	if r := runCmd(qrunCmd(exe, dir, nil, "vocab", "export", filepath.Join(conf, "conf"))); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := runCmd(qrunCmd(exe, dir, nil, "plan", "--model", "Qwen/Qwen3-8B,Qwen/Qwen3-0.6B",
		"quant_pair=fp8,nvfp4", "quant_kv_cache=none,fp8_cast", "seed=7", "--emit", "hydra"))
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 8 {
		t.Fatalf("%d lines, want 8:\n%s", len(lines), r.stdout)
	}
	seen := map[string]bool{}
	for _, line := range lines {
		run := exec.Command("sh", "-c", `eval "$1 app.py $0"`, line, python)
		run.Dir = conf
		if out, err := run.CombinedOutput(); err != nil {
			t.Fatalf("python3 app.py %s: %v\n%s", line, err, out)
		}
		want := map[string]string{}
		for _, a := range splitShell(t, line) {
			o, err := hydra.Parse(a)
			if err != nil {
				t.Fatal(err)
			}
			want[o.Key] = strings.Trim(o.Raw[len(o.Key)+1:], "'")
		}
		data, err := os.ReadFile(filepath.Join(want["hydra.run.dir"], "job.json"))
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		var job map[string]any
		if err := json.Unmarshal(data, &job); err != nil {
			t.Fatal(err)
		}
		for key, field := range map[string]string{"model": "model", "quant_pair": "format", "quant_granularity": "granularity", "quant_kv_cache": "kv_cache", "hydra.run.dir": "dir"} {
			if got := job[field]; got != want[key] {
				t.Errorf("%s: the job ran %s %v, the line says %s", line, field, got, want[key])
			}
		}
		if job["seed"] != float64(7) {
			t.Errorf("%s: the job ran seed %v", line, job["seed"])
		}
		seen[want["hydra.run.dir"]] = true
	}
	if len(seen) != 8 {
		t.Errorf("%d directories for 8 jobs", len(seen))
	}
}

// splitShell splits a line as a POSIX shell does.
func splitShell(t *testing.T, line string) []string {
	out, err := exec.Command("sh", "-c", `eval "set -- $0"; printf '%s\0' "$@"`, line).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
