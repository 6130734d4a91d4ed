package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/vocab"
)

type vocabExportOptions struct {
	IO     *IOStreams
	Global *globalOptions
	Dir    string
	Force  bool
}

func newCmdVocabExport(io *IOStreams, g *globalOptions, runF func(*vocabExportOptions) error) *cobra.Command {
	opts := &vocabExportOptions{IO: io, Global: g}
	cmd := &cobra.Command{
		Use:   "export DIR",
		Short: "Write the built-in vocabulary as Hydra group options (DIR/quant_granularity, DIR/quant_pair)",
		Long: `Write every built-in granularity and format as a Hydra config-group option:
DIR/quant_granularity/<name>.yaml and DIR/quant_pair/<name>.yaml. With
"qrun vocab export conf" a Hydra app can select quant_granularity=w_group64.
Files that exist with other content are refused unless --force.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = args[0]
			if runF != nil {
				return runF(opts)
			}
			return vocabExportRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "overwrite files that exist with other content")
	return cmd
}

func vocabExportRun(opts *vocabExportOptions) error {
	files, err := vocab.BuiltinFiles()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	if st, err := os.Stat(opts.Dir); err == nil && !st.IsDir() {
		return fmt.Errorf("%s is a file, not a folder: give the Hydra config folder to export into", opts.Dir)
	}
	// Check everything before writing anything.
	var clashes []string
	for _, n := range names {
		p := filepath.Join(opts.Dir, n)
		old, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("cannot read %s: %w", p, err)
		case !bytes.Equal(old, files[n]) && !opts.Force:
			clashes = append(clashes, p)
		}
	}
	if len(clashes) > 0 {
		return fmt.Errorf("%s exists with other content (%d such files); use --force to overwrite", clashes[0], len(clashes))
	}
	written, same := 0, 0
	for _, n := range names {
		p := filepath.Join(opts.Dir, n)
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, files[n]) {
			same++
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("cannot create %s: %w", filepath.Dir(p), err)
		}
		if err := manifest.WriteAtomic(p, files[n], 0o644); err != nil {
			return err
		}
		fmt.Fprintln(opts.IO.Out, p)
		written++
	}
	fmt.Fprintf(opts.IO.ErrOut, "wrote %d files to %s (%d already up to date)\n", written, opts.Dir, same)
	return nil
}
