package vocab

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/modelopt"
)

// QuantArgs are compressed-tensors QuantizationArgs (SPEC §9).
type QuantArgs struct {
	NumBits        int
	Type           string // int | float
	Symmetric      bool
	Strategy       string // tensor | channel | group | block | token | tensor_group | attn_head
	GroupSize      int
	BlockStructure []int
	Dynamic        any    // false | true | "local"
	Actorder       string // "" (none) | "group" | "weight" (aliases dynamic, static resolved)
	ScaleDtype     string // torch dtype name without "torch.", or ""
	Observer       string
}

// Group is one config group of an llm-compressor recipe: what it targets and
// how it quantizes weights, input and output activations (nil: not
// quantized).
type Group struct {
	Name         string
	Modifier     string // QuantizationModifier | GPTQModifier | AutoRoundModifier
	Targets      []string
	Ignore       []string
	Weights      *QuantArgs
	Activations  *QuantArgs
	Outputs      *QuantArgs
	Scheme       string   // the preset scheme it came from, if any
	CalibratedBy []string // later modifiers without a config of their own that calibrate it (GPTQ, AutoRound)
	Transforms   []string // calibration transforms before it (SmoothQuantModifier, AWQModifier)
}

// Recipe is what an llm-compressor recipe quantizes, as llm-compressor reads
// it: the config groups its quantization modifiers leave on the model, in
// modifier order, and the KV-cache scheme.
type Recipe struct {
	Groups     []Group
	KVCache    *QuantArgs // kv_cache_scheme, or nil
	KVModifier string     // the modifier that sets it
	Modifiers  []string   // every modifier read, in order
	Unmatched  []string   // recipe parts outside any group that no qrun selection expresses, and why
	Notes      []string

	transforms []string // calibration transforms read so far
}

var quantModifiers = map[string]bool{"QuantizationModifier": true, "GPTQModifier": true, "AutoRoundModifier": true}

type recipeModifier struct {
	name string
	args map[any]any
	node *yaml.Node // the arguments' mapping, for the order of its sub-mappings
}

