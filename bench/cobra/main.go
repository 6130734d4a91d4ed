// Command cobra is a plain cobra program, the floor for `qrun --version`:
// one command with a version and nothing else. bench/run.sh starts it
// beside qrun.
//
//	cobra --version
package main

import (
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{Use: "cobra", Short: "A plain cobra program", Version: "dev", SilenceUsage: true}
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
