package vocab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/internal/goldenfile"
	"github.com/qrun-dev/qrun/modelopt"
)

// combo is one built-in format × granularity with its resolution or error.
type combo struct {
	format, granularity string
	res                 *Resolution
	err                 error
}

func allCombos(t *testing.T) []combo {
	t.Helper()
	var out []combo
	v := Builtin()
	for _, f := range v.Formats() {
		for _, g := range v.Granularities() {
			r, err := v.Resolve(f.Name, g.Name)
			out = append(out, combo{f.Name, g.Name, r, err})
		}
	}
	return out
}

// TestGoldenRecipes pins the recipe of every applicable built-in
// format × granularity for ModelOpt 0.46 and 0.43, and the error text of
// every inapplicable one.
func TestGoldenRecipes(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range allCombos(t) {
		base := c.format + "__" + c.granularity
		if c.err != nil {
			if !errors.Is(c.err, ErrInvalidSelection) {
				t.Errorf("%s: error is not an invalid selection: %v", base, c.err)
			}
			goldenfile.Check(t, path.Join("errors", base+".txt"), []byte(c.err.Error()+"\n"))
			seen["errors/"+base+".txt"] = true
			continue
		}
		for _, target := range []modelopt.Version{modelopt.V046, modelopt.V043} {
			if c.format == "w4a16_nvfp4" && target == modelopt.V043 {
				continue // not a ModelOpt 0.43 preset; still encodable, covered below
			}
			data, _, err := c.res.Recipe(target)
			if err != nil && isVersionGate(err) {
				// An attribute newer than the target (four_over_six): the
				// refusal is pinned instead of the recipe.
				name := path.Join("errors-"+target.String(), base+".txt")
				goldenfile.Check(t, name, []byte(err.Error()+"\n"))
				seen[name] = true
				continue
			}
			if err != nil {
				t.Errorf("%s for %s: %v", base, target, err)
				continue
			}
			again, _, _ := c.res.Recipe(target)
			if !bytes.Equal(data, again) {
				t.Errorf("%s for %s: encoding is not deterministic", base, target)
			}
			name := path.Join("recipes-"+target.String(), base+".yaml")
			goldenfile.Check(t, name, data)
			seen[name] = true
		}
	}
	if goldenfile.Updating() {
		return
	}
	// No stale golden files for combinations that no longer exist.
	filepath.WalkDir(filepath.Join("testdata", "golden"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join("testdata", "golden"), p)
		rel = filepath.ToSlash(rel)
		if (strings.HasPrefix(rel, "recipes-") || strings.HasPrefix(rel, "errors")) && !seen[rel] {
			t.Errorf("stale golden file %s", p)
		}
		return nil
	})
}

// TestNotApplicableReasons checks the spec's examples of combinations that
// must be refused, and that the message names format, granularity and why.
func TestNotApplicableReasons(t *testing.T) {
	cases := []struct{ format, granularity, reason string }{
		{"int4_awq", "a_per_token_dynamic", "int4_awq quantizes weights only"},
		{"int8_weight_only", "a_per_tensor_static", "quantizes weights only"},
		{"nvfp4", "w_group64", "nvfp4 fixes its weights granularity"},
		{"nvfp4", "a_per_token_dynamic", "nvfp4 fixes its activations granularity"},
		{"mxfp4", "w_per_out_channel", "mxfp4 fixes its weights granularity"},
		{"w4a16_nvfp4", "a_per_tensor_static", "has no input (activation) quantizer entry"},
		{"w4a8_nvfp4_fp8", "w_group128", "fixes its weights granularity"},
		{"int4_awq", "recipe_match_channel_token", "quantizes weights only"},
	}
	for _, c := range cases {
		_, err := Builtin().Resolve(c.format, c.granularity)
		if err == nil {
			t.Errorf("%s × %s resolved; want refused", c.format, c.granularity)
			continue
		}
		msg := err.Error()
		for _, want := range []string{c.format, c.granularity, c.reason} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s × %s: message %q lacks %q", c.format, c.granularity, msg, want)
			}
		}
		if !errors.Is(err, ErrInvalidSelection) {
			t.Errorf("%s × %s: not an invalid selection (exit 4)", c.format, c.granularity)
		}
	}
	// A locked role does not stop a granularity that touches only another role.
	if _, err := Builtin().Resolve("w4a8_nvfp4_fp8", "a_per_token_dynamic"); err != nil {
		t.Errorf("w4a8_nvfp4_fp8 × a_per_token_dynamic: %v", err)
	}
}

