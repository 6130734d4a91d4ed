package vocab

import (
	"errors"
	"strings"
	"testing"
)

const qwen3Target = `
quant_stage:
  quant_modifiers:
    GPTQModifier:
      ignore: [lm_head]
      config_groups:
        group_0:
          targets: [Linear]
          weights: {num_bits: 4, type: int, symmetric: true, strategy: channel, dynamic: false}
          input_activations: {num_bits: 8, type: int, symmetric: true, strategy: token, dynamic: true}
`

func matchOf(t *testing.T, recipe string) ([]GroupMatch, error) {
	t.Helper()
	r, err := ParseRecipe([]byte(recipe))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Builtin().MatchRecipe(r)
	return m.Groups, err
}

func TestMatchQwen3TargetRecipe(t *testing.T) {
	ms, err := matchOf(t, qwen3Target)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || len(ms[0].Matches) != 1 || ms[0].Matches[0] != (Candidate{"w4a8_int", "recipe_match_channel_token"}) {
		t.Fatalf("Qwen3 target → %+v", ms)
	}
}

func TestMatchPresetsAndTheW4A8Trap(t *testing.T) {
	cases := map[string]Candidate{
		"W4A16":       {"int4_awq", "default"},
		"W8A8":        {"int8", "a_per_token_dynamic"},
		"FP8":         {"fp8", "default"},
		"FP8_DYNAMIC": {"fp8_per_channel_per_token", "default"},
		"NVFP4":       {"nvfp4", "default"},
		"W4A8":        {"w4a8_int", "a_per_token_dynamic"},
		"MXFP8":       {"mxfp8", "default"},
	}
	for scheme, want := range cases {
		ms, err := matchOf(t, "quant_stage:\n  quant_modifiers:\n    QuantizationModifier:\n      targets: [Linear]\n      scheme: "+scheme+"\n")
		if err != nil {
			t.Errorf("%s: %v %+v", scheme, err, ms)
			continue
		}
		found := false
		for _, c := range ms[0].Matches {
			found = found || c == want
			if scheme == "W4A8" && c.Format == "w4a8_awq_beta" {
				t.Error("llm-compressor's W4A8 matched ModelOpt's w4a8_awq_beta")
			}
		}
		if !found {
			t.Errorf("%s → %+v, want %+v among them", scheme, ms[0].Matches, want)
		}
	}
}

func TestMatchNoEquivalent(t *testing.T) {
	for recipe, want := range map[string]string{
		"QuantizationModifier:\n  config_groups:\n    g:\n      targets: [Linear]\n      weights: {num_bits: 4, symmetric: false, strategy: group, group_size: 128}\n": "asymmetric zero points",
		"GPTQModifier:\n  config_groups:\n    g:\n      targets: [Linear]\n      weights: {num_bits: 4, strategy: group, group_size: 128, actorder: group}\n":          "actorder",
		"QuantizationModifier:\n  config_groups:\n    g:\n      targets: [Linear]\n      weights: {num_bits: 8, strategy: attn_head}\n":                                "attn_head",
	} {
		ms, err := matchOf(t, recipe)
		if !errors.Is(err, ErrNoEquivalent) || len(ms) != 1 || !strings.Contains(strings.Join(ms[0].Unmatched, " "), want) {
			t.Errorf("%q: %v %+v, want unmatched %q", recipe, err, ms, want)
		}
	}
}

func TestParseRecipeErrors(t *testing.T) {
	for recipe, want := range map[string]string{
		"":                "empty",
		"a: [":            "not valid YAML",
		"stage: {x: 1}\n": "no QuantizationModifier",
		"QuantizationModifier:\n  scheme: W3A3\n":                                            "not a compressed-tensors 0.18 preset",
		"QuantizationModifier:\n  scheme: W4A16\n  config_groups: {}\n":                      "both scheme and config_groups",
		"QuantizationModifier:\n  config_groups:\n    g: {weights: {num_bits: 4, foo: 1}}\n": "unknown QuantizationArgs key",
	} {
		_, err := ParseRecipe([]byte(recipe))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", recipe, err, want)
		}
	}
}

// TestNearestMatches: a group failing only on asymmetric zero points or
// activation reordering gets the pair that would match without them; one
// failing on something else gets none.
func TestNearestMatches(t *testing.T) {
	cases := []struct {
		name, recipe string
		want         *Candidate
	}{
		{"asymmetric", "QuantizationModifier:\n  config_groups:\n    g:\n      targets: [Linear]\n      weights: {num_bits: 4, symmetric: false, strategy: group, group_size: 128}\n", &Candidate{"int4_blockwise_weight_only", "default"}},
		{"actorder", "GPTQModifier:\n  config_groups:\n    g:\n      targets: [Linear]\n      weights: {num_bits: 4, strategy: group, group_size: 128, actorder: group}\n", &Candidate{"int4_blockwise_weight_only", "default"}},
		{"attn_head", "QuantizationModifier:\n  config_groups:\n    g:\n      targets: [Linear]\n      weights: {num_bits: 8, strategy: attn_head}\n", nil},
		{"matches as it is", qwen3Target, &Candidate{"w4a8_int", "recipe_match_channel_token"}},
	}
	for _, c := range cases {
		r, err := ParseRecipe([]byte(c.recipe))
		if err != nil {
			t.Fatal(err)
		}
		rel, ok := Builtin().NearestMatches(r.Groups)[0]
		got := rel.Candidate
		switch {
		case c.want == nil && ok:
			t.Errorf("%s: nearest %+v, want none", c.name, got)
		case c.want != nil && (!ok || got != *c.want):
			t.Errorf("%s: nearest %+v (%v), want %+v", c.name, got, ok, *c.want)
		}
	}
}
