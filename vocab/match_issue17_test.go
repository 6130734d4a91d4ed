package vocab

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// Tests for issue #17, one per way vocab match used to misread a recipe.

func recipeOf(t *testing.T, yaml string) *Recipe {
	t.Helper()
	r, err := ParseRecipe([]byte(yaml))
	if err != nil {
		t.Fatalf("%v\n%s", err, yaml)
	}
	return r
}

func matchRecipe(t *testing.T, yaml string) (*RecipeMatch, error) {
	t.Helper()
	return Builtin().MatchRecipe(recipeOf(t, yaml))
}

func stage(mods string) string {
	return "quant_stage:\n  quant_modifiers:\n" + indent(mods, "    ")
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = pre + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// parts are the unmatched reasons (notes: the notes) of the recipe, its KV
// cache and each group, in that order.
func parts(m *RecipeMatch, notes bool) []string {
	pick := func(unmatched, n []string) []string {
		if notes {
			return n
		}
		return unmatched
	}
	all := slices.Clone(pick(m.Unmatched, m.Notes))
	if m.KV != nil {
		all = append(all, pick(m.KV.Unmatched, m.KV.Notes)...)
	}
	for _, g := range m.Groups {
		all = append(all, pick(g.Unmatched, g.Notes)...)
	}
	return all
}

func allUnmatched(m *RecipeMatch) string { return strings.Join(parts(m, false), "\n") }

func allNotes(m *RecipeMatch) string { return strings.Join(parts(m, true), "\n") }

func first(m *RecipeMatch, i int) Candidate {
	if i >= len(m.Groups) || len(m.Groups[i].Matches) == 0 {
		return Candidate{}
	}
	return m.Groups[i].Matches[0]
}

// TestMatchEveryPresetOfCompressedTensors018IsKnown: every name of
// PRESET_SCHEMES is read; the ones that were "unknown" are mapped or refused
// with their true reason; names outside it are still refused as unknown.
func TestMatchEveryPresetOfCompressedTensors018IsKnown(t *testing.T) {
	for _, p := range PresetNames() {
		if _, _, ok := preset(p); !ok {
			t.Errorf("%s is in PRESET_SCHEMES but not known", p)
		}
		if _, _, ok := preset(strings.ToLower(p)); !ok {
			t.Errorf("%s: preset names are case-insensitive (preset_name_to_scheme upper-cases them)", p)
		}
	}
	for _, p := range []string{"W8A4", "W5A4", "W9A16", "W1A16", "W4A32", "FP4", "W8A8_ASYM", "NVFP8"} {
		if _, _, ok := preset(p); ok {
			t.Errorf("%s is not a compressed-tensors 0.18 preset but was accepted", p)
		}
	}
	cases := []struct{ scheme, want, reason string }{
		{"W4A16_ASYM", "", "asymmetric zero points"},
		{"UNQUANTIZED", "", "quantizes nothing"},
		{"W3A16", "", "no format × granularity in the vocabulary gives these attributes (weights {num_bits: 3"},
		{"W4A4", "", "input_activations {num_bits: 4, axis: null, type: dynamic"},
		{"MXFP8A16", "", "scale_bits: [8, 0]}}; input_activations not quantized"},
		{"MXFP4A16", "", "num_bits: [2, 1], block_sizes: {-1: 32, type: dynamic, scale_bits: [8, 0]}"},
		{"MXFP8", "mxfp8/default", ""},
		{"MXFP4", "mxfp4/default", ""},
		{"W8A16", "int8_weight_only/w_group128", ""},
		{"INT8", "int8/a_per_token_dynamic", ""},
	}
	for _, c := range cases {
		m, err := matchRecipe(t, stage("QuantizationModifier:\n  ignore: [lm_head]\n  scheme: "+c.scheme+"\n"))
		got := first(m, 0)
		if c.want != "" {
			if err != nil || got.Format+"/"+got.Granularity != c.want {
				t.Errorf("%s → %+v (%v), want %s: %s", c.scheme, got, err, c.want, allUnmatched(m))
			}
			continue
		}
		if !errors.Is(err, ErrNoEquivalent) || !strings.Contains(allUnmatched(m), c.reason) {
			t.Errorf("%s: %v %q, want refused with %q", c.scheme, err, allUnmatched(m), c.reason)
		}
		if strings.Contains(allUnmatched(m), "not a compressed-tensors") {
			t.Errorf("%s called unknown", c.scheme)
		}
	}
}

// TestMatchAutoRoundModifierIsAQuantizationScheme: AutoRoundModifier's
// scheme quantizes like the others' (it only calibrates differently).
func TestMatchAutoRoundModifierIsAQuantizationScheme(t *testing.T) {
	m, err := matchRecipe(t, stage("AutoRoundModifier:\n  targets: Linear\n  scheme: W4A16\n  ignore: [lm_head]\n  iters: 200\n"))
	if err != nil || len(m.Groups) != 1 || first(m, 0) != (Candidate{"int4_blockwise_weight_only", "default"}) {
		t.Fatalf("%v %+v", err, m)
	}
	if m.Groups[0].Modifier != "AutoRoundModifier" || !strings.Contains(allNotes(m), "calibrated by AutoRoundModifier") {
		t.Errorf("the group does not say AutoRound calibrates it: %+v", m.Groups[0])
	}
}

// TestMatchGPTQModifierWithoutSchemeCalibratesTheEarlierOne: a
// GPTQModifier with no config of its own applies GPTQ to the groups an
// earlier QuantizationModifier set up (llm-compressor's test recipes do
// this); alone it is llm-compressor's error.
func TestMatchGPTQModifierWithoutSchemeCalibratesTheEarlierOne(t *testing.T) {
	yaml := "test_stage:\n  quant_modifiers:\n    QuantizationModifier:\n      ignore: [lm_head]\n      config_groups:\n        group_0:\n          targets: [Linear]\n          weights: {num_bits: 4, type: int, symmetric: true, strategy: group, group_size: 128}\n    GPTQModifier:\n      block_size: 128\n      actorder: group\n"
	r := recipeOf(t, yaml)
	if len(r.Groups) != 1 || r.Groups[0].Modifier != "QuantizationModifier" || strings.Join(r.Groups[0].CalibratedBy, ",") != "GPTQModifier" {
		t.Fatalf("groups %+v", r.Groups)
	}
	m, err := Builtin().MatchRecipe(r)
	if err != nil || first(m, 0) != (Candidate{"int4_blockwise_weight_only", "default"}) {
		t.Fatalf("%v %+v", err, m)
	}
	if !strings.Contains(allNotes(m), "calibrated by GPTQModifier") || !strings.Contains(allNotes(m), "applies only to a config of its own") {
		t.Errorf("notes %q", allNotes(m))
	}
	if _, err := ParseRecipe([]byte(stage("GPTQModifier:\n  block_size: 128\n"))); err == nil || !strings.Contains(err.Error(), "unable to find any modules to quantize") {
		t.Errorf("a lone config-less GPTQModifier: %v", err)
	}
	// With a config of its own but no scheme (here: ignore), GPTQModifier
	// gives its targets an empty scheme: llm-compressor's error.
	if _, err := ParseRecipe([]byte(stage("QuantizationModifier:\n  scheme: W4A16\nGPTQModifier:\n  ignore: [lm_head]\n"))); err == nil || !strings.Contains(err.Error(), "unable to find any modules to quantize") {
		t.Errorf("GPTQModifier with only ignore: %v", err)
	}
	// A later KV-only QuantizationModifier resets the Linear layers too.
	r = recipeOf(t, stage("QuantizationModifier:\n  scheme: W4A16\nAutoRoundModifier:\n  kv_cache_scheme: {num_bits: 8, type: float, strategy: tensor}\n"))
	if len(r.Groups) != 0 || !strings.Contains(strings.Join(r.Notes, " "), "empty default scheme") {
		t.Errorf("an empty default scheme on the same targets: %+v %q", r.Groups, r.Notes)
	}
	// The order is the file's: QuantizationModifier's groups come first
	// whatever the modifiers are called.
	r = recipeOf(t, stage("QuantizationModifier:\n  scheme: W4A16\n  targets: ['re:.*self_attn.*']\nGPTQModifier:\n  scheme: W8A8\n  targets: ['re:.*mlp.*']\n"))
	if len(r.Groups) != 2 || r.Groups[0].Modifier != "QuantizationModifier" || r.Groups[1].Modifier != "GPTQModifier" {
		t.Errorf("modifier order lost: %+v", r.Groups)
	}
}

// TestMatchModifierLevelActorder: GPTQModifier's actorder (default static)
// is the weights' unless they set their own; group order is refused,
// weight order maps; a conflict is llm-compressor's error.
func TestMatchModifierLevelActorder(t *testing.T) {
	w4 := "  config_groups:\n    group_0:\n      targets: [Linear]\n      weights: {num_bits: 4, type: int, strategy: group, group_size: 128%s}\n"
	gptq := func(mod, args string) string {
		return stage("GPTQModifier:\n  ignore: [lm_head]\n" + mod + strings.Replace(w4, "%s", args, 1))
	}
	m, err := matchRecipe(t, gptq("  actorder: group\n", ""))
	if !errors.Is(err, ErrNoEquivalent) || !strings.Contains(allUnmatched(m), "actorder: group — a permutation index (g_idx)") {
		t.Errorf("modifier actorder: group: %v %q", err, allUnmatched(m))
	}
	for _, mod := range []string{"", "  actorder: static\n", "  actorder: weight\n", "  actorder: null\n"} {
		if m, err := matchRecipe(t, gptq(mod, "")); err != nil {
			t.Errorf("%q: %v %q", mod, err, allUnmatched(m))
		}
	}
	if r := recipeOf(t, gptq("", "")); r.Groups[0].Weights.Actorder != "weight" {
		t.Errorf("GPTQModifier's default actorder is static (weight), got %q", r.Groups[0].Weights.Actorder)
	}
	if r := recipeOf(t, gptq("  actorder: null\n", "")); r.Groups[0].Weights.Actorder != "" {
		t.Errorf("actorder: null leaves none, got %q", r.Groups[0].Weights.Actorder)
	}
	if _, err := ParseRecipe([]byte(gptq("  actorder: group\n", ", actorder: weight"))); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("conflicting actorders: %v", err)
	}
	// group order on per-channel weights: llm-compressor drops it.
	r := recipeOf(t, stage("GPTQModifier:\n  actorder: group\n  config_groups:\n    g:\n      targets: [Linear]\n      weights: {num_bits: 8, type: int, strategy: channel}\n      input_activations: {num_bits: 8, type: int, strategy: token, dynamic: true}\n"))
	if r.Groups[0].Weights.Actorder != "" {
		t.Errorf("group actorder on channel weights kept: %q", r.Groups[0].Weights.Actorder)
	}
	if _, err := ParseRecipe([]byte(stage("QuantizationModifier:\n  actorder: weight\n  scheme: W4A16\n"))); err == nil || !strings.Contains(err.Error(), "no actorder argument") {
		t.Errorf("QuantizationModifier actorder: %v", err)
	}
}

