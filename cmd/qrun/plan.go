package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/compare"
	"github.com/qrun-dev/qrun/hydra"
	"github.com/qrun-dev/qrun/launch"
	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/plan"
	"github.com/qrun-dev/qrun/project"
	"github.com/qrun-dev/qrun/store"
	"github.com/qrun-dev/qrun/vocab"
)

type planOptions struct {
	IO            *IOStreams
	Global        *globalOptions
	Flags         plan.Flags
	Overrides     []string
	ModelOpt      string
	DryRun        bool
	SkipInvalid   bool
	Pending       bool
	RequireExport exportRequirement
	jsonOutput
	// Emit is the output form: dirs, hydra, hf_ptq or template (with
	// Template, from --emit template=… or --template).
	Emit     string
	Template string
	// MaxSweep is --max-sweep (0: max_sweep in qrun.yaml).
	MaxSweep int64
}

func newCmdPlan(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &planOptions{IO: io, Global: g}
	cmd := &cobra.Command{
		Use:   "plan [OVERRIDE…]",
		Short: "Turn a selection or sweep into run directories, manifests, recipes and registry rows",
		Long: `Plan runs before launching them. Select with flags or Hydra overrides:

  qrun plan --model Qwen/Qwen3-8B --format int4_awq --granularity w_group64,w_group128 --param seed=1,2
  qrun plan --model Qwen/Qwen3-8B quant_pair=int8 quant_granularity=w_group64,w_group128 'seed=range(0,4)'

quant_pair.format_name=… and quant_granularity.name=… are accepted as synonyms.
Comma lists sweep the cartesian product. Every combination is checked before
anything is written; a sweep is recorded whole or not at all.

The KV cache is the third axis (--kv-cache, or quant_kv_cache=fp8_cast,none):
none, or one of ModelOpt's KV presets, written into the recipe (hf_ptq
--recipe ignores --kv_cache_qformat). A selection without one gets kv_cache:
from qrun.yaml (qrun init writes fp8_cast, hf_ptq's default), else none.

Output: the run directories (default), --json, or one launch line per run,
each carrying the run's model, format, granularity, KV cache, params and
directory, quoted for a POSIX shell:

  --emit hydra      Hydra's group-selection form with hydra.run.dir, never -m:
                    qrun plan … --emit hydra | xargs -L1 python app.py
  --emit hf_ptq     ModelOpt's script: python examples/hf_ptq/hf_ptq.py
                    --pyt_ckpt_path M --recipe DIR/modelopt_recipe.yaml
                    --export_path DIR/export --qformat NAME (hf_ptq.python and
                    hf_ptq.script in qrun.yaml); params calib_size, calib_seq,
                    batch_size and dataset become its flags
  --emit template='TMPL' (or --template TMPL)
                    a Go template per run: .RunID .Dir .Recipe .Model .Format
                    .Granularity .KVCache .QFormat .Params .Hydra, with quote
                    (shell quoting) and join:
                    --template 'sbatch run.sh {{quote .Model}} {{quote .Recipe}}'

Each combination gets its export verdict for the ModelOpt target (what
export_hf_checkpoint makes of it: deployable, mislabelled or fails), one line
on stderr for each that is not deployable; --require-export (or
require_export: true in qrun.yaml) refuses those instead.

--pending prints only the runs of the sweep not yet succeeded (planned,
running or failed; see qrun mark), for resubmitting what is left:

  qrun plan … --pending --emit hydra | xargs -L1 python app.py`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Overrides = args
			if t, ok := strings.CutPrefix(opts.Emit, "template="); ok {
				if cmd.Flags().Changed("template") {
					return usageErrorf("--emit template=… and --template both give a template: choose one")
				}
				opts.Emit, opts.Template = "template", t
			}
			if cmd.Flags().Changed("template") {
				if opts.Emit != "" && opts.Emit != "template" {
					return usageErrorf("--template and --emit %s are two outputs: choose one", opts.Emit)
				}
				opts.Emit = "template"
			}
			switch opts.Emit {
			case "", "dirs", "hydra", "hf_ptq", "template":
			default:
				return usageErrorf("--emit %q: use dirs, hydra, hf_ptq or template='TMPL'", opts.Emit)
			}
			if opts.JSON && opts.Emit != "" && opts.Emit != "dirs" {
				return usageErrorf("--json and --emit %s are two outputs: choose one", opts.Emit)
			}
			opts.RequireExport.set = cmd.Flags().Changed("require-export")
			if cmd.Flags().Changed("max-sweep") && opts.MaxSweep < 1 {
				return usageErrorf("--max-sweep %d: give the largest number of runs to sweep, at least 1", opts.MaxSweep)
			}
			return planRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	listVar(f, &opts.Flags.Models, "model", "model id(s), e.g. Qwen/Qwen3-8B (default: model: in qrun.yaml)")
	listVar(f, &opts.Flags.Formats, "format", "format(s) (quant_pair.format_name), comma-separated to sweep")
	listVar(f, &opts.Flags.Granularities, "granularity", "granularity(ies) (quant_granularity.name), default: default")
	listVar(f, &opts.Flags.KVCaches, "kv-cache", "KV-cache setting(s) (quant_kv_cache): none or a ModelOpt KV preset (default: kv_cache: in qrun.yaml, else none)")
	f.StringArrayVar(&opts.Flags.Params, "param", nil, "identity parameter key=value (Hydra value syntax; comma lists and range() sweep)")
	f.StringVar(&opts.ModelOpt, "modelopt", "", "target ModelOpt version (default: modelopt: in qrun.yaml, 0.46)")
	f.BoolVar(&opts.DryRun, "dry-run", false, "check and print what would be planned; write nothing")
	f.BoolVar(&opts.SkipInvalid, "skip-invalid", false, "plan the valid combinations and report the skipped ones")
	f.BoolVar(&opts.Pending, "pending", false, "print only the runs not yet succeeded (for resubmitting an array)")
	f.BoolVar(&opts.RequireExport.flag, "require-export", false, "refuse (exit 4) combinations whose checkpoint export is not deployable (default: require_export in qrun.yaml)")
	addJSONFlag(cmd, g, &opts.jsonOutput, []planRunJSON{}, false)
	f.StringVar(&opts.Emit, "emit", "", "output form: dirs (default), hydra, hf_ptq or template='TMPL'")
	f.StringVar(&opts.Template, "template", "", "a launch line per run from a Go template (see above); same as --emit template=TMPL")
	f.Int64Var(&opts.MaxSweep, "max-sweep", 0, "refuse (exit 4) a sweep of more runs than this (default: max_sweep in qrun.yaml, 1000000)")
	completeSelection(cmd, g)
	cmd.ValidArgsFunction = completeOverrides(g)
	return cmd
}

type planRunJSON struct {
	ID               string         `json:"id"`
	Dir              string         `json:"dir"`
	Model            string         `json:"model"`
	Format           string         `json:"format"`
	Granularity      string         `json:"granularity"`
	KVCache          string         `json:"kv_cache"`
	FormatTyped      string         `json:"format_typed,omitempty"`
	GranularityTyped string         `json:"granularity_typed,omitempty"`
	KVCacheTyped     string         `json:"kv_cache_typed,omitempty"`
	Params           map[string]any `json:"params"`
	Status           string         `json:"status"`
	Created          bool           `json:"created"`
	Export           exportJSON     `json:"export"`
	Hydra            string         `json:"hydra"`
}

func planRun(ctx context.Context, opts *planOptions) error {
	// A sweep's live heap is a few chunks (a few MB) that it churns
	// through: collect at 5× that rather than 2×, but never let the heap
	// pass 24 MiB (the registry's page cache takes 40 more). --json holds
	// every run for its one document: no limit there.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	if !opts.JSON {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(24 << 20))
	}
	g := opts.Global
	p, err := g.project()
	if err != nil {
		return err
	}
	// The repository's state (two git processes, milliseconds; more in a
	// large repository) is read while the plan checks the selection.
	var git func() plan.GitInfo
	if !opts.DryRun {
		gitc := make(chan plan.GitInfo, 1)
		go func() { gitc <- gitInfo(p.Root) }()
		git = func() plan.GitInfo { return <-gitc }
	}
	groups := planGroups(p.Settings)
	if len(opts.Flags.Models) == 0 && p.Settings.Model != "" && !hasModelOverride(opts.Overrides, groups.Model) {
		opts.Flags.Models = []string{p.Settings.Model}
	}
	opts.Flags.MaxSweep = p.Settings.MaxSweep
	if opts.MaxSweep != 0 {
		opts.Flags.MaxSweep = opts.MaxSweep
	}
	opts.Flags.KVCacheDefault = p.Settings.KVCache
	var tmpl *launch.Template
	if opts.Emit == "template" {
		if tmpl, err = launch.ParseTemplate(opts.Template); err != nil {
			return usageErrorf("--template: %v", err)
		}
	}
	sel, err := plan.ParseSelection(opts.Flags, opts.Overrides, groups, p.Settings.IgnoreKeys)
	if err != nil {
		return asUsage(err)
	}
	target, err := g.target(opts.ModelOpt)
	if err != nil {
		return err
	}
	layoutTmpl, err := g.template()
	if err != nil {
		return err
	}
	root, err := g.outputRoot()
	if err != nil {
		return err
	}
	v, err := g.loadVocab()
	if err != nil {
		return err
	}
	require, err := opts.RequireExport.value(g)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	popts := plan.Options{
		Vocab: v, OutputRoot: root, Template: layoutTmpl, Target: target, Groups: groups,
		DryRun: opts.DryRun, SkipInvalid: opts.SkipInvalid, Pending: opts.Pending, RequireExport: require,
		QrunVersion: version, Host: host, Git: git, Now: time.Now, MaxSweep: opts.Flags.MaxSweep,
	}
	// A plan opens an existing registry at once (its models take part in
	// the checks); a first plan creates it only once every check passed, so
	// that a refused selection leaves nothing behind, not even an empty
	// registry: no SQLite file, no tables in a PostgreSQL database (an empty
	// database counts as no registry yet, as a missing file does).
	st, err := g.openStore(ctx, false, true)
	if err != nil {
		return err
	}
	if st == nil && !opts.DryRun {
		popts.Open = func(ctx context.Context) (store.Store, error) {
			var err error
			st, err = g.openStore(ctx, false, false)
			return st, err
		}
	}
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	popts.Store = st
	prog := newProgress(opts.IO, "writing runs", opts.JSON || opts.DryRun)
	popts.Progress = prog.fn()
	var out *bufio.Writer
	if !opts.JSON {
		// Plain and Hydra output go out as the plan hands the runs over,
		// after it is recorded: a sweep of any size is never held whole.
		out = bufio.NewWriterSize(opts.IO.Out, 64<<10)
		lines := &launchLines{emit: opts.Emit, template: tmpl, hfptq: launch.HFPTQ{Python: p.Settings.HFPTQ.Python, Script: p.Settings.HFPTQ.Script}}
		defer lines.notes(opts.IO.ErrOut)
		if opts.Emit == "hf_ptq" || opts.Emit == "template" {
			// Every line is written once before anything is: a run whose
			// line cannot be written refuses the plan, not its listing.
			check := &launchLines{emit: opts.Emit, template: tmpl, hfptq: lines.hfptq}
			popts.Check = func(r plan.Run) error {
				_, err := check.line(r)
				return err
			}
		}
		popts.Emit = func(r plan.Run) error {
			prog.done() // the runs are recorded: the progress line gives way to them
			line, err := lines.line(r)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(out, line)
			return err
		}
	}
	res, err := plan.Plan(ctx, popts, sel)
	prog.done()
	if err != nil {
		return asUsage(err)
	}
	if out != nil {
		if err := out.Flush(); err != nil {
			return err
		}
	}
	if err := noneValid(res, sel); err != nil {
		return err
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(opts.IO.ErrOut, "skipped: %s\n", s.Reason)
	}
	if opts.JSON {
		out := make([]planRunJSON, 0, len(res.Runs))
		for _, r := range res.Runs {
			out = append(out, planRunJSON{
				ID: r.ID, Dir: r.Dir, Model: r.Model, Format: r.Format, Granularity: r.Granularity, KVCache: r.KVCache,
				FormatTyped: r.FormatTyped, GranularityTyped: r.GranularityTyped, KVCacheTyped: r.KVCacheTyped,
				Params: paramsMap(r.Params), Status: r.Status, Created: r.Created, Export: toExportJSON(r.Export), Hydra: hydra.Line(r.HydraArgs),
			})
		}
		if err := opts.Exporter.write(opts.IO, out); err != nil {
			return err
		}
	}
	verb := "planned"
	if opts.DryRun {
		verb = "would plan (dry run, nothing written)"
	}
	if opts.Pending {
		fmt.Fprintf(opts.IO.ErrOut, "%s %s (%d new, %d already planned) under %s; %d not yet succeeded (printed)\n", verb, plural(res.Created+res.Resumed, "run"), res.Created, res.Resumed, root, res.Printed)
	} else {
		fmt.Fprintf(opts.IO.ErrOut, "%s %s (%d new, %d already planned) under %s\n", verb, plural(res.Printed, "run"), res.Created, res.Resumed, root)
	}
	writeVerdicts(opts.IO.ErrOut, res, target, opts.DryRun)
	return nil
}

