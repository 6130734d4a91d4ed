// Package sharedtest finds ../shared/, the folder of golden data (ModelOpt's
// own preset dumps) that sits beside a checkout but is never copied into it.
package sharedtest

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the shared folder: $QRUN_SHARED, or ../shared beside the
// module root. Where it is absent the test is skipped with one line, except
// under CI=true, where it is always present and its absence is a failure.
func Dir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("QRUN_SHARED")
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			t.Fatalf("find module root: %v", err)
		}
		dir = filepath.Join(root, "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(dir, "modelopt")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared golden data missing at %s (CI=true requires it)", dir)
		}
		t.Skipf("skipping: shared golden data not found at %s (set QRUN_SHARED)", dir)
	}
	return dir
}

// ReadFile reads a file under the shared folder.
func ReadFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(t), rel))
	if err != nil {
		t.Fatalf("read shared file: %v", err)
	}
	return b
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