// TestMatchActorderWeightIsACalibrationOrder: actorder: weight (static)
// changes GPTQ's column order, not the layout: it maps.
func TestMatchActorderWeightIsACalibrationOrder(t *testing.T) {
	for _, a := range []string{"weight", "static"} {
		m, err := matchRecipe(t, stage("GPTQModifier:\n  ignore: [lm_head]\n  config_groups:\n    g:\n      targets: [Linear]\n      weights: {num_bits: 4, type: int, strategy: group, group_size: 128, actorder: "+a+"}\n"))
		if err != nil || first(m, 0) != (Candidate{"int4_blockwise_weight_only", "default"}) {
			t.Errorf("actorder %s: %v %q", a, err, allUnmatched(m))
		}
		if !strings.Contains(allNotes(m), "granularity are unchanged") {
			t.Errorf("actorder %s: no note", a)
		}
	}
	for _, a := range []string{"group", "dynamic", "true"} {
		m, err := matchRecipe(t, stage("GPTQModifier:\n  config_groups:\n    g:\n      targets: [Linear]\n      weights: {num_bits: 4, type: int, strategy: group, group_size: 128, actorder: "+a+"}\n"))
		if !errors.Is(err, ErrNoEquivalent) || !strings.Contains(allUnmatched(m), "g_idx") {
			t.Errorf("actorder %s: %v", a, err)
		}
	}
}