// writeVerdicts says, on stderr, what ModelOpt's export makes of the plan's
// combinations: one line for each that is not deployable (a run that will
// not give a servable checkpoint is never planned silently), then the
// count of runs by verdict: "12 planned: 8 deployable, 2 mislabelled, 2 no
// export".
func writeVerdicts(w io.Writer, res *plan.Result, target modelopt.Version, dryRun bool) {
	if len(res.Verdicts) == 0 {
		return
	}
	counts := res.VerdictCounts()
	total := 0
	var notes []string             // in order of first appearance
	noted := map[string][]string{} // note → the combinations it is about
	for _, v := range res.Verdicts {
		total += v.Runs
		label := comboLabel(v.Format, v.Granularity, v.KVCache)
		switch v.Export.Kind {
		case modelopt.Mislabelled, modelopt.Fails:
			fmt.Fprintf(w, "export: %s (%s): %s\n", label, plural(v.Runs, "run"), v.Export.Summary())
		}
		for _, n := range v.Export.Notes {
			if noted[n] == nil {
				notes = append(notes, n)
			}
			noted[n] = append(noted[n], label)
		}
	}
	// What does not change a verdict but changes the checkpoint (lm_head
	// quantized, no K/V scales) is said once per plan, before the launch.
	for _, n := range notes {
		about := noted[n]
		if len(about) > 3 {
			about = append(about[:3:3], fmt.Sprintf("%d more", len(noted[n])-3))
		}
		fmt.Fprintf(w, "note: %s (%s)\n", n, strings.Join(about, "; "))
	}
	verb := "planned"
	if dryRun {
		verb = "would be planned"
	}
	var parts []string
	for _, k := range []struct {
		kind modelopt.VerdictKind
		word string
	}{{modelopt.Deployable, "deployable"}, {modelopt.Mislabelled, "mislabelled"}, {modelopt.Fails, "no export"}, {modelopt.Unverified, "unverified"}} {
		if n := counts[k.kind]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k.word))
		}
	}
	line := fmt.Sprintf("%d %s: %s", total, verb, strings.Join(parts, ", "))
	if counts[modelopt.Unverified] > 0 {
		line += fmt.Sprintf(" (qrun's export rule is checked against ModelOpt %s; the target is %s)", modelopt.VerifiedTarget, target)
	} else if counts[modelopt.Deployable] < total {
		line += " (--require-export plans only the deployable ones)"
	}
	fmt.Fprintln(w, line)
}