func TestRecipeMatchOnW4A8Int(t *testing.T) {
	r, err := Builtin().Resolve("w4a8_int", "recipe_match_channel_token")
	if err != nil {
		t.Fatal(err)
	}
	w := r.Config.RoleAttrs(modelopt.Weights)
	a := r.Config.RoleAttrs(modelopt.Activations)
	if !modelopt.Equal(w.Value(), map[any]any{"num_bits": 4, "axis": 0}) {
		t.Errorf("weights = %s, want {num_bits: 4, axis: 0}", w)
	}
	want := map[any]any{"num_bits": 8, "axis": nil, "type": "dynamic", "block_sizes": map[any]any{-1: nil}}
	if !modelopt.Equal(a.Value(), want) {
		t.Errorf("activations = %s, want %s", a, modelopt.Format(want))
	}
}

// TestT3PartialCfgDoesNotResetDtype: every entry a granularity touches keeps
// the format's num_bits (an appended partial cfg would fall back to
// num_bits: 8), and no entry is appended or lost.
func TestT3PartialCfgDoesNotResetDtype(t *testing.T) {
	for _, c := range allCombos(t) {
		if c.err != nil {
			continue
		}
		f, _ := Builtin().Format(c.format)
		if len(c.res.Config.Entries) != len(f.Config.Entries) {
			t.Errorf("%s × %s: %d entries, the format has %d: an entry was appended or lost", c.format, c.granularity, len(c.res.Config.Entries), len(f.Config.Entries))
			continue
		}
		for _, r := range modelopt.Roles {
			for _, i := range f.Config.RoleEntries(r) {
				before, after := stage0(f.Config.Entries[i]), stage0(c.res.Config.Entries[i])
				if !modelopt.Equal(before["num_bits"], after["num_bits"]) {
					t.Errorf("%s × %s: %s num_bits %v became %v", c.format, c.granularity, f.Config.Entries[i].QuantizerName, before["num_bits"], after["num_bits"])
				}
				if len(after) < 2 {
					t.Errorf("%s × %s: %s attributes %s are not complete", c.format, c.granularity, f.Config.Entries[i].QuantizerName, after)
				}
			}
		}
	}
}

func stage0(e modelopt.Entry) modelopt.Attrs {
	if e.Stages != nil {
		return e.Stages[0]
	}
	return e.Cfg
}