// TestMatchGroupSizeMinusOneIsPerChannel: compressed-tensors reads
// group_size: -1 as "whole row", strategy channel.
func TestMatchGroupSizeMinusOneIsPerChannel(t *testing.T) {
	for _, w := range []string{"{num_bits: 8, type: int, group_size: -1}", "{num_bits: 8, type: int, strategy: channel, group_size: -1}"} {
		r := recipeOf(t, stage("QuantizationModifier:\n  ignore: [lm_head]\n  config_groups:\n    g:\n      targets: [Linear]\n      weights: "+w+"\n      input_activations: {num_bits: 8, type: int, strategy: token, dynamic: true}\n"))
		if q := r.Groups[0].Weights; q.Strategy != "channel" || q.GroupSize != 0 {
			t.Errorf("%s → %+v", w, q)
		}
		m, err := Builtin().MatchRecipe(r)
		if err != nil || first(m, 0) != (Candidate{"int8", "a_per_token_dynamic"}) {
			t.Errorf("%s: %v %+v", w, err, m.Groups)
		}
	}
	if _, err := ParseRecipe([]byte(stage("QuantizationModifier:\n  config_groups:\n    g:\n      targets: [Linear]\n      weights: {num_bits: 4, strategy: group, group_size: -1}\n"))); err == nil {
		t.Error("strategy group with group_size -1 accepted; compressed-tensors refuses it")
	}
}

