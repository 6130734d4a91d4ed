package vocab

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/internal/sharedtest"
	"github.com/qrun-dev/qrun/modelopt"
)

// presetOf names the ModelOpt preset each built-in ModelOpt format is, as
// hf_ptq's --qformat maps them since 0.45.
var presetOf = map[string]string{
	"int8":                         "INT8_DEFAULT_CFG",
	"int8_smoothquant":             "INT8_SMOOTHQUANT_CFG",
	"int8_weight_only":             "INT8_WEIGHT_ONLY_CFG",
	"fp8":                          "FP8_DEFAULT_CFG",
	"fp8_per_channel_per_token":    "FP8_PER_CHANNEL_PER_TOKEN_CFG",
	"fp8_2d_blockwise_weight_only": "FP8_2D_BLOCKWISE_WEIGHT_ONLY_CFG",
	"int4_awq":                     "INT4_AWQ_CFG",
	"int4_blockwise_weight_only":   "INT4_BLOCKWISE_WEIGHT_ONLY_CFG",
	"w4a8_awq_beta":                "W4A8_AWQ_BETA_CFG",
	"nvfp4":                        "NVFP4_DEFAULT_CFG",
	"nvfp4_awq_lite":               "NVFP4_AWQ_LITE_CFG",
	"w4a16_nvfp4":                  "W4A16_NVFP4_CFG",
	"w4a8_nvfp4_fp8":               "W4A8_NVFP4_FP8_CFG",
	"mxfp8":                        "MXFP8_DEFAULT_CFG",
	"mxfp4":                        "MXFP4_DEFAULT_CFG",
	// The rest of hf_ptq 0.46's 34 --qformat names (SPEC §1.2).
	"mamba_moe_fp8_aggressive":        "MAMBA_MOE_FP8_AGGRESSIVE_CFG",
	"mamba_moe_fp8_conservative":      "MAMBA_MOE_FP8_CONSERVATIVE_CFG",
	"mamba_moe_nvfp4_aggressive":      "MAMBA_MOE_NVFP4_AGGRESSIVE_CFG",
	"mamba_moe_nvfp4_conservative":    "MAMBA_MOE_NVFP4_CONSERVATIVE_CFG",
	"mxfp4_mlp_weight_only":           "MXFP4_MLP_WEIGHT_ONLY_CFG",
	"mxfp6":                           "MXFP6_DEFAULT_CFG",
	"mxint8":                          "MXINT8_DEFAULT_CFG",
	"nvfp4_awq_clip":                  "NVFP4_AWQ_CLIP_CFG",
	"nvfp4_awq_full":                  "NVFP4_AWQ_FULL_CFG",
	"nvfp4_experts_only":              "NVFP4_EXPERTS_ONLY_CFG",
	"nvfp4_four_over_six":             "NVFP4_FOUR_OVER_SIX_CFG",
	"nvfp4_fp8_mha":                   "NVFP4_FP8_MHA_CONFIG",
	"nvfp4_mlp_only":                  "NVFP4_MLP_ONLY_CFG",
	"nvfp4_mlp_weight_only":           "NVFP4_MLP_WEIGHT_ONLY_CFG",
	"nvfp4_omlp_only":                 "NVFP4_OMLP_ONLY_CFG",
	"nvfp4_svdquant":                  "NVFP4_SVDQUANT_DEFAULT_CFG",
	"nvfp4_w4a4_weight_local_hessian": "NVFP4_W4A4_WEIGHT_LOCAL_HESSIAN_CFG",
	"nvfp4_w4a4_weight_mse_fp8_sweep": "NVFP4_W4A4_WEIGHT_MSE_FP8_SWEEP_CFG",
	"w4a8_mxfp4_fp8":                  "W4A8_MXFP4_FP8_CFG",
}

// qrunOwn are built-in formats no ModelOpt preset provides.
var qrunOwn = map[string]bool{"w4a8_int": true}

func loadPresets(t *testing.T, file string) map[string]any {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(sharedtest.ReadFile(t, "modelopt/"+file), &doc); err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	v, err := modelopt.FromNode(&doc)
	if err != nil {
		t.Fatalf("convert %s: %v", file, err)
	}
	out := map[string]any{}
	for k, e := range v.(map[any]any) {
		out[k.(string)] = e
	}
	return out
}

// quantizeValueErr is quantizeValue that returns the encoder's error.
func quantizeValueErr(c modelopt.Config, target modelopt.Version) (map[any]any, error) {
	if _, _, err := modelopt.Quantize(c, target); err != nil {
		return nil, err
	}
	v, _ := quantizeValue(nil, c, target)
	return v, nil
}

