package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/compare"
	"github.com/qrun-dev/qrun/internal/suggest"
	"github.com/qrun-dev/qrun/namekind"
	"github.com/qrun-dev/qrun/store"
)

type compareOptions struct {
	IO       *IOStreams
	Global   *globalOptions
	Metric   string
	Rows     string
	Cols     string
	Agg      string
	Models   []string
	Formats  []string
	Grans    []string
	KVs      []string
	Statuses []string
	Params   []string
	jsonOutput
	CSV         bool
	Markdown    bool
	Baseline    string
	where       map[string]string
	allStatuses bool
}

func newCmdCompare(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &compareOptions{IO: io, Global: g}
	cmd := &cobra.Command{
		Use:   "compare --metric M [--rows DIM] [--cols DIM]",
		Short: "Compare a metric across formats and granularities: a pivot table of the runs' results",
		Long: `Pivot one metric (recorded with qrun mark --metric) of the registry's runs:
rows by --rows, columns by --cols — format, granularity, model, or an identity
parameter such as seed. A cell several runs fall into (seeds, say) shows the
aggregate (--agg: last recorded, min, max, mean) and the run count: 0.712 (n=3).
Cells without runs are blank.

Only succeeded runs are compared unless --status says otherwise (--status all).
Runs of different models, formats or granularities never share a cell: a
dimension that is neither rows nor columns must have one value (filter with
--model, --format, --granularity, --param key=value).

Output: a table on a terminal, tab-separated with the header row in a pipe,
--csv (numbers only, full precision), --md (a Markdown table for a report),
--json (one object per filled cell, with each run's value).

--baseline RUN or FORMAT/GRANULARITY adds each cell's difference to that
baseline (a run by id or a unique prefix of 4+, or the aggregate of one
format × granularity's runs) to the table, --md and --json: 10.9 (+0.6).`,
		Example: `  qrun compare --metric acc
  qrun compare --metric wikitext_ppl --rows format --cols granularity --agg mean --md
  qrun compare --metric acc --rows granularity --cols seed --format w4a8_int
  qrun compare --metric acc --json row,column,value,n
  qrun compare --metric wikitext_ppl --md --baseline fp8/default`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkCompareOptions(opts); err != nil {
				return err
			}
			return compareRun(cmd.Context(), opts)
		},
	}
	addCompareFlags(cmd, g, opts, "the metric to compare (required)", "only runs with these statuses (default succeeded; all for every status)")
	f := cmd.Flags()
	addJSONFlag(cmd, g, &opts.jsonOutput, []compareCellJSON{}, true)
	f.BoolVar(&opts.CSV, "csv", false, "print CSV (header row, numbers only)")
	f.BoolVar(&opts.Markdown, "md", false, "print a Markdown table")
	return cmd
}

// addCompareFlags defines the flags qrun compare and qrun report share:
// the metric, the layout, the aggregation, the run filters, the baseline.
func addCompareFlags(cmd *cobra.Command, g *globalOptions, opts *compareOptions, metricHelp, statusHelp string) {
	f := cmd.Flags()
	f.StringVar(&opts.Metric, "metric", "", metricHelp)
	f.StringVar(&opts.Rows, "rows", compare.DimFormat, "rows by: format, granularity, kv_cache, model or a parameter key")
	f.StringVar(&opts.Cols, "cols", compare.DimGranularity, "columns by: format, granularity, kv_cache, model or a parameter key")
	f.StringVar(&opts.Agg, "agg", string(compare.AggLast), "several runs in a cell: last (recorded last), min, max or mean")
	listVar(f, &opts.Models, "model", "only these model ids")
	listVar(f, &opts.Formats, "format", "only these formats (aliases accepted)")
	listVar(f, &opts.Grans, "granularity", "only these granularities (aliases accepted)")
	listVar(f, &opts.KVs, "kv-cache", "only these KV-cache settings (none for unquantized; aliases accepted)")
	listVar(f, &opts.Statuses, "status", statusHelp)
	f.StringArrayVar(&opts.Params, "param", nil, "only runs with this identity parameter value, `key=value` (repeatable)")
	f.StringVar(&opts.Baseline, "baseline", "", "show each cell's difference to a `RUN` (id or 4+ prefix) or FORMAT/GRANULARITY")
	completeSelection(cmd, g)
	g.completeFlag(cmd, "agg", cobra.FixedCompletions([]string{"last", "min", "max", "mean"}, cobra.ShellCompDirectiveNoFileComp))
	g.completeFlag(cmd, "status", cobra.FixedCompletions([]string{"succeeded", "failed", "running", "planned", "all"}, cobra.ShellCompDirectiveNoFileComp))
	dims := func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return []string{compare.DimFormat, compare.DimGranularity, compare.DimKVCache, compare.DimModel, "seed"}, cobra.ShellCompDirectiveNoFileComp
	}
	g.completeFlag(cmd, "rows", dims)
	g.completeFlag(cmd, "cols", dims)
	g.completeFlag(cmd, "model", func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return registryModels(c.Context(), g), cobra.ShellCompDirectiveNoFileComp
	})
}

