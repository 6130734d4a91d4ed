package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/plan"
	"github.com/qrun-dev/qrun/store"
	"github.com/qrun-dev/qrun/vocab"
)

// Exit codes (SPEC §7).
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitBlocked   = 3
	exitSelection = 4
	// exitInterrupted: stopped by SIGINT or SIGTERM (128 + SIGINT's 2, as
	// a shell reports a process its Ctrl-C ended).
	exitInterrupted = 130
)

// version is set by the build (-ldflags "-X main.version=…").
var version = "dev"

// usageError is a mistake in how the command was called: the message, then
// one line pointing at the command's --help (as gh does for a bad value).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// shapeError is a usage error in the command line's shape — an unknown
// command or flag, a flag without its value, the wrong number of
// arguments — after which the command's whole usage is printed.
type shapeError struct{ err error }

func (e *shapeError) Error() string { return e.err.Error() }
func (e *shapeError) Unwrap() error { return &usageError{e.err} }

func shapeErrorf(format string, args ...any) error {
	return &shapeError{fmt.Errorf(format, args...)}
}

// globalOptions are flags every command shares.
type globalOptions struct {
	confDir string
	// confFlags is the flag set holding --conf, to tell a --conf the user
	// typed (which must exist) from the default (which may be absent).
	confFlags interface{ Changed(string) bool }
	pf        projectFlags
	// io is where loading the vocabulary tells its notices.
	io *IOStreams
	// getenv reads the environment qrun runs in (QRUN_DB, QRUN_ROOT, …).
	getenv func(string) string
	// wd is the working directory every relative path is taken from (see
	// abs and rel).
	wd string
	// completing: qrun answers a shell's completion request (__complete),
	// the one time flags' completion functions are needed (completeFlag).
	completing bool
}

// abs is path p taken from the working directory.
func (g *globalOptions) abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(g.wd, p)
}

// rel shortens a path below the working directory for messages
// (conf/quant_pair/x.yaml rather than /home/…/conf/quant_pair/x.yaml).
func (g *globalOptions) rel(p string) string {
	r, err := filepath.Rel(g.wd, p)
	if err != nil || !filepath.IsAbs(p) || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return p
	}
	return r
}

// completeFlag gives flag name of cmd its completion function, when qrun
// answers a completion request. Only then: cobra keeps these functions in
// a package-level map for the life of the process, and with them every
// command tree and what their closures hold — a cost at start-up, and a
// leak where commands run in-process (the tests).
func (g *globalOptions) completeFlag(cmd *cobra.Command, name string, fn cobra.CompletionFunc) {
	if g.completing {
		_ = cmd.RegisterFlagCompletionFunc(name, fn)
	}
}

// newRootCmd builds qrun's whole command tree, flags' completion
// functions included.
func newRootCmd(f *Factory) *cobra.Command { return newRootCmdFor(f, true) }

// newRootCmdFor builds qrun's whole command tree; the flags' completion
// functions only when completing.
func newRootCmdFor(f *Factory, completing bool) *cobra.Command {
	io := f.IO
	wd := f.WorkDir
	if wd == "" {
		wd, _ = os.Getwd() // "": the process's
	}
	g := &globalOptions{io: io, getenv: f.Getenv, wd: wd, completing: completing}
	root := &cobra.Command{
		Use:   "qrun",
		Short: "Plan ModelOpt quantization sweeps with names that never change meaning",
		Long: `qrun turns a quantization selection (format × granularity) into the complete
ModelOpt recipe, a stable output directory and a registry row, and refuses any
change that would make a used name mean something else.

` + completionHelp,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(io.Out)
	root.SetErr(io.ErrOut)
	root.SetIn(io.In)
	pf := root.PersistentFlags()
	pf.StringVar(&g.confDir, "conf", "", "Hydra config folder holding quant_granularity/ and quant_pair/ (default: the vocabulary folders of qrun.yaml, conf/…)")
	pf.StringVar(&g.pf.configFile, "config", "", "project settings file (default: qrun.yaml found by walking up from the working directory)")
	pf.StringVar(&g.pf.db, "db", "", "registry: a SQLite path, sqlite:PATH, or a postgres:// URL for a team registry (default: $QRUN_DB, else database: in qrun.yaml, .qrun/qrun.db)")
	pf.StringVar(&g.pf.root, "root", "", "output root (default: $QRUN_ROOT, else output: in qrun.yaml, outputs/)")
	pf.BoolVar(&g.pf.allowNetworkFS, "allow-network-fs", false, "let a SQLite registry live on a network file system (unsafe: SQLite's locking is unreliable there)")
	g.confFlags = pf
	root.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		// An empty value (--root "$UNSET") must not quietly mean the default.
		for _, name := range []string{"conf", "config", "db", "root"} {
			if f := pf.Lookup(name); f != nil && f.Changed && strings.TrimSpace(f.Value.String()) == "" {
				return usageErrorf("--%s is empty: give a value, or leave the flag out for the default", name)
			}
		}
		catchSignals(c)
		return nil
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		// pflag's value errors start "invalid argument"; the others are
		// unknown flags and flags without their value.
		if strings.HasPrefix(err.Error(), "invalid argument ") {
			return &usageError{tidyFlagError(err)}
		}
		return &shapeError{err}
	})
	root.SetHelpCommand(newCmdHelp())
	root.AddCommand(newCmdInit(io, g), newCmdVocab(io, g), newCmdResolve(io, g), writes(newCmdPlan(io, g)), newCmdRuns(io, g), newCmdShow(io, g), newCmdDiff(io, g), writes(newCmdMark(io, g)), newCmdCompare(io, g), newCmdReport(io, g), writes(newCmdDoctor(io, g)), writes(newCmdDB(io, g)))
	setUpCompletionCmd(root)
	wrapArgs(root)
	return root
}