// quantizeValue encodes a config's quantize section for a target and reads
// it back as plain values, exactly as a YAML loader would see the recipe.
func quantizeValue(t *testing.T, c modelopt.Config, target modelopt.Version) (map[any]any, *yaml.Node) {
	if t != nil {
		t.Helper()
	}
	sec, _, err := modelopt.Quantize(c, target)
	if err != nil {
		t.Fatalf("encode for %s: %v", target, err)
	}
	b, err := modelopt.Marshal(sec)
	if err != nil {
		t.Fatal(err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		t.Fatalf("re-read: %v", err)
	}
	v, err := modelopt.FromNode(&n)
	if err != nil {
		t.Fatal(err)
	}
	return v.(map[any]any), n.Content[0]
}

func TestEveryBuiltinFormatIsMappedToAPreset(t *testing.T) {
	for _, f := range Builtin().Formats() {
		if _, ok := presetOf[f.Name]; !ok && !qrunOwn[f.Name] {
			t.Errorf("built-in format %s has no ModelOpt preset in this test's table", f.Name)
		}
	}
	for name := range presetOf {
		if _, err := Builtin().Format(name); err != nil {
			t.Errorf("SPEC §1.2 format %s is not built in: %v", name, err)
		}
	}
	// hf_ptq 0.46's --qformat names (modelopt's table, checked against
	// hf_ptq-0.46.0.md by modelopt's tests).
	hfPtqQformats, hfPtqAliases := modelopt.HFPTQQFormats()
	if len(hfPtqQformats) != 34 || len(hfPtqAliases) != 8 {
		t.Fatalf("hf_ptq 0.46 has 34 --qformat names and 8 aliases; the test lists %d and %d", len(hfPtqQformats), len(hfPtqAliases))
	}
	for _, name := range hfPtqQformats {
		if f, err := Builtin().Format(name); err != nil || f.Name != name {
			t.Errorf("hf_ptq --qformat %s is not a built-in format: %v", name, err)
		}
		if _, ok := presetOf[name]; !ok {
			t.Errorf("hf_ptq --qformat %s has no ModelOpt preset in this test's table", name)
		}
	}
	for alias, canonical := range hfPtqAliases {
		f, err := Builtin().Format(alias)
		if err != nil || f.Name != canonical {
			t.Errorf("alias %s should resolve to %s, got %v %v", alias, canonical, f, err)
		}
	}
}

// TestBuiltinFormatsEqualModelOpt046Presets proves the catalog is faithful:
// every built-in ModelOpt format with granularity default resolves to
// exactly ModelOpt 0.46's preset (quant_cfg and algorithm).
func TestBuiltinFormatsEqualModelOpt046Presets(t *testing.T) {
	presets := loadPresets(t, "presets-0.46.0.yaml")
	for name, preset := range presetOf {
		t.Run(name, func(t *testing.T) {
			r, err := Builtin().Resolve(name, "default")
			if err != nil {
				t.Fatal(err)
			}
			got, _ := quantizeValue(t, r.Config, modelopt.V046)
			want := presets[preset].(map[any]any)
			if !modelopt.Equal(got["quant_cfg"], want["quant_cfg"]) {
				t.Errorf("quant_cfg differs from %s\n got: %s\nwant: %s", preset, modelopt.Format(got["quant_cfg"]), modelopt.Format(want["quant_cfg"]))
			}
			if !modelopt.Equal(got["algorithm"], want["algorithm"]) {
				t.Errorf("algorithm = %s, %s has %s", modelopt.Format(got["algorithm"]), preset, modelopt.Format(want["algorithm"]))
			}
		})
	}
}

// TestBuiltinFormatsEqualModelOpt043Presets: for the 0.43 target the legacy
// mapping equals ModelOpt 0.43's preset, key order included (0.43 applies
// entries in mapping order). Attributes are compared after filling in
// ModelOpt's defaults, since 0.43's presets spell some of them out and 0.46's
// leave them implicit (enable: true, axis: null, block_sizes type: static);
// effective_bits, which 0.43 lacks, is dropped by the encoder.
func TestBuiltinFormatsEqualModelOpt043Presets(t *testing.T) {
	presets := loadPresets(t, "presets-0.43.0.yaml")
	for name, preset := range presetOf {
		t.Run(name, func(t *testing.T) {
			want, ok := presets[preset].(map[any]any)
			if !ok {
				// Presets newer than 0.43 (w4a16_nvfp4, mxfp6, the four-over-six and
				// local-Hessian/MSE NVFP4 ones) have nothing to compare against.
				if !newerThan043[name] {
					t.Fatalf("%s is missing from the 0.43 dump", preset)
				}
				t.Skipf("%s does not exist in ModelOpt 0.43", preset)
			}
			r, err := Builtin().Resolve(name, "default")
			if err != nil {
				t.Fatal(err)
			}
			if changed := changedSince043(r.Config, want); changed != "" || !r.Config.DefaultTail {
				// qrun's format is 0.46's preset; where ModelOpt changed the
				// preset after 0.43 (other scoped entries, its tail inline),
				// qrun writes 0.46's entries for 0.43 as they are.
				t.Skipf("ModelOpt changed %s after 0.43 %s; qrun writes 0.46's entries", preset, changed)
			}
			got, node := quantizeValue(t, r.Config, modelopt.V043)
			if !modelopt.Equal(normalize043(got["quant_cfg"]), normalize043(want["quant_cfg"])) {
				t.Errorf("quant_cfg differs from 0.43 %s\n got: %s\nwant: %s", preset, modelopt.Format(got["quant_cfg"]), modelopt.Format(want["quant_cfg"]))
			}
			if !modelopt.Equal(got["algorithm"], want["algorithm"]) {
				t.Errorf("algorithm = %s, 0.43 %s has %s", modelopt.Format(got["algorithm"]), preset, modelopt.Format(want["algorithm"]))
			}
			gotOrder := mappingKeys(node, "quant_cfg")
			wantOrder := presetKeyOrder(t, preset)
			if modelopt.Format(gotOrder) != modelopt.Format(wantOrder) {
				t.Errorf("quant_cfg key order\n got: %v\nwant: %v", gotOrder, wantOrder)
			}
		})
	}
}

// changedSince043 says how a 0.46 preset's role entries differ from the
// 0.43 preset's mapping keys ("" when they name the same quantizers).
func changedSince043(c modelopt.Config, p043 map[any]any) string {
	var now, then []string
	for _, r := range modelopt.Roles {
		for _, i := range c.RoleEntries(r) {
			now = append(now, c.Entries[i].QuantizerName)
		}
	}
	qc, _ := p043["quant_cfg"].(map[any]any)
	for k := range qc {
		if ks, ok := k.(string); ok && (strings.HasSuffix(ks, "weight_quantizer") || strings.HasSuffix(ks, "input_quantizer")) {
			then = append(then, ks)
		}
	}
	sort.Strings(now)
	sort.Strings(then)
	if strings.Join(now, ",") == strings.Join(then, ",") {
		return ""
	}
	return fmt.Sprintf("(role entries %v, in 0.43 %v)", now, then)
}

// newerThan043 are the presets ModelOpt 0.43 does not have.
var newerThan043 = map[string]bool{"w4a16_nvfp4": true, "mxfp6": true, "nvfp4_four_over_six": true,
	"nvfp4_w4a4_weight_local_hessian": true}

// normalize043 fills in ModelOpt's attribute defaults so that equivalent
// spellings compare equal.
func normalize043(v any) any {
	m, ok := v.(map[any]any)
	if !ok {
		if l, isList := v.([]any); isList {
			out := make([]any, len(l))
			for i, e := range l {
				out[i] = normalize043(e)
			}
			return out
		}
		return v
	}
	out := map[any]any{}
	for k, e := range m {
		out[k] = normalize043(e)
	}
	if _, isAttrs := out["num_bits"]; isAttrs {
		if out["enable"] == true {
			delete(out, "enable")
		}
		if a, has := out["axis"]; has && a == nil {
			delete(out, "axis")
		}
		if bs, ok := out["block_sizes"].(map[any]any); ok && bs["type"] == "static" {
			delete(bs, "type")
		}
	}
	return out
}

func mappingKeys(n *yaml.Node, key string) []any {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			var keys []any
			m := n.Content[i+1]
			for j := 0; j+1 < len(m.Content); j += 2 {
				keys = append(keys, m.Content[j].Value)
			}
			return keys
		}
	}
	return nil
}