// TestMatchFloat8Group32WithoutE8M0ScalesIsNotMX: MX needs E8M0 scales
// (scale_dtype: uint8, compressed-tensors' should_generate_mx_scales).
func TestMatchFloat8Group32WithoutE8M0ScalesIsNotMX(t *testing.T) {
	args := "{num_bits: 8, type: float, strategy: group, group_size: 32%s}"
	acts := "{num_bits: 8, type: float, strategy: group, group_size: 32, dynamic: true%s}"
	for _, sd := range []string{"", ", scale_dtype: bfloat16"} {
		m, err := matchRecipe(t, stage("QuantizationModifier:\n  ignore: [lm_head]\n  config_groups:\n    g:\n      targets: [Linear]\n      weights: "+strings.Replace(args, "%s", sd, 1)+"\n      input_activations: "+strings.Replace(acts, "%s", sd, 1)+"\n"))
		if err == nil || len(m.Groups[0].Matches) > 0 {
			t.Errorf("scale_dtype %q: matched %+v", sd, m.Groups[0].Matches)
		}
		if !strings.Contains(allNotes(m), "not MX") {
			t.Errorf("scale_dtype %q: no note that it is not MX: %q", sd, allNotes(m))
		}
	}
	m, err := matchRecipe(t, stage("QuantizationModifier:\n  ignore: [lm_head]\n  config_groups:\n    g:\n      targets: [Linear]\n      weights: "+strings.Replace(args, "%s", ", scale_dtype: torch.uint8", 1)+"\n      input_activations: "+strings.Replace(acts, "%s", ", scale_dtype: uint8", 1)+"\n"))
	if err != nil || first(m, 0) != (Candidate{"mxfp8", "default"}) {
		t.Errorf("with E8M0 scales: %v %q", err, allUnmatched(m))
	}
}

// TestMatchNVFP4DynamicActivationsSaySo: ModelOpt's NVFP4 activations are
// dynamic-local (calibrated global scale, block scales at run time):
// compressed-tensors' dynamic: local maps, dynamic: true and false are
// refused with that reason.
func TestMatchNVFP4DynamicActivationsSaySo(t *testing.T) {
	w := "{num_bits: 4, type: float, strategy: tensor_group, group_size: 16, scale_dtype: float8_e4m3fn}"
	for dyn, ok := range map[string]bool{"local": true, "true": false, "false": false} {
		m, err := matchRecipe(t, stage("QuantizationModifier:\n  ignore: [lm_head]\n  config_groups:\n    g:\n      targets: [Linear]\n      weights: "+w+"\n      input_activations: {num_bits: 4, type: float, strategy: tensor_group, group_size: 16, dynamic: "+dyn+"}\n"))
		switch {
		case ok && (err != nil || first(m, 0) != (Candidate{"nvfp4", "default"})):
			t.Errorf("dynamic %s: %v %q", dyn, err, allUnmatched(m))
		case ok && !strings.Contains(allNotes(m), "ModelOpt's NVFP4 activations are the same"):
			t.Errorf("dynamic local: matched without saying ModelOpt's are dynamic-local: %q", allNotes(m))
		case !ok && (!errors.Is(err, ErrNoEquivalent) || !strings.Contains(allUnmatched(m), "dynamic-local")):
			t.Errorf("dynamic %s: %v %q, want refused saying ModelOpt's are dynamic-local", dyn, err, allUnmatched(m))
		}
		if !ok {
			near := Builtin().NearestMatches(recipeOf(t, stage("QuantizationModifier:\n  config_groups:\n    g:\n      targets: [Linear]\n      weights: "+w+"\n      input_activations: {num_bits: 4, type: float, strategy: tensor_group, group_size: 16, dynamic: "+dyn+"}\n")).Groups)
			if n := near[0]; n.Format != "nvfp4" || strings.Join(n.Changed, ",") != "NVFP4 activations dynamic-local" {
				t.Errorf("dynamic %s: nearest %+v", dyn, n)
			}
		}
	}
}

