package main

import (
	"io"
	"os"
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

func defaultIO() *IOStreams {
	return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, IsTTY: isTerminal(os.Stdout), ErrIsTTY: isTerminal(os.Stderr)}
}

func isTerminal(f *os.File) bool {
	if os.Getenv("QRUN_FORCE_TTY") == "1" {
		return true
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