// ParseRecipe reads an llm-compressor recipe the way llm-compressor's
// Recipe.from_dict does: modifiers under <x>_stage: <y>_modifiers:, in file
// order; QuantizationModifier, GPTQModifier and AutoRoundModifier as
// quantization configs (scheme: a preset, {PRESET: targets}, config_groups,
// kv_cache_scheme), a GPTQModifier or AutoRoundModifier without a config
// of its own calibrating the earlier modifiers' groups.
func ParseRecipe(data []byte) (*Recipe, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("recipe is larger than %d KiB", MaxFileSize>>10)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("recipe is empty")
		}
		return nil, fmt.Errorf("recipe is not valid YAML: %s", strings.ReplaceAll(strings.TrimPrefix(err.Error(), "yaml: "), "\n", "; "))
	}
	if _, err := modelopt.FromNode(&doc); err != nil {
		return nil, fmt.Errorf("recipe: %v", err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	rec := &Recipe{}
	mods, err := stagedModifiers(root)
	if err != nil {
		return nil, err
	}
	if len(mods) == 0 {
		if mods, err = looseModifiers(root); err != nil {
			return nil, err
		}
		if len(mods) > 0 {
			rec.Notes = append(rec.Notes, "the modifiers are not under <x>_stage: <y>_modifiers: — llm-compressor's recipe reader (Recipe.from_dict) takes modifiers only from there, so it would apply none of these; read here as if they were")
		}
	}
	hasQuant := false
	for _, m := range mods {
		if m.name == "AWQModifier" && hasAnyKey(m.args, awqQuantKeys) {
			return nil, awqArgsError(m)
		}
		hasQuant = hasQuant || quantModifiers[m.name]
	}
	if !hasQuant {
		if len(mods) == 0 {
			if top, ok := topKeys(root); ok && (top["config_groups"] || top["quant_method"]) {
				return nil, errors.New("recipe has no QuantizationModifier, GPTQModifier or AutoRoundModifier: this is a compressed-tensors quantization_config (a checkpoint's config.json), not an llm-compressor recipe (a recipe puts config_groups under a QuantizationModifier in quant_stage: quant_modifiers)")
			}
			return nil, errors.New("recipe has no QuantizationModifier, GPTQModifier or AutoRoundModifier")
		}
		var names []string
		for _, m := range mods {
			names = append(names, m.name)
		}
		return nil, fmt.Errorf("recipe has no QuantizationModifier, GPTQModifier or AutoRoundModifier (it has %s): it does not quantize", strings.Join(names, ", "))
	}
	for _, m := range mods {
		rec.Modifiers = append(rec.Modifiers, m.name)
		if err := rec.apply(m); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

func topKeys(root *yaml.Node) (map[string]bool, bool) {
	if root.Kind != yaml.MappingNode {
		return nil, false
	}
	out := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		out[root.Content[i].Value] = true
	}
	return out, true
}

// awqArgsError: Recipe.from_dict makes the AWQ transform
// (modifiers.transform.awq), which has none of the quantization arguments;
// only the deprecated Python function llmcompressor.modifiers.awq.AWQModifier
// split them off into a QuantizationModifier.
func awqArgsError(m recipeModifier) error {
	var keys []string
	for _, k := range awqQuantKeys {
		if _, ok := m.args[k]; ok {
			keys = append(keys, k)
		}
	}
	return fmt.Errorf("AWQModifier has no argument %s: llm-compressor's AWQ transform refuses it (only the deprecated Python function llmcompressor.modifiers.awq.AWQModifier split these off into a QuantizationModifier); put them in a QuantizationModifier after the AWQModifier", strings.Join(keys, ", "))
}

func hasAnyKey(m map[any]any, keys []string) bool {
	for _, k := range keys {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// awqQuantKeys are the keys llm-compressor's deprecated AWQModifier
// function handed to a QuantizationModifier of its own; the AWQ transform
// that recipes create takes none of them.
var awqQuantKeys = []string{"config_groups", "targets", "ignore", "scheme", "kv_cache_scheme"}

func modifierOf(name string, v *yaml.Node) (recipeModifier, error) {
	val, err := modelopt.FromNode(v)
	if err != nil {
		return recipeModifier{}, fmt.Errorf("recipe: %v", err)
	}
	switch x := val.(type) {
	case nil:
		return recipeModifier{name: name, args: map[any]any{}}, nil
	case map[any]any:
		return recipeModifier{name: name, args: x, node: v}, nil
	}
	return recipeModifier{}, fmt.Errorf("%s: its arguments must be a mapping", name)
}

// stagedModifiers: <x>_stage: {<y>_modifiers: {Modifier: args}} in order.
func stagedModifiers(root *yaml.Node) ([]recipeModifier, error) {
	var out []recipeModifier
	if root.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, stage := root.Content[i], root.Content[i+1]
		if !strings.HasSuffix(k.Value, "_stage") || stage.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(stage.Content); j += 2 {
			gk, group := stage.Content[j], stage.Content[j+1]
			if !strings.HasSuffix(gk.Value, "_modifiers") || group.Kind != yaml.MappingNode {
				continue
			}
			for m := 0; m+1 < len(group.Content); m += 2 {
				rm, err := modifierOf(group.Content[m].Value, group.Content[m+1])
				if err != nil {
					return nil, err
				}
				out = append(out, rm)
			}
		}
	}
	return out, nil
}

// looseModifiers finds keys named …Modifier anywhere, in file order.
func looseModifiers(n *yaml.Node) ([]recipeModifier, error) {
	var out []recipeModifier
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if strings.HasSuffix(k.Value, "Modifier") && (v.Kind == yaml.MappingNode || v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
				rm, err := modifierOf(k.Value, v)
				if err != nil {
					return nil, err
				}
				out = append(out, rm)
				continue
			}
			sub, err := looseModifiers(v)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			sub, err := looseModifiers(c)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	return out, nil
}

// apply adds one modifier's effect, as llm-compressor's QuantizationMixin
// and GPTQModifier resolve it.
func (r *Recipe) apply(m recipeModifier) error {
	switch {
	case quantModifiers[m.name]:
	case m.name == "AWQModifier" && hasAnyKey(m.args, awqQuantKeys):
		return awqArgsError(m)
	case m.name == "SmoothQuantModifier" || m.name == "AWQModifier" || m.name == "LogarithmicEqualizationModifier":
		r.Notes = append(r.Notes, calibrationNote(m.name))
		r.transforms = append(r.transforms, m.name)
		return nil
	case strings.Contains(m.name, "Pruning") || m.name == "SparseGPTModifier":
		desc := "prunes weights"
		if s, ok := m.args["mask_structure"].(string); ok && s != "0:0" {
			desc += " (" + s + " structured sparsity)"
		} else if sp, ok := m.args["sparsity"]; ok {
			desc += fmt.Sprintf(" (sparsity %v)", sp)
		}
		r.Unmatched = append(r.Unmatched, fmt.Sprintf("%s %s: qrun has no sparsity axis and its ModelOpt formats do not prune", m.name, desc))
		return nil
	case m.name == "QuIPModifier" || m.name == "SpinQuantModifier":
		r.Unmatched = append(r.Unmatched, fmt.Sprintf("%s rotates weights and activations (Hadamard transforms) before quantizing: no qrun selection applies these rotations", m.name))
		return nil
	default:
		r.Unmatched = append(r.Unmatched, fmt.Sprintf("%s: not a quantization modifier qrun reads; what it does to the model is part of no qrun selection", m.name))
		return nil
	}
	for k := range m.args {
		ks, _ := k.(string)
		if !modifierKeys[ks] && !(m.name == "GPTQModifier" && gptqKeys[ks]) && !(m.name == "AutoRoundModifier" && autoRoundKeys[ks]) {
			if ks == "actorder" {
				return fmt.Errorf("%s has no actorder argument (llm-compressor refuses unknown modifier arguments); actorder belongs to GPTQModifier or to weights", m.name)
			}
			return fmt.Errorf("%s has no argument %s: llm-compressor refuses unknown modifier arguments (scheme_overrides and other SparseML-era keys are gone)", m.name, modelopt.Format(k))
		}
	}
	hasConfig := m.args["config_groups"] != nil || m.args["scheme"] != nil || m.args["kv_cache_scheme"] != nil ||
		len(stringsOf(m.args["ignore"])) > 0 || !targetsDefault(m.args["targets"])
	if !hasConfig {
		if m.name == "QuantizationModifier" {
			r.Notes = append(r.Notes, "QuantizationModifier without scheme, config_groups or kv_cache_scheme: it quantizes nothing of its own (it calibrates what earlier modifiers set up)")
			return nil
		}
		if len(r.Groups) == 0 {
			return fmt.Errorf("%s has no scheme or config_groups and no earlier modifier set one up: llm-compressor stops with \"unable to find any modules to quantize\"", m.name)
		}
		for i := range r.Groups {
			r.Groups[i].CalibratedBy = append(r.Groups[i].CalibratedBy, m.name)
		}
		if ao, ok := m.args["actorder"]; ok && ao != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("%s actorder: %s applies only to a config of its own; this one has none, so the earlier groups keep their own actorder", m.name, modelopt.Format(ao)))
		}
		return nil
	}
	groups, err := modifierGroups(m)
	if err != nil {
		return err
	}
	if m.name == "GPTQModifier" {
		if err := resolveActorder(m, groups); err != nil {
			return err
		}
	}
	if kv, ok := m.args["kv_cache_scheme"]; ok && kv != nil {
		q, err := quantArgs(kv)
		if err != nil {
			return fmt.Errorf("%s kv_cache_scheme: %v", m.name, err)
		}
		if r.KVCache != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("kv_cache_scheme of %s replaces the one of %s", m.name, r.KVModifier))
		}
		r.KVCache, r.KVModifier = q, m.name
	}
	// A later modifier re-initializes the modules it targets
	// (compressed-tensors' apply_quantization_config sets each matched
	// module's scheme): an earlier group with exactly the same targets is
	// replaced — by an empty scheme too, when the modifier has a config
	// (ignore, targets, kv_cache_scheme) but neither scheme nor
	// config_groups.
	for _, g := range groups {
		for i := 0; i < len(r.Groups); i++ {
			if sameSet(r.Groups[i].Targets, g.Targets) {
				what := g.Modifier + " " + g.Name
				if empty(g) && g.Scheme == "" {
					what = g.Modifier + "'s empty default scheme (it has a config but neither scheme nor config_groups)"
				}
				r.Notes = append(r.Notes, fmt.Sprintf("%s replaces %s %s (same targets)", what, r.Groups[i].Modifier, r.Groups[i].Name))
				r.Groups = append(r.Groups[:i], r.Groups[i+1:]...)
				i--
			}
		}
	}
	if m.name == "GPTQModifier" {
		weights := false
		for _, g := range groups {
			weights = weights || g.Weights != nil
		}
		if !weights {
			return errors.New("GPTQModifier has a config (ignore, targets or kv_cache_scheme) but no weights to quantize in it: llm-compressor gives its targets an empty scheme and stops with \"unable to find any modules to quantize\"")
		}
	}
	for _, g := range groups {
		// The modifier's default group (no scheme, no config_groups) and
		// UNQUANTIZED quantize nothing; keep the latter, it was asked for.
		if empty(g) && g.Scheme == "" {
			continue
		}
		g.Transforms = append([]string(nil), r.transforms...)
		r.Groups = append(r.Groups, g)
	}
	return nil
}

