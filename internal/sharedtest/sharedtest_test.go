package sharedtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNeedsShared is run only as a child of TestMissingSharedData.
func TestNeedsShared(t *testing.T) {
	if os.Getenv("SHAREDTEST_CHILD") != "1" {
		t.Skip("skipped: run as a child process by TestMissingSharedData")
	}
	Dir(t)
}

// TestMissingSharedData: without the shared folder a test that needs it
// skips with one line naming where it looked, and fails instead under
// CI=true.
func TestMissingSharedData(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-shared")
	for _, c := range []struct {
		ci, want string
		fails    bool
	}{
		{"", "--- SKIP: TestNeedsShared", false},
		{"true", "--- FAIL: TestNeedsShared", true},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNeedsShared$", "-test.v")
		cmd.Env = append(os.Environ(), "SHAREDTEST_CHILD=1", "QRUN_SHARED="+missing, "CI="+c.ci)
		out, err := cmd.CombinedOutput()
		if (err != nil) != c.fails {
			t.Errorf("CI=%q: exit error %v, want failure %v\n%s", c.ci, err, c.fails, out)
		}
		if !strings.Contains(string(out), c.want) || !strings.Contains(string(out), missing) {
			t.Errorf("CI=%q: output lacks %q and the path looked at:\n%s", c.ci, c.want, out)
		}
	}
}
