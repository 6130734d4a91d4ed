package compare

import (
	"reflect"
	"testing"
)

func TestDiffOfYAMLAndRecipes(t *testing.T) {
	a, err := YAMLFields("resolved", []byte("weights: {num_bits: [4, 3], axis: null}\nactivations: {num_bits: [4, 3], axis: null}\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := YAMLFields("resolved", []byte("weights: {num_bits: 8, axis: 0, block_sizes: {-1: 64, type: static}}\nactivations: {num_bits: [4, 3], axis: null}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{"resolved", "weights.num_bits", "[4, 3]", "8"},
		{"resolved", "weights.axis", "null", "0"},
		{"resolved", "weights.block_sizes", "", "{-1: 64, type: static}"},
	}
	if got := Diff(a, b); !reflect.DeepEqual(got, want) {
		t.Errorf("resolved diff:\n%q\nwant\n%q", got, want)
	}
	if got := Diff(a, a); len(got) != 0 {
		t.Errorf("a run against itself: %q", got)
	}

	ra, err := RecipeFields([]byte(`quantize:
  quant_cfg:
    - {quantizer_name: '*', enable: false}
    - {quantizer_name: '*weight_quantizer', cfg: {num_bits: [4, 3], axis: null}}
    - {quantizer_name: '*', parent_class: nn.Embedding, enable: false}
  algorithm: max
`))
	if err != nil {
		t.Fatal(err)
	}
	rb, err := RecipeFields([]byte(`quantize:
  quant_cfg:
    - {quantizer_name: '*', enable: false}
    - {quantizer_name: '*weight_quantizer', cfg: {num_bits: 8, axis: 0}}
    - {quantizer_name: '*weight_quantizer', enable: true}
  algorithm: {method: awq_lite}
`))
	if err != nil {
		t.Fatal(err)
	}
	want = []Change{
		{"recipe", "*weight_quantizer", "{cfg: {num_bits: [4, 3], axis: null}}", "{cfg: {num_bits: 8, axis: 0}}"},
		{"recipe", "* in nn.Embedding", "{enable: false}", ""},
		{"recipe", "algorithm", "max", ""},
		{"recipe", "*weight_quantizer (#2)", "", "{enable: true}"},
		{"recipe", "algorithm.method", "", "awq_lite"},
	}
	if got := Diff(ra, rb); !reflect.DeepEqual(got, want) {
		t.Errorf("recipe diff:\n%q\nwant\n%q", got, want)
	}
	if _, err := RecipeFields([]byte("quantize: [")); err == nil {
		t.Error("a broken recipe was read")
	}
	if _, err := YAMLFields("resolved", []byte("a: [")); err == nil {
		t.Error("broken YAML was read")
	}
}