// TestMatchEmbeddingTargetsAreNotLinear: a group targeting Embedding (or
// another class) is not a qrun format's Linear layers.
func TestMatchEmbeddingTargetsAreNotLinear(t *testing.T) {
	m, err := matchRecipe(t, stage("QuantizationModifier:\n  config_groups:\n    embedding:\n      targets: [Embedding]\n      weights: {num_bits: 4, type: int, strategy: group, group_size: 128}\n"))
	if !errors.Is(err, ErrNoEquivalent) || len(m.Groups[0].Matches) > 0 || !strings.Contains(allUnmatched(m), "nn.Embedding unquantized") {
		t.Errorf("Embedding: %v %+v", err, m.Groups)
	}
	m, _ = matchRecipe(t, stage("QuantizationModifier:\n  config_groups:\n    a:\n      targets: [LlamaAttention]\n      input_activations: {num_bits: 8, type: float, strategy: tensor}\n"))
	if !strings.Contains(allUnmatched(m), "an attention module") {
		t.Errorf("attention: %q", allUnmatched(m))
	}
	// By name or regex: Linear layers, a note says the run covers more.
	m, err = matchRecipe(t, stage("QuantizationModifier:\n  config_groups:\n    g:\n      targets: ['re:.*mlp.*', model.layers.0.self_attn.q_proj]\n      weights: {num_bits: 4, type: int, strategy: group, group_size: 128}\n"))
	if err != nil || !strings.Contains(allNotes(m), "by layer name") {
		t.Errorf("regex targets: %v %q", err, allNotes(m))
	}
	for in, want := range map[string]string{"Linear": "class", "Embedding": "class", "re:.*mlp.*": "regex", "lm_head": "name", "model.layers.0.mlp": "name"} {
		if got := targetKind(in); got != want {
			t.Errorf("targetKind(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestMatchKVCacheSchemeIsTheKVCacheAxis: kv_cache_scheme maps to the
// vocabulary's KV entries by meaning. A static per-tensor FP8 scheme is
// calibrated (compressed-tensors observes K and V over the calibration
// data), which is ModelOpt's fp8 preset; fp8_cast's use_constant_amax is
// a fixed amax with no calibration — a different meaning.
func TestMatchKVCacheSchemeIsTheKVCacheAxis(t *testing.T) {
	kv := func(args string) string {
		return stage("QuantizationModifier:\n  ignore: [lm_head]\n  scheme: FP8_DYNAMIC\n  kv_cache_scheme: " + args + "\n")
	}
	for args, want := range map[string]string{
		"{num_bits: 8, type: float, strategy: tensor, dynamic: false, symmetric: true}":                                  "fp8",
		"{num_bits: 8, type: float, strategy: tensor}":                                                                   "fp8",
		"{num_bits: 8, type: float, symmetric: true, strategy: tensor, observer: static_minmax}":                         "fp8",
		"{num_bits: 4, type: float, strategy: tensor_group, group_size: 16, dynamic: local}":                             "nvfp4",
		"{num_bits: 4, type: float, strategy: tensor_group, group_size: 16, dynamic: local, scale_dtype: float8_e4m3fn}": "nvfp4",
	} {
		m, err := matchRecipe(t, kv(args))
		if err != nil || m.KVCacheValue() != want || strings.Join(m.KV.Matches, ",") != want {
			t.Errorf("%s: %v kv %q %+v, want %s", args, err, m.KVCacheValue(), m.KV, want)
		}
	}
	for args, reason := range map[string]string{
		"{num_bits: 8, type: float, strategy: attn_head}":                                   "attn_head",
		"{num_bits: 8, type: float, strategy: tensor, dynamic: true}":                       "static",
		"{num_bits: 8, type: int, strategy: tensor}":                                        "FP8 or NVFP4",
		"{num_bits: 8, type: float, strategy: tensor, symmetric: false}":                    "asymmetric",
		"{num_bits: 4, type: float, strategy: tensor_group, group_size: 16, dynamic: true}": "dynamic-local",
		"{num_bits: 8, type: float, strategy: channel}":                                     "one scale per tensor",
	} {
		m, err := matchRecipe(t, kv(args))
		if !errors.Is(err, ErrNoEquivalent) || m.KVCacheValue() != "" || !strings.Contains(allUnmatched(m), reason) {
			t.Errorf("%s: %v kv %q %q, want refused with %q", args, err, m.KVCacheValue(), allUnmatched(m), reason)
		}
		if len(m.Groups[0].Matches) == 0 {
			t.Errorf("%s: the group itself still matches", args)
		}
	}
	// No kv_cache_scheme: kv_cache none. A kv_cache_scheme alone quantizes
	// no Linear layer: refused, its KV value still given.
	if m, err := matchRecipe(t, stage("QuantizationModifier:\n  scheme: FP8\n")); err != nil || m.KVCacheValue() != NoKVCache {
		t.Errorf("no kv_cache_scheme: %v %q", err, m.KVCacheValue())
	}
	m, err := matchRecipe(t, stage("QuantizationModifier:\n  kv_cache_scheme: {num_bits: 8, type: float, strategy: tensor}\n"))
	if !errors.Is(err, ErrNoEquivalent) || len(m.Groups) != 0 || m.KVCacheValue() != "fp8" || !strings.Contains(allUnmatched(m), "quantizes no Linear layer") {
		t.Errorf("KV only: %v %+v", err, m)
	}
	// Set by an earlier modifier, it stays with a later one's scheme
	// (llm-compressor's AutoRound KV example).
	m, err = matchRecipe(t, stage("QuantizationModifier:\n  kv_cache_scheme: {num_bits: 8, type: float, strategy: tensor, dynamic: false, symmetric: true}\nAutoRoundModifier:\n  targets: [Linear]\n  scheme: W4A16\n  ignore: [lm_head]\n"))
	if err != nil || m.KVCacheValue() != "fp8" || first(m, 0) != (Candidate{"int4_blockwise_weight_only", "default"}) {
		t.Errorf("KV then AutoRound: %v %+v", err, m)
	}
}

// TestMatchOutputActivationsAreReported: output_activations are part of no
// qrun selection; never dropped silently.
func TestMatchOutputActivationsAreReported(t *testing.T) {
	m, err := matchRecipe(t, stage("QuantizationModifier:\n  ignore: [lm_head]\n  config_groups:\n    g:\n      targets: [Linear]\n      weights: {num_bits: 8, type: float, strategy: tensor}\n      input_activations: {num_bits: 8, type: float, strategy: tensor}\n      output_activations: {num_bits: 8, type: float, strategy: tensor}\n"))
	if !errors.Is(err, ErrNoEquivalent) || !strings.Contains(allUnmatched(m), "output_activations (float8 tensor static)") || m.Groups[0].Outputs != "float8 tensor static" {
		t.Errorf("%v %q", err, allUnmatched(m))
	}
	if m, err := matchRecipe(t, stage("QuantizationModifier:\n  ignore: [lm_head]\n  config_groups:\n    g:\n      targets: [Linear]\n      weights: {num_bits: 8, type: float, strategy: tensor}\n      output_activations: null\n")); err != nil {
		t.Errorf("output_activations: null: %v %q", err, allUnmatched(m))
	}
}

// TestMatchPruningAndRotationModifiersAreRefused: what a pruning or
// rotation modifier does is part of no qrun selection.
func TestMatchPruningAndRotationModifiersAreRefused(t *testing.T) {
	for mod, want := range map[string]string{
		"SparseGPTModifier:\n  sparsity: 0.5\n  mask_structure: '2:4'\n": "2:4 structured sparsity",
		"SpinQuantModifier:\n  rotations: [R1, R2]\n":                    "Hadamard",
		"QuIPModifier:\n  transform_type: hadamard\n":                    "Hadamard",
		"SmoothQuantModifier:\n  smoothing_strength: 0.8\n":              "",
	} {
		m, err := matchRecipe(t, stage(mod+"QuantizationModifier:\n  ignore: [lm_head]\n  scheme: W8A8\n"))
		if want == "" {
			if err != nil || first(m, 0).Format != "int8_smoothquant" && first(m, 0).Format != "int8" {
				t.Errorf("%s: %v %+v", mod, err, m.Groups)
			}
			continue
		}
		if !errors.Is(err, ErrNoEquivalent) || !strings.Contains(allUnmatched(m), want) {
			t.Errorf("%s: %v %q", mod, err, allUnmatched(m))
		}
	}
}

// TestParseRecipeReadsStagesAsLLMCompressorDoes: modifiers count under
// <x>_stage: <y>_modifiers:; elsewhere they are read with a note that
// llm-compressor would apply none; a quantization_config is not a recipe.
func TestParseRecipeReadsStagesAsLLMCompressorDoes(t *testing.T) {
	r := recipeOf(t, "QuantizationModifier:\n  scheme: FP8\n")
	if len(r.Groups) != 1 || !strings.Contains(strings.Join(r.Notes, " "), "would apply none of these") {
		t.Errorf("bare modifier: %+v %q", r.Groups, r.Notes)
	}
	r = recipeOf(t, "a_stage:\n  b_modifiers:\n    QuantizationModifier:\n      scheme: FP8\nc_stage:\n  d_modifiers:\n    GPTQModifier:\n      scheme: W4A16\n      targets: ['re:.*mlp.*']\n")
	if len(r.Groups) != 2 || len(r.Notes) != 0 || strings.Join(r.Modifiers, ",") != "QuantizationModifier,GPTQModifier" {
		t.Errorf("two stages: %+v %q %q", r.Groups, r.Notes, r.Modifiers)
	}
	_, err := ParseRecipe([]byte("quant_method: compressed-tensors\nconfig_groups:\n  group_1:\n    targets: [Linear]\n    weights: {num_bits: 8}\n"))
	if err == nil || !strings.Contains(err.Error(), "quantization_config") {
		t.Errorf("quantization_config: %v", err)
	}
}

// FuzzParseRecipe: any file is read or refused with an error, never a
// panic, and whatever is read can be matched.
func FuzzParseRecipe(f *testing.F) {
	for _, s := range []string{
		stage("QuantizationModifier:\n  scheme: W4A16\n"),
		stage("GPTQModifier:\n  actorder: group\n  config_groups:\n    g:\n      targets: Linear\n      weights: {num_bits: 4, group_size: -1}\n"),
		stage("QuantizationModifier:\n  kv_cache_scheme: {num_bits: 4, type: float, strategy: tensor_group, group_size: 16, dynamic: local}\n"),
		stage("QuantizationModifier:\n  scheme: {W8A8: [Linear], NVFP4: 're:.*mlp.*'}\n"),
		"a_stage:\n  b_modifiers:\n    AutoRoundModifier: {scheme: MXFP8}\n",
		"QuantizationModifier: {config_groups: [1, 2]}\n",
		"QuantizationModifier: {targets: 5, scheme: FP8}\n",
		stage("QuantizationModifier:\n  kv_cache_scheme: x\n"),
		stage("QuantizationModifier:\n  config_groups:\n    g: {targets: [Linear], weights: {block_structure: 128x128, strategy: block, type: float}}\n"),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecipe([]byte(s))
		if err != nil {
			return
		}
		m, err := Builtin().MatchRecipe(r)
		if err != nil && !errors.Is(err, ErrNoEquivalent) {
			t.Fatalf("MatchRecipe: %v", err)
		}
		_ = m.Full()
		Builtin().NearestMatches(r.Groups)
	})
}

// TestSchemeIsTheInverseOfMatch: the preset vocab show names for a format ×
// granularity is the one vocab match maps to it, for every preset of
// compressed-tensors 0.18 that matches (INT8 is W8A8's alias).
func TestSchemeIsTheInverseOfMatch(t *testing.T) {
	v := Builtin()
	for _, p := range PresetNames() {
		m, err := matchRecipe(t, stage("QuantizationModifier:\n  ignore: [lm_head]\n  scheme: "+p+"\n"))
		if err != nil {
			continue
		}
		for _, c := range m.Groups[0].Matches {
			r, err := v.Resolve(c.Format, c.Granularity)
			if err != nil {
				t.Fatal(err)
			}
			var w, a *Compressed
			for _, x := range (&Format{Config: r.Config}).LLMCompressor() {
				x := x
				if x.Role == "weights" {
					w = &x
				} else {
					a = &x
				}
			}
			want := p
			if p == "INT8" {
				want = "W8A8"
			}
			if got := Scheme(w, a); got != want {
				t.Errorf("%s matches %s × %s, whose scheme is %q", p, c.Format, c.Granularity, got)
			}
		}
	}
}
