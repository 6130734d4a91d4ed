package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/namekind"
	"github.com/qrun-dev/qrun/store"
	"github.com/qrun-dev/qrun/vocab"
)

type vocabShowOptions struct {
	IO     *IOStreams
	Global *globalOptions
	Name   string
	jsonOutput
}

func newCmdVocabShow(io *IOStreams, g *globalOptions, runF func(*vocabShowOptions) error) *cobra.Command {
	opts := &vocabShowOptions{IO: io, Global: g}
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a name's definition, ModelOpt attributes and llm-compressor equivalent",
		Args:  oneArg("a NAME (a granularity, format or KV-cache setting, see qrun vocab list)"),
		ValidArgsFunction: completeFirstArg(func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			v, err := g.loadVocab()
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return slices.Concat(v.Names(namekind.Granularity), v.Names(namekind.Format), v.Names(namekind.KVCache)), cobra.ShellCompDirectiveNoFileComp
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return vocabShowRun(opts)
		},
	}
	addJSONFlag(cmd, g, &opts.jsonOutput, vocabShowJSON{}, true)
	return cmd
}

type roleAttrsJSON struct {
	Role       modelopt.Role `json:"role"`
	Quantizer  string        `json:"quantizer"`
	Attributes any           `json:"attributes"`
	Removes    []string      `json:"removes,omitempty"`
	Stages     int           `json:"stages,omitempty"`
	Locked     bool          `json:"locked,omitempty"`
	Disabled   bool          `json:"disabled,omitempty"`

	raw any // Attributes before JSON's key stringification, for text output
}

// outcomeJSON is what one combination of the name comes to at run time:
// refused by qrun, or planned with its export verdict.
type outcomeJSON struct {
	Format           string `json:"format"`
	Granularity      string `json:"granularity"`
	KVCache          string `json:"kv_cache"`
	Result           string `json:"result"`
	QuantAlgo        string `json:"quant_algo"`
	KVCacheQuantAlgo string `json:"kv_cache_quant_algo,omitempty"`
	Why              string `json:"why"`
}

type vocabShowJSON struct {
	Kind          namekind.Kind      `json:"kind"`
	Name          string             `json:"name"`
	Typed         string             `json:"typed,omitempty"`
	Description   string             `json:"description"`
	Aliases       []string           `json:"aliases"`
	Builtin       bool               `json:"builtin"`
	Retired       bool               `json:"retired"`
	Source        string             `json:"source"`
	Fingerprint   string             `json:"fingerprint"`
	Definition    any                `json:"definition"`
	ModelOpt      []roleAttrsJSON    `json:"modelopt"`
	Algorithm     any                `json:"algorithm"`
	LLMCompressor []vocab.Compressed `json:"llm_compressor"`
	Scheme        string             `json:"llm_compressor_scheme,omitempty"`
	Notes         []string           `json:"notes"`
	Runtime       []outcomeJSON      `json:"runtime"`
	RuntimeTarget string             `json:"runtime_modelopt"`
	Runs          int                `json:"runs"`
	FirstRun      string             `json:"first_run,omitempty"`
	FirstUse      string             `json:"first_use,omitempty"`
	// RecordedAs is the name the registry records the runs under, when
	// it is not Name: the name a declared rename came from.
	RecordedAs string `json:"recorded_as,omitempty"`
	JSONNote   string `json:"json_note"`
}

func vocabShowRun(opts *vocabShowOptions) error {
	v, err := opts.Global.loadVocab()
	if err != nil {
		return err
	}
	g, f, kv, err := v.Lookup(opts.Name)
	if err != nil {
		return err
	}
	var shows []vocabShowJSON
	if g != nil {
		shows = append(shows, showGranularity(g))
	}
	if f != nil {
		shows = append(shows, showFormat(f))
	}
	if kv != nil {
		shows = append(shows, showKVCache(kv))
	}
	for i := range shows {
		if shows[i].Name != opts.Name {
			shows[i].Typed = opts.Name
		}
	}
	target, err := opts.Global.target("")
	if err != nil {
		return err
	}
	for i := range shows {
		addRuntime(v, &shows[i], target)
	}
	if err := addUsage(opts.Global, shows); err != nil {
		return err
	}
	if opts.JSON {
		if len(shows) == 1 {
			return opts.Exporter.write(opts.IO, shows[0])
		}
		return opts.Exporter.write(opts.IO, shows)
	}
	for i, s := range shows {
		if i > 0 {
			fmt.Fprintln(opts.IO.Out)
		}
		writeShow(opts.IO.Out, s)
	}
	return nil
}

