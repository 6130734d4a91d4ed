package modelopt

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/internal/sharedtest"
)

// fixtureValue reads a YAML fixture of the shared test data as this
// package's plain values.
func fixtureValue(t *testing.T, path string) any {
	t.Helper()
	return yamlValue(t, sharedtest.ReadFile(t, path), path)
}

// presetConstants reads presets-0.46.0.yaml: every ModelOpt preset
// constant, made by ModelOpt's own classes, as plain values.
func presetConstants(t *testing.T) map[string]map[any]any {
	t.Helper()
	v := fixtureValue(t, "modelopt/presets-0.46.0.yaml")
	out := map[string]map[any]any{}
	for k, e := range v.(map[any]any) {
		switch x := e.(type) {
		case map[any]any:
			out[k.(string)] = x
		case []any: // _base_disable_all, _default_disabled_quantizer_cfg: bare lists
			out[k.(string)] = map[any]any{"quant_cfg": x}
		}
	}
	return out
}

// presetConfig is hf_ptq's QUANT_CFG_CHOICES[qformat]: the preset constant
// loaded from configs/ptq/presets/model/<qformat>.yaml, named
// <QFORMAT>_CFG, <QFORMAT>_DEFAULT_CFG or <QFORMAT>_CONFIG in the dump. Its
// entries are applied as they are, in order.
func presetConfig(t *testing.T, consts map[string]map[any]any, qformat string) Config {
	t.Helper()
	up := strings.ToUpper(qformat)
	for _, name := range []string{up + "_CFG", up + "_DEFAULT_CFG", up + "_CONFIG"} {
		c, ok := consts[name]
		if !ok {
			continue
		}
		entries, err := ParseEntries(c["quant_cfg"])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return Config{Entries: entries, Algorithm: c["algorithm"]}
	}
	t.Fatalf("no preset constant for --qformat %s", qformat)
	return Config{}
}

