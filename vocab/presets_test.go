package vocab

import (
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

// quantizeValue encodes a config's quantize section for a target and reads
// it back as plain values, exactly as a YAML loader would see the recipe.
func quantizeValue(t *testing.T, c modelopt.Config, target modelopt.Version) (map[any]any, *yaml.Node) {
	t.Helper()
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
	for alias, canonical := range map[string]string{
		"int8_sq": "int8_smoothquant", "int8_wo": "int8_weight_only", "w4a8_awq": "w4a8_awq_beta",
		"nvfp4_awq": "nvfp4_awq_lite", "fp8_pc_pt": "fp8_per_channel_per_token", "fp8_pb_wo": "fp8_2d_blockwise_weight_only",
	} {
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
				if name != "w4a16_nvfp4" {
					t.Fatalf("%s is missing from the 0.43 dump", preset)
				}
				t.Skipf("%s does not exist in ModelOpt 0.43", preset)
			}
			r, err := Builtin().Resolve(name, "default")
			if err != nil {
				t.Fatal(err)
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
