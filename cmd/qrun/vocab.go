package main

import "github.com/spf13/cobra"

func newCmdVocab(io *IOStreams, g *globalOptions) *cobra.Command {
	return newGroupCmd("vocab", "List, show and export granularity and format names", "list, show, check, export, match",
		newCmdVocabList(io, g, nil), newCmdVocabShow(io, g, nil), newCmdVocabExport(io, g, nil), newCmdVocabCheck(io, g), newCmdVocabMatch(io, g))
}