// wrapArgs makes positional-argument errors usage errors everywhere.
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		inner := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := inner(cmd, args); err != nil {
				return &shapeError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// catchesSignals marks a command that writes (the registry, run
// directories) and must undo what it has not recorded when stopped: its
// context is cancelled by SIGINT and SIGTERM. The others — reads, and
// writes of one file made atomically — keep the signals' default action,
// which ends them at once with the same exit status 130, and spare the
// signal handling at start-up (about 0.3 ms).
const catchesSignals = "qrun/catches-signals"

func catchSignals(c *cobra.Command) {
	for p := c; p != nil; p = p.Parent() {
		if p.Annotations[catchesSignals] != "" {
			if catch, ok := c.Context().Value(signalCatcher{}).(func()); ok {
				catch()
			}
			return
		}
	}
}

// writes marks a command as one that catches signals (see catchesSignals).
func writes(c *cobra.Command) *cobra.Command {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[catchesSignals] = "yes"
	return c
}

// run executes the command line and returns the exit code. Errors are
// classified here, once (SPEC §7).
func run(ctx context.Context, args []string, f *Factory) int {
	io := f.IO
	completing := len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd)
	root := newRootCmdFor(f, completing)
	root.SetArgs(joinJSONFieldArgs(root, args))
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	if isUnknownCommand(err) {
		if f := unknownGlobalFlag(root, args); f != "" && strings.HasPrefix(err.Error(), "unknown command ") {
			// cobra takes the word after an unknown flag for its value and
			// then complains about the next word as a command.
			err = shapeErrorf("unknown flag: %s", f)
		} else {
			err = &shapeError{errors.New(tidySuggestions(err.Error()))}
		}
	}
	code := classify(err)
	if code == exitError && ctx.Err() != nil {
		code = exitInterrupted // whatever the command made of its cancelled context
	}
	if code == exitInterrupted {
		err = interrupted(err)
	}
	printError(io, err)
	if code == exitUsage && cmd != nil {
		var se *shapeError
		if errors.As(err, &se) {
			fmt.Fprintf(io.ErrOut, "\n%s", cmd.UsageString())
		} else {
			fmt.Fprintf(io.ErrOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
	}
	return code
}

// unknownGlobalFlag returns the first flag before the command words that
// qrun does not know, or "".
func unknownGlobalFlag(root *cobra.Command, args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || a == "-" || !strings.HasPrefix(a, "-") {
			return ""
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "help", "h", "version", "v": // added by cobra when it runs
			continue
		}
		f := root.PersistentFlags().Lookup(name)
		if !strings.HasPrefix(a, "--") && name != "" {
			f = root.PersistentFlags().ShorthandLookup(name[:1])
		}
		if f == nil {
			return a
		}
		if !hasValue && f.NoOptDefVal == "" {
			i++ // the flag's value
		}
	}
	return ""
}

func isUnknownCommand(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ") || strings.HasPrefix(err.Error(), "unknown flag") || strings.HasPrefix(err.Error(), "unknown shorthand flag")
}

func classify(err error) int {
	var ue *usageError
	var be *blockedError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, store.ErrBlocked), errors.As(err, &be):
		return exitBlocked
	case errors.Is(err, vocab.ErrInvalidSelection):
		return exitSelection
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitError
}

// interrupted is the one line of a command stopped by a signal: a plan's
// own, which says what became of it, else "interrupted".
func interrupted(err error) error {
	var pe *plan.InterruptedError
	if errors.As(err, &pe) {
		return pe
	}
	return errors.New("interrupted")
}