func checkCompareOptions(opts *compareOptions) error {
	if strings.TrimSpace(opts.Metric) == "" {
		return usageErrorf("qrun compare needs --metric NAME (a metric recorded with qrun mark --metric)")
	}
	n := 0
	for _, on := range []bool{opts.JSON, opts.CSV, opts.Markdown} {
		if on {
			n++
		}
	}
	if n > 1 {
		return usageErrorf("--json, --csv and --md are different outputs: choose one")
	}
	if opts.CSV && opts.Baseline != "" {
		return usageErrorf("--baseline with --csv: CSV holds the values only; use --md or --json for the differences")
	}
	if !compare.Agg(opts.Agg).Valid() {
		return usageErrorf("--agg %s: use last, min, max or mean", quoteValue(opts.Agg))
	}
	for flag, d := range map[string]string{"rows": opts.Rows, "cols": opts.Cols} {
		if !compare.ValidDim(d) {
			return usageErrorf("--%s %s: use format, granularity, kv_cache, model or a parameter key (e.g. seed)", flag, quoteValue(d))
		}
	}
	if opts.Rows == opts.Cols {
		return usageErrorf("--rows and --cols are both %s: choose two different dimensions", opts.Rows)
	}
	for flag, names := range map[string][]string{"granularity": opts.Grans, "format": opts.Formats, "model": opts.Models, "kv-cache": opts.KVs} {
		for _, n := range names {
			if strings.TrimSpace(n) == "" {
				return usageErrorf("--%s %q: an empty name matches nothing; give names, or leave the flag out for all", flag, strings.Join(names, ","))
			}
		}
	}
	for _, s := range opts.Statuses {
		if s == "all" {
			opts.allStatuses = true
			continue
		}
		if !store.Status(s).Valid() {
			return usageErrorf("--status %s: use planned, running, succeeded, failed or all", quoteValue(s))
		}
	}
	if opts.allStatuses && len(opts.Statuses) > 1 {
		return usageErrorf("--status all already includes every status")
	}
	if len(opts.Statuses) == 0 {
		opts.Statuses = []string{string(store.StatusSucceeded)}
	}
	opts.where = map[string]string{}
	for _, p := range opts.Params {
		k, v, ok := strings.Cut(p, "=")
		if !ok || !compare.ValidDim(k) || v == "" {
			return usageErrorf("--param %s: give key=value, e.g. --param seed=1", quoteValue(p))
		}
		if k == compare.DimFormat || k == compare.DimGranularity || k == compare.DimModel {
			return usageErrorf("--param %s: filter %s with --%s", quoteValue(p), k, k)
		}
		opts.where[k] = v
	}
	return nil
}

type compareRunValue struct {
	ID    string  `json:"id"`
	Value float64 `json:"value"`
}

type compareCellJSON struct {
	Row       string            `json:"row"`
	Column    string            `json:"column"`
	RowsBy    string            `json:"rows_by"`
	ColumnsBy string            `json:"columns_by"`
	Metric    string            `json:"metric"`
	Agg       string            `json:"agg"`
	Value     float64           `json:"value"`
	N         int               `json:"n"`
	Runs      []compareRunValue `json:"runs"`
	// Delta is the value minus --baseline's, absent without one.
	Delta *float64 `json:"delta,omitempty"`
}

