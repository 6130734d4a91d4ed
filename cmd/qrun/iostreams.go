package main

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
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

// isTerminal reports whether f is a terminal: a character device that
// answers a terminal's ioctl (/dev/null is a character device too, and
// output sent there is not for a person).
func isTerminal(f *os.File) bool {
	if os.Getenv("QRUN_FORCE_TTY") == "1" {
		return true
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), ioctlGetTermios)
	return err == nil
}
