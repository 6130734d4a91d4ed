package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/compare"
	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/store"
)

type diffOptions struct {
	IO     *IOStreams
	Global *globalOptions
	A, B   string
	jsonOutput
}

func newCmdDiff(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &diffOptions{IO: io, Global: g}
	cmd := &cobra.Command{
		Use:   "diff RUN RUN",
		Short: "Show what differs between two runs: identity, resolved attributes, recipe entries, export verdicts, metrics",
		Long: `Compare two runs (by id, a unique prefix of 4+, or directory): their identity
and fingerprints, the resolved ModelOpt attributes per role (weights,
activations) and the recipe's quant_cfg entries (from the run files), the
export verdicts and the latest metrics. One line per difference,
"key: A → B"; nothing when the runs agree on everything but their id.`,
		Example: `  qrun diff 0282f1d5 7d1e99a0
  qrun diff outputs/Qwen3-8B/int8/w_group64 outputs/Qwen3-8B/fp8/w_group64 --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageErrorf("%s takes two runs (ids or directories); got %d", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.A, opts.B = args[0], args[1]
			return diffRun(cmd.Context(), opts)
		},
	}
	addJSONFlag(cmd, g, &opts.jsonOutput, []compare.Change{}, true)
	return cmd
}

func diffRun(ctx context.Context, opts *diffOptions) error {
	st, err := opts.Global.openStore(ctx, true, true)
	if err != nil {
		return err
	}
	if st != nil {
		defer st.Close()
	}
	var fields [2][]compare.Field
	var ids [2]string
	for i, target := range []string{opts.A, opts.B} {
		r, err := findRun(ctx, st, opts.Global, target)
		if err != nil {
			return err
		}
		ids[i] = r.ID
		if fields[i], err = runFields(ctx, st, r, opts.IO); err != nil {
			return err
		}
	}
	changes := compare.Diff(fields[0], fields[1])
	if opts.JSON {
		return opts.Exporter.write(opts.IO, nonNil(changes))
	}
	if ids[0] == ids[1] {
		fmt.Fprintf(opts.IO.ErrOut, "%s and %s are the same run, %s\n", opts.A, opts.B, ids[0])
		return nil
	}
	if len(changes) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "runs %s and %s differ only in their id\n", ids[0], ids[1])
		return nil
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "runs %s → %s\n", ids[0], ids[1])
	section := ""
	for _, c := range changes {
		if c.Section != section {
			section = c.Section
			fmt.Fprintf(w, "%s:\n", section)
		}
		fmt.Fprintf(w, "  %s: %s → %s\n", printable(c.Key), diffValue(c.A), diffValue(c.B))
	}
	return nil
}

func diffValue(v string) string {
	if v == "" {
		return "(none)"
	}
	return printable(v)
}

// runFields reads what a diff compares of r; a run file that is missing
// (a run directory deleted, say) is said on stderr and left out.
func runFields(ctx context.Context, st store.Store, r store.Run, io *IOStreams) ([]compare.Field, error) {
	events, err := st.Events(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	metrics, err := compare.Metrics(events)
	if err != nil {
		return nil, err
	}
	var files [2][]byte
	for i, name := range []string{manifest.ManifestFile, manifest.RecipeFile} {
		b, err := os.ReadFile(filepath.Join(r.Dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(io.ErrOut, "note: run %s has no %s in %s; left out of the diff\n", r.ID, name, r.Dir)
			continue
		}
		if err != nil {
			return nil, err
		}
		files[i] = b
	}
	return compare.RunFields(r, metrics, files[0], files[1])
}
