package project

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenWithoutProjectUsesDefaults(t *testing.T) {
	dir := t.TempDir()
	p, err := Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.File != "" || p.Settings.Layout != "{model}/{format}/{granularity}" || p.Path(p.Settings.Output) != filepath.Join(dir, "outputs") {
		t.Errorf("defaults: %+v", p)
	}
}

func TestInitThenFindFromSubfolder(t *testing.T) {
	dir := t.TempDir()
	file, err := Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, StateDir)); err != nil || !st.IsDir() {
		t.Fatalf(".qrun not created: %v", err)
	}
	sub := filepath.Join(dir, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := Open(sub, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Root != dir || p.File != file {
		t.Errorf("found %s (%s), want %s", p.Root, p.File, dir)
	}
	want := Defaults()
	if p.Settings.Output != want.Output || p.Settings.Database != want.Database || p.Settings.Groups != want.Groups || p.Settings.Vocabulary != want.Vocabulary {
		t.Errorf("init template does not read back as the defaults: %+v", p.Settings)
	}
	// Never overwrites.
	if err := os.WriteFile(file, []byte("output: elsewhere\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(dir); !errors.Is(err, ErrExists) {
		t.Fatalf("second init: %v", err)
	}
	b, _ := os.ReadFile(file)
	if string(b) != "output: elsewhere\n" {
		t.Error("init overwrote qrun.yaml")
	}
}

func TestReadRejectsUnknownKeysAndEmptyValues(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{
		"outptu: x\n":                      "line 1: unknown key outptu",
		"layout: ''\n":                     "layout is empty",
		"groups: {fromat: x}":              "unknown key fromat",
		"output: [1, 2]\n":                 "wrong type",
		"metrics: {ppl: {better: down}}\n": `metrics.ppl.better "down": use lower or higher`,
		"metrics: {ppl: {bettr: lower}}\n": "unknown key bettr",
	} {
		p := filepath.Join(dir, FileName)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Read(p)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "project.") {
			t.Errorf("%q: error %v, want one line containing %q", content, err, want)
		}
	}
}

// TestReadMetricSettings: metrics: {NAME: {better: lower|higher}}.
func TestReadMetricSettings(t *testing.T) {
	p := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(p, []byte("metrics:\n  wikitext_ppl: {better: lower}\n  acc: {better: higher}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if s.Metrics["wikitext_ppl"].Better != "lower" || s.Metrics["acc"].Better != "higher" || len(s.Metrics) != 2 {
		t.Errorf("metrics = %v", s.Metrics)
	}
}