// printError writes one line per problem, each prefixed with "qrun: ". A
// plan blocked by name stability also shows the old and new definitions.
func printError(io *IOStreams, err error) {
	if blocked := store.Blocked(err); len(blocked) > 0 {
		for _, b := range blocked {
			fmt.Fprintf(io.ErrOut, "qrun: blocked: %s\n", b.Error())
			show := oneLine
			if b.Reason == store.LayoutChanged {
				// A layout's definition is its template, not YAML.
				show = func(s string) string { return s }
			}
			if b.OldDefinition != "" {
				fmt.Fprintf(io.ErrOut, "  registered: %s\n", show(b.OldDefinition))
			}
			if b.NewDefinition != "" {
				fmt.Fprintf(io.ErrOut, "  now:        %s\n", show(b.NewDefinition))
			}
		}
		fmt.Fprintln(io.ErrOut, "qrun: nothing was written")
		return
	}
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Fprintf(io.ErrOut, "qrun: %s\n", line)
	}
}

// noArgs accepts no positional arguments. On a command with subcommands an
// argument is a mistyped subcommand, so the error suggests the closest one.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := suggestionsFor(cmd, args[0]); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %q?", s[0])
		}
		return &shapeError{errors.New(msg)}
	}
	return shapeErrorf("%s takes no arguments, got %s", cmd.CommandPath(), quoteArgs(args))
}

// newGroupCmd is a command that only holds subcommands; run alone, it
// names them (subs, in the order the error gives them).
func newGroupCmd(use, short, subs string, cmds ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return shapeErrorf("%s needs a subcommand: %s", use, subs)
		},
	}
	cmd.AddCommand(cmds...)
	return cmd
}

// oneArg accepts exactly one positional argument, described by what
// (e.g. "a NAME (a granularity or format)").
func oneArg(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return usageErrorf("%s needs %s", cmd.CommandPath(), what)
		case len(args) > 1:
			return usageErrorf("%s takes one argument, %s; got %d: %s", cmd.CommandPath(), what, len(args), quoteArgs(args))
		}
		return nil
	}
}

// suggestionsFor lists cmd's subcommands close to typed, with cobra's
// default distance (its SuggestionsFor uses 0 unless set).
func suggestionsFor(cmd *cobra.Command, typed string) []string {
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	return cmd.SuggestionsFor(typed)
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = fmt.Sprintf("%q", a)
	}
	return strings.Join(q, " ")
}

// tidySuggestions turns cobra's multi-line "Did you mean this?" block into
// one line: unknown command "vocb" for "qrun"; did you mean "vocab"?
func tidySuggestions(msg string) string {
	const marker = "\n\nDid you mean this?\n"
	i := strings.Index(msg, marker)
	if i < 0 {
		return msg
	}
	var q []string
	for _, s := range strings.Fields(msg[i+len(marker):]) {
		q = append(q, fmt.Sprintf("%q", s))
	}
	msg = msg[:i]
	if len(q) > 0 {
		msg += "; did you mean " + strings.Join(q, " or ") + "?"
	}
	return msg
}

// tidyFlagError rewrites pflag's value errors, which quote Go's strconv
// ("strconv.ParseBool: parsing \"x\": invalid syntax"), in the user's terms.
func tidyFlagError(err error) error {
	msg := err.Error()
	var val, flag string
	if n, _ := fmt.Sscanf(msg, "invalid argument %q for %q flag:", &val, &flag); n == 2 {
		switch {
		case strings.Contains(msg, "strconv.ParseBool"):
			return fmt.Errorf("invalid value %q for %s: use true or false (or the flag alone for true)", val, flag)
		case strings.Contains(msg, "strconv.ParseFloat") && strings.Contains(msg, "value out of range"):
			return fmt.Errorf("invalid value %q for %s: out of range for a float64", val, flag)
		case strings.Contains(msg, "value out of range"):
			return fmt.Errorf("invalid value %q for %s: out of range for an integer", val, flag)
		case strings.Contains(msg, "strconv."):
			return fmt.Errorf("invalid value %q for %s: not a number", val, flag)
		}
	}
	return err
}

// newCmdHelp is cobra's help command, except that an unknown topic is a
// usage error (exit 2), not help printed with exit 0.
func newCmdHelp() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			cmd, _, err := c.Root().Find(args)
			if err != nil || cmd == nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []string
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					out = append(out, sub.Name())
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if cmd == nil || err != nil || len(rest) > 0 {
				msg := fmt.Sprintf("unknown help topic %q", strings.Join(args, " "))
				if cmd != nil && len(rest) > 0 {
					if s := suggestionsFor(cmd, rest[0]); len(s) > 0 {
						msg += fmt.Sprintf("; did you mean %q?", strings.TrimSpace(cmd.CommandPath()+" "+s[0]))
					}
				}
				return &shapeError{errors.New(msg)}
			}
			cmd.InitDefaultHelpFlag()
			cmd.InitDefaultVersionFlag()
			return cmd.Help()
		},
	}
}
