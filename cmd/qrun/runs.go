package main

import (
	"context"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/compare"
	"github.com/qrun-dev/qrun/hydra"
	"github.com/qrun-dev/qrun/namekind"
	"github.com/qrun-dev/qrun/plan"
	"github.com/qrun-dev/qrun/store"
)

type runsOptions struct {
	IO     *IOStreams
	Global *globalOptions
	Filter store.RunFilter
	Since  string
	Params []string // --param key=value
	Count  bool
	jsonOutput
}

func newCmdRuns(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &runsOptions{IO: io, Global: g}
	cmd := &cobra.Command{
		Use:     "runs",
		Aliases: []string{"ls"},
		Short:   "List planned runs, newest first, filtered by granularity, format, model, status, age",
		Example: `  qrun runs --granularity w_group64
  qrun runs --format int8,fp8 --since 7d --json
  qrun runs --status succeeded --count
  qrun runs --export mislabelled,fails --json id,export`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Filter.Limit < 0 {
				return usageErrorf("--limit %d: give a positive number, or 0 for no limit", opts.Filter.Limit)
			}
			for flag, names := range map[string][]string{"granularity": opts.Filter.Granularity, "format": opts.Filter.Format, "model": opts.Filter.Model, "kv-cache": opts.Filter.KVCache} {
				for _, n := range names {
					if strings.TrimSpace(n) == "" {
						return usageErrorf("--%s %q: an empty name matches nothing; give names, or leave the flag out for all", flag, strings.Join(names, ","))
					}
				}
			}
			for _, s := range opts.Filter.Status {
				if !store.Status(s).Valid() {
					return usageErrorf("--status %q: use planned, running, succeeded or failed", s)
				}
			}
			for _, v := range opts.Filter.Export {
				if !slices.Contains(store.ExportVerdicts, v) {
					return usageErrorf("--export %q: use %s", v, strings.Join(store.ExportVerdicts, ", "))
				}
			}
			if opts.Count && len(opts.JSONFields) > 0 {
				return usageErrorf("--count --json prints {\"count\": N}: it has no run fields to select")
			}
			for _, p := range opts.Params {
				pair, err := plan.ParamFilter(p)
				if err != nil {
					return usageErrorf("%v", err)
				}
				opts.Filter.Params = append(opts.Filter.Params, pair)
			}
			if opts.Since != "" {
				t, err := parseSince(opts.Since, time.Now())
				if err != nil {
					return usageErrorf("--since %q: %v", opts.Since, err)
				}
				opts.Filter.Since = t
			}
			return runsRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	listVar(f, &opts.Filter.Granularity, "granularity", "only these granularities (aliases accepted)")
	listVar(f, &opts.Filter.Format, "format", "only these formats (aliases accepted)")
	listVar(f, &opts.Filter.Model, "model", "only these model ids")
	listVar(f, &opts.Filter.KVCache, "kv-cache", "only these KV-cache settings (none for unquantized; aliases accepted)")
	listVar(f, &opts.Filter.Status, "status", "only these statuses: planned, running, succeeded, failed")
	listVar(f, &opts.Filter.Export, "export", "only these export verdicts: deployable, mislabelled, fails, unverified, unknown")
	f.StringArrayVar(&opts.Params, "param", nil, "only runs with this identity parameter, `key=value` in Hydra's syntax, its type kept: seed=1000 an int, seed=1000.0 a float (repeatable)")
	f.StringVar(&opts.Since, "since", "", "only runs planned since a duration ago (7d, 12h, 30m) or a date (2026-11-01, RFC 3339)")
	f.IntVar(&opts.Filter.Limit, "limit", 50, "at most this many runs (0: all)")
	f.BoolVar(&opts.Count, "count", false, "print only the number of matching runs")
	addJSONFlag(cmd, g, &opts.jsonOutput, []runJSON{}, true)
	completeSelection(cmd, g)
	g.completeFlag(cmd, "status", cobra.FixedCompletions([]string{"planned", "running", "succeeded", "failed"}, cobra.ShellCompDirectiveNoFileComp))
	g.completeFlag(cmd, "export", cobra.FixedCompletions(store.ExportVerdicts, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

var durationRE = regexp.MustCompile(`^([0-9]+)(w|d|h|m|s)$`)

// parseSince reads 7d, 12h, 30m, 2w, a date (2026-11-01) or RFC 3339.
func parseSince(s string, now time.Time) (time.Time, error) {
	if m := durationRE.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return time.Time{}, fmt.Errorf("duration is too large")
		}
		unit := map[string]time.Duration{"w": 7 * 24 * time.Hour, "d": 24 * time.Hour, "h": time.Hour, "m": time.Minute, "s": time.Second}[m[2]]
		if n > int(math.MaxInt64/unit) {
			return time.Time{}, nil // longer than anything recorded: every run
		}
		return clampSince(now.Add(-time.Duration(n) * unit)), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return clampSince(t), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return clampSince(t), nil
	}
	return time.Time{}, fmt.Errorf("not a duration (7d, 12h, 30m) or a date (2026-11-01, 2026-11-01T12:00:00Z)")
}

// clampSince keeps a --since time within what the registry's nanosecond
// times can hold (years 1678 to 2262): earlier means every run, later means
// none.
func clampSince(t time.Time) time.Time {
	if lo := time.Unix(0, math.MinInt64); t.Before(lo) {
		return time.Time{}
	}
	if hi := time.Unix(0, math.MaxInt64); t.After(hi) {
		return hi
	}
	return t
}

type runJSON struct {
	ID            string         `json:"id"`
	Dir           string         `json:"dir"`
	Model         string         `json:"model"`
	Format        string         `json:"format"`
	Granularity   string         `json:"granularity"`
	KVCache       string         `json:"kv_cache"`
	Params        map[string]any `json:"params"`
	Status        string         `json:"status"`
	ModelOpt      string         `json:"modelopt"`
	Export        exportJSON     `json:"export"`
	FormatFP      string         `json:"format_fingerprint"`
	GranularityFP string         `json:"granularity_fingerprint"`
	KVCacheFP     string         `json:"kv_cache_fingerprint,omitempty"`
	ConfigFP      string         `json:"config_fingerprint"`
	Created       string         `json:"created"`
	Updated       string         `json:"updated"`
}

func toRunJSON(r store.Run) runJSON {
	return runJSON{
		ID: r.ID, Dir: r.Dir, Model: r.Model, Format: r.Format, Granularity: r.Granularity, KVCache: r.KVCache,
		Params: compare.ParamsForJSON(r.Params), Status: string(r.Status), ModelOpt: r.ModelOpt,
		Export:   exportJSON{Verdict: r.Export.Verdict, QuantAlgo: r.Export.QuantAlgo, Why: r.Export.Why},
		FormatFP: r.FormatFP, GranularityFP: r.GranularityFP, KVCacheFP: r.KVCacheFP, ConfigFP: r.ConfigFP,
		Created: r.CreatedAt.UTC().Format(time.RFC3339), Updated: r.UpdatedAt.UTC().Format(time.RFC3339),
	}
}

func runsRun(ctx context.Context, opts *runsOptions) error {
	v, _ := opts.Global.loadVocab() // a broken vocabulary must not stop queries
	opts.Filter.Granularity = v.RecordedNames(namekind.Granularity, opts.Filter.Granularity)
	opts.Filter.Format = v.RecordedNames(namekind.Format, opts.Filter.Format)
	opts.Filter.KVCache = v.RecordedNames(namekind.KVCache, opts.Filter.KVCache)
	st, err := opts.Global.openStore(ctx, true, true)
	if err != nil {
		return err
	}
	var runs []store.Run
	n := 0
	if st != nil {
		defer st.Close()
		if opts.Count {
			n, err = st.CountRuns(ctx, opts.Filter)
		} else {
			runs, err = st.Runs(ctx, opts.Filter)
		}
		if err != nil {
			return err
		}
	}
	if opts.Count {
		if opts.JSON {
			return opts.Exporter.write(opts.IO, map[string]int{"count": n})
		}
		_, err := fmt.Fprintln(opts.IO.Out, n)
		return err
	}
	if opts.JSON {
		out := make([]runJSON, 0, len(runs))
		for _, r := range runs {
			out = append(out, toRunJSON(r))
		}
		return opts.Exporter.write(opts.IO, out)
	}
	t := &table{header: []string{"ID", "STATUS", "EXPORT", "MODEL", "FORMAT", "GRANULARITY", "PARAMS", "CREATED", "DIR", "KV_CACHE"}}
	for _, r := range runs {
		created := r.CreatedAt.UTC().Format(time.RFC3339)
		if opts.IO.IsTTY {
			created = r.CreatedAt.Local().Format("2006-01-02 15:04")
		}
		t.add(r.ID, string(r.Status), r.Export.Verdict, r.Model, r.Format, r.Granularity, paramsText(r.Params), created, r.Dir, r.KVCache)
	}
	if len(runs) == 0 && opts.IO.IsTTY {
		fmt.Fprintln(opts.IO.ErrOut, "no runs match")
		return nil
	}
	return t.write(opts.IO.Out, opts.IO.IsTTY)
}

// paramsText shows parameters as key=value,… sorted by key.
func paramsText(s string) string {
	m := compare.DecodeParams(s)
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + hydra.Quote(m[k])
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}