// noneValid refuses a --skip-invalid selection in which every combination
// was skipped: there is nothing to plan, and an empty success would let a
// launch script silently run nothing.
func noneValid(res *plan.Result, sel plan.Selection) error {
	if res.Created+res.Resumed > 0 || len(res.Skipped) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "no %s combination of the selection can be planned (%d skipped; nothing was written):", sel.Axes(), sel.Combinations())
	for _, s := range res.Skipped {
		fmt.Fprintf(&b, "\n  %s", s.Reason)
	}
	return &vocab.SelectionError{Msg: b.String()}
}

func hasModelOverride(args []string, key string) bool {
	for _, a := range args {
		if strings.HasPrefix(a, key+"=") {
			return true
		}
	}
	return false
}

// planGroups are the Hydra names of qrun.yaml's settings as a plan uses them.
func planGroups(s project.Settings) plan.Groups {
	return plan.Groups{Format: s.Groups.Format, Granularity: s.Groups.Granularity, KVCache: s.Groups.KVCache, Model: s.ModelKey}
}

// comboLabel names a combination on stderr: "fp8 × default", with
// " × kv_cache fp8_cast" unless the KV cache is none.
func comboLabel(format, granularity, kvCache string) string {
	s := format + " × " + granularity
	if kvCache != "" && kvCache != store.NoKVCache {
		s += " × kv_cache " + kvCache
	}
	return s
}