func compareRun(ctx context.Context, opts *compareOptions) error {
	got, err := gatherCompared(ctx, opts)
	if err != nil {
		return err
	}
	points, excluded := got.Points, got.Excluded
	t, err := compare.Build(points, compare.Options{
		Metric: opts.Metric, Rows: opts.Rows, Cols: opts.Cols, Agg: compare.Agg(opts.Agg), Where: opts.where,
	})
	if err != nil {
		return &usageError{err} // the remedy is on the command line
	}
	var base *compare.Baseline
	if opts.Baseline != "" {
		if base, err = compare.FindBaseline(points, opts.Baseline, compare.Agg(opts.Agg)); err != nil {
			return &usageError{err}
		}
		if !opts.JSON {
			over := "run " + base.Runs[0]
			if len(base.Runs) > 1 {
				over = fmt.Sprintf("%s of %d runs", opts.Agg, len(base.Runs))
			}
			fmt.Fprintf(opts.IO.ErrOut, "baseline: %s = %s (%s)\n", opts.Baseline, compare.FormatValue(base.Value), over)
		}
	}
	for _, s := range store.Statuses {
		if n := excluded[s]; n > 0 {
			fmt.Fprintf(opts.IO.ErrOut, "note: %s with %s left out (--status %s or all includes %s)\n",
				plural(n, string(s)+" run"), opts.Metric, s, map[bool]string{true: "it", false: "them"}[n == 1])
		}
	}
	if len(t.Varying) > 0 && !opts.JSON {
		fmt.Fprintf(opts.IO.ErrOut, "note: cells with n>1 aggregate (%s) runs differing in %s\n", opts.Agg, strings.Join(t.Varying, ", "))
	}
	switch {
	case opts.JSON:
		return opts.Exporter.write(opts.IO, compareJSON(t, base))
	case opts.CSV:
		return writeCompareCSV(opts, t)
	case opts.Markdown:
		return writeCompareMarkdown(opts, t, base)
	}
	tb := &table{header: append([]string{opts.Rows + ` \ ` + opts.Cols}, t.Cols...)}
	for _, r := range t.Rows {
		row := []string{r}
		for _, c := range t.Cols {
			row = append(row, cellText(t.Cell(r, c), base))
		}
		tb.add(row...)
	}
	if !opts.IO.IsTTY {
		// A pivot's column labels are data: the header row stays in a pipe.
		tb.rows = append([][]string{tb.header}, tb.rows...)
	}
	return tb.write(opts.IO.Out, opts.IO.IsTTY)
}

// gatherCompared reads the runs and metrics compare (and report) pivot:
// the filters of opts, the statuses compared; an error when no run has a
// value to compare.
func gatherCompared(ctx context.Context, opts *compareOptions) (*compare.Gathered, error) {
	v, _ := opts.Global.loadVocab() // a broken vocabulary must not stop queries
	filter := store.RunFilter{
		Format:      v.RecordedNames(namekind.Format, opts.Formats),
		Granularity: v.RecordedNames(namekind.Granularity, opts.Grans),
		Model:       opts.Models,
		KVCache:     v.RecordedNames(namekind.KVCache, opts.KVs),
	}
	st, err := opts.Global.openStore(ctx, true, true)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("no registry yet: plan runs (qrun plan) and record their metrics (qrun mark RUN succeeded --metric %s=VALUE) first", opts.Metric)
	}
	defer st.Close()
	statuses := []store.Status{}
	for _, s := range opts.Statuses {
		statuses = append(statuses, store.Status(s))
	}
	if opts.allStatuses {
		statuses = nil
	}
	runs, err := st.RunsWithMetrics(ctx, filter) // one query, however many runs
	if err != nil {
		return nil, err
	}
	got, err := compare.Gather(runs, compare.Query{Metric: opts.Metric, Where: opts.where, Statuses: statuses})
	if err != nil {
		return nil, err
	}
	if len(got.Points) == 0 {
		return nil, noPointsError(opts, got.Seen, got.Excluded)
	}
	return got, nil
}