// The arguments llm-compressor's quantization modifiers take (pydantic,
// extra="forbid"): Modifier's, QuantizationMixin's, and GPTQModifier's and
// AutoRoundModifier's own.
var (
	modifierKeys = keySet("requires_calibration_data", "index", "group", "start", "end", "update",
		"config_groups", "targets", "ignore", "scheme", "kv_cache_scheme",
		"weight_observer", "input_observer", "output_observer", "observer", "bypass_divisibility_checks")
	gptqKeys      = keySet("block_size", "dampening_frac", "actorder", "offload_hessians")
	autoRoundKeys = keySet("iters", "enable_torch_compile", "batch_size", "lr", "device_ids", "disable_opt_rtn")
)

func keySet(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func empty(g Group) bool { return g.Weights == nil && g.Activations == nil && g.Outputs == nil }

func calibrationNote(name string) string {
	return fmt.Sprintf("%s: a calibration transform (it rescales weights and activations before quantizing); it changes no quantization format — a qrun format calibrates with its own algorithm (see qrun vocab show FORMAT)", name)
}

func targetsDefault(v any) bool {
	t := stringsOf(v)
	return v == nil || len(t) == 1 && t[0] == "Linear"
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s] == 0 {
			return false
		}
		seen[s]--
	}
	return true
}

