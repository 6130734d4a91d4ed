package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeExamplesParseInBash: every sh block of the README copy-pastes
// into bash without a syntax error (seed=range(0,3) unquoted is one), and the
// first block holds the two commands a newcomer runs.
func TestReadmeExamplesParseInBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("skipped: no bash on this machine to parse the README's examples")
	}
	text, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for i, part := range strings.Split(string(text), "```") {
		if i%2 == 1 && strings.HasPrefix(part, "sh\n") {
			blocks = append(blocks, strings.TrimPrefix(part, "sh\n"))
		}
	}
	if len(blocks) < 3 {
		t.Fatalf("README has %d sh blocks; want the first lines, the install and the tour at least", len(blocks))
	}
	first := blocks[0]
	for _, want := range []string{"go run ./cmd/qrun plan ", "go test -race ./..."} {
		if !strings.Contains(first, want) {
			t.Errorf("README's first block lacks %q:\n%s", want, first)
		}
	}
	for i, b := range blocks {
		cmd := exec.Command(bash, "-n")
		cmd.Stdin = strings.NewReader(b)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("README sh block %d does not parse in bash: %v\n%s\n%s", i+1, err, out, b)
		}
	}
}
