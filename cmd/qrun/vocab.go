package main

import "github.com/spf13/cobra"

func newCmdVocab(io *IOStreams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vocab",
		Short: "List, show and export granularity and format names",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return shapeErrorf("vocab needs a subcommand: list, show, check, export, match")
		},
	}
	cmd.AddCommand(newCmdVocabList(io, g, nil), newCmdVocabShow(io, g, nil), newCmdVocabExport(io, g, nil), newCmdVocabCheck(io, g), newCmdVocabMatch(io, g))
	return cmd
}