// resolveActorder is GPTQModifier.resolve_quantization_config: the
// modifier's actorder (default "static", i.e. weight) fills in weights
// without one; a modifier value that differs from the weights' is an
// error; group order on a strategy without groups falls back to none.
func resolveActorder(m recipeModifier, groups []Group) error {
	mod, set := m.args["actorder"]
	modOrder := "weight"
	if set {
		var err error
		if modOrder, err = actorderOf(mod); err != nil {
			return fmt.Errorf("GPTQModifier actorder: %v", err)
		}
	}
	for i := range groups {
		w := groups[i].Weights
		if w == nil {
			continue
		}
		switch w.Strategy {
		case "group", "tensor_group", "channel", "tensor", "block":
		default:
			continue
		}
		switch {
		case !set:
			if w.Actorder == "" {
				w.Actorder = "weight"
			}
		case w.Actorder == "" || w.Actorder == modOrder:
			w.Actorder = modOrder
		default:
			return fmt.Errorf("GPTQModifier actorder %s and %s weights actorder %s differ: llm-compressor refuses the recipe (\"Cannot resolve activation ordering\")", orNone(modOrder), groups[i].Name, w.Actorder)
		}
		if w.Actorder == "group" && w.Strategy != "group" && w.Strategy != "tensor_group" {
			w.Actorder = "" // llm-compressor falls back to no activation ordering
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

// actorderOf reads compressed-tensors' ActivationOrdering: true is group,
// false and null none, dynamic and static the aliases of group and weight.
func actorderOf(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case bool:
		if x {
			return "group", nil
		}
		return "", nil
	case string:
		switch strings.ToLower(x) {
		case "group", "dynamic":
			return "group", nil
		case "weight", "static":
			return "weight", nil
		}
	}
	return "", fmt.Errorf("actorder %s is not group, weight, dynamic, static, true, false or null", modelopt.Format(v))
}

func modifierGroups(m recipeModifier) ([]Group, error) {
	scheme := m.args["scheme"]
	groups := m.args["config_groups"]
	if scheme != nil && groups != nil {
		return nil, fmt.Errorf("%s has both scheme and config_groups; llm-compressor takes one or the other", m.name)
	}
	targets := stringsOf(m.args["targets"])
	if m.args["targets"] == nil {
		targets = []string{"Linear"}
	}
	ignore := stringsOf(m.args["ignore"])
	mk := func(name string, t []string) Group {
		return Group{Name: name, Modifier: m.name, Targets: t, Ignore: ignore}
	}
	if scheme != nil {
		switch s := scheme.(type) {
		case string:
			w, a, ok := preset(s)
			if !ok {
				return nil, fmt.Errorf("scheme %q is not a compressed-tensors 0.18 preset (%s)", s, strings.Join(presetOrder, ", "))
			}
			g := mk("scheme", targets)
			g.Weights, g.Activations, g.Scheme = w, a, strings.ToUpper(s)
			return []Group{g}, nil
		case map[any]any:
			if isSchemeBody(s) {
				// scheme: {weights: …, input_activations: …} — the
				// QuantizationScheme keys with the modifier's targets, as
				// the modifier's documentation describes it.
				g := mk("scheme", targets)
				if err := schemeBody(&g, s); err != nil {
					return nil, fmt.Errorf("%s scheme: %v", m.name, err)
				}
				return []Group{g}, nil
			}
			var out []Group
			i := 0
			for _, k := range m.orderedKeys("scheme", s) {
				name, _ := k.(string)
				w, a, ok := preset(name)
				if !ok {
					return nil, fmt.Errorf("scheme %q is not a compressed-tensors 0.18 preset (%s)", name, strings.Join(presetOrder, ", "))
				}
				g := mk(fmt.Sprintf("group_%d", i), stringsOf(s[k]))
				g.Weights, g.Activations, g.Scheme = w, a, strings.ToUpper(name)
				out = append(out, g)
				i++
			}
			return out, nil
		}
		return nil, errors.New("scheme must be a preset name or {PRESET: [targets]}")
	}
	if groups == nil {
		// QuantizationScheme(targets=targets): nothing quantized.
		return []Group{mk("group_0", targets)}, nil
	}
	gm, ok := groups.(map[any]any)
	if !ok {
		return nil, fmt.Errorf("%s config_groups must be a mapping of groups", m.name)
	}
	var out []Group
	for _, k := range m.orderedKeys("config_groups", gm) {
		g, ok := gm[k].(map[any]any)
		if !ok {
			return nil, fmt.Errorf("config group %v is not a mapping", k)
		}
		grp := mk(fmt.Sprint(k), stringsOf(g["targets"]))
		if err := schemeBody(&grp, g); err != nil {
			return nil, fmt.Errorf("config group %v %v", k, err)
		}
		out = append(out, grp)
	}
	return out, nil
}

var schemeKeys = map[string]bool{"targets": true, "weights": true, "input_activations": true, "output_activations": true, "format": true}

func isSchemeBody(m map[any]any) bool {
	for k := range m {
		if s, ok := k.(string); ok && schemeKeys[s] && s != "targets" {
			return true
		}
	}
	return false
}

// schemeBody reads a QuantizationScheme's weights, input_activations and
// output_activations (extra keys are refused, as compressed-tensors does).
func schemeBody(g *Group, m map[any]any) error {
	for k := range m {
		s, _ := k.(string)
		if !schemeKeys[s] {
			return fmt.Errorf("has unknown QuantizationScheme key %s", modelopt.Format(k))
		}
	}
	var err error
	if g.Weights, err = quantArgs(m["weights"]); err != nil {
		return fmt.Errorf("weights: %v", err)
	}
	if g.Activations, err = quantArgs(m["input_activations"]); err != nil {
		return fmt.Errorf("input_activations: %v", err)
	}
	if g.Outputs, err = quantArgs(m["output_activations"]); err != nil {
		return fmt.Errorf("output_activations: %v", err)
	}
	if g.Activations != nil && g.Activations.Actorder != "" {
		return errors.New("input_activations: actorder applies to weights only (compressed-tensors: \"Cannot apply actorder to input activations\")")
	}
	return nil
}

// orderedKeys returns the keys of the modifier argument key's mapping in
// file order (llm-compressor numbers scheme groups in that order), or
// sorted when the file order is unknown.
func (m recipeModifier) orderedKeys(key string, v map[any]any) []any {
	if m.node != nil && m.node.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(m.node.Content); i += 2 {
			if m.node.Content[i].Value != key || m.node.Content[i+1].Kind != yaml.MappingNode {
				continue
			}
			var out []any
			c := m.node.Content[i+1].Content
			for j := 0; j+1 < len(c); j += 2 {
				if _, ok := v[c[j].Value]; ok {
					out = append(out, c[j].Value)
				}
			}
			if len(out) == len(v) {
				return out
			}
		}
	}
	return modelopt.SortedKeys(v)
}

func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

func quantArgs(v any) (*QuantArgs, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[any]any)
	if !ok {
		return nil, errors.New("must be a mapping of QuantizationArgs")
	}
	q := &QuantArgs{NumBits: 8, Type: "int", Symmetric: true, Dynamic: false}
	groupSet := false
	for _, k := range modelopt.SortedKeys(m) {
		val := m[k]
		switch k {
		case "num_bits":
			n, ok := val.(int)
			if !ok || n < 1 {
				return nil, fmt.Errorf("num_bits %s is not a positive integer", modelopt.Format(val))
			}
			q.NumBits = n
		case "type":
			s, _ := val.(string)
			s = strings.ToLower(s)
			if s != "int" && s != "float" {
				return nil, fmt.Errorf("type %s is not int or float", modelopt.Format(val))
			}
			q.Type = s
		case "symmetric":
			b, ok := val.(bool)
			if !ok {
				return nil, fmt.Errorf("symmetric must be true or false")
			}
			q.Symmetric = b
		case "strategy":
			if val == nil {
				break
			}
			s, _ := val.(string)
			q.Strategy = strings.ToLower(s)
		case "group_size":
			if val == nil {
				break
			}
			n, ok := val.(int)
			if !ok || n < -1 || n == 0 {
				return nil, fmt.Errorf("group_size %s is not a positive integer or -1 (-1: per channel)", modelopt.Format(val))
			}
			q.GroupSize, groupSet = n, true
		case "block_structure":
			if val == nil {
				break
			}
			l, ok := val.([]any)
			if s, isStr := val.(string); isStr {
				// compressed-tensors still reads "128x128"
				parts := strings.Split(s, "x")
				l, ok = nil, len(parts) == 2
				for _, p := range parts {
					var n int
					if _, err := fmt.Sscan(p, &n); err != nil {
						ok = false
					}
					l = append(l, n)
				}
			}
			if !ok || len(l) != 2 {
				return nil, fmt.Errorf("block_structure must be [rows, cols]")
			}
			for _, e := range l {
				n, ok := e.(int)
				if !ok || n < 1 {
					return nil, fmt.Errorf("block_structure must be [rows, cols] of positive integers")
				}
				q.BlockStructure = append(q.BlockStructure, n)
			}
		case "dynamic":
			switch d := val.(type) {
			case bool:
				q.Dynamic = d
			case string:
				if strings.ToLower(d) != "local" {
					return nil, fmt.Errorf("dynamic %s is not true, false or local", modelopt.Format(val))
				}
				q.Dynamic = "local"
			default:
				return nil, fmt.Errorf("dynamic %s is not true, false or local", modelopt.Format(val))
			}
		case "actorder":
			a, err := actorderOf(val)
			if err != nil {
				return nil, err
			}
			q.Actorder = a
		case "scale_dtype":
			if s, ok := val.(string); ok {
				q.ScaleDtype = strings.TrimPrefix(s, "torch.")
			}
		case "observer":
			if s, ok := val.(string); ok {
				q.Observer = s
			}
		case "observer_kwargs", "zp_dtype":
			// calibration and storage details without a granularity meaning
		default:
			return nil, fmt.Errorf("unknown QuantizationArgs key %s", modelopt.Format(k))
		}
	}
	// compressed-tensors' validate_model_after: infer the strategy from
	// group_size (none: tensor; > 0: group; -1: channel) and check it.
	if q.Strategy == "" {
		switch {
		case !groupSet:
			q.Strategy = "tensor"
		case q.GroupSize > 0:
			q.Strategy = "group"
		default:
			q.Strategy = "channel"
		}
	}
	if q.GroupSize == -1 {
		if q.Strategy != "channel" {
			return nil, fmt.Errorf("group_size -1 (per channel) with strategy %s: compressed-tensors refuses it", q.Strategy)
		}
		q.GroupSize = 0
	}
	if (q.Strategy == "group" || q.Strategy == "tensor_group") && q.GroupSize <= 0 {
		return nil, fmt.Errorf("strategy %s needs a positive group_size (compressed-tensors refuses it without)", q.Strategy)
	}
	if q.GroupSize > 0 && q.Strategy != "group" && q.Strategy != "tensor_group" {
		return nil, fmt.Errorf("group_size %d with strategy %s: compressed-tensors refuses it (group_size requires strategy group)", q.GroupSize, q.Strategy)
	}
	if (q.Strategy == "block") != (len(q.BlockStructure) == 2) {
		return nil, errors.New("block_structure and strategy: block go together (compressed-tensors refuses one without the other)")
	}
	if q.Actorder == "group" && q.Strategy != "group" && q.Strategy != "tensor_group" {
		return nil, fmt.Errorf("actorder: group with strategy %s: compressed-tensors refuses it (group activation ordering needs strategy group or tensor_group)", q.Strategy)
	}
	if s, ok := q.Dynamic.(string); ok && s == "local" && q.Strategy != "tensor_group" {
		return nil, fmt.Errorf(`dynamic: local with strategy %s: compressed-tensors refuses it ("local is only supported for strategy tensor_group")`, q.Strategy)
	}
	return q, nil
}
