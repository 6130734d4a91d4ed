package vocab

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/internal/goldenfile"
	"github.com/qrun-dev/qrun/internal/sharedtest"
	"github.com/qrun-dev/qrun/modelopt"
)

// attributeDefaults are QuantizerAttributeConfig's field defaults at
// ModelOpt 0.46.0 (quantization/config.py:332-620): what an attribute a
// cfg leaves out becomes.
var attributeDefaults = map[any]any{
	"num_bits": 8, "effective_bits": nil, "axis": nil, "fake_quant": true, "unsigned": false,
	"narrow_range": false, "learn_amax": false, "type": "static", "block_sizes": nil, "bias": nil,
	"trt_high_precision_dtype": "Float", "calibrator": "max", "rotate": false, "pass_through_bwd": true,
	"backend": nil, "backend_extra_args": nil, "use_constant_amax": false, "constant_amax": nil,
}

// operation is what ModelOpt does with one quant_cfg entry: the quantizers
// it matches (pattern, parent class), whether it leaves them on, and their
// complete attributes after defaults (nil: the entry only switches).
type operation struct {
	pattern, parent string
	on              bool
	attrs           []map[any]any // one per stage
}

func (o operation) String() string {
	s := o.pattern
	if o.parent != "" {
		s += " (" + o.parent + ")"
	}
	if !o.on {
		return s + " off"
	}
	var parts []string
	for _, a := range o.attrs {
		parts = append(parts, modelopt.Format(a))
	}
	return s + " " + strings.Join(parts, " then ")
}

// short is the operation with only its attributes that are not defaults.
func (o operation) short() string {
	c := o
	c.attrs = nil
	for _, a := range o.attrs {
		m := map[any]any{}
		for k, v := range a {
			if !modelopt.Equal(v, attributeDefaults[k]) {
				m[k] = v
			}
		}
		c.attrs = append(c.attrs, m)
	}
	return c.String()
}

// normalAlgorithm is an algorithm with the fields left at ModelOpt's
// defaults dropped ({method: max, layerwise: {enable: false}} is max).
func normalAlgorithm(a any) any {
	m, ok := a.(map[any]any)
	if !ok {
		return a
	}
	out := map[any]any{}
	for k, v := range m {
		if k == "layerwise" && (v == false || modelopt.Equal(v, map[any]any{"enable": false})) {
			continue
		}
		out[k] = v
	}
	if len(out) == 1 {
		return out["method"]
	}
	return out
}

func fullAttrs(cfg map[any]any) map[any]any {
	out := map[any]any{}
	for k, v := range attributeDefaults {
		out[k] = v
	}
	for k, v := range cfg {
		if k != "enable" { // model_dump repeats the entry's enable inside cfg
			out[k] = v
		}
	}
	return out
}

// operationsOf reads a quant_cfg list as ModelOpt applies it: plain values,
// either a shipped recipe's model_dump or qrun's own list.
func operationsOf(list []any) []operation {
	var out []operation
	for _, raw := range list {
		e := raw.(map[any]any)
		op := operation{pattern: e["quantizer_name"].(string)}
		if p, ok := e["parent_class"].(string); ok {
			op.parent = p
		}
		en, hasEnable := e["enable"].(bool)
		switch cfg := e["cfg"].(type) {
		case map[any]any:
			op.on = !hasEnable || en
			op.attrs = []map[any]any{fullAttrs(cfg)}
		case []any:
			op.on = !hasEnable || en
			for _, s := range cfg {
				op.attrs = append(op.attrs, fullAttrs(s.(map[any]any)))
			}
		default:
			op.on = hasEnable && en
		}
		out = append(out, op)
	}
	return out
}

func sameOperations(a, b []operation) (int, bool) {
	for i := range min(len(a), len(b)) {
		if a[i].String() != b[i].String() {
			return i, false
		}
	}
	return min(len(a), len(b)), len(a) == len(b)
}

func isKVOperation(o operation) bool { return strings.HasSuffix(o.pattern, "bmm_quantizer") }

