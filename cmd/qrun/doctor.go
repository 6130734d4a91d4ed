package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/doctor"
	"github.com/qrun-dev/qrun/manifest"
)

type doctorOptions struct {
	IO     *IOStreams
	Global *globalOptions
	Fix    bool
	jsonOutput
}

func newCmdDoctor(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &doctorOptions{IO: io, Global: g}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Compare the registry with the run directories; --fix repairs what is safe to repair",
		Long: `Compare the registry with the output root and report every disagreement:
registered runs whose directory or files are missing, run directories the
registry does not know (an interrupted plan), files edited by hand (their
sha256 differs from what qrun wrote), temporary files left by an interrupted
write, and the registry's own integrity.

With --fix: lost files are rewritten byte for byte from the registry, unknown
run directories with a whole, consistent manifest are adopted, temporary files
are removed. Files edited by hand are never overwritten.
Exit 0 when everything agrees (after --fix), 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return doctorRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Fix, "fix", false, "repair: rewrite lost files, adopt interrupted runs, remove temporary files")
	addJSONFlag(cmd, g, &opts.jsonOutput, []doctor.Problem{}, true)
	return cmd
}

// unhealthyError is a doctor run that found problems it did not fix (exit 1).
type unhealthyError struct{ n int }

func (e *unhealthyError) Error() string {
	return fmt.Sprintf("doctor: %s the registry and the run directories disagree", plural(e.n, "problem"))
}

func doctorRun(ctx context.Context, opts *doctorOptions) error {
	g := opts.Global
	root, err := g.outputRoot()
	if err != nil {
		return err
	}
	tmpl, err := g.template()
	if err != nil {
		return err
	}
	v, _ := g.loadVocab() // adopting needs it only for names the registry lacks
	st, err := g.openStore(ctx, !opts.Fix, !opts.Fix)
	if err != nil {
		return err
	}
	if st == nil {
		fmt.Fprintln(opts.IO.ErrOut, "doctor: no registry yet: nothing was planned here (if it was lost, qrun doctor --fix adopts the run directories)")
		if opts.JSON {
			return opts.Exporter.write(opts.IO, []doctor.Problem{})
		}
		return nil
	}
	defer st.Close()
	problems, err := doctor.Run(ctx, doctor.Options{Store: st, Root: root, Template: tmpl, Vocab: v, Fix: opts.Fix,
		Writer: manifest.RegistryWriter(st.ID())})
	if err != nil {
		return err
	}
	if err := writeList(opts.IO, opts.jsonOutput, problems, writeProblem); err != nil {
		return err
	}
	if n := doctor.Unfixed(problems); n > 0 {
		return &unhealthyError{n}
	}
	if !opts.JSON {
		fmt.Fprintln(opts.IO.ErrOut, "doctor: the registry and the run directories agree")
	}
	return nil
}

// writeProblem prints a problem on one line: whether it was fixed or can
// be, what it is, and where.
func writeProblem(w io.Writer, p doctor.Problem) {
	state := ""
	switch {
	case p.Fixed:
		state = "fixed: "
	case p.Fixable:
		state = "fixable: "
	}
	where := p.Path
	if p.RunID != "" {
		where = "run " + p.RunID + " " + where
	}
	fmt.Fprintf(w, "%s%s: %s (%s)\n", state, p.Kind, p.Detail, where)
}