func kvEntries(t *testing.T, consts map[string]map[any]any, kv string) []Entry {
	t.Helper()
	v := fixtureValue(t, "modelopt/kv-presets-0.46.0.yaml")
	p, ok := v.(map[any]any)["KV_QUANT_CFG_CHOICES"].(map[any]any)[kv].(map[any]any)
	if !ok {
		t.Fatalf("no KV preset %s", kv)
	}
	entries, err := ParseEntries(p["quant_cfg"])
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// withKV puts a KV preset's entries into a model preset: before the
// default-disabled tail (where ModelOpt's shipped recipes put them), or
// after it (what hf_ptq --kv_cache_qformat does).
func withKV(t *testing.T, consts map[string]map[any]any, c Config, kv []Entry, afterTail bool) Config {
	t.Helper()
	out := c.Clone()
	if afterTail {
		out.Entries = append(out.Entries, kv...)
		return out
	}
	tail, err := ParseEntries(consts["_default_disabled_quantizer_cfg"]["quant_cfg"])
	if err != nil {
		t.Fatal(err)
	}
	n := len(out.Entries) - len(tail)
	for i, e := range tail {
		if !Equal(out.Entries[n+i].Value(), e.Value()) {
			t.Fatalf("the preset does not end with the default-disabled tail")
		}
	}
	out.Entries = slices.Concat(out.Entries[:n], kv, out.Entries[n:])
	return out
}

// exportRow is an export_hf_checkpoint result of runtime-presets-0.46.0.yaml.
type exportRow struct {
	OK            bool                `yaml:"ok"`
	Error         string              `yaml:"error"`
	QuantAlgo     *string             `yaml:"quant_algo"`
	KVAlgo        *string             `yaml:"kv_cache_quant_algo"`
	Describes     *bool               `yaml:"describes_the_model"`
	KVDescribes   *bool               `yaml:"kv_cache_quant_algo_describes_k_v"`
	WhyNot        []string            `yaml:"why_not"`
	KVWhyNot      []string            `yaml:"kv_why_not"`
	ByLabel       map[string][]string `yaml:"quantized_layers_by_label"`
	KVTensors     any                 `yaml:"layer0_kv_tensors"`
	HFQuantConfig string              `yaml:"hf_quant_config"`
}

type presetRow struct {
	QFormat  string     `yaml:"qformat"`
	KV       string     `yaml:"kv_cache_qformat"`
	Quantize string     `yaml:"quantize"`
	Forward  string     `yaml:"forward"`
	Export   *exportRow `yaml:"export_hf_checkpoint"`
	Standin  *presetRow `yaml:"with_fast_hadamard_transform_standin"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// checkPresetRow compares qrun's rule with one GPU row.
func checkPresetRow(t *testing.T, row presetRow, c Config) Verdict {
	t.Helper()
	if row.Quantize != "ok" || (row.Forward != "" && row.Forward != "ok") {
		t.Fatalf("row did not run: %s %s", row.Quantize, row.Forward)
	}
	if ce := Crash(c); ce != nil {
		t.Fatalf("ModelOpt ran it on the GPU; qrun predicts a crash: %v", ce)
	}
	v := Export(c, V046)
	ex := row.Export
	switch {
	case !ex.OK:
		if v.Kind != Fails || !globStar(v.Error, ex.Error) {
			t.Fatalf("export raised %q; qrun gives %s (%q)", ex.Error, v.Summary(), v.Error)
		}
		return v
	case ex.QuantAlgo == nil: // nothing quantized
		if v.Kind != Fails || !strings.Contains(v.Why, "quantizes no linear layer") || v.KVCacheQuantAlgo != str(ex.KVAlgo) {
			t.Fatalf("the export quantized no layer (kv %s); qrun gives %s, kv %q", str(ex.KVAlgo), v.Summary(), v.KVCacheQuantAlgo)
		}
		return v
	}
	if v.QuantAlgo != *ex.QuantAlgo || v.KVCacheQuantAlgo != str(ex.KVAlgo) {
		t.Errorf("export labels %s, kv %s; qrun gives %s, kv %q", *ex.QuantAlgo, str(ex.KVAlgo), v.Summary(), v.KVCacheQuantAlgo)
	}
	describes := ex.Describes != nil && *ex.Describes && (ex.KVDescribes == nil || *ex.KVDescribes)
	if describes != (v.Kind == Deployable) || (!describes && v.Kind != Mislabelled) {
		t.Errorf("describes the model: %v; qrun gives %s", describes, v.Summary())
	}
	var layerWhy []string
	for _, l := range v.layers {
		for _, m := range l.mismatch {
			layerWhy = append(layerWhy, l.name+": "+m)
		}
	}
	sort.Strings(layerWhy) // the GPU file lists them by name
	if (ex.WhyNot != nil || describes) && !slices.Equal(layerWhy, ex.WhyNot) {
		t.Errorf("why not, layer by layer:\n got %q\nwant %q", layerWhy, ex.WhyNot)
	}
	if (ex.KVWhyNot != nil || describes) && !slices.Equal(v.kvMismatch, ex.KVWhyNot) {
		t.Errorf("KV why not:\n got %q\nwant %q", v.kvMismatch, ex.KVWhyNot)
	}
	if ex.ByLabel != nil {
		got := map[string][]string{}
		for _, l := range v.layers {
			key := l.algo
			if l.group > 0 {
				key += fmt.Sprintf(" group_size %d", l.group)
			}
			got[key] = append(got[key], l.name)
		}
		for k, names := range ex.ByLabel {
			sort.Strings(names)
			g := got[k]
			sort.Strings(g)
			if !slices.Equal(g, names) {
				t.Errorf("layers labelled %s: got %v, want %v", k, g, names)
			}
		}
		if len(got) != len(ex.ByLabel) {
			t.Errorf("labels %v, want %v", got, ex.ByLabel)
		}
	}
	noScales := ex.KVTensors == "none"
	if hasNote(v, "no k_scale or v_scale") != noScales && ex.KVTensors != nil {
		t.Errorf("K/V scale tensors exported: %v; qrun's notes: %q", !noScales, v.Notes)
	}
	return v
}

// globStar: the pattern's "*" stands for any text.
func globStar(pattern, s string) bool { return piecesMatch(strings.Split(pattern, "*"), pattern, s) }

func hasNote(v Verdict, part string) bool {
	return slices.ContainsFunc(v.Notes, func(n string) bool { return strings.Contains(n, part) })
}

// TestRuntimeTruthOfEveryPreset checks qrun's rule against every row of
// runtime-presets-0.46.0.yaml: all 34 hf_ptq --qformat presets, fp8 and
// nvfp4 with every KV preset, and every preset with hf_ptq's default
// --kv_cache_qformat fp8_cast. All rows, no skips, no tolerance.
func TestRuntimeTruthOfEveryPreset(t *testing.T) {
	var doc struct {
		Presets []presetRow `yaml:"presets"`
		KVRuns  []presetRow `yaml:"kv_runs"`
		Default []presetRow `yaml:"hf_ptq_default_kv_runs"`
	}
	if err := yaml.Unmarshal(sharedtest.ReadFile(t, "modelopt/runtime-presets-0.46.0.yaml"), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Presets) != 34 || len(doc.KVRuns) != 14 || len(doc.Default) != 34 {
		t.Fatalf("%d presets, %d KV runs, %d default-KV runs; want 34, 14, 34", len(doc.Presets), len(doc.KVRuns), len(doc.Default))
	}
	consts := presetConstants(t)
	tally := map[string]int{}
	for _, row := range doc.Presets {
		t.Run("preset/"+row.QFormat, func(t *testing.T) {
			v := checkPresetRow(t, row, presetConfig(t, consts, row.QFormat))
			tally[string(v.Kind)]++
			if row.QFormat == "nvfp4_fp8_mha" && (!hasNote(v, "lm_head") || !hasNote(v, "model.embed_tokens")) {
				t.Errorf("nvfp4_fp8_mha quantizes lm_head and the embeddings; the notes do not say so: %q", v.Notes)
			}
		})
	}
	for _, row := range doc.KVRuns {
		t.Run("kv/"+row.QFormat+"+"+row.KV, func(t *testing.T) {
			c := withKV(t, consts, presetConfig(t, consts, row.QFormat), kvEntries(t, consts, row.KV), false)
			if row.Standin != nil { // the GPU machine lacked fast_hadamard_transform
				if !strings.HasPrefix(row.Quantize, "ModuleNotFoundError: Package `fast_hadamard_transform` not found") {
					t.Fatalf("quantize: %s", row.Quantize)
				}
				v := checkPresetRow(t, *row.Standin, c)
				if !hasNote(v, "fast_hadamard_transform") {
					t.Errorf("the rotation needs fast_hadamard_transform; the notes do not say so: %q", v.Notes)
				}
				return
			}
			checkPresetRow(t, row, c)
		})
	}
	for _, row := range doc.Default {
		t.Run("hf_ptq-default-kv/"+row.QFormat, func(t *testing.T) {
			c := withKV(t, consts, presetConfig(t, consts, row.QFormat), kvEntries(t, consts, "fp8_cast"), true)
			row.Forward = "ok"
			checkPresetRow(t, row, c)
		})
	}
	t.Logf("presets at their defaults: %v", tally)
}
