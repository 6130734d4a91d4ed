package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/compare"
	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/report"
	"github.com/qrun-dev/qrun/store"
)

type reportOptions struct {
	// cmp holds the flags report shares with compare, checked and gathered
	// by compare's own code.
	cmp    compareOptions
	Lower  bool
	Higher bool
	Output string
}

func newCmdReport(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &reportOptions{cmp: compareOptions{IO: io, Global: g}}
	c := &opts.cmp
	cmd := &cobra.Command{
		Use:   "report --metric M [--rows DIM] [--cols DIM] [-o FILE]",
		Short: "Write one self-contained HTML heatmap of a metric across formats and granularities",
		Long: `Write the cells of qrun compare as one HTML file that needs no network (no
script, no font, no CDN: it opens on an air-gapped login node): a heatmap of
--metric per model, rows by --rows and columns by --cols as compare has them,
several runs per cell aggregated by --agg.

Colours are viridis (readable with colour-vision deficiencies and in grey),
bright for better: say which direction is better with --lower-is-better or
--higher-is-better, or once in qrun.yaml:

  metrics:
    wikitext_ppl: {better: lower}

Each cell shows its value, its difference to --baseline (a RUN or
FORMAT/GRANULARITY, per model), its export verdict (✓ deployable,
⚠ mislabelled, ✗ fails; the reason on hover) and links to its run's
manifest.yaml, relative to the file, so keep the file beside outputs/.
Cells without a value say why: no run, failed, running, planned, no value.

-o FILE writes the file atomically (stderr says where); without -o, or with
-o -, the page goes to standard output and links are relative to the working
directory. SOURCE_DATE_EPOCH fixes the time in the header.`,
		Example: `  qrun report --metric wikitext_ppl --lower-is-better -o sweep.html
  qrun report --metric acc --higher-is-better --rows granularity --cols seed --agg mean -o acc.html
  qrun report --metric wikitext_ppl --baseline fp8/default --model Qwen/Qwen3-8B -o ppl.html   # direction from qrun.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return reportRun(cmd.Context(), opts)
		},
	}
	addCompareFlags(cmd, g, c, "the metric to show (required)", "values of runs with these statuses (default succeeded; all for every status)")
	f := cmd.Flags()
	f.BoolVar(&opts.Lower, "lower-is-better", false, "lower values of the metric are better (perplexity, loss)")
	f.BoolVar(&opts.Higher, "higher-is-better", false, "higher values of the metric are better (accuracy)")
	f.StringVarP(&opts.Output, "output", "o", "", "write the HTML to this `FILE` (- or none: standard output)")
	return cmd
}

func reportRun(ctx context.Context, opts *reportOptions) error {
	c := &opts.cmp
	if strings.TrimSpace(c.Metric) == "" {
		return usageErrorf("qrun report needs --metric NAME (a metric recorded with qrun mark --metric)")
	}
	if opts.Lower && opts.Higher {
		return usageErrorf("--lower-is-better and --higher-is-better: choose one")
	}
	if err := checkCompareOptions(c); err != nil {
		return err
	}
	toStdout := opts.Output == "" || opts.Output == "-"
	linkDir := c.Global.wd
	if !toStdout {
		if err := c.Global.checkOutputFile(opts.Output); err != nil {
			return err
		}
		linkDir = filepath.Dir(c.Global.abs(opts.Output))
	}
	if real, err := filepath.EvalSymlinks(linkDir); err == nil {
		linkDir = real
	}
	generated, err := reportTime(c.Global.getenv)
	if err != nil {
		return err
	}
	p, err := c.Global.project()
	if err != nil {
		return err
	}
	got, err := gatherCompared(ctx, c)
	if err != nil {
		return err
	}
	better := report.Better("")
	switch {
	case opts.Lower:
		better = report.Lower
	case opts.Higher:
		better = report.Higher
	default:
		better = report.Better(p.Settings.Metrics[c.Metric].Better)
	}
	if better == "" {
		return usageErrorf("--metric %s: which direction is better is not known; pass --lower-is-better or --higher-is-better, or set metrics: {%s: {better: lower}} in qrun.yaml", c.Metric, c.Metric)
	}
	in := report.Input{
		Project: filepath.Base(p.Root), ProjectPath: p.Root, Version: version, Generated: generated,
		Options: compare.Options{Metric: c.Metric, Rows: c.Rows, Cols: c.Cols, Agg: compare.Agg(c.Agg), Where: c.where},
		Better:  better, Filters: reportFilters(opts), Baseline: c.Baseline, Gathered: got,
		Link: func(r store.Run) string {
			target := filepath.Join(r.Dir, manifest.ManifestFile)
			if real, err := filepath.EvalSymlinks(target); err == nil {
				target = real
			}
			href, err := report.RelLink(linkDir, target)
			if err != nil {
				return ""
			}
			return href
		},
		ExportText: exportText,
	}
	rep, err := report.Build(in)
	if err != nil {
		return &usageError{err} // compare's refusals: the remedy is on the command line
	}
	data, err := rep.HTML()
	if err != nil {
		return err
	}
	if toStdout {
		_, err := c.IO.Out.Write(data)
		return err
	}
	if err := manifest.WriteAtomic(c.Global.abs(opts.Output), data, 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %s", opts.Output, osReason(err))
	}
	cells := 0
	for _, h := range rep.Heatmaps {
		cells += h.Values
	}
	fmt.Fprintf(c.IO.ErrOut, "wrote %s (%s, %s with a value)\n", opts.Output, plural(len(rep.Heatmaps), "heatmap"), plural(cells, "cell"))
	return nil
}

// reportTime is the time the header shows: SOURCE_DATE_EPOCH when set
// (reproducible builds' convention), else now.
func reportTime(getenv func(string) string) (time.Time, error) {
	s := getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Now(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%s is not a number of seconds since 1970: set it to one (date +%%s), or unset it for the current time", quoteValue(s))
	}
	return time.Unix(n, 0).UTC(), nil
}

// reportFilters describe the selection for the report's header.
func reportFilters(opts *reportOptions) []string {
	c := &opts.cmp
	var out []string
	for _, f := range []struct {
		flag string
		vals []string
	}{{"model", c.Models}, {"format", c.Formats}, {"granularity", c.Grans}, {"kv-cache", c.KVs}} {
		if len(f.vals) > 0 {
			out = append(out, "--"+f.flag+" "+strings.Join(f.vals, ","))
		}
	}
	for _, p := range c.Params {
		out = append(out, "--param "+p)
	}
	if c.allStatuses {
		out = append(out, "--status all")
	} else if len(c.Statuses) != 1 || c.Statuses[0] != string(store.StatusSucceeded) {
		out = append(out, "--status "+strings.Join(c.Statuses, ","))
	}
	return out
}
