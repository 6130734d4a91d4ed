// Package goldenfile compares test output with the files under a package's
// testdata/golden, and rewrites them when the test binary runs with -update.
package goldenfile

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Updating reports whether the test runs with -update: the golden files are
// being rewritten, not compared.
func Updating() bool { return *update }

// Check compares got with testdata/golden/<name> (name is slash-separated),
// or with -update writes got there.
func Check(t testing.TB, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", filepath.FromSlash(name))
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("missing golden file %s (run go test with -update): %v", p, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from its golden file (run go test with -update if the change is intended)\n--- got ---\n%s", p, got)
	}
}