// TestShippedRecipesEqualQrunSelections walks every general/ptq recipe
// ModelOpt 0.46.0 ships (shipped-recipes-0.46.0.yaml, through its own
// loader) and says, for each, which qrun format × default × kv_cache applies
// the same operations entry by entry — pattern, parent class, on or off,
// every attribute after defaults — and the same algorithm, or why none
// can (SPEC §12). The table is pinned in testdata/golden/shipped-recipes.txt.
func TestShippedRecipesEqualQrunSelections(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal(sharedtest.ReadFile(t, "modelopt/shipped-recipes-0.46.0.yaml"), &doc); err != nil {
		t.Fatal(err)
	}
	val, err := modelopt.FromNode(&doc)
	if err != nil {
		t.Fatal(err)
	}
	shipped := val.(map[any]any)
	v := Builtin()
	var cands []shippedCandidate
	for _, f := range v.Formats() {
		for _, kv := range v.KVCaches() {
			r, err := v.ResolveKV(f.Name, "default", kv.Name)
			if err != nil {
				continue
			}
			q, _ := quantizeValue(t, r.Config, modelopt.V046)
			cands = append(cands, shippedCandidate{f.Name, kv.Name, operationsOf(q["quant_cfg"].([]any)), r.Config.Algorithm})
		}
	}
	names := make([]string, 0, len(shipped))
	for k := range shipped {
		names = append(names, k.(string))
	}
	sort.Strings(names)
	if len(names) != 21 {
		t.Fatalf("%d shipped general/ptq recipes, want 21", len(names))
	}
	var lines []string
	equal := 0
	for _, name := range names {
		rec := shipped[name].(map[any]any)["quantize"].(map[any]any)
		ops := operationsOf(rec["quant_cfg"].([]any))
		alg := rec["algorithm"]
		var line string
		for _, c := range cands {
			if _, ok := sameOperations(ops, c.ops); ok && modelopt.Equal(normalAlgorithm(alg), normalAlgorithm(c.algorithm)) {
				line = fmt.Sprintf("%s: equal to %s × default × kv_cache %s", name, c.format, c.kv)
				equal++
				break
			}
		}
		if line == "" {
			line = name + ": " + whyNotEqual(ops, alg, cands)
		}
		lines = append(lines, line)
	}
	t.Logf("shipped recipes, %d of %d equal a qrun selection:\n%s", equal, len(names), strings.Join(lines, "\n"))
	goldenfile.Check(t, "shipped-recipes.txt", []byte(strings.Join(lines, "\n")+"\n"))
	if !slices.Contains(lines, "general/ptq/fp8_default-kv_fp8_cast: equal to fp8 × default × kv_cache fp8_cast") {
		t.Errorf("a new project's fp8 run (kv_cache fp8_cast) must equal general/ptq/fp8_default-kv_fp8_cast")
	}
}

type shippedCandidate struct {
	format, kv string
	ops        []operation
	algorithm  any
}

// whyNotEqual says why no qrun selection applies a recipe's operations:
// its model entries (no qrun format has them, or only in another order),
// its KV entries (no KV preset), or its algorithm (the format's, and qrun
// has no format with it), naming the nearest selection.
func whyNotEqual(ops []operation, alg any, cands []shippedCandidate) string {
	split := func(os []operation) (model, kv []operation) {
		for _, o := range os {
			if isKVOperation(o) {
				kv = append(kv, o)
			} else {
				model = append(model, o)
			}
		}
		return model, kv
	}
	model, kv := split(ops)
	keys := func(os []operation) []string {
		var out []string
		for _, o := range os {
			out = append(out, o.String())
		}
		sort.Strings(out)
		return out
	}
	var sameModel, reordered []shippedCandidate
	best, bestAt := shippedCandidate{}, -1
	for _, c := range cands {
		cm, _ := split(c.ops)
		if _, ok := sameOperations(model, cm); ok {
			sameModel = append(sameModel, c)
		} else if slices.Equal(keys(model), keys(cm)) {
			reordered = append(reordered, c)
		}
		if at, _ := sameOperations(model, cm); at > bestAt {
			best, bestAt = c, at
		}
	}
	switch {
	case len(sameModel) > 0:
		for _, c := range sameModel {
			if _, ckv := split(c.ops); slices.Equal(keys(kv), keys(ckv)) {
				return fmt.Sprintf("the entries of %s × default × kv_cache %s, but algorithm %s (qrun's format has %s): the calibration algorithm is the format's, and no qrun format has this one",
					c.format, c.kv, modelopt.Format(alg), modelopt.Format(c.algorithm))
			}
		}
		var kvs []string
		for _, o := range kv {
			kvs = append(kvs, o.short())
		}
		return fmt.Sprintf("the model entries of format %s, but KV-cache entries [%s] that are no KV preset of qrun's (and algorithm %s)", sameModel[0].format, strings.Join(kvs, "; "), modelopt.Format(alg))
	case len(reordered) > 0:
		c := reordered[0]
		return fmt.Sprintf("the model entries of format %s in another order (the same effect only where no two of them match one quantizer); entry by entry it is not %s", c.format, c.format)
	}
	cm, _ := split(best.ops)
	got, want := "nothing", "nothing"
	if bestAt < len(model) {
		got = model[bestAt].short()
	}
	if bestAt < len(cm) {
		want = cm[bestAt].short()
	}
	return fmt.Sprintf("its model entries are no qrun format's: the nearest, %s, differs at entry %d: %s where %s has %s (algorithm %s)",
		best.format, bestAt+1, got, best.format, want, modelopt.Format(alg))
}

