package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/project"
)

func newCmdInit(io *IOStreams, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "init [DIR]",
		Short: "Write qrun.yaml and .qrun/ (never overwrites)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			if st, err := os.Stat(g.abs(dir)); err != nil || !st.IsDir() {
				return fmt.Errorf("%s is not a folder: create it first, or run qrun init inside it", dir)
			}
			file, err := project.InitAt(g.abs(dir), dir)
			if err != nil {
				return err
			}
			fmt.Fprintln(io.Out, file)
			fmt.Fprintln(io.Out, filepath.Join(dir, project.StateDir)+string(filepath.Separator))
			fmt.Fprintf(io.ErrOut, "initialized a qrun project in %s: edit %s, then qrun plan\n", dir, project.FileName)
			return nil
		},
	}
}