// noPointsError says why nothing can be compared: an unknown metric (with
// the nearest recorded one), or runs left out by status.
func noPointsError(opts *compareOptions, seen map[string]bool, excluded map[store.Status]int) error {
	if !seen[opts.Metric] {
		names := slices.Sorted(maps.Keys(seen))
		msg := fmt.Sprintf("no run has metric %s", quoteValue(opts.Metric))
		switch c := suggest.Closest(opts.Metric, names); {
		case c != "":
			msg += fmt.Sprintf("; did you mean %q?", c)
		case len(names) > 0:
			msg += "; metrics recorded: " + strings.Join(names, ", ")
		default:
			msg += "; record metrics with qrun mark RUN succeeded --metric " + opts.Metric + "=VALUE"
		}
		return fmt.Errorf("%s", msg)
	}
	var parts []string
	for _, s := range store.Statuses {
		if n := excluded[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	if len(parts) == 0 {
		return fmt.Errorf("no run with metric %s has %s", quoteValue(opts.Metric), strings.Join(opts.Params, " and "))
	}
	return fmt.Errorf("no %s run has metric %s (runs with it: %s); --status all compares them", strings.Join(opts.Statuses, " or "), quoteValue(opts.Metric), strings.Join(parts, ", "))
}

func cellText(c *compare.Cell, base *compare.Baseline) string {
	if c == nil {
		return ""
	}
	var extra []string
	if c.N > 1 {
		extra = append(extra, fmt.Sprintf("n=%d", c.N))
	}
	if base != nil {
		extra = append(extra, compare.FormatDelta(base.Delta(c.Value)))
	}
	s := compare.FormatValue(c.Value)
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return s
}

func compareJSON(t *compare.Table, base *compare.Baseline) []compareCellJSON {
	out := []compareCellJSON{}
	for _, r := range t.Rows {
		for _, c := range t.Cols {
			cell := t.Cell(r, c)
			if cell == nil {
				continue
			}
			runs := make([]compareRunValue, len(cell.Runs))
			for i, id := range cell.Runs {
				runs[i] = compareRunValue{ID: id, Value: cell.Values[i]}
			}
			j := compareCellJSON{
				Row: r, Column: c, RowsBy: t.Options.Rows, ColumnsBy: t.Options.Cols,
				Metric: t.Metric, Agg: string(t.Agg), Value: cell.Value, N: cell.N, Runs: runs,
			}
			if base != nil {
				d := base.Delta(cell.Value)
				j.Delta = &d
			}
			out = append(out, j)
		}
	}
	return out
}

func writeCompareCSV(opts *compareOptions, t *compare.Table) error {
	w := csv.NewWriter(opts.IO.Out)
	if err := w.Write(append([]string{opts.Rows + `\` + opts.Cols}, t.Cols...)); err != nil {
		return err
	}
	for _, r := range t.Rows {
		row := []string{r}
		for _, c := range t.Cols {
			s := ""
			if cell := t.Cell(r, c); cell != nil {
				s = strconv.FormatFloat(cell.Value, 'g', -1, 64)
			}
			row = append(row, s)
		}
		if err := w.Write(row); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

func writeCompareMarkdown(opts *compareOptions, t *compare.Table, base *compare.Baseline) error {
	esc := strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ")
	var b strings.Builder
	cells := func(vals []string) {
		b.WriteString("|")
		for _, v := range vals {
			b.WriteString(" " + printable(esc.Replace(v)) + " |")
		}
		b.WriteString("\n")
	}
	title := fmt.Sprintf("%s (%s): %s \\ %s", opts.Metric, opts.Agg, opts.Rows, opts.Cols)
	if base != nil {
		title += fmt.Sprintf(", Δ vs %s = %s", opts.Baseline, compare.FormatValue(base.Value))
	}
	cells(append([]string{title}, t.Cols...))
	sep := []string{"---"}
	for range t.Cols {
		sep = append(sep, "---:")
	}
	b.WriteString("|" + strings.Join(sep, "|") + "|\n")
	for _, r := range t.Rows {
		row := []string{r}
		for _, c := range t.Cols {
			row = append(row, cellText(t.Cell(r, c), base))
		}
		cells(row)
	}
	_, err := fmt.Fprint(opts.IO.Out, b.String())
	return err
}
