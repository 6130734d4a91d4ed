package main

import (
	"os"
	"testing"
)

// TestIsTerminal: /dev/null is a character device but no terminal (output
// sent there gets the pipe form: no header, no progress); a pseudo-terminal
// is one; QRUN_FORCE_TTY=1 makes qrun's output streams terminals whatever
// they are.
func TestIsTerminal(t *testing.T) {
	t.Setenv("QRUN_FORCE_TTY", "")
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if isTerminal(null) {
		t.Error("/dev/null taken for a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file taken for a terminal")
	}
	if pty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0); err == nil {
		defer pty.Close()
		if !isTerminal(pty) {
			t.Error("a pseudo-terminal not taken for a terminal")
		}
	} else {
		t.Logf("no pseudo-terminal to check the positive case: %v", err)
	}
	t.Setenv("QRUN_FORCE_TTY", "1")
	if io := processFactory().IO; !io.IsTTY || !io.ErrIsTTY {
		t.Error("QRUN_FORCE_TTY=1 not honoured")
	}
}

// noEnv is an empty environment, for commands run in-process by tests.
func noEnv(string) string { return "" }