// TestT4LmHeadStaysDisabled applies every recipe's entries in ModelOpt's
// order (later entries win, a cfg replaces all attributes) to a small Qwen3
// module list and checks that a granularity never changes which quantizers
// are on — lm_head and the router stay unquantized wherever the format
// keeps them so — and never their num_bits.
func TestT4LmHeadStaysDisabled(t *testing.T) {
	for _, c := range allCombos(t) {
		if c.err != nil {
			continue
		}
		f, _ := Builtin().Format(c.format)
		for _, target := range []modelopt.Version{modelopt.V046, modelopt.V044} {
			base, err := quantizeValueErr(f.Config, target)
			if err != nil {
				if !isVersionGate(err) {
					t.Errorf("%s (%s): %v", c.format, target, err)
				}
				continue
			}
			v, _ := quantizeValue(t, c.res.Config, target)
			want := applyModelOpt(t, base["quant_cfg"].([]any))
			state := applyModelOpt(t, v["quant_cfg"].([]any))
			for q, st := range state {
				if st.enabled != want[q].enabled {
					t.Errorf("%s × %s (%s): %s is %s; the format has it %s", c.format, c.granularity, target, q, onOff(st.enabled), onOff(want[q].enabled))
				}
				if st.enabled && !modelopt.Equal(numBitsOf(st.attrs), numBitsOf(want[q].attrs)) {
					t.Errorf("%s × %s (%s): %s num_bits %v, the format's %v", c.format, c.granularity, target, q, numBitsOf(st.attrs), numBitsOf(want[q].attrs))
				}
			}
			if f.Config.DefaultTail {
				for _, q := range []string{"lm_head.weight_quantizer", "lm_head.input_quantizer", "model.layers.0.mlp.gate.weight_quantizer", "model.layers.0.mlp.gate.input_quantizer"} {
					if state[q].enabled {
						t.Errorf("%s × %s (%s): %s is enabled with %s", c.format, c.granularity, target, q, modelopt.Format(state[q].attrs))
					}
				}
			}
		}
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func numBitsOf(attrs any) any {
	switch a := attrs.(type) {
	case map[any]any:
		return a["num_bits"]
	case []any:
		if len(a) > 0 {
			return numBitsOf(a[0])
		}
	}
	return nil
}

// isVersionGate: a config the target cannot take because an attribute is
// newer than it (four_over_six needs 0.46).
func isVersionGate(err error) bool { return strings.Contains(err.Error(), "or newer; the target is") }

type quantizerState struct {
	enabled bool
	attrs   any
}

// applyModelOpt is a small model of ModelOpt ≥ 0.44's set_quantizer_by_cfg:
// entries apply in order to every quantizer whose name matches the pattern
// (fnmatch; parent_class restricts to modules of that class); an entry with
// cfg replaces all attributes and enables unless it says enable: false; an
// entry with only enable toggles.
func applyModelOpt(t *testing.T, entries []any) map[string]quantizerState {
	t.Helper()
	modules := map[string]string{ // quantizer → parent module class
		"model.layers.0.self_attn.q_proj.weight_quantizer": "nn.Linear",
		"model.layers.0.self_attn.q_proj.input_quantizer":  "nn.Linear",
		"model.layers.0.mlp.down_proj.weight_quantizer":    "nn.Linear",
		"model.layers.0.mlp.down_proj.input_quantizer":     "nn.Linear",
		"model.layers.0.mlp.gate.weight_quantizer":         "nn.Linear",
		"model.layers.0.mlp.gate.input_quantizer":          "nn.Linear",
		"lm_head.weight_quantizer":                         "nn.Linear",
		"lm_head.input_quantizer":                          "nn.Linear",
		"model.embed_tokens.weight_quantizer":              "nn.Embedding",
	}
	state := map[string]quantizerState{}
	for q := range modules {
		state[q] = quantizerState{enabled: true}
	}
	for _, raw := range entries {
		e := raw.(map[any]any)
		pat := e["quantizer_name"].(string)
		for q, class := range modules {
			if pc, ok := e["parent_class"]; ok && pc != class {
				continue
			}
			if ok, err := path.Match(strings.ReplaceAll(pat, "/", ""), strings.ReplaceAll(q, "/", "")); err != nil || !ok {
				continue
			}
			s := state[q]
			if cfg, ok := e["cfg"]; ok {
				if l, isList := cfg.([]any); isList {
					s.attrs = l
				} else {
					s.attrs = cfg
				}
				s.enabled = true
			}
			if en, ok := e["enable"].(bool); ok {
				s.enabled = en
			}
			state[q] = s
		}
	}
	return state
}

// TestResolvedConfigProperties checks, over every combination and target,
// what ModelOpt needs of every entry.
func TestResolvedConfigProperties(t *testing.T) {
	for _, c := range allCombos(t) {
		if c.err != nil {
			continue
		}
		list := c.res.Config.List()
		// T4: every entry a granularity does not touch is the format's, in
		// its place (the default-disabled tail last, when the format has it).
		f, _ := Builtin().Format(c.format)
		touched := map[int]bool{}
		for _, r := range modelopt.Roles {
			for _, i := range f.Config.RoleEntries(r) {
				touched[i] = true
			}
		}
		for i, e := range f.Config.Entries {
			if !touched[i] && !modelopt.Equal(c.res.Config.Entries[i].Value(), e.Value()) {
				t.Errorf("%s × %s: entry %s changed", c.format, c.granularity, e.QuantizerName)
			}
		}
		if c.res.Config.DefaultTail != f.Config.DefaultTail {
			t.Errorf("%s × %s: the default-disabled tail came or went", c.format, c.granularity)
		}
		if !modelopt.Equal(list[0].Value(), map[any]any{"quantizer_name": "*", "enable": false}) {
			t.Errorf("%s × %s: deny-all is not first", c.format, c.granularity)
		}
		for _, e := range list {
			for _, a := range append([]modelopt.Attrs{e.Cfg}, e.Stages...) {
				if a == nil {
					continue
				}
				// T7: never enable inside cfg.
				if a.Has("enable") {
					t.Errorf("%s × %s: enable inside cfg of %s", c.format, c.granularity, e.QuantizerName)
				}
				// Never axis and block_sizes both set.
				if a["axis"] != nil && a["block_sizes"] != nil {
					t.Errorf("%s × %s: %s has axis and block_sizes", c.format, c.granularity, e.QuantizerName)
				}
			}
		}
		// T9: block_sizes axes are integers after a YAML round trip.
		for _, target := range []modelopt.Version{modelopt.V046, modelopt.V043} {
			data, _, err := c.res.Recipe(target)
			if err != nil && isVersionGate(err) {
				continue
			}
			if err != nil {
				t.Fatalf("%s × %s: %v", c.format, c.granularity, err)
			}
			var doc any
			if err := yaml.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			walkBlockSizes(doc, func(bs map[any]any) {
				for k := range bs {
					switch key := k.(type) {
					case int:
					case string:
						if _, known := map[string]bool{"type": true, "scale_bits": true, "scale_block_sizes": true, "four_over_six": true}[key]; !known {
							t.Errorf("%s × %s (%s): block_sizes key %q is a string", c.format, c.granularity, target, k)
						}
					default:
						t.Errorf("%s × %s: block_sizes key %v of type %T", c.format, c.granularity, k, k)
					}
				}
			})
			// T5: the legacy mapping form never goes to a ≥ 0.44 target.
			isLegacy := bytes.Contains(data, []byte("\nptq_cfg:\n"))
			if isLegacy != (target == modelopt.V043) {
				t.Errorf("%s × %s: target %s legacy form = %v", c.format, c.granularity, target, isLegacy)
			}
		}
	}
}

// walkBlockSizes calls fn with every block_sizes mapping in v, at any depth.
func walkBlockSizes(v any, fn func(map[any]any)) {
	entry := func(k, e any) {
		if m, ok := e.(map[any]any); ok && k == "block_sizes" {
			fn(m)
		}
		walkBlockSizes(e, fn)
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			entry(k, e)
		}
	case map[any]any:
		for k, e := range x {
			entry(k, e)
		}
	case []any:
		for _, e := range x {
			walkBlockSizes(e, fn)
		}
	}
}

// TestT6PerTokenIsTopLevelDynamic: per-token dynamic activations use the
// top-level type: dynamic form, never dynamic only inside block_sizes.
func TestT6PerTokenIsTopLevelDynamic(t *testing.T) {
	for _, c := range allCombos(t) {
		if c.err != nil || (c.granularity != "a_per_token_dynamic" && c.granularity != "recipe_match_channel_token") {
			continue
		}
		a := c.res.Config.RoleAttrs(modelopt.Activations)
		if a["type"] != "dynamic" {
			t.Errorf("%s × %s: activations type = %v", c.format, c.granularity, a["type"])
		}
		bs, _ := a["block_sizes"].(map[any]any)
		if _, inside := bs["type"]; inside {
			t.Errorf("%s × %s: type inside block_sizes: %s", c.format, c.granularity, a)
		}
	}
}

// TestPinnedFingerprints: changing a shipped built-in's meaning changes its
// fingerprint and fails here. Never update this file for a built-in that
// has shipped; add a new name instead.
func TestPinnedFingerprints(t *testing.T) {
	var lines []string
	for _, g := range Builtin().Granularities() {
		lines = append(lines, fmt.Sprintf("granularity %s %s", g.Name, g.Fingerprint()))
	}
	for _, f := range Builtin().Formats() {
		lines = append(lines, fmt.Sprintf("format %s %s", f.Name, f.Fingerprint()))
	}
	sort.Strings(lines)
	goldenfile.Check(t, "fingerprints.txt", []byte(strings.Join(lines, "\n")+"\n"))
}
