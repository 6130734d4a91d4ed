package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/plan"
)

type vocabCheckOptions struct {
	IO     *IOStreams
	Global *globalOptions
	jsonOutput
}

// blockedError is a name-stability violation (exit 3).
type blockedError struct{ msg string }

func (e *blockedError) Error() string { return e.msg }

func newCmdVocabCheck(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &vocabCheckOptions{IO: io, Global: g}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Compare the vocabulary in effect with the registry; exit 3 on any violation (for CI and pre-commit)",
		Long: `Compare the vocabulary in effect with the registry and exit 3 listing every
violation: a used name whose meaning changed, a new name defined like a used one
(a rename in disguise), a used name missing from the vocabulary (deleted or
renamed; set retired: true instead), a layout change. Exit 0 when clean.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return vocabCheckRun(cmd.Context(), opts)
		},
	}
	addJSONFlag(cmd, g, &opts.jsonOutput, []plan.Violation{}, true)
	return cmd
}

func vocabCheckRun(ctx context.Context, opts *vocabCheckOptions) error {
	v, err := opts.Global.loadVocab()
	if err != nil {
		return err
	}
	tmpl, err := opts.Global.template()
	if err != nil {
		return err
	}
	st, err := opts.Global.openStore(ctx, true, true)
	if err != nil {
		return err
	}
	var violations []plan.Violation
	if st != nil {
		defer st.Close()
		violations, err = plan.CheckVocabulary(ctx, v, st, tmpl)
		if err != nil {
			return err
		}
	}
	if err := writeList(opts.IO, opts.jsonOutput, violations, writeViolation); err != nil {
		return err
	}
	if len(violations) > 0 {
		return &blockedError{fmt.Sprintf("vocab check: %s of name stability", plural(len(violations), "violation"))}
	}
	if !opts.JSON {
		fmt.Fprintln(opts.IO.ErrOut, "vocab check: the vocabulary agrees with the registry")
	}
	return nil
}

// writeViolation prints a violation with the definitions it is between.
func writeViolation(w io.Writer, x plan.Violation) {
	fmt.Fprintln(w, x.Message)
	if x.OldDefinition != "" || x.NewDefinition != "" {
		fmt.Fprintf(w, "  registered: %s\n", oneLine(x.OldDefinition))
		if x.NewDefinition != "" {
			fmt.Fprintf(w, "  now:        %s\n", oneLine(x.NewDefinition))
		}
	}
}

// oneLine shows a canonical definition (YAML) on one line, flow style.
func oneLine(def string) string {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(def), &n); err != nil {
		return def
	}
	v, err := modelopt.FromNode(&n)
	if err != nil {
		return def
	}
	return modelopt.Format(v)
}
