package main

import (
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are a command's standard streams, injected so tests can run
// commands in-process with buffers (as the GitHub CLI does).
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// IsTTY says whether Out is a terminal: tables with headers on a TTY,
	// tab-separated rows without a header otherwise.
	IsTTY bool
	// ErrIsTTY says whether ErrOut is a terminal: progress is shown only
	// there.
	ErrIsTTY bool
}

// Factory is what every command gets from the process it runs in: its
// standard streams and its environment (the GitHub CLI's cmdutil.Factory,
// reduced to what qrun needs). Tests build one over buffers and the
// script's environment, and run commands in-process.
type Factory struct {
	IO     *IOStreams
	Getenv func(string) string
	// WorkDir is the absolute folder relative paths are taken from ("":
	// the process's working directory). Commands never use the process's
	// own otherwise, so that tests run many of them at once in one process.
	WorkDir string
}

// processFactory is the Factory of the qrun process.
func processFactory() *Factory {
	io := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if os.Getenv("QRUN_FORCE_TTY") == "1" {
		io.IsTTY, io.ErrIsTTY = true, true
	} else {
		io.IsTTY, io.ErrIsTTY = isTerminal(os.Stdout), isTerminal(os.Stderr)
	}
	wd, err := os.Getwd()
	if err != nil {
		wd = "." // reported by the first command that needs it
	}
	return &Factory{IO: io, Getenv: os.Getenv, WorkDir: wd}
}

// isTerminal reports whether f is a terminal (/dev/null is not: output
// sent there is not for a person).
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
