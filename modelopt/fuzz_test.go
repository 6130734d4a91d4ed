package modelopt_test

import (
	"bytes"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/modelopt"
)

// FuzzCanonical checks the value layer that fingerprints rest on (SPEC §6):
// whatever YAML FromNode accepts must survive qrun's own encoding with the
// same meaning, and its canonical bytes must not depend on map order.
//
//	go test -run '^$' -fuzz '^FuzzCanonical$' -fuzztime 20s ./modelopt/
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{
		"{-1: 64}",
		"-1: 64\n",
		"block_sizes: {-1: 128, type: static}\n",
		"block_sizes: {-1: null}\ntype: dynamic\naxis: null\n",
		"block_sizes: {\"-1\": 64}\n",
		"block_sizes: {-2: 128, -1: 128}\n",
		"num_bits: [4, 3]\naxis: 0\n",
		"num_bits: 4.0\n",
		"num_bits: 4\n",
		"{0x10: a, 0o7: b, +3: c, -0: d}\n",
		"{1e3: x}\n",
		"a: 1e+21\nb: -0.0\nc: .5\nd: 1_000\n",
		"a: [1, [2, [3, {x: y}]], {}]\n",
		"a: ''\nb: ' lead'\nc: 'trail '\nd: \"tab\\there\"\ne: \"nl\\nhere\"\n",
		"a: 'null'\nb: 'true'\nc: '1'\nd: '-1'\ne: 'yes'\nf: '0x10'\ng: '~'\nh: '1e3'\n",
		"\"multi\\nline key\": 1\n",
		"\"\": empty key\n",
		"? |\n  block key\n: 1\n",
		"a: |\n  literal\n   text\n\nb: >\n  folded\n  text\n",
		"quant_cfg:\n- {quantizer_name: '*', enable: false}\n- quantizer_name: '*weight_quantizer'\n  cfg: {num_bits: 4, block_sizes: {-1: 128, type: static}}\n- {quantizer_name: '*lm_head*', enable: false}\nalgorithm: {method: awq_lite, alpha_step: 0.1}\n",
		"- a\n- b\n",
		"plain scalar",
		"null",
		"~",
		"",
		"a: &x 1\nb: *x\n",
		"a: !!binary aGVsbG8=\n",
		"a: 2001-12-14\n",
		"{a: 1, a: 2}\n",
		"{1: a, 0x1: b}\n",
		"a: 99999999999999999999\n",
		"a: .inf\n",
		"\"\\u2028\\x85\\0\": \"\\ud7ff\\ue000\\U0001F600\"\n",
		"a: \"# not a comment\"\nb: \"key: value\"\nc: '- item'\nd: '[x]'\ne: '{x}'\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return
		}
		v, err := modelopt.FromNode(&doc)
		if err != nil {
			return
		}
		c1 := modelopt.Canonical(v)

		// (b) Independent of map iteration order: a clone rebuilds every map
		// (Go randomises iteration), and Canonical of the same value twice
		// must agree too.
		if !bytes.Equal(c1, modelopt.Canonical(v)) {
			t.Fatalf("Canonical is not stable across calls for %q", data)
		}
		if !modelopt.Equal(v, modelopt.Clone(v)) {
			t.Fatalf("Equal(v, Clone(v)) is false for %q", data)
		}

		// (a) Round trip through qrun's encoding keeps the meaning.
		out, err := modelopt.Marshal(modelopt.ToNode(v))
		if err != nil {
			t.Fatalf("Marshal(ToNode(v)) failed for %q: %v", data, err)
		}
		var doc2 yaml.Node
		if err := yaml.Unmarshal(out, &doc2); err != nil {
			t.Fatalf("qrun's own output does not parse: %v\ninput: %q\noutput:\n%s", err, data, out)
		}
		v2, err := modelopt.FromNode(&doc2)
		if err != nil {
			t.Fatalf("qrun's own output is refused by FromNode: %v\ninput: %q\noutput:\n%s", err, data, out)
		}
		if c2 := modelopt.Canonical(v2); !bytes.Equal(c1, c2) {
			t.Fatalf("round trip changed the meaning\ninput:  %q\noutput: %q\nbefore: %q\nafter:  %q", data, out, c1, c2)
		}
		// The encoding is deterministic and a fixed point.
		out2, err := modelopt.Marshal(modelopt.ToNode(v2))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("re-encoding differs\nfirst:\n%s\nsecond:\n%s", out, out2)
		}
	})
}