// TestBuiltinKVCachesEqualModelOptPresets: the built-in KV-cache settings
// are none and ModelOpt 0.46's KV presets (KV_QUANT_CFG_CHOICES, the values
// hf_ptq's --kv_cache_qformat takes), entry for entry.
func TestBuiltinKVCachesEqualModelOptPresets(t *testing.T) {
	presets := loadPresets(t, "kv-presets-0.46.0.yaml")
	choices := presets["KV_QUANT_CFG_CHOICES"].(map[any]any)
	var want []string
	for _, c := range presets["hf_ptq_kv_cache_qformat_choices"].([]any) {
		want = append(want, c.(string))
	}
	var got []string
	for _, kv := range Builtin().KVCaches() {
		got = append(got, kv.Name)
		if kv.Name == NoKVCache {
			if !kv.None() || kv.Fingerprint() == "" {
				t.Errorf("none quantizes something: %v", kv.Entries)
			}
			continue
		}
		p := choices[kv.Name].(map[any]any)
		var entries []any
		for _, e := range kv.Entries {
			entries = append(entries, e.Value())
		}
		if !modelopt.Equal(entries, p["quant_cfg"]) {
			t.Errorf("kv_cache %s\n got %s\nwant %s", kv.Name, modelopt.Format(entries), modelopt.Format(p["quant_cfg"]))
		}
		if !modelopt.Equal(kv.Algorithm, p["algorithm"]) {
			t.Errorf("kv_cache %s: algorithm %s, the preset has %s", kv.Name, modelopt.Format(kv.Algorithm), modelopt.Format(p["algorithm"]))
		}
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("built-in kv_cache settings %v, hf_ptq's --kv_cache_qformat takes %v", got, want)
	}
}

// TestKVCacheResolution: a KV-cache setting's entries go after the
// format's and before the default-disabled tail; none leaves the config,
// its fingerprint and its recipe exactly as without the axis (SPEC §12).
func TestKVCacheResolution(t *testing.T) {
	v := Builtin()
	plain, err := v.Resolve("fp8", "w_per_tensor")
	if err != nil {
		t.Fatal(err)
	}
	none, err := v.ResolveKV("fp8", "w_per_tensor", NoKVCache)
	if err != nil {
		t.Fatal(err)
	}
	if none.Fingerprint() != plain.Fingerprint() || none.Description() != plain.Description() {
		t.Errorf("kv_cache none changed the config: %s vs %s", none.Fingerprint(), plain.Fingerprint())
	}
	a, _, _ := plain.Recipe(modelopt.V046)
	b, _, _ := none.Recipe(modelopt.V046)
	if string(a) != string(b) {
		t.Errorf("kv_cache none changed the recipe")
	}
	r, err := v.ResolveKV("fp8", "w_per_tensor", "fp8_cast")
	if err != nil {
		t.Fatal(err)
	}
	if r.Fingerprint() == plain.Fingerprint() || r.Description() != "qrun: format fp8 x granularity w_per_tensor x kv_cache fp8_cast" {
		t.Errorf("kv_cache fp8_cast: fingerprint %s, description %q", r.Fingerprint(), r.Description())
	}
	list := r.Config.List()
	tail := modelopt.DefaultTail(modelopt.V046)
	kvAt := len(list) - len(tail) - 1
	if list[kvAt].QuantizerName != "*[kv]_bmm_quantizer" || list[kvAt].Cfg["use_constant_amax"] != true {
		t.Errorf("the KV entry is not right before the tail: %s", modelopt.Format(list[kvAt].Value()))
	}
	if v := r.Export(modelopt.V046); v.KVCacheQuantAlgo != "FP8" || v.Kind != modelopt.Deployable {
		t.Errorf("fp8 × fp8_cast: %s, kv %q", v.Summary(), v.KVCacheQuantAlgo)
	}
	if _, err := v.ResolveKV("fp8", "default", "fp9"); err == nil || !strings.Contains(err.Error(), `unknown kv_cache "fp9"; did you mean "fp8"?`) {
		t.Errorf("unknown kv_cache: %v", err)
	}
	// 0.43 has no effective_bits: dropped with a note, the entries written.
	nv, err := v.ResolveKV("fp8", "default", "nvfp4")
	if err != nil {
		t.Fatal(err)
	}
	if _, notes, err := nv.Recipe(modelopt.V043); err != nil || len(notes) != 1 {
		t.Errorf("fp8 × kv nvfp4 for 0.43: %v, notes %v", err, notes)
	}
}
