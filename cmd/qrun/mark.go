package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/internal/suggest"
	"github.com/qrun-dev/qrun/store"
)

type markOptions struct {
	IO      *IOStreams
	Global  *globalOptions
	Target  string // run id or directory ("" until resolved)
	Status  store.Status
	Metrics map[string]float64
	Order   []string // metric keys in the order given, for the message
	Note    string   // free text kept with the status change
}

// markStatuses are the statuses a user sets; planned is qrun plan's.
var markStatuses = []string{string(store.StatusRunning), string(store.StatusSucceeded), string(store.StatusFailed)}

func newCmdMark(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &markOptions{IO: io, Global: g}
	var metricArgs []string
	cmd := &cobra.Command{
		Use:   "mark [RUN|DIR] [STATUS]",
		Short: "Record a run's status (running, succeeded, failed) and metrics",
		Long: `Record what happened to a run: its status, its metrics, or both. Each call
appends to the registry's event log; a run's status is its latest status event,
and a metric's value is the latest value recorded for its key.

  qrun mark RUN|DIR STATUS [--metric KEY=VALUE]…   set the status (and metrics)
  qrun mark RUN|DIR --metric KEY=VALUE…            record metrics only
  qrun mark STATUS [--metric KEY=VALUE]…           the run in $QRUN_RUN_DIR

RUN is a run id (qrun runs lists them) or a run directory. STATUS is running,
succeeded or failed, always the last word. Without RUN, the run directory in
$QRUN_RUN_DIR is marked, so a job can report from inside:

  export QRUN_RUN_DIR=<the run's dir>      # e.g. in the SLURM script
  qrun mark running
  python app.py … && qrun mark succeeded --metric acc=0.712 --metric ppl=7.91 \
                 || qrun mark failed

Metric values are numbers (0.712, -3, 1e-4); several keys per call, and a key
given twice keeps its last value. Concurrent marks from many jobs are safe:
each is one registry transaction.`,
		Example: `  qrun mark 1a2b3c4d5e6f running
  qrun mark outputs/Qwen3-8B/int8/w_group64 succeeded --metric acc=0.712
  qrun mark 1a2b3c4d5e6f --metric wikitext_ppl=7.91`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 2 {
				return usageErrorf("qrun mark takes at most two arguments, RUN|DIR and STATUS; got %d: %s", len(args), quoteArgs(args))
			}
			return nil
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			switch len(args) {
			case 0:
				if looksLikePath(toComplete) {
					return nil, cobra.ShellCompDirectiveFilterDirs
				}
				return append(filterPrefix(markStatuses, toComplete), runIDCompletions(cmd.Context(), g, toComplete)...), cobra.ShellCompDirectiveNoFileComp
			case 1:
				if isMarkStatus(args[0]) {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				return filterPrefix(markStatuses, toComplete), cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := parseMarkArgs(opts, args, len(metricArgs) > 0, g.getenv("QRUN_RUN_DIR")); err != nil {
				return err
			}
			m, order, err := parseMetrics(metricArgs)
			if err != nil {
				return err
			}
			opts.Metrics, opts.Order = m, order
			if opts.Note != "" && opts.Status == "" {
				return usageErrorf("--note goes with a status: qrun mark [RUN|DIR] running|succeeded|failed --note TEXT")
			}
			if len(opts.Note) > 4096 || strings.ContainsRune(opts.Note, 0) {
				return usageErrorf("--note must be text of at most 4096 bytes")
			}
			return markRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVar(&metricArgs, "metric", nil, "a metric `KEY=VALUE` (a number); repeat for several")
	cmd.Flags().StringVar(&opts.Note, "note", "", "a note kept with the status change (e.g. why it failed)")
	g.completeFlag(cmd, "metric", cobra.NoFileCompletions)
	return cmd
}

func isMarkStatus(s string) bool {
	for _, st := range markStatuses {
		if s == st {
			return true
		}
	}
	return false
}

// parseMarkArgs reads [RUN|DIR] [STATUS]: the status is the last word when
// it is one; a lone word that is not a status is the run (metrics only).
func parseMarkArgs(opts *markOptions, args []string, haveMetrics bool, runDirEnv string) error {
	var status string
	switch len(args) {
	case 2:
		opts.Target, status = args[0], args[1]
		if isMarkStatus(args[0]) && !isMarkStatus(args[1]) {
			return usageErrorf("the status comes last: qrun mark %s %s", quoteValue(args[1]), args[0])
		}
		if !isMarkStatus(status) {
			return badStatus(status)
		}
	case 1:
		switch {
		case isMarkStatus(args[0]):
			status = args[0]
		case args[0] == string(store.StatusPlanned) || closestStatus(args[0]) != "":
			// A mistyped status, not a run (a directory with such a name
			// is written ./done).
			return badStatus(args[0])
		case !haveMetrics:
			return usageErrorf("qrun mark %s: give a STATUS (running, succeeded or failed) after the run, or --metric KEY=VALUE", quoteValue(args[0]))
		default:
			opts.Target = args[0]
		}
	case 0:
		if !haveMetrics {
			return usageErrorf("qrun mark needs a STATUS (running, succeeded or failed) or --metric KEY=VALUE")
		}
	}
	if strings.TrimSpace(opts.Target) == "" && len(args) == 2 {
		return usageErrorf("the run is empty: give a run id or a run directory")
	}
	if opts.Target == "" {
		dir := runDirEnv
		if strings.TrimSpace(dir) == "" {
			return usageErrorf("no run given: name it (qrun mark RUN|DIR %s) or set QRUN_RUN_DIR to the run's directory", orWord(status, "STATUS"))
		}
		opts.Target = dir
	}
	opts.Status = store.Status(status)
	return nil
}

func orWord(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func badStatus(s string) error {
	msg := fmt.Sprintf("unknown status %s: use running, succeeded or failed", quoteValue(s))
	if s == string(store.StatusPlanned) {
		msg = "status planned is set by qrun plan; mark a run running, succeeded or failed"
	} else if c := closestStatus(s); c != "" {
		msg += fmt.Sprintf("; did you mean %q?", c)
	}
	return usageErrorf("%s", msg)
}

// statusWords are other words people use for a status.
var statusWords = map[string]string{
	"done": "succeeded", "success": "succeeded", "successful": "succeeded", "succeed": "succeeded",
	"ok": "succeeded", "completed": "succeeded", "complete": "succeeded", "finished": "succeeded",
	"fail": "failed", "failure": "failed", "error": "failed", "errored": "failed", "crashed": "failed",
	"run": "running", "started": "running", "start": "running",
}

// closestStatus is the status s probably means, or "".
func closestStatus(s string) string {
	if w, ok := statusWords[strings.ToLower(s)]; ok {
		return w
	}
	if isMarkStatus(strings.ToLower(s)) {
		return strings.ToLower(s)
	}
	return suggest.Closest(s, markStatuses)
}

// metricKeyRE is what a metric name looks like; it is at most 128 bytes
// long (checked apart: a counted repetition makes the regexp costly to
// compile, about 0.25 ms).
var metricKeyRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:/@+\-\[\]]*$`)

// parseMetrics reads --metric KEY=VALUE flags: values are finite numbers,
// a key given twice keeps its last value.
func parseMetrics(args []string) (map[string]float64, []string, error) {
	if len(args) == 0 {
		return nil, nil, nil
	}
	out := map[string]float64{}
	var order []string
	for _, a := range args {
		key, val, ok := strings.Cut(a, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok {
			return nil, nil, usageErrorf("--metric %s: give KEY=VALUE, e.g. --metric acc=0.712", quoteValue(a))
		}
		if len(key) > 128 || !metricKeyRE.MatchString(key) {
			return nil, nil, usageErrorf("--metric %s: the key %s is not a metric name (letters, digits and _ . : / @ + - [ ], at most 128)", quoteValue(a), quoteValue(key))
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			hint := ""
			if strings.Count(val, ",") == 1 && !strings.Contains(val, ".") {
				hint = " (use a dot as the decimal separator)"
			} else if strings.HasSuffix(val, "%") {
				hint = " (give the fraction or the number without %)"
			}
			if errors.Is(err, strconv.ErrRange) && math.IsInf(v, 0) {
				return nil, nil, usageErrorf("--metric %s: %s is out of range for a float64 (at most about 1.8e308)", quoteValue(a), quoteValue(val))
			}
			if err == nil {
				return nil, nil, usageErrorf("--metric %s: %s is not a finite number", quoteValue(a), quoteValue(val))
			}
			return nil, nil, usageErrorf("--metric %s: %s is not a number%s", quoteValue(a), quoteValue(val), hint)
		}
		if _, seen := out[key]; !seen {
			order = append(order, key)
		}
		out[key] = v
	}
	return out, order, nil
}

func markRun(ctx context.Context, opts *markOptions) error {
	st, err := opts.Global.openStore(ctx, false, true)
	if err != nil {
		return err
	}
	if st == nil {
		loc, _ := opts.Global.dbLocation()
		return fmt.Errorf("no registry at %s: mark from the project the run was planned in (where qrun.yaml is), or set QRUN_DB to its registry", redact(loc))
	}
	defer st.Close()
	r, err := findRun(ctx, st, opts.Global, opts.Target)
	if err != nil {
		return err
	}
	if err := st.Mark(ctx, r.ID, opts.Status, opts.Metrics, opts.Note); err != nil {
		return err
	}
	var parts []string
	if opts.Status != "" {
		parts = append(parts, string(opts.Status))
	}
	keys := append([]string(nil), opts.Order...)
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+"="+strconv.FormatFloat(opts.Metrics[k], 'g', -1, 64))
	}
	fmt.Fprintf(opts.IO.ErrOut, "marked run %s: %s\n", r.ID, strings.Join(parts, " "))
	return nil
}
