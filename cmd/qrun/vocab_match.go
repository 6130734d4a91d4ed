package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qrun-dev/qrun/hydra"
	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/vocab"
)

type vocabMatchOptions struct {
	IO     *IOStreams
	Global *globalOptions
	Recipe string
	jsonOutput
}

func newCmdVocabMatch(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &vocabMatchOptions{IO: io, Global: g}
	cmd := &cobra.Command{
		Use:   "match RECIPE.yaml",
		Short: "Find the qrun format and granularity that reproduce an llm-compressor recipe",
		Long: `Read an llm-compressor recipe as llm-compressor does — QuantizationModifier,
GPTQModifier and AutoRoundModifier under <x>_stage: <y>_modifiers:, each with
config_groups or scheme: a compressed-tensors 0.18 preset (every one is known:
W4A16, W4A16_ASYM, W8A8, W4AFP8, FP8, FP8_DYNAMIC, FP8_BLOCK, NVFP4, MXFP8, the
integer W2A4 … W8A16, UNQUANTIZED, …), a GPTQModifier without a config of its own
calibrating the earlier groups, actorder, kv_cache_scheme — and print, for each
config group, the qrun selection (format, granularity, kv_cache) whose ModelOpt
config quantizes the same way (by meaning, not by name: llm-compressor's W4A8 is
int8 per-token activations, not ModelOpt's w4a8_awq_beta) and the qrun plan line
that plans it, or "none" with the reason.

Exit status: 0 when every part has an equivalent; 4 when a part has none —
ModelOpt cannot do it (asymmetric zero points, actorder: group, strategy:
attn_head, output activations, an Embedding target, pruning, …) or no name in
the vocabulary gives it — naming the part and why; 1 when the file can't be
read or is not a recipe llm-compressor would run. RECIPE "-" reads standard
input.`,
		Example: `  qrun vocab match recipe.yaml
  qrun vocab match recipe.yaml --json`,
		Args: oneArg("a RECIPE.yaml (an llm-compressor recipe)"),
		ValidArgsFunction: completeFirstArg(func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Recipe = args[0]
			return vocabMatchRun(opts)
		},
	}
	addJSONFlag(cmd, g, &opts.jsonOutput, vocabMatchJSON{}, true)
	return cmd
}

type candidateJSON struct {
	Format      string `json:"format"`
	Granularity string `json:"granularity"`
	Hydra       string `json:"hydra"`
	// Weights and Activations are the ModelOpt attributes the pair gives
	// (null: not quantized).
	Weights     any `json:"weights"`
	Activations any `json:"input_activations"`

	weightsRaw, actsRaw any
}

// selectionJSON is the qrun selection that reproduces a group: its first
// match with the recipe's kv_cache.
type selectionJSON struct {
	Format      string `json:"format"`
	Granularity string `json:"granularity"`
	KVCache     string `json:"kv_cache"`
}

type groupMatchJSON struct {
	vocab.GroupSummary
	Selection *selectionJSON  `json:"selection"` // null: none, see unmatched
	Plan      string          `json:"plan"`      // the qrun plan line, or ""
	Matches   []candidateJSON `json:"matches"`
	Unmatched []string        `json:"unmatched"`
	Notes     []string        `json:"notes"`
}

// kvMatchJSON is the recipe's kv_cache_scheme: recipe-level in
// llm-compressor (one per modifier, applied to the attention modules, not to
// a config group), so it is reported once for the recipe.
type kvMatchJSON struct {
	Scheme    string   `json:"scheme"`   // the kv_cache_scheme read, "" without one
	Modifier  string   `json:"modifier"` // the modifier that sets it
	KVCache   *string  `json:"kv_cache"` // the qrun value; null: none reproduces it
	Matches   []string `json:"matches"`
	Unmatched []string `json:"unmatched"`
	Notes     []string `json:"notes"`
}