// launchLines writes a plan's runs in its output form, and gathers what to
// say once about them on stderr.
type launchLines struct {
	emit     string
	template *launch.Template
	hfptq    launch.HFPTQ
	ignored  map[string]bool // params no hf_ptq flag takes
	noQ      map[string]bool // formats without a --qformat
}

func (l *launchLines) line(r plan.Run) (string, error) {
	switch l.emit {
	case "hydra":
		return hydra.Line(r.HydraArgs), nil
	case "hf_ptq":
		line, ignored, err := launch.HFPTQLine(l.hfptq, launchRun(r))
		if err != nil {
			return "", fmt.Errorf("run %s: --emit hf_ptq: %w", r.ID, err)
		}
		if l.ignored == nil {
			l.ignored, l.noQ = map[string]bool{}, map[string]bool{}
		}
		for _, k := range ignored {
			l.ignored[k] = true
		}
		if r.QFormat == "" {
			l.noQ[r.Format] = true
		}
		return line, nil
	case "template":
		line, err := l.template.Line(launchRun(r))
		if err != nil {
			return "", &usageError{fmt.Errorf("--template: run %s: %v", r.ID, err)}
		}
		return line, nil
	}
	return r.Dir, nil
}

// notes says once what the hf_ptq lines leave out.
func (l *launchLines) notes(w io.Writer) {
	if len(l.ignored) > 0 {
		keys := slices.Sorted(maps.Keys(l.ignored))
		fmt.Fprintf(w, "hf_ptq: %s recorded in the runs only: hf_ptq has no such flag (it takes %s)\n",
			strings.Join(keys, ", "), strings.Join(launch.HFPTQFlags, ", "))
	}
	if len(l.noQ) > 0 {
		fmts := slices.Sorted(maps.Keys(l.noQ))
		fmt.Fprintf(w, "hf_ptq: format %s has no ModelOpt preset, so its lines carry no --qformat and hf_ptq reads its default (fp8) for the export format and the batch-size probe\n", strings.Join(fmts, ", "))
	}
}

// launchRun is a planned run as a launch line sees it.
func launchRun(r plan.Run) launch.Run {
	return launch.Run{RunID: r.ID, Dir: r.Dir, Model: r.Model, Format: r.Format, Granularity: r.Granularity,
		KVCache: r.KVCache, QFormat: r.QFormat, Params: r.AllParams(), Hydra: hydra.Line(r.HydraArgs)}
}

// paramsMap is a run's params for --json, each value's type kept (1000.0
// a float), as runs --json shows them.
func paramsMap(ps []manifest.Param) map[string]any {
	return compare.ParamsForJSON(plan.ParamsJSON(ps))
}

// gitInfo reads the commit and dirty flag of the repository holding dir,
// if any (best effort: no git, no repository, no information).
func gitInfo(dir string) plan.GitInfo {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return plan.GitInfo{}
	}
	info := plan.GitInfo{Commit: strings.TrimSpace(string(out))}
	status, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output()
	info.Dirty = err == nil && len(strings.TrimSpace(string(status))) > 0
	return info
}

// asUsage turns a malformed selection into a usage error (exit 2).
func asUsage(err error) error {
	if errors.Is(err, plan.ErrUsage) {
		return &usageError{err}
	}
	return err
}
