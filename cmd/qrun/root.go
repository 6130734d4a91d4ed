package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/vocab"
)

// Exit codes (SPEC §7).
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitBlocked   = 3
	exitSelection = 4
)

// version is set by the build (-ldflags "-X main.version=…").
var version = "dev"

// usageError is a mistake in how the command was called.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// globalOptions are flags every command shares.
type globalOptions struct {
	confDir string
}

// vocabDirs returns the folders of the user's vocabulary files.
func (g *globalOptions) vocabDirs() vocab.Dirs {
	return vocab.Dirs{
		Granularity: filepath.Join(g.confDir, "quant_granularity"),
		Format:      filepath.Join(g.confDir, "quant_pair"),
	}
}

// loadVocab reads the vocabulary in effect.
func (g *globalOptions) loadVocab() (*vocab.Vocabulary, error) {
	return vocab.Load(g.vocabDirs())
}

func newRootCmd(io *IOStreams) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "qrun",
		Short: "Plan ModelOpt quantization sweeps with names that never change meaning",
		Long: `qrun turns a quantization selection (format × granularity) into the complete
ModelOpt recipe, a stable output directory and a registry row, and refuses any
change that would make a used name mean something else.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	root.SetIn(io.In)
	root.PersistentFlags().StringVar(&g.confDir, "conf", "conf", "Hydra config folder holding the quant_granularity/ and quant_pair/ vocabulary files")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(newCmdVocab(io, g), newCmdResolve(io, g))
	wrapArgs(root)
	return root
}

// wrapArgs makes positional-argument errors usage errors everywhere.
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		inner := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := inner(cmd, args); err != nil {
				return &usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// run executes the command line and returns the exit code. Errors are
// classified here, once (SPEC §7).
func run(args []string, io *IOStreams) int {
	root := newRootCmd(io)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	if isUnknownCommand(err) {
		err = &usageError{err}
	}
	code := classify(err)
	printError(io, err)
	if code == exitUsage && cmd != nil {
		fmt.Fprintf(io.ErrOut, "\n%s", cmd.UsageString())
	}
	return code
}

func isUnknownCommand(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ") || strings.HasPrefix(err.Error(), "unknown flag") || strings.HasPrefix(err.Error(), "unknown shorthand flag")
}

func classify(err error) int {
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, vocab.ErrInvalidSelection):
		return exitSelection
	}
	return exitError
}

// printError writes one line per problem, each prefixed with "qrun: ".
func printError(io *IOStreams, err error) {
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Fprintf(io.ErrOut, "qrun: %s\n", line)
	}
}