type vocabMatchJSON struct {
	Recipe    string           `json:"recipe"`
	Match     string           `json:"match"` // full | partial
	Modifiers []string         `json:"modifiers"`
	KVCache   kvMatchJSON      `json:"kv_cache"`
	Groups    []groupMatchJSON `json:"groups"`
	Unmatched []string         `json:"unmatched"`
	Notes     []string         `json:"notes"`
	JSONNote  string           `json:"json_note"`
}

func vocabMatchRun(opts *vocabMatchOptions) error {
	data, err := readRecipe(opts.IO, opts.Recipe, opts.Global.abs(opts.Recipe))
	if err != nil {
		return err
	}
	name := opts.Recipe
	if name == "-" {
		name = "standard input"
	}
	recipe, err := vocab.ParseRecipe(data)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	v, err := opts.Global.loadVocab()
	if err != nil {
		return err
	}
	fmtGroup, granGroup, kvGroup := "quant_pair", "quant_granularity", "quant_kv_cache"
	if p, err := opts.Global.project(); err == nil {
		fmtGroup, granGroup, kvGroup = p.Settings.Groups.Format, p.Settings.Groups.Granularity, p.Settings.Groups.KVCache
	}
	rm, merr := v.MatchRecipe(recipe)
	if merr != nil && !errors.Is(merr, vocab.ErrNoEquivalent) {
		return merr
	}
	nearest := v.NearestMatches(recipe.Groups)
	out := vocabMatchJSON{Recipe: name, Match: "full", Modifiers: nonNil(recipe.Modifiers), Groups: []groupMatchJSON{},
		Unmatched: nonNil(rm.Unmatched), Notes: nonNil(rm.Notes), JSONNote: jsonKeysNote}
	if !rm.Full() {
		out.Match = "partial"
	}
	kv := rm.KVCacheValue()
	out.KVCache = kvMatchJSON{Matches: []string{}, Unmatched: []string{}, Notes: []string{}}
	if rm.KV != nil {
		out.KVCache = kvMatchJSON{Scheme: rm.KV.Scheme, Modifier: rm.KV.Modifier, Matches: nonNil(rm.KV.Matches), Unmatched: nonNil(rm.KV.Unmatched), Notes: nonNil(rm.KV.Notes)}
	}
	if kv != "" {
		out.KVCache.KVCache = &kv
	}
	// Every line names the KV cache, none included: a selection without
	// one gets qrun.yaml's kv_cache (fp8_cast after qrun init), which is
	// not what a recipe without kv_cache_scheme means (SPEC §12, §13).
	hydraLine := func(f, g string) string {
		args := []string{hydra.Arg(fmtGroup, f), hydra.Arg(granGroup, g)}
		if kv != "" {
			args = append(args, hydra.Arg(kvGroup, kv))
		}
		return hydra.Line(args)
	}
	for i, m := range rm.Groups {
		gm := groupMatchJSON{GroupSummary: m.GroupSummary, Matches: []candidateJSON{}, Unmatched: nonNil(m.Unmatched), Notes: nonNil(m.Notes)}
		gm.Targets, gm.Ignore = nonNil(m.Targets), nonNil(m.Ignore)
		for _, c := range m.Matches {
			cj := candidateJSON{Format: c.Format, Granularity: c.Granularity, Hydra: hydraLine(c.Format, c.Granularity)}
			if r, err := v.Resolve(c.Format, c.Granularity); err == nil {
				if a := r.Config.RoleAttrs(modelopt.Weights); a != nil {
					cj.weightsRaw = a.Value()
					cj.Weights = modelopt.JSONValue(cj.weightsRaw)
				}
				if a := r.Config.RoleAttrs(modelopt.Activations); a != nil {
					cj.actsRaw = a.Value()
					cj.Activations = modelopt.JSONValue(cj.actsRaw)
				}
			}
			gm.Matches = append(gm.Matches, cj)
		}
		switch {
		case len(gm.Unmatched) == 0 && len(gm.Matches) > 0 && kv != "":
			c := gm.Matches[0]
			gm.Selection = &selectionJSON{Format: c.Format, Granularity: c.Granularity, KVCache: kv}
			gm.Plan = planLine(c.Format, c.Granularity, kv)
		case len(gm.Unmatched) > 0:
			if c, ok := nearest[i]; ok {
				how := ""
				if len(c.Changed) > 0 {
					how = " (" + strings.Join(c.Changed, ", ") + ")"
				}
				gm.Notes = append(gm.Notes, fmt.Sprintf("nearest qrun run%s: %s", how, hydraLine(c.Format, c.Granularity)))
			}
		}
		out.Groups = append(out.Groups, gm)
	}
	if n := distinctFirstChoices(out.Groups); n > 1 && out.Match == "full" {
		out.Notes = append(out.Notes, fmt.Sprintf("the recipe's groups map to %d different format × granularity pairs: one qrun run applies one pair to every Linear layer, so launch one run per group (or define a format whose quant_cfg targets each group's layers)", n))
	}
	if opts.JSON {
		if err := opts.Exporter.write(opts.IO, out); err != nil {
			return err
		}
	} else {
		writeMatch(opts.IO.Out, out)
	}
	if out.Match == "partial" {
		parts := append(append([]string(nil), out.Unmatched...), out.KVCache.Unmatched...)
		for _, g := range out.Groups {
			for _, u := range g.Unmatched {
				parts = append(parts, fmt.Sprintf("%s %s", groupLabel(g), u))
			}
		}
		return &vocab.SelectionError{Msg: fmt.Sprintf("%s: no qrun run reproduces part of the recipe:\n  %s", name, strings.Join(parts, "\n  "))}
	}
	return nil
}