func showGranularity(g *vocab.Granularity) vocabShowJSON {
	s := baseShow(g.Entry)
	s.Fingerprint = g.Fingerprint()
	s.Definition = modelopt.JSONValue(g.Meaning())
	for _, r := range g.Touches() {
		ov, _ := g.Overlay(r)
		ra := roleAttrsJSON{Role: r, Quantizer: r.Quantizer(), Attributes: modelopt.JSONValue(ov.Value()), raw: ov.Value(), Removes: modelopt.OverlayRemoves(ov)}
		s.ModelOpt = append(s.ModelOpt, ra)
	}
	s.LLMCompressor = g.LLMCompressor()
	if len(g.Touches()) == 0 {
		s.Notes = append(s.Notes, "changes nothing: every format keeps its own granularity")
	}
	if len(g.Compose) > 0 {
		s.Notes = append(s.Notes, "composed of "+strings.Join(g.Compose, " + "))
	}
	return s
}

func showFormat(f *vocab.Format) vocabShowJSON {
	s := baseShow(f.Entry)
	s.Fingerprint = f.Fingerprint()
	s.Definition = modelopt.JSONValue(f.Meaning())
	var w, a *vocab.Compressed
	comps := f.LLMCompressor()
	for i := range comps {
		if comps[i].Role == modelopt.Weights {
			w = &comps[i]
		} else {
			a = &comps[i]
		}
	}
	for _, r := range modelopt.Roles {
		i := f.Config.RoleIndex(r)
		if i < 0 {
			continue
		}
		e := f.Config.Entries[i]
		ra := roleAttrsJSON{Role: r, Quantizer: r.Quantizer(), Locked: f.Locked(r)}
		s.ModelOpt = append(s.ModelOpt, ra.of(e))
	}
	s.Algorithm = modelopt.JSONValue(f.Config.Algorithm)
	s.LLMCompressor = comps
	s.Scheme = vocab.Scheme(w, a)
	s.Notes = append(s.Notes, f.Notes()...)
	return s
}

// of is ra with the attributes of entry e: its stages, its cfg, or
// disabled.
func (ra roleAttrsJSON) of(e modelopt.Entry) roleAttrsJSON {
	switch {
	case e.Stages != nil:
		var st []any
		for _, x := range e.Stages {
			st = append(st, x.Value())
		}
		ra.Attributes, ra.raw, ra.Stages = modelopt.JSONValue(st), st, len(e.Stages)
	case e.Cfg != nil:
		ra.Attributes, ra.raw = modelopt.JSONValue(e.Cfg.Value()), e.Cfg.Value()
	default:
		ra.Disabled = true
	}
	return ra
}

// showKVCache shows a KV-cache setting: its quant_cfg entries, which go
// after a format's and before the default-disabled tail (SPEC §12).
func showKVCache(c *vocab.KVCache) vocabShowJSON {
	s := baseShow(c.Entry)
	s.Fingerprint = c.Fingerprint()
	s.Definition = modelopt.JSONValue(c.Meaning())
	for _, e := range c.Entries {
		ra := roleAttrsJSON{Role: modelopt.Role(namekind.KVCache), Quantizer: e.QuantizerName}
		s.ModelOpt = append(s.ModelOpt, ra.of(e))
	}
	s.Algorithm = modelopt.JSONValue(c.Algorithm)
	if c.None() {
		s.Notes = append(s.Notes, "adds no entry: the KV cache stays unquantized (hf_ptq --recipe ignores --kv_cache_qformat)")
	}
	if c.Algorithm != nil {
		s.Notes = append(s.Notes, "its algorithm is not merged into the format's, as in hf_ptq (only the quant_cfg entries count)")
	}
	return s
}

