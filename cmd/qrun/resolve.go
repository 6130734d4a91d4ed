package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/namekind"
	"github.com/qrun-dev/qrun/vocab"
)

type resolveOptions struct {
	IO          *IOStreams
	Global      *globalOptions
	Format      string
	Granularity string
	KVCache     string // "" until given: kv_cache: in qrun.yaml, else none
	ModelOpt    string
	Output      string
	jsonOutput
	RequireExport exportRequirement
}

func newCmdResolve(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &resolveOptions{IO: io, Global: g}
	cmd := &cobra.Command{
		Use:   "resolve --format F [--granularity G] [--kv-cache K]",
		Short: "Print the complete ModelOpt PTQ recipe for one format × granularity × KV cache; touches nothing",
		Long: `Print the complete ModelOpt PTQ recipe for one format × granularity × KV
cache, as hf_ptq --recipe reads it; touches nothing. The recipe itself is
YAML only: JSON cannot hold its integer block_sizes keys, so --json gives
the recipe's facts (names, fingerprints, export verdict) with the quantize
section's keys as strings.`,
		Example: `  qrun resolve --format w4a8_int --granularity recipe_match_channel_token
  qrun resolve --format fp8 --kv-cache fp8_cast
  qrun resolve --format int8 --granularity w_group64 --modelopt 0.43 -o recipe.yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Format == "" {
				return usageErrorf("--format is required (a quant_pair.format_name, e.g. int4_awq)")
			}
			if opts.JSON && opts.Output != "" {
				return usageErrorf("--json and --output cannot be combined: the recipe file is YAML only (JSON cannot hold its integer block_sizes keys)")
			}
			opts.RequireExport.set = cmd.Flags().Changed("require-export")
			return resolveRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "", "format (quant_pair.format_name)")
	cmd.Flags().StringVar(&opts.Granularity, "granularity", "default", "granularity (quant_granularity.name)")
	cmd.Flags().StringVar(&opts.KVCache, "kv-cache", "", "KV-cache setting (quant_kv_cache): none or a ModelOpt KV preset (default: kv_cache: in qrun.yaml, else none)")
	cmd.Flags().StringVar(&opts.ModelOpt, "modelopt", modelopt.DefaultTarget.String(), "target ModelOpt version: 0.44-0.46 (list form) or 0.43 (legacy form)")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "write the recipe to this file instead of standard output")
	addJSONFlag(cmd, g, &opts.jsonOutput, resolveJSON{}, true)
	cmd.Flags().BoolVar(&opts.RequireExport.flag, "require-export", false, "refuse (exit 4) a combination whose checkpoint export is not deployable (default: require_export in qrun.yaml)")
	completeSelection(cmd, g)
	g.completeFlag(cmd, "modelopt", cobra.FixedCompletions([]string{"0.46", "0.45", "0.44", "0.43"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// completeSelection completes --format, --granularity and --kv-cache with
// the vocabulary's names.
func completeSelection(cmd *cobra.Command, g *globalOptions) {
	completeNames(cmd, "format", g, namekind.Format)
	completeNames(cmd, "granularity", g, namekind.Granularity)
	completeNames(cmd, "kv-cache", g, namekind.KVCache)
}

func completeNames(cmd *cobra.Command, flag string, g *globalOptions, k namekind.Kind) {
	g.completeFlag(cmd, flag, func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		v, err := g.loadVocab()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return v.Names(k), cobra.ShellCompDirectiveNoFileComp
	})
}

type resolveJSON struct {
	Format            string     `json:"format"`
	Granularity       string     `json:"granularity"`
	KVCache           string     `json:"kv_cache"`
	FormatTyped       string     `json:"format_typed,omitempty"`
	GranularityTyped  string     `json:"granularity_typed,omitempty"`
	KVCacheTyped      string     `json:"kv_cache_typed,omitempty"`
	ModelOpt          string     `json:"modelopt"`
	Section           string     `json:"section"`
	Fingerprint       string     `json:"fingerprint"`
	FormatFingerprint string     `json:"format_fingerprint"`
	GranFingerprint   string     `json:"granularity_fingerprint"`
	KVFingerprint     string     `json:"kv_cache_fingerprint,omitempty"`
	Quantize          any        `json:"quantize"`
	Notes             []string   `json:"notes"`
	Export            exportJSON `json:"export"`
	JSONNote          string     `json:"json_note"`
}

// exportJSON is an export verdict (SPEC §11.2) in JSON.
type exportJSON struct {
	Verdict          string `json:"verdict"`
	QuantAlgo        string `json:"quant_algo"`
	KVCacheQuantAlgo string `json:"kv_cache_quant_algo,omitempty"`
	Why              string `json:"why"`
	ModelOpt         string `json:"modelopt,omitempty"`
}

func toExportJSON(v modelopt.Verdict) exportJSON {
	return exportJSON{Verdict: string(v.Kind), QuantAlgo: v.QuantAlgo, KVCacheQuantAlgo: v.KVCacheQuantAlgo, Why: v.Why, ModelOpt: v.Target.String()}
}

// exportLine is the verdict on one line of stderr.
func exportLine(v modelopt.Verdict) string {
	return fmt.Sprintf("export (ModelOpt %s): %s", v.Target, v.Summary())
}

// exportRequirement is --require-export of plan and resolve: flag is its
// value, set says it was given (else qrun.yaml decides).
type exportRequirement struct{ flag, set bool }

// value reports whether non-deployable combinations are refused: the flag
// when given, else require_export in qrun.yaml.
func (r exportRequirement) value(g *globalOptions) (bool, error) {
	if r.set {
		return r.flag, nil
	}
	p, err := g.project()
	if err != nil {
		return false, err
	}
	return p.Settings.RequireExport, nil
}

// notDeployable is --require-export's refusal of one combination.
func notDeployable(r *vocab.Resolution, v modelopt.Verdict) error {
	return &vocab.SelectionError{Msg: fmt.Sprintf("%s is not deployable with ModelOpt %s (--require-export): %s", r.Name(), v.Target, v.Summary())}
}

func resolveRun(opts *resolveOptions) error {
	target, err := modelopt.ParseVersion(opts.ModelOpt)
	if err != nil {
		return usageErrorf("--modelopt: %v", err)
	}
	if opts.Output != "" {
		if err := opts.Global.checkOutputFile(opts.Output); err != nil {
			return err
		}
	}
	v, err := opts.Global.loadVocab()
	if err != nil {
		return err
	}
	kv := opts.KVCache
	if kv == "" {
		p, err := opts.Global.project()
		if err != nil {
			return err
		}
		kv = p.Settings.KVCache
	}
	r, err := v.ResolveKV(opts.Format, opts.Granularity, kv)
	if err != nil {
		return err
	}
	verdict := r.Export(target)
	require, err := opts.RequireExport.value(opts.Global)
	if err != nil {
		return err
	}
	if require && verdict.Kind != modelopt.Deployable {
		return notDeployable(r, verdict)
	}
	if opts.JSON {
		sec, notes, err := modelopt.Quantize(r.Config, target)
		if err != nil {
			return recipeErr(r, target, err)
		}
		// Keep the document order: the 0.43 quant_cfg is a mapping whose order
		// is ModelOpt's application order (a later pattern wins).
		plain, err := nodeJSON(sec)
		if err != nil {
			return err
		}
		out := resolveJSON{
			Format: r.Format.Name, Granularity: r.Granularity.Name, KVCache: r.KVCacheName(),
			FormatTyped: r.FormatTyped, GranularityTyped: r.GranularityTyped, KVCacheTyped: r.KVCacheTyped,
			ModelOpt: target.String(), Section: modelopt.SectionName(target),
			Fingerprint: r.Fingerprint(), FormatFingerprint: r.Format.Fingerprint(), GranFingerprint: r.Granularity.Fingerprint(),
			KVFingerprint: r.KVCacheFingerprint(),
			Quantize:      plain, Notes: noteStrings(notes), Export: toExportJSON(verdict), JSONNote: jsonKeysNote,
		}
		return opts.Exporter.write(opts.IO, out)
	}
	data, notes, err := r.Recipe(target)
	if err != nil {
		return recipeErr(r, target, err)
	}
	for _, n := range notes {
		fmt.Fprintf(opts.IO.ErrOut, "note: %s\n", n)
	}
	fmt.Fprintln(opts.IO.ErrOut, exportLine(verdict))
	for _, n := range verdict.Notes {
		fmt.Fprintf(opts.IO.ErrOut, "note: %s\n", n)
	}
	if opts.Output != "" {
		if err := manifest.WriteAtomic(opts.Global.abs(opts.Output), data, 0o644); err != nil {
			return fmt.Errorf("cannot write %s: %s", opts.Output, osReason(err))
		}
		fmt.Fprintf(opts.IO.ErrOut, "wrote %s\n", opts.Output)
		return nil
	}
	_, err = opts.IO.Out.Write(data)
	return err
}

func recipeErr(r *vocab.Resolution, target modelopt.Version, err error) error {
	return &vocab.SelectionError{Msg: fmt.Sprintf("%s cannot be written for ModelOpt %s: %v", r.Name(), target, err)}
}

func noteStrings(notes []modelopt.Note) []string {
	out := []string{}
	for _, n := range notes {
		out = append(out, string(n))
	}
	return out
}