// planLine is the qrun plan command for a selection. --kv-cache is there
// for none too: without it qrun plan takes qrun.yaml's kv_cache, which
// qrun init writes as fp8_cast.
func planLine(format, granularity, kv string) string {
	return "qrun plan --format " + shellQuote(format) + " --granularity " + shellQuote(granularity) + " --kv-cache " + shellQuote(kv)
}

func groupLabel(g groupMatchJSON) string {
	if g.Scheme != "" && g.Group == "scheme" {
		return "scheme " + g.Scheme + ":"
	}
	return g.Group + ":"
}

func distinctFirstChoices(groups []groupMatchJSON) int {
	seen := map[[2]string]bool{}
	for _, g := range groups {
		if len(g.Matches) > 0 {
			seen[[2]string{g.Matches[0].Format, g.Matches[0].Granularity}] = true
		}
	}
	return len(seen)
}

// readRecipe reads the recipe file ("-": standard input), bounded in size.
// readRecipe reads recipe p (as the user gave it) at path at.
func readRecipe(ios *IOStreams, p, at string) ([]byte, error) {
	const limit = vocab.MaxFileSize + 1
	var r io.Reader
	if p == "-" {
		r = ios.In
	} else {
		st, err := os.Stat(at)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("recipe %s does not exist", quoteValue(p))
		case err != nil:
			return nil, fmt.Errorf("cannot read recipe %s: %s", quoteValue(p), osReason(err))
		case st.IsDir():
			return nil, fmt.Errorf("recipe %s is a folder: give the recipe's YAML file", quoteValue(p))
		}
		f, err := os.Open(at)
		if err != nil {
			return nil, fmt.Errorf("cannot read recipe %s: %s", quoteValue(p), osReason(err))
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil {
		return nil, fmt.Errorf("cannot read recipe %s: %s", quoteValue(p), osReason(err))
	}
	if len(data) > vocab.MaxFileSize {
		return nil, fmt.Errorf("recipe %s is larger than %d KiB: not an llm-compressor recipe", quoteValue(p), vocab.MaxFileSize>>10)
	}
	return data, nil
}

func writeMatch(w io.Writer, out vocabMatchJSON) {
	verdict := "every group has a qrun equivalent"
	if out.Match == "partial" {
		verdict = "part of it has no qrun equivalent"
	}
	fmt.Fprintf(w, "recipe %s: %s\n", printable(out.Recipe), verdict)
	if len(out.Modifiers) > 1 {
		field(w, "modifiers", strings.Join(out.Modifiers, ", "))
	}
	kv := out.KVCache
	switch {
	case kv.Scheme == "":
		field(w, "kv_cache", "none (no kv_cache_scheme)")
	case kv.KVCache != nil:
		field(w, "kv_cache", fmt.Sprintf("%s (kv_cache_scheme %s, %s)", *kv.KVCache, kv.Scheme, kv.Modifier))
	default:
		field(w, "kv_cache", fmt.Sprintf("none reproduces kv_cache_scheme %s (%s):", kv.Scheme, kv.Modifier))
		for _, u := range kv.Unmatched {
			fmt.Fprintf(w, "    %s\n", printable(u))
		}
	}
	for _, n := range kv.Notes {
		fmt.Fprintf(w, "  note: %s\n", printable(n))
	}
	if len(out.Unmatched) > 0 {
		fmt.Fprintln(w, "  no qrun equivalent:")
		for _, u := range out.Unmatched {
			fmt.Fprintf(w, "    %s\n", printable(u))
		}
	}
	for _, g := range out.Groups {
		fmt.Fprintln(w)
		head := g.Group
		switch {
		case g.Scheme != "" && g.Group == "scheme":
			head = "scheme " + g.Scheme
		case g.Scheme != "":
			head += " (scheme " + g.Scheme + ")"
		}
		if len(g.Targets) > 0 {
			head += " targets " + strings.Join(g.Targets, ", ")
		}
		fmt.Fprintln(w, printable(head))
		field(w, "modifier", g.Modifier)
		lc := fmt.Sprintf("weights %s; input_activations %s", g.Weights, g.Activation)
		if g.Outputs != "not quantized" {
			lc += "; output_activations " + g.Outputs
		}
		field(w, "llm-compressor", lc)
		if len(g.Unmatched) > 0 {
			fmt.Fprintln(w, "  no qrun equivalent:")
			for _, u := range g.Unmatched {
				fmt.Fprintf(w, "    %s\n", printable(u))
			}
		}
		switch {
		case g.Selection != nil:
			field(w, "qrun", fmt.Sprintf("format %s, granularity %s, kv_cache %s", g.Selection.Format, g.Selection.Granularity, g.Selection.KVCache))
			field(w, "plan", g.Plan)
		case len(g.Matches) > 0:
			field(w, "qrun", fmt.Sprintf("none: format %s, granularity %s match this group, but no kv_cache reproduces the recipe's kv_cache_scheme", g.Matches[0].Format, g.Matches[0].Granularity))
		default:
			field(w, "qrun", "none (see above)")
		}
		for i, c := range g.Matches {
			if i == 0 {
				field(w, "hydra", c.Hydra)
				field(w, "ModelOpt weights", attrsText(c.weightsRaw))
				field(w, "ModelOpt activations", attrsText(c.actsRaw))
				continue
			}
			field(w, "also", fmt.Sprintf("format %s, granularity %s (%s)", c.Format, c.Granularity, c.Hydra))
		}
		for _, n := range g.Notes {
			fmt.Fprintf(w, "  note: %s\n", printable(n))
		}
	}
	for _, n := range out.Notes {
		fmt.Fprintf(w, "\nnote: %s\n", printable(n))
	}
}

func attrsText(raw any) string {
	if raw == nil {
		return "not quantized"
	}
	return modelopt.Format(raw)
}

func field(w io.Writer, label, value string) {
	fmt.Fprintf(w, "  %-22s%s\n", label+":", value)
}

// shellQuote quotes a word for a POSIX shell when it needs it (vocabulary
// names never do: they match ^[a-z][a-z0-9_]*$).
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.,/:=+", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