// TestCanonicalSpelling pins what a fingerprint may and may not ignore
// (SPEC §6): YAML spelling and key order do not matter; the int key -1 vs
// the string "-1", and the int 4 vs the float 4.0, do.
func TestCanonicalSpelling(t *testing.T) {
	parse := func(s string) any {
		t.Helper()
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
			t.Fatalf("parse %q: %v", s, err)
		}
		v, err := modelopt.FromNode(&doc)
		if err != nil {
			t.Fatalf("FromNode %q: %v", s, err)
		}
		return v
	}
	same := [][]string{
		{
			"block_sizes: {-1: 64}\n",
			"block_sizes:\n  -1: 64\n",
			"{block_sizes: {-1: 64}}",
			"block_sizes: {-0x1: 0x40}\n",
			"'block_sizes': {-1: 64}\n",
		},
		{
			"weights: {block_sizes: {-1: 64, type: static}, axis: null}\nactivations: {type: dynamic}\n",
			"activations:\n  type: dynamic\nweights:\n  axis: ~\n  block_sizes:\n    type: 'static'\n    -1: 64\n",
			"{activations: {type: \"dynamic\"}, weights: {axis: null, block_sizes: {type: static, -1: +64}}}",
		},
		{
			"num_bits: [4, 3]\n",
			"num_bits:\n- 4\n- 3\n",
		},
		{
			"{a: 1, b: 2, c: 3, d: 4, e: 5}",
			"{e: 5, d: 4, c: 3, b: 2, a: 1}",
		},
	}
	for _, group := range same {
		want := modelopt.Canonical(parse(group[0]))
		for _, s := range group[1:] {
			if got := modelopt.Canonical(parse(s)); !bytes.Equal(got, want) {
				t.Errorf("same meaning, different canonical bytes:\n%q → %q\n%q → %q", group[0], want, s, got)
			}
		}
	}
	differ := [][2]string{
		{"block_sizes: {-1: 64}\n", "block_sizes: {\"-1\": 64}\n"},
		{"block_sizes: {-1: 64}\n", "block_sizes: {'-1': 64}\n"},
		{"num_bits: 4\n", "num_bits: 4.0\n"},
		{"num_bits: 4\n", "num_bits: '4'\n"},
		{"axis: null\n", "{}"},
		{"axis: null\n", "axis: 'null'\n"},
		{"enable: false\n", "enable: 'false'\n"},
		{"num_bits: [4, 3]\n", "num_bits: [3, 4]\n"},
		{"a: ''\n", "a: null\n"},
		{"a: [x]\n", "a: x\n"},
		{"{a: bc}", "{ab: c}"},
		{"[ab, c]", "[a, bc]"},
	}
	for _, d := range differ {
		if bytes.Equal(modelopt.Canonical(parse(d[0])), modelopt.Canonical(parse(d[1]))) {
			t.Errorf("different meanings, same canonical bytes: %q and %q", d[0], d[1])
		}
	}

	// The same value built with maps filled in opposite orders.
	a, b := map[any]any{}, map[any]any{}
	keys := []any{-1, -2, 0, 1, "type", "-1", "axis", "block_sizes"}
	for i, k := range keys {
		a[k] = i
	}
	for i := len(keys) - 1; i >= 0; i-- {
		b[keys[i]] = i
	}
	if !modelopt.Equal(a, b) {
		t.Errorf("insertion order changed the canonical bytes")
	}
}
