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
		Args: oneArg("a folder DIR to write the Hydra group options into"),
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
	g := opts.Global
	if f := fileInTheWay(g.abs(opts.Dir)); f == g.abs(opts.Dir) {
		return fmt.Errorf("%s is a file, not a folder: give the Hydra config folder to export into", opts.Dir)
	} else if f != "" {
		return fmt.Errorf("cannot export into %s: %s is a file, not a folder", opts.Dir, g.rel(f))
	}
	// Check everything before writing anything.
	var clashes []string
	for _, n := range names {
		p := filepath.Join(opts.Dir, n)
		old, err := os.ReadFile(g.abs(p))
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("cannot read %s: %s", p, osReason(err))
		case !bytes.Equal(old, files[n]) && !opts.Force:
			clashes = append(clashes, p)
		}
	}
	if len(clashes) > 0 {
		if len(clashes) == 1 {
			return fmt.Errorf("%s exists with other content; nothing written: use --force to overwrite it", clashes[0])
		}
		return fmt.Errorf("%s and %s exist with other content; nothing written: use --force to overwrite them", clashes[0], plural(len(clashes)-1, "other file"))
	}
	written, same := 0, 0
	for _, n := range names {
		p := filepath.Join(opts.Dir, n)
		if old, err := os.ReadFile(g.abs(p)); err == nil && bytes.Equal(old, files[n]) {
			same++
			continue
		}
		if err := os.MkdirAll(g.abs(filepath.Dir(p)), 0o755); err != nil {
			return fmt.Errorf("cannot create %s: %s", filepath.Dir(p), osReason(err))
		}
		if err := manifest.WriteAtomic(g.abs(p), files[n], 0o644); err != nil {
			return fmt.Errorf("cannot write %s: %s", p, osReason(err))
		}
		fmt.Fprintln(opts.IO.Out, p)
		written++
	}
	fmt.Fprintf(opts.IO.ErrOut, "wrote %s to %s (%d already up to date)\n", plural(written, "file"), opts.Dir, same)
	return nil
}