func baseShow(e vocab.Entry) vocabShowJSON {
	return vocabShowJSON{
		Kind: e.Kind, Name: e.Name, Description: e.Description, Aliases: nonNil(e.Aliases),
		Builtin: e.Builtin, Retired: e.Retired, Source: e.Source,
		LLMCompressor: []vocab.Compressed{}, Notes: []string{}, ModelOpt: []roleAttrsJSON{},
		JSONNote: jsonKeysNote,
	}
}

func writeShow(w io.Writer, s vocabShowJSON) {
	fmt.Fprintf(w, "%s %s", s.Kind, s.Name)
	if s.Typed != "" {
		fmt.Fprintf(w, " (you typed the alias %s)", s.Typed)
	}
	fmt.Fprintln(w)
	if s.Description != "" {
		fmt.Fprintf(w, "  %s\n", printable(strings.ReplaceAll(strings.TrimRight(s.Description, "\n"), "\n", "\n  ")))
	}
	src := s.Source
	if s.Retired {
		src += ", retired: reserved for its past runs, cannot be planned"
	}
	fmt.Fprintf(w, "source:       %s\n", src)
	aliases := strings.Join(s.Aliases, ", ")
	if aliases == "" {
		aliases = "none"
	}
	fmt.Fprintf(w, "aliases:      %s\n", aliases)
	fmt.Fprintf(w, "fingerprint:  %s\n", s.Fingerprint)
	switch {
	case s.FirstUse != "" && s.RecordedAs != "":
		fmt.Fprintf(w, "runs:         %d, recorded as %s (renamed; first used %s by run %s)\n", s.Runs, s.RecordedAs, s.FirstUse, s.FirstRun)
	case s.FirstUse != "":
		fmt.Fprintf(w, "runs:         %d (first used %s by run %s)\n", s.Runs, s.FirstUse, s.FirstRun)
	default:
		fmt.Fprintf(w, "runs:         %d\n", s.Runs)
	}
	fmt.Fprintln(w, "ModelOpt attributes:")
	if len(s.ModelOpt) == 0 {
		if s.Kind == namekind.Format {
			fmt.Fprintf(w, "  no *weight_quantizer or *input_quantizer entry (qrun resolve --format %s prints every quant_cfg entry)\n", s.Name)
		} else {
			fmt.Fprintln(w, "  none (no quantizer role is changed)")
		}
	}
	for _, ra := range s.ModelOpt {
		line := fmt.Sprintf("  %-11s %s: ", ra.Role, ra.Quantizer)
		switch {
		case ra.Disabled:
			line += "disabled (not quantized)"
		case ra.Stages > 0:
			var parts []string
			for i, st := range ra.raw.([]any) {
				parts = append(parts, fmt.Sprintf("stage %d %s", i, modelopt.Format(st)))
			}
			line += strings.Join(parts, "; ")
		default:
			line += modelopt.Format(ra.raw)
		}
		if len(ra.Removes) > 0 {
			line += " (removes " + strings.Join(ra.Removes, ", ") + ")"
		}
		if ra.Locked {
			line += " [granularity locked by the format]"
		}
		fmt.Fprintln(w, line)
	}
	if s.Kind == namekind.Format {
		alg := modelopt.Format(s.Algorithm)
		if s.Algorithm == nil {
			alg = "null (no calibration)"
		}
		fmt.Fprintf(w, "  algorithm   %s\n", alg)
	}
	fmt.Fprintln(w, "llm-compressor (compressed-tensors):")
	if len(s.LLMCompressor) == 0 {
		if s.Kind == namekind.KVCache {
			fmt.Fprintln(w, "  a recipe's kv_cache_scheme, not a quantization scheme: qrun vocab match maps one to a KV-cache setting")
		} else if s.Kind == namekind.Format {
			fmt.Fprintln(w, "  nothing to map (no *weight_quantizer or *input_quantizer entry)")
		} else {
			fmt.Fprintln(w, "  nothing to map (no quantizer role is changed)")
		}
	}
	for _, c := range s.LLMCompressor {
		role := "weights"
		if c.Role == modelopt.Activations {
			role = "input_activations"
		}
		fmt.Fprintf(w, "  %-18s %s\n", role+":", c.String())
	}
	if s.Scheme != "" {
		fmt.Fprintf(w, "  %-18s %s\n", "scheme:", s.Scheme)
	}
	if len(s.Runtime) > 0 {
		fmt.Fprintf(w, "at run time (ModelOpt %s; the export verdict of each combination, by qrun's rule):\n", s.RuntimeTarget)
		width := 0
		for _, o := range s.Runtime {
			width = max(width, len(o.otherName(s.Kind)))
		}
		for _, o := range s.Runtime {
			line := fmt.Sprintf("  %-*s  %-15s", width, o.otherName(s.Kind), o.Result)
			var labels []string
			if o.QuantAlgo != "" {
				labels = append(labels, o.QuantAlgo)
			}
			if o.KVCacheQuantAlgo != "" {
				labels = append(labels, "kv_cache "+o.KVCacheQuantAlgo)
			}
			if len(labels) > 0 {
				line += " " + strings.Join(labels, ", ")
			}
			if o.Why != "" {
				if len(labels) > 0 {
					line += ":"
				}
				line += " " + o.Why
			}
			fmt.Fprintln(w, strings.TrimRight(line, " "))
		}
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// otherName is the combination's other name: the granularity of a
// format's combination, the format of a granularity's or a KV-cache
// setting's.
func (o outcomeJSON) otherName(k namekind.Kind) string {
	if k == namekind.Format {
		return o.Granularity
	}
	return o.Format
}

// addRuntime gives a name the outcome of each of its combinations at the
// project's ModelOpt target, and says plainly when none exports a
// deployable checkpoint.
func addRuntime(v *vocab.Vocabulary, s *vocabShowJSON, target modelopt.Version) {
	s.RuntimeTarget = target.String()
	s.Runtime = []outcomeJSON{}
	var deployable []string
	for _, o := range v.Outcomes(s.Kind, s.Name, target) {
		oj := outcomeJSON{Format: o.Format, Granularity: o.Granularity, KVCache: o.KVCache, Result: o.Result, QuantAlgo: o.QuantAlgo,
			KVCacheQuantAlgo: o.KVCacheQuantAlgo, Why: o.Why}
		s.Runtime = append(s.Runtime, oj)
		if o.Result == string(modelopt.Deployable) {
			deployable = append(deployable, oj.otherName(s.Kind))
		}
	}
	if target != modelopt.VerifiedTarget {
		return
	}
	other := "granularity"
	if s.Kind != namekind.Format {
		other = "format"
	}
	switch {
	case len(deployable) == 0:
		s.Notes = append(s.Notes, fmt.Sprintf("no %s with %s exports a deployable checkpoint with ModelOpt %s: use it for fake-quant accuracy studies only", other, s.Name, target))
	case len(deployable) < len(s.Runtime):
		s.Notes = append(s.Notes, fmt.Sprintf("deployable with ModelOpt %s only with: %s; its other combinations that plan are for fake-quant accuracy studies only", target, strings.Join(deployable, ", ")))
	}
}

// addUsage fills in, from the registry if there is one, how many runs use
// each name and its first use; a name registered with another definition
// gets a note pointing at qrun vocab check.
func addUsage(g *globalOptions, shows []vocabShowJSON) error {
	ctx := context.Background()
	st, err := g.openStore(ctx, true, true)
	if err != nil || st == nil {
		return err
	}
	defer st.Close()
	for i := range shows {
		s := &shows[i]
		k := s.Kind
		// After a declared rename, the runs are recorded under the old name.
		uses := []store.NameUse{{Kind: k, Name: s.Name, Fingerprint: s.Fingerprint, Aliases: s.Aliases}}
		if err := store.FillRecorded(ctx, st, uses); err != nil {
			return err
		}
		name := uses[0].RecordedAs()
		if name != s.Name {
			s.RecordedAs = name
		}
		n, err := st.RunsUsingName(ctx, k, name)
		if err != nil {
			return err
		}
		s.Runs = n
		reg, err := st.Name(ctx, k, name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		s.FirstRun = reg.FirstRun
		s.FirstUse = reg.CreatedAt.UTC().Format(time.RFC3339)
		if reg.Fingerprint != s.Fingerprint {
			s.Notes = append(s.Notes, fmt.Sprintf("registered with another definition (%s): run qrun vocab check", oneLine(reg.Definition)))
		}
	}
	return nil
}
