package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sample() *Manifest {
	return &Manifest{
		RunID: "0123456789ab", Model: "Qwen/Qwen3-8B",
		Format:            Name{Name: "int8_smoothquant", Typed: "int8_sq", Fingerprint: "f1"},
		Granularity:       Name{Name: "w_group64", Fingerprint: "g1"},
		Params:            []Param{{"calib_size", 512}, {"seed", 1}},
		Recorded:          []Param{{"wandb.tags", "x"}},
		ConfigFingerprint: "c1",
		Weights:           map[any]any{"num_bits": 8, "block_sizes": map[any]any{-1: 64, "type": "static"}},
		Activations:       map[any]any{"num_bits": 8, "axis": nil},
		ModelOpt:          "0.46", LayoutTemplate: "{model}/{format}/{granularity}", LayoutFingerprint: "l1",
		HydraOverrides: []string{"quant_pair=int8_smoothquant", "quant_granularity=w_group64"},
		QrunVersion:    "dev", Created: "2026-11-25T19:00:00Z", Host: "node1", GitCommit: "abc", GitDirty: true,
	}
}

func TestEncodeIsDeterministicWithIntegerKeys(t *testing.T) {
	a, err := sample().Encode()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := sample().Encode()
	if !bytes.Equal(a, b) {
		t.Fatal("encoding differs between calls")
	}
	for _, want := range []string{"qrun_manifest: 1\n", "run_id: 0123456789ab\n", "typed: int8_sq", "block_sizes: {-1: 64, type: static}", "seed: 1\n", "dirty: true"} {
		if !bytes.Contains(a, []byte(want)) {
			t.Errorf("manifest lacks %q:\n%s", want, a)
		}
	}
}

func TestReadIdentityAndWriteMissing(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadIdentity(dir); !errors.Is(err, ErrNoManifest) {
		t.Fatalf("empty dir: %v", err)
	}
	empty, err := Uncommitted(dir)
	if err != nil || !empty {
		t.Fatalf("Uncommitted(empty) = %v, %v", empty, err)
	}
	m, _ := sample().Encode()
	n, err := WriteMissing(dir, Files{Manifest: m, Recipe: []byte("recipe\n")})
	if err != nil || n != 2 {
		t.Fatalf("WriteMissing = %d, %v", n, err)
	}
	id, err := ReadIdentity(dir)
	if err != nil || id.RunID != "0123456789ab" || id.Format != "int8_smoothquant" || id.Model != "Qwen/Qwen3-8B" {
		t.Fatalf("identity = %+v, %v", id, err)
	}
	// Existing files are never rewritten; a missing one is.
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(m, []byte("# edited\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, RecipeFile))
	n, err = WriteMissing(dir, Files{Manifest: m, Recipe: []byte("recipe\n")})
	if err != nil || n != 1 {
		t.Fatalf("second WriteMissing = %d, %v", n, err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	if !strings.HasSuffix(string(got), "# edited\n") {
		t.Error("existing manifest was rewritten")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("run dir holds %d entries, want exactly 2", len(ents))
	}
}

func TestReadIdentityRefusesOthers(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{
		"hello: world\n":                  "is not a qrun manifest",
		"qrun_manifest: 9\nrun_id: abc\n": "newer than this qrun",
		"[unclosed\n":                     "is not a qrun manifest",
	} {
		os.WriteFile(filepath.Join(dir, ManifestFile), []byte(content), 0o644)
		if _, err := ReadIdentity(dir); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", content, err, want)
		}
	}
	os.WriteFile(filepath.Join(dir, TempPrefix+"x"), nil, 0o644)
	os.Remove(filepath.Join(dir, ManifestFile))
	os.WriteFile(filepath.Join(dir, RecipeFile), []byte("r"), 0o644)
	if only, _ := Uncommitted(dir); !only {
		t.Error("a dir with only temp files and a recipe holds no run yet")
	}
	if err := Reset(dir); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("Reset left %d entries", len(ents))
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644)
	if only, _ := Uncommitted(dir); only {
		t.Error("a dir with a foreign file is not an interrupted write")
	}
}

func TestWriteAtomicLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.yaml")
	for i := 0; i < 3; i++ {
		if err := WriteAtomic(p, []byte("v\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d entries after atomic writes, want 1", len(ents))
	}
	if err := WriteAtomic(filepath.Join(dir, "missing", "f"), []byte("x"), 0o644); err == nil {
		t.Error("writing into a missing folder should fail")
	}
}