func presetKeyOrder(t *testing.T, preset string) []any {
	var doc yaml.Node
	if err := yaml.Unmarshal(sharedtest.ReadFile(t, "modelopt/presets-0.43.0.yaml"), &doc); err != nil {
		t.Fatal(err)
	}
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == preset {
			return mappingKeys(top.Content[i+1], "quant_cfg")
		}
	}
	t.Fatalf("%s not in 0.43 dump", preset)
	return nil
}

// TestDefaultTailsEqualModelOpt checks qrun's copies of ModelOpt's
// default-disabled tail against both dumps.
func TestDefaultTailsEqualModelOpt(t *testing.T) {
	p46 := loadPresets(t, "presets-0.46.0.yaml")
	var got []any
	for _, e := range modelopt.DefaultTail(modelopt.V046) {
		got = append(got, e.Value())
	}
	if !modelopt.Equal(got, p46["_default_disabled_quantizer_cfg"]) {
		t.Errorf("0.46 tail differs:\n got: %s\nwant: %s", modelopt.Format(got), modelopt.Format(p46["_default_disabled_quantizer_cfg"]))
	}
	c := modelopt.Config{DenyAll: true, DefaultTail: true, Entries: []modelopt.Entry{}, Algorithm: "max"}
	p43 := loadPresets(t, "presets-0.43.0.yaml")
	v, _ := quantizeValue(t, c, modelopt.V043)
	if !modelopt.Equal(v["quant_cfg"], p43["_default_disabled_quantizer_cfg"]) {
		t.Errorf("0.43 tail differs:\n got: %s\nwant: %s", modelopt.Format(v["quant_cfg"]), modelopt.Format(p43["_default_disabled_quantizer_cfg"]))
	}
}
