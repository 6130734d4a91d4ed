package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/compare"
	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/store"
)

type showOptions struct {
	IO     *IOStreams
	Global *globalOptions
	Target string
	jsonOutput
}

func newCmdShow(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &showOptions{IO: io, Global: g}
	cmd := &cobra.Command{
		Use:   "show RUN|DIR",
		Short: "Show one run (by id or directory) with its status history",
		Args:  oneArg("a RUN id or a run DIR"),
		ValidArgsFunction: completeFirstArg(func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return completeRunArg(cmd.Context(), g, toComplete)
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Target = args[0]
			return showRun(cmd.Context(), opts)
		},
	}
	addJSONFlag(cmd, g, &opts.jsonOutput, showJSON{}, true)
	return cmd
}

type eventJSON struct {
	Kind   string `json:"kind"`
	Status string `json:"status"`
	// Payload is the event's own data: a JSON object, not a string of it
	// (a payload that is not JSON, from a hostile registry, stays text).
	Payload any    `json:"payload,omitempty"`
	At      string `json:"at"`
	// Metrics are a metric event's values.
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

type showJSON struct {
	runJSON
	// Metrics are the latest value of each metric.
	Metrics map[string]float64 `json:"metrics"`
	Events  []eventJSON        `json:"events"`
}

// findRun finds a run by id, by a unique prefix of its id (4 or more hex
// digits), or by its directory (as recorded, or through the manifest it
// holds). A word that is both a run's directory on disk and an id prefix
// is the directory; an ambiguous prefix is a usage error listing the
// candidates.
func findRun(ctx context.Context, st store.Store, g *globalOptions, target string) (store.Run, error) {
	if st == nil {
		return store.Run{}, fmt.Errorf("no registry yet: plan a run first (qrun plan)")
	}
	r, err := st.Run(ctx, target)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return r, err
	}
	byDir := func() (store.Run, error) {
		abs := filepath.Clean(g.abs(target))
		if r, err := st.RunByDir(ctx, abs); err == nil || !errors.Is(err, store.ErrNotFound) {
			return r, err
		}
		if id, merr := manifest.ReadIdentity(abs); merr == nil {
			return st.Run(ctx, id.RunID)
		}
		return store.Run{}, store.ErrNotFound
	}
	lookups := []func() (store.Run, error){byDir}
	if store.IsRunIDPrefix(target) {
		byPrefix := func() (store.Run, error) {
			r, err := store.RunByPrefix(ctx, st, target)
			var amb *store.AmbiguousError
			if errors.As(err, &amb) {
				return store.Run{}, &usageError{err}
			}
			return r, err
		}
		lookups = []func() (store.Run, error){byPrefix, byDir}
		if isDir(g.abs(target)) {
			lookups = []func() (store.Run, error){byDir, byPrefix}
		}
	}
	for _, find := range lookups {
		if r, err := find(); err == nil || !errors.Is(err, store.ErrNotFound) {
			return r, err
		}
	}
	if len(target) < store.MinPrefix && target != "" && strings.Trim(target, "0123456789abcdef") == "" {
		return store.Run{}, &notFoundError{fmt.Sprintf("no run %s: give at least %d characters of a run id (qrun runs lists them), or a run directory", quoteValue(target), store.MinPrefix)}
	}
	return store.Run{}, &notFoundError{fmt.Sprintf("no run %s: give a run id (qrun runs lists them) or a run directory", quoteValue(target))}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// exportText is a registered verdict on one line.
func exportText(e store.ExportVerdict) string {
	switch {
	case e.Verdict == store.ExportUnknown:
		return "unknown (planned before qrun gave export verdicts; re-plan it to fill the verdict in)"
	case e.QuantAlgo != "" && e.Why != "":
		return fmt.Sprintf("%s (%s): %s", e.Verdict, e.QuantAlgo, e.Why)
	case e.QuantAlgo != "":
		return fmt.Sprintf("%s (%s)", e.Verdict, e.QuantAlgo)
	case e.Why != "":
		return e.Verdict + ": " + e.Why
	}
	return e.Verdict
}

// payloadJSON is an event's payload for --json: the object it holds, or
// the text itself when it holds none.
func payloadJSON(p string) any {
	if p == "" {
		return nil
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(p))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || dec.More() {
		return p
	}
	return v
}

type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }

func showRun(ctx context.Context, opts *showOptions) error {
	st, err := opts.Global.openStore(ctx, true, true)
	if err != nil {
		return err
	}
	if st != nil {
		defer st.Close()
	}
	r, err := findRun(ctx, st, opts.Global, opts.Target)
	if err != nil {
		return err
	}
	events, err := st.Events(ctx, r.ID)
	if err != nil {
		return err
	}
	out := showJSON{runJSON: toRunJSON(r), Events: []eventJSON{}}
	for _, e := range events {
		out.Events = append(out.Events, eventJSON{Kind: string(e.Kind), Status: string(e.Status), Payload: payloadJSON(e.Payload), At: e.At.UTC().Format(time.RFC3339), Metrics: eventMetrics(e)})
	}
	latest, err := compare.Metrics(events)
	if err != nil {
		return err
	}
	out.Metrics = map[string]float64{}
	for k, m := range latest {
		out.Metrics[k] = m.Value
	}
	if opts.JSON {
		return opts.Exporter.write(opts.IO, out)
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "run %s\n", r.ID)
	fmt.Fprintf(w, "status:       %s\n", r.Status)
	fmt.Fprintf(w, "model:        %s\n", r.Model)
	fmt.Fprintf(w, "format:       %s\n", r.Format)
	fmt.Fprintf(w, "granularity:  %s\n", r.Granularity)
	fmt.Fprintf(w, "params:       %s\n", paramsText(r.Params))
	fmt.Fprintf(w, "dir:          %s\n", r.Dir)
	fmt.Fprintf(w, "modelopt:     %s\n", r.ModelOpt)
	fmt.Fprintf(w, "export:       %s\n", exportText(r.Export))
	fmt.Fprintf(w, "config:       %s\n", r.ConfigFP)
	fmt.Fprintf(w, "created:      %s\n", out.Created)
	if len(out.Metrics) > 0 {
		fmt.Fprintln(w, "metrics:")
		writeMetricLines(w, latest)
	}
	fmt.Fprintln(w, "history:")
	for _, e := range events {
		fmt.Fprintln(w, historyLine(e))
	}
	return nil
}
