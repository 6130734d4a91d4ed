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
	JSON   bool
}

func newCmdVocabMatch(io *IOStreams, g *globalOptions) *cobra.Command {
	opts := &vocabMatchOptions{IO: io, Global: g}
	cmd := &cobra.Command{
		Use:   "match RECIPE.yaml",
		Short: "Find the qrun format and granularity that reproduce an llm-compressor recipe",
		Long: `Read an llm-compressor recipe (a QuantizationModifier or GPTQModifier with
config_groups, or scheme: a compressed-tensors preset such as W4A16, W8A8, W4A8,
FP8, FP8_DYNAMIC) and print, for each config group, the qrun format and
granularity whose ModelOpt config quantizes the same way (by meaning, not by
name: llm-compressor's W4A8 is int8 per-token activations, not ModelOpt's
w4a8_awq_beta), the Hydra selection to launch it, and notes.

Exit status: 0 when every group has an equivalent; 4 when a part has none
(asymmetric zero points, actorder: group, strategy: attn_head, …), naming the
part and why; 1 when the file can't be read or is not a recipe.
RECIPE "-" reads standard input.`,
		Example: `  qrun vocab match recipe.yaml
  qrun vocab match recipe.yaml --json`,
		Args: oneArg("a RECIPE.yaml (an llm-compressor recipe)"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Recipe = args[0]
			return vocabMatchRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
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

type groupMatchJSON struct {
	Group      string          `json:"group"`
	Scheme     string          `json:"scheme,omitempty"`
	Targets    []string        `json:"targets"`
	Weights    string          `json:"weights"`
	Activation string          `json:"input_activations"`
	Matches    []candidateJSON `json:"matches"`
	Unmatched  []string        `json:"unmatched"`
	Notes      []string        `json:"notes"`
}

type vocabMatchJSON struct {
	Recipe   string           `json:"recipe"`
	Match    string           `json:"match"` // full | partial
	Groups   []groupMatchJSON `json:"groups"`
	Notes    []string         `json:"notes"`
	JSONNote string           `json:"json_note"`
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
	groups, err := vocab.ParseRecipe(data)
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	v, err := opts.Global.loadVocab()
	if err != nil {
		return err
	}
	fmtGroup, granGroup := "quant_pair", "quant_granularity"
	if p, err := opts.Global.project(); err == nil {
		fmtGroup, granGroup = p.Settings.Groups.Format, p.Settings.Groups.Granularity
	}
	matches, merr := v.Match(groups)
	if merr != nil && !errors.Is(merr, vocab.ErrNoEquivalent) {
		return merr
	}
	nearest := v.NearestMatches(groups)
	out := vocabMatchJSON{Recipe: name, Match: "full", Groups: []groupMatchJSON{}, Notes: []string{}, JSONNote: jsonKeysNote}
	for i, m := range matches {
		gm := groupMatchJSON{
			Group: m.Group, Scheme: m.Scheme, Targets: m.Targets, Weights: m.Weights, Activation: m.Activation,
			Matches: []candidateJSON{}, Unmatched: m.Unmatched, Notes: m.Notes,
		}
		if gm.Targets == nil {
			gm.Targets = []string{}
		}
		if gm.Unmatched == nil {
			gm.Unmatched = []string{}
		}
		if gm.Notes == nil {
			gm.Notes = []string{}
		}
		for _, c := range m.Matches {
			cj := candidateJSON{
				Format: c.Format, Granularity: c.Granularity,
				Hydra: hydra.Line([]string{hydra.Arg(fmtGroup, c.Format), hydra.Arg(granGroup, c.Granularity)}),
			}
			if r, err := v.Resolve(c.Format, c.Granularity); err == nil {
				if a := r.Config.RoleAttrs(modelopt.Weights); a != nil {
					cj.weightsRaw = a.Value()
					cj.Weights = jsonValue(cj.weightsRaw)
				}
				if a := r.Config.RoleAttrs(modelopt.Activations); a != nil {
					cj.actsRaw = a.Value()
					cj.Activations = jsonValue(cj.actsRaw)
				}
			}
			gm.Matches = append(gm.Matches, cj)
		}
		if len(gm.Unmatched) > 0 {
			out.Match = "partial"
			if c, ok := nearest[i]; ok {
				gm.Notes = append(gm.Notes, fmt.Sprintf("nearest qrun run (symmetric, without activation reordering): %s", hydra.Line([]string{hydra.Arg(fmtGroup, c.Format), hydra.Arg(granGroup, c.Granularity)})))
			}
		}
		out.Groups = append(out.Groups, gm)
	}
	if n := distinctFirstChoices(out.Groups); n > 1 && out.Match == "full" {
		out.Notes = append(out.Notes, fmt.Sprintf("the recipe's groups map to %d different format × granularity pairs: one qrun run applies one pair to every Linear layer, so launch one run per group (or define a format whose quant_cfg targets each group's layers)", n))
	}
	if opts.JSON {
		if err := writeJSON(opts.IO.Out, out); err != nil {
			return err
		}
	} else {
		writeMatch(opts.IO.Out, out)
	}
	if out.Match == "partial" {
		var parts []string
		for _, g := range out.Groups {
			for _, u := range g.Unmatched {
				parts = append(parts, fmt.Sprintf("%s %s", groupLabel(g), u))
			}
		}
		return &vocab.SelectionError{Msg: fmt.Sprintf("%s: part of the recipe has no ModelOpt equivalent, so no qrun run reproduces it:\n  %s", name, strings.Join(parts, "\n  "))}
	}
	return nil
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
		verdict = "part of it has no ModelOpt equivalent"
	}
	fmt.Fprintf(w, "recipe %s: %s\n", printable(out.Recipe), verdict)
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
		field(w, "llm-compressor", fmt.Sprintf("weights %s; input_activations %s", g.Weights, g.Activation))
		if len(g.Unmatched) > 0 {
			fmt.Fprintln(w, "  no ModelOpt equivalent:")
			for _, u := range g.Unmatched {
				fmt.Fprintf(w, "    %s\n", printable(u))
			}
		}
		for i, c := range g.Matches {
			if i == 0 {
				field(w, "qrun", fmt.Sprintf("format %s, granularity %s", c.Format, c.Granularity))
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
		fmt.Fprintf(w, "\nnote: %s\n", n)
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
