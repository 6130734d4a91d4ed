package vocab

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qrun-dev/qrun/modelopt"
)

// project writes vocabulary files (path relative to the conf folder →
// content) and loads them.
func project(t *testing.T, files map[string]string) (*Vocabulary, error) {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Load(Dirs{Granularity: filepath.Join(dir, "quant_granularity"), Format: filepath.Join(dir, "quant_pair"), KVCache: filepath.Join(dir, "quant_kv_cache")})
}

// TestKVCacheFiles: a user's KV-cache setting is a file in its group
// folder, checked like the others; its names are its own axis (a kv_cache
// may share a format's name, as ModelOpt's fp8 KV preset does).
func TestKVCacheFiles(t *testing.T) {
	v, err := project(t, map[string]string{
		"quant_kv_cache/int8_kv.yaml": "name: int8_kv\ndescription: int8 K and V\nquant_cfg:\n  - {quantizer_name: '*[kv]_bmm_quantizer', cfg: {num_bits: 8, axis: null}}\naliases: [kv8]\n",
		"quant_kv_cache/w8.yaml":      "name: w8\nquant_cfg: []\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := v.KVCache("kv8")
	if err != nil || kv.Name != "int8_kv" || kv.Builtin || len(kv.Entries) != 1 {
		t.Fatalf("alias kv8: %+v, %v", kv, err)
	}
	r, err := v.ResolveKV("int8", "default", "kv8")
	if err != nil || r.KVCacheTyped != "kv8" || r.Export(modelopt.V046).KVCacheQuantAlgo != "INT8" {
		t.Fatalf("int8 × kv8: %v", err)
	}
	for _, c := range []struct {
		name, content, want string
	}{
		{"k.yaml", "name: k\n", "k.yaml:1: missing quant_cfg"},
		{"k.yaml", "name: k\nquant_cfg:\n  - {quantizer_name: '*weight_quantizer', cfg: {num_bits: 4}}\n", "a KV-cache setting configures the attention's K/V quantizers"},
		{"k.yaml", "name: k\nquant_cfg:\n  - {quantizer_name: '*[kv]_bmm_quantizer', cfg: {num_bits: e4m3}}\n", "num_bits e4m3 is a string"},
		{"k.yaml", "name: k\nformat_name: k\nquant_cfg: []\n", `unknown key "format_name"`},
		{"fp8.yaml", "name: fp8\nquant_cfg: []\n", "kv_cache fp8 is built in and never changes"},
	} {
		_, err := project(t, map[string]string{"quant_kv_cache/" + c.name: c.content})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.content, err, c.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  string // substring of the single error line, including file:line
	}{
		{"unknown key", map[string]string{"quant_granularity/w_group32.yaml": "name: w_group32\nweight:\n  block_sizes: {-1: 32}\n"},
			`w_group32.yaml:2: unknown key "weight"; did you mean "weights"?`},
		{"attribute at top level", map[string]string{"quant_granularity/w_group32.yaml": "name: w_group32\nblock_sizes: {-1: 32}\n"},
			`w_group32.yaml:2: unknown key "block_sizes": quantizer attributes go under weights: or activations:`},
		{"file name differs", map[string]string{"quant_granularity/w_group32.yaml": "name: w_group31\nweights: {block_sizes: {-1: 31}}\n"},
			`w_group32.yaml:1: name is "w_group31" but the file is named w_group32.yaml`},
		{"invalid name", map[string]string{"quant_granularity/W_Group32.yaml": "name: W_Group32\n"},
			`W_Group32.yaml:1: invalid name "W_Group32"`},
		{"redefines built-in", map[string]string{"quant_granularity/w_group64.yaml": "name: w_group64\nweights:\n  block_sizes: {-1: 32, type: static}\n"},
			`w_group64.yaml: granularity w_group64 is built in and never changes`},
		{"duplicate alias", map[string]string{
			"quant_granularity/g_a.yaml": "name: g_a\nweights: {axis: 0}\naliases: [same]\n",
			"quant_granularity/g_b.yaml": "name: g_b\nweights: {axis: 1}\naliases: [same]\n"},
			`g_b.yaml: duplicate alias: same is already an alias of g_a`},
		{"alias is a name", map[string]string{"quant_granularity/g_a.yaml": "name: g_a\nweights: {axis: 0}\naliases: [w_group64]\n"},
			`g_a.yaml: duplicate name: alias w_group64 is already the name of a granularity`},
		{"name is a built-in alias", map[string]string{"quant_pair/int8_sq.yaml": "format_name: int8_sq\nbase: int8\n"},
			`int8_sq.yaml: duplicate name: int8_sq is already an alias of format int8_smoothquant`},
		{"alias cycle", map[string]string{
			"quant_granularity/g_a.yaml": "name: g_a\nweights: {axis: 0}\naliases: [g_b]\n",
			"quant_granularity/g_b.yaml": "name: g_b\nweights: {axis: 1}\naliases: [g_a]\n"},
			`alias cycle: g_b and g_a`},
		{"alias of itself", map[string]string{"quant_granularity/g_a.yaml": "name: g_a\nweights: {axis: 0}\naliases: [g_a]\n"},
			`g_a.yaml:3: alias cycle: g_a lists itself`},
		{"compose same role", map[string]string{"quant_granularity/g_c.yaml": "name: g_c\ncompose: [w_group64, w_per_out_channel]\n"},
			`g_c.yaml: compose: w_group64 and w_per_out_channel both set the weights granularity`},
		{"compose unknown", map[string]string{"quant_granularity/g_c.yaml": "name: g_c\ncompose: [w_group46]\n"},
			`compose: unknown granularity "w_group46"`},
		{"compose cycle", map[string]string{
			"quant_granularity/g_a.yaml": "name: g_a\ncompose: [g_b]\n",
			"quant_granularity/g_b.yaml": "name: g_b\ncompose: [g_a]\n"},
			`compose cycle`},
		{"dtype in granularity", map[string]string{"quant_granularity/g_d.yaml": "name: g_d\nweights:\n  axis: 0\n  num_bits: 4\n"},
			`g_d.yaml:4: weights: "num_bits" is a dtype attribute`},
		{"unknown attribute", map[string]string{"quant_granularity/g_u.yaml": "name: g_u\nweights:\n  block_size: {-1: 32}\n"},
			`g_u.yaml:3: weights: unknown ModelOpt attribute "block_size"; did you mean "block_sizes"?`},
		{"zero block", map[string]string{"quant_granularity/g_z.yaml": "name: g_z\nweights:\n  block_sizes: {-1: 0}\n"},
			`g_z.yaml:3: weights: block size 0 for axis -1 must be a positive integer or null`},
		{"fractional block", map[string]string{"quant_granularity/g_z.yaml": "name: g_z\nweights:\n  block_sizes: {-1: 1.5}\n"},
			`must be a positive integer or null`},
		{"string block key", map[string]string{"quant_granularity/g_s.yaml": "name: g_s\nweights:\n  block_sizes: {\"-1\": 32}\n"},
			`block_sizes key "-1" is a string`},
		{"malformed yaml", map[string]string{"quant_granularity/g_m.yaml": "name: g_m\nweights: {axis: 0\n"},
			`g_m.yaml:2: invalid YAML`},
		{"duplicate key", map[string]string{"quant_granularity/g_k.yaml": "name: g_k\nweights: {axis: 0}\nweights: {axis: 1}\n"},
			`g_k.yaml:3: key "weights" appears twice`},
		{"anchor", map[string]string{"quant_granularity/g_y.yaml": "name: g_y\nweights: &w {axis: 0}\nactivations: *w\n"},
			`not supported`},
		{"empty", map[string]string{"quant_granularity/g_e.yaml": ""},
			`g_e.yaml: file is empty`},
		{"format unknown base", map[string]string{"quant_pair/f_b.yaml": "format_name: f_b\nbase: int9\n"},
			`f_b.yaml:2: base "int9" is not a built-in format; did you mean "int8"?`},
		{"format enable in attrs", map[string]string{"quant_pair/f_e.yaml": "format_name: f_e\nweights: {num_bits: 8, axis: 0, enable: true}\n"},
			`f_e.yaml:2: weights: enable belongs on the entry`},
		{"format quant_cfg and base", map[string]string{"quant_pair/f_q.yaml": "format_name: f_q\nbase: int8\nquant_cfg: []\n"},
			`quant_cfg replaces base, weights and activations`},
		{"format bad num_bits", map[string]string{"quant_pair/f_n.yaml": "format_name: f_n\nweights: {num_bits: e4m3, axis: 0}\n"},
			`f_n.yaml:2: weights: num_bits e4m3 is a string`},
		{"format role without num_bits", map[string]string{"quant_pair/f_w.yaml": "format_name: f_w\nweights: {axis: 0}\n"},
			`f_w.yaml:2: weights: num_bits is missing`},
		{"T6 look-alike in a granularity", map[string]string{"quant_granularity/a_tok.yaml": "name: a_tok\nactivations: {axis: null, block_sizes: {-1: null, type: dynamic}}\n"},
			`static per-position amax, not per-token dynamic`},
		{"name of the other kind", map[string]string{"quant_granularity/g_x.yaml": "name: g_x\nweights: {axis: 0}\naliases: [int8]\n"},
			`int8 is already a format name`},
		{"empty quant_cfg", map[string]string{"quant_pair/f_e.yaml": "format_name: f_e\nquant_cfg: []\n"},
			`f_e.yaml:2: quant_cfg must start with ModelOpt's deny-all`},
		{"bad algorithm", map[string]string{"quant_pair/f_a.yaml": "format_name: f_a\nweights: {num_bits: 8, axis: 0}\nalgorithm: {}\n"},
			`f_a.yaml:3: algorithm {} needs a method`},
		{"name key in a format", map[string]string{"quant_pair/f_n.yaml": "name: f_n\n"},
			`f_n.yaml:1: unknown key "name"; a format file names its format with format_name`},
		{"format lock bad role", map[string]string{"quant_pair/f_l.yaml": "format_name: f_l\nweights: {num_bits: 8, axis: 0}\nlock: [weight]\n"},
			`f_l.yaml:3: lock: unknown role "weight"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := project(t, c.files)
			if err == nil {
				t.Fatalf("loaded; want error containing %q", c.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) {
				t.Fatalf("error:\n%s\nwant it to contain %q", msg, c.want)
			}
			if strings.Count(msg, "\n") != 0 {
				t.Fatalf("one problem should be one line:\n%s", msg)
			}
		})
	}
}

func TestLoadUserVocabulary(t *testing.T) {
	v, err := project(t, map[string]string{
		"quant_granularity/w_group32.yaml":          "name: w_group32\ndescription: groups of 32\nweights:\n  block_sizes: {-1: 32, type: static}\naliases: [g32]\n",
		"quant_granularity/w_group128_a_token.yaml": "name: w_group128_a_token\ncompose: [w_group128, a_per_token_dynamic]\n",
		"quant_granularity/w_block128x128.yaml":     "name: w_block128x128\nweights:\n  block_sizes: {-2: 128, -1: 128}\n",
		"quant_granularity/old_one.yaml":            "name: old_one\nweights: {axis: 1}\nretired: true\n",
		"quant_pair/w8a8_token.yaml":                "format_name: w8a8_token\nbase: int8\nweights: {num_bits: 8, axis: 0}\nactivations: {num_bits: 8, axis: null, type: dynamic, block_sizes: {-1: null}}\nalgorithm: max\n",
		"quant_pair/int8_copy.yaml":                 "format_name: int8_copy\nquant_cfg:\n- {quantizer_name: '*', enable: false}\n- {quantizer_name: '*weight_quantizer', cfg: {num_bits: 8, axis: 0}}\n",
		"quant_granularity/w_group64.yaml":          mustBuiltin(t, "quant_granularity/w_group64.yaml"),
		"quant_granularity/notes.txt":               "ignored: not a .yaml file",
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := v.Resolve("int8", "g32")
	if err != nil {
		t.Fatal(err)
	}
	if r.Granularity.Name != "w_group32" || r.GranularityTyped != "g32" {
		t.Errorf("alias: got %s typed %q", r.Granularity.Name, r.GranularityTyped)
	}
	r, err = v.Resolve("w8a8_token", "w_group128_a_token")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Config.RoleAttrs(modelopt.Activations).String(); got != "{num_bits: 8, axis: null, type: dynamic, block_sizes: {-1: null}}" {
		t.Errorf("composite activations = %s", got)
	}
	if got := r.Config.RoleAttrs(modelopt.Weights).String(); got != "{num_bits: 8, block_sizes: {-1: 128, type: static}}" {
		t.Errorf("composite weights = %s", got)
	}
	if _, err := v.Resolve("int8", "old_one"); err == nil || !errors.Is(err, ErrInvalidSelection) || !strings.Contains(err.Error(), "retired") {
		t.Errorf("retired granularity → %v", err)
	}
	f, _ := v.Format("int8_copy")
	if len(f.Config.Entries) != 1 || !f.Config.DenyAll {
		t.Errorf("quant_cfg format entries: %+v", f.Config)
	}
	g, _ := v.Granularity("w_group64")
	if !g.Builtin {
		t.Error("an exported built-in file must be taken as the built-in")
	}
}

func mustBuiltin(t *testing.T, name string) string {
	files, err := BuiltinFiles()
	if err != nil {
		t.Fatal(err)
	}
	return string(files[name])
}

// TestFingerprintsCoverMeaningOnly: description, aliases and spelling do
// not change a fingerprint; the int key -1 and the string "-1" would; a
// composition fingerprints like its spelled-out overlays (so a rename in
// disguise is caught either way).
func TestFingerprintsCoverMeaningOnly(t *testing.T) {
	v, err := project(t, map[string]string{
		"quant_granularity/g_one.yaml":   "name: g_one\ndescription: one\nweights:\n  block_sizes: {-1: 64, type: static}\n",
		"quant_granularity/g_two.yaml":   "name: g_two\ndescription: other words\naliases: [g2]\nweights:\n  block_sizes:\n    type: static\n    -1: 64\n",
		"quant_granularity/g_comp.yaml":  "name: g_comp\ncompose: [w_per_out_channel, a_per_token_dynamic]\n",
		"quant_granularity/g_three.yaml": "name: g_three\nweights:\n  block_sizes: {-1: 32, type: static}\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	fp := func(n string) string { g, _ := v.Granularity(n); return g.Fingerprint() }
	if fp("g_one") != fp("g_two") || fp("g_one") != fp("w_group64") {
		t.Error("same meaning, different spelling/description → fingerprints differ")
	}
	if fp("g_one") == fp("g_three") {
		t.Error("different block size, same fingerprint")
	}
	if fp("g_comp") != fp("recipe_match_channel_token") {
		t.Error("composition and spelled-out overlays should share a fingerprint")
	}
	intKey := map[any]any{"weights": map[any]any{"block_sizes": map[any]any{-1: 64}}}
	strKey := map[any]any{"weights": map[any]any{"block_sizes": map[any]any{"-1": 64}}}
	if digest(fpGranularity, intKey) == digest(fpGranularity, strKey) {
		t.Error("int key -1 and string key \"-1\" share a fingerprint")
	}
	if fp("default") == fp("w_group64") {
		t.Error("default and w_group64 share a fingerprint")
	}
	f1, _ := Builtin().Format("int8")
	f2, _ := v.Format("int8")
	if f1.Fingerprint() != f2.Fingerprint() {
		t.Error("format fingerprint not stable across loads")
	}
}

// TestT13W4A8NamingTrap: both W4A8s say what they are and point at the other.
func TestT13W4A8NamingTrap(t *testing.T) {
	for _, name := range []string{"w4a8_awq_beta", "w4a8_awq", "w4a8_int"} {
		f, err := Builtin().Format(name)
		if err != nil {
			t.Fatal(err)
		}
		notes := strings.Join(f.Notes(), " ")
		if !strings.Contains(notes, "naming trap") || !strings.Contains(notes, "llm-compressor's W4A8") {
			t.Errorf("%s: notes lack the W4A8 naming trap: %q", name, notes)
		}
	}
	r, _ := Builtin().Resolve("w4a8_int", "a_per_token_dynamic")
	var w, a *Compressed
	for _, c := range (&Format{Config: r.Config}).LLMCompressor() {
		c := c
		if c.Role == modelopt.Weights {
			w = &c
		} else {
			a = &c
		}
	}
	if s := Scheme(w, a); s != "W4A8" {
		t.Errorf("w4a8_int × a_per_token_dynamic is scheme %q, want W4A8", s)
	}
	beta, _ := Builtin().Format("w4a8_awq_beta")
	w, a = nil, nil
	for _, c := range beta.LLMCompressor() {
		c := c
		if c.Role == modelopt.Weights {
			w = &c
		} else {
			a = &c
		}
	}
	if s := Scheme(w, a); s == "W4A8" {
		t.Error("w4a8_awq_beta must not claim llm-compressor's W4A8 scheme")
	}
}

func TestLLMCompressorEquivalents(t *testing.T) {
	want := map[string]string{
		"w_per_tensor":        "strategy: tensor",
		"w_per_out_channel":   "strategy: channel",
		"w_per_in_channel":    "no equivalent: compressed-tensors has no per-input-channel weight strategy",
		"w_group64":           "strategy: group, group_size: 64",
		"a_per_token_dynamic": "strategy: token, dynamic: true",
		"a_per_tensor_static": "strategy: tensor, dynamic: false",
	}
	for name, w := range want {
		g, _ := Builtin().Granularity(name)
		got := g.LLMCompressor()
		if len(got) != 1 || !strings.HasPrefix(got[0].String(), w) {
			t.Errorf("%s → %v, want %q", name, got, w)
		}
	}
	nv, _ := Builtin().Format("nvfp4")
	if c := nv.LLMCompressor(); len(c) != 2 || c[0].Strategy != "tensor_group" || c[0].GroupSize != 16 {
		t.Errorf("nvfp4 → %+v", c)
	}
}
