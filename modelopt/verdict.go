package modelopt

import (
	"fmt"
	"slices"
	"strings"
)

// What ModelOpt 0.46 does with a config at run time, predicted by qrun's
// own rule over the config's attributes (no torch, no GPU): whether
// mtq.quantize and the first quantized forward pass survive, and what
// export_hf_checkpoint makes of the model — the hf_quant_config label
// (quant_algo) and whether it says what the quantizers are, or the error
// that stops the export. The rule follows ModelOpt 0.46.0's code
// (modelopt/torch/export/quant_utils.py, unified_export_hf.py,
// quantization/model_calib.py, nn/modules/tensor_quantizer.py; file and line
// references below are at tag 0.46.0) on a dense decoder LLM whose linears
// are nn.Linear; it is checked against every row of ModelOpt's own runs on a
// GPU (runtime-0.46.0.yaml).

// VerdictKind is what a run's checkpoint export comes to.
type VerdictKind string

const (
	// Deployable: the export succeeds and its label says what the
	// quantizers are.
	Deployable VerdictKind = "deployable"
	// Mislabelled: the export succeeds, but an inference engine reading the
	// label would serve something else than the quantizers are.
	Mislabelled VerdictKind = "mislabelled"
	// Fails: export_hf_checkpoint raises.
	Fails VerdictKind = "fails"
	// Unverified: the target ModelOpt has no ground truth qrun's rule was
	// checked against.
	Unverified VerdictKind = "unverified"
	// Unknown: a run planned before qrun gave verdicts.
	Unknown VerdictKind = "unknown"
)

// Verdicts lists the verdict kinds, best first.
var Verdicts = []VerdictKind{Deployable, Mislabelled, Fails, Unverified, Unknown}

// VerifiedTarget is the ModelOpt release the rule is checked against.
var VerifiedTarget = V046

// Verdict is qrun's prediction of export_hf_checkpoint for a config.
type Verdict struct {
	Kind VerdictKind
	// QuantAlgo is hf_quant_config's quantization.quant_algo ("" when the
	// export fails or writes no quantization config).
	QuantAlgo string
	// Why says, for mislabelled, what the label claims against what the
	// quantizers are; for fails, what breaks; for unverified, why there is
	// no verdict.
	Why string
	// Error is the exception ModelOpt raises, as its traceback ends
	// ("TypeError: object of type 'NoneType' has no len()"); "*" stands for
	// what depends on the model's shapes or names.
	Error string
	// KVCacheQuantAlgo is hf_quant_config's kv_cache_quant_algo (FP8,
	// INT8, NVFP4, NVFP4_AFFINE), "" when the KV cache is not quantized.
	KVCacheQuantAlgo string
	// Notes are what a user should know that does not change the verdict:
	// layers the config quantizes beyond the usual ones, scales the
	// checkpoint does not carry, packages the GPU machine needs.
	Notes []string
	// Target is the ModelOpt release the verdict is for.
	Target Version
	// layers are the label and mismatches of each quantized layer.
	layers []layerVerdict
	// kvMismatch is what the KV label claims that the K/V quantizers are not.
	kvMismatch []string
}

// layerVerdict is one quantized layer of the export.
type layerVerdict struct {
	name     string
	label    string   // quant_utils' internal name: int8_sq, fp8, int4_awq, …
	algo     string   // its quant_algo
	group    int      // the group_size the layer's dict carries (0: none)
	mismatch []string // what the label claims that the quantizers are not
}

// CrashError is a config ModelOpt cannot run at all: mtq.quantize or the
// first quantized forward pass raises, after the model is loaded and before
// anything is exported. It is the same in every supported ModelOpt release
// (0.43–0.46 have the same checks).
type CrashError struct {
	Stage  string // "calibration" (mtq.quantize) or "forward" (the first quantized forward)
	Method string // the calibration algorithm, "" for none
	Raises string // the exception ModelOpt raises
	Reason string // what breaks, in qrun's terms
}

func (e *CrashError) Error() string {
	return fmt.Sprintf("%s (%s, at %s)", e.Reason, e.Raises, e.stageWords())
}

func (e *CrashError) stageWords() string {
	if e.Stage == "forward" {
		return "the first quantized forward pass"
	}
	return "calibration, after the model is loaded"
}

// failure is a rule of ModelOpt's export that a config breaks.
type failure struct {
	err    string // ModelOpt's exception
	reason string // in qrun's terms
}

// Crash reports whether ModelOpt's calibration or first forward pass fails
// on the config (nil when both run).
func Crash(c Config) *CrashError { return NewRuntime(c).Crash() }

// Runtime is a config applied to the quantizers of a dense decoder LLM, as
// ModelOpt's quantizer insertion leaves them: Crash and Export read it
// (built once, read many times).
type Runtime struct {
	c  Config
	qs []quantizers
}

// NewRuntime applies the config to the model's quantizers.
func NewRuntime(c Config) *Runtime { return &Runtime{c: c, qs: modelQuantizers(c, denseDecoder())} }

// Crash reports whether ModelOpt's calibration or first forward pass fails
// (nil when both run).
func (r *Runtime) Crash() *CrashError { return crash(r.c, r.qs) }

func crash(c Config, qs []quantizers) *CrashError {
	method := algorithmMethod(c.Algorithm)
	model := denseDecoder()
	for i, m := range model {
		if m.kind != linearModule {
			continue
		}
		w, a := qs[i].get(weightSlot), qs[i].get(inputSlot)
		if !w.on {
			continue // calibration passes skip a linear whose weights are not quantized
		}
		// Q1 (model_calib.py:1153-1159, 1291-1299; tensor_quantizer.py:1079).
		if slices.Contains(setsInputAxis, method) && a.on && perTokenForm(a.attrs) {
			return &CrashError{Stage: "calibration", Method: method,
				Raises: "AssertionError: Axis and block_sizes are both set.",
				Reason: fmt.Sprintf("%s sets the activation quantizer's axis to collect per-channel statistics, which ModelOpt cannot combine with per-token activations (%s)", methodWords(method), describe(a, false))}
		}
		// Q2 (model_calib.py:1395-1409).
		if slices.Contains(fakesWeights, method) {
			for _, s := range stagesOf(w) {
				if badFloat(s) {
					return &CrashError{Stage: "calibration", Method: method,
						Raises: "NotImplementedError: Only support E=4 & M=3 for now.",
						Reason: fmt.Sprintf("%s fake-quantizes the weights while it searches, and ModelOpt fakes %s weights without dynamic blocks only as E4M3 (num_bits [4, 3])", methodWords(method), describeDtype(s))}
				}
			}
		}
	}
	// F1: every enabled quantizer runs at the first quantized forward. A
	// calibration (every method ends with max_calibrate) promotes NVFP4
	// weights in static blocks to ModelOpt's static-block quantizer, which
	// fakes them without the E4M3 kernel (utils/core_utils.py:1073-1145).
	for i, m := range model {
		for slot, name := range slotNames {
			q := qs[i].get(slot)
			if q == nil || !q.on {
				continue
			}
			for _, s := range stagesOf(q) {
				if slot == weightSlot && method != "" && nvfp4Static(s) {
					continue
				}
				if badFloat(s) {
					role := strings.TrimSuffix(name, "_quantizer")
					return &CrashError{Stage: "forward", Method: method,
						Raises: "NotImplementedError: Only support E=4 & M=3 for now.",
						Reason: fmt.Sprintf("the %s quantizer of %s is %s without dynamic blocks (num_bits %s), which ModelOpt fakes only as E4M3: give %s its dynamic block_sizes (with scale_bits) or num_bits [4, 3]", role, m.name, describeDtype(s), numBits(s).python(), describeDtype(s))}
				}
			}
		}
	}
	return nil
}

// methodWords names a calibration method in a sentence.
func methodWords(method string) string {
	switch method {
	case "smoothquant":
		return "SmoothQuant calibration"
	case "awq_lite", "awq_full":
		return "AWQ calibration (" + method + ")"
	case "svdquant":
		return "SVDQuant calibration (it runs awq_lite)"
	}
	return method + " calibration"
}

func stagesOf(q *quantizer) []Attrs {
	if q.stages != nil {
		return q.stages
	}
	return []Attrs{q.attrs}
}

// Export predicts export_hf_checkpoint for the config on a dense decoder
// LLM, for the target ModelOpt. A target other than the verified one gets
// Unverified. A config that crashes earlier (see Crash) gets Fails.
func Export(c Config, target Version) Verdict { return NewRuntime(c).Export(target) }

// Export predicts export_hf_checkpoint for the target ModelOpt (see the
// function Export).
func (r *Runtime) Export(target Version) Verdict {
	if target != VerifiedTarget {
		return Verdict{Kind: Unverified, Target: target,
			Why: fmt.Sprintf("qrun's export rule is checked against ModelOpt %s only; no verdict for %s", VerifiedTarget, target)}
	}
	c, qs, model := r.c, r.qs, denseDecoder()
	if ce := crash(c, qs); ce != nil {
		return Verdict{Kind: Fails, Target: target, Error: ce.Raises, Why: "never reaches the export: " + ce.Reason}
	}
	calibrated := algorithmMethod(c.Algorithm) != ""
	// Every layer's label (unified_export_hf.py:962, 980).
	// Layers the config leaves alike (the same entries set their weight
	// and input quantizers) come to the same: each kind is worked out once.
	type likeness struct {
		kind       moduleKind
		wSet, aSet int
		wOn, aOn   bool
	}
	type outcome struct {
		label    string
		group    int
		fail     *failure // label error
		export   *failure // export rule error
		mismatch []string
	}
	seen := map[likeness]*outcome{}
	var layers []layerVerdict
	var outcomes []*outcome
	for i, m := range model {
		if m.kind == attentionModule {
			continue
		}
		w, a := qs[i].get(weightSlot), qs[i].get(inputSlot)
		if !w.on {
			continue
		}
		key := likeness{kind: m.kind, wSet: w.set, wOn: w.on, aSet: a.set, aOn: a.on}
		o := seen[key]
		if o == nil {
			o = &outcome{}
			o.label, o.group, o.fail = layerLabel(c, m, &qs[i])
			if o.fail == nil {
				o.export = exportRule(o.label, &qs[i], calibrated)
				o.mismatch = mismatches(o.label, quantAlgo(o.label), o.group, &qs[i])
			}
			seen[key] = o
		}
		if o.fail != nil {
			return Verdict{Kind: Fails, Target: target, Error: o.fail.err, Why: o.fail.reason}
		}
		layers = append(layers, layerVerdict{name: m.name, label: o.label, algo: quantAlgo(o.label), group: o.group, mismatch: o.mismatch})
		outcomes = append(outcomes, o)
	}
	// The KV cache's label, with the layers' (quant_utils.py:1675-1689).
	kv, kvFail := kvLabel(model, qs)
	if kvFail != nil {
		return Verdict{Kind: Fails, Target: target, Error: kvFail.err, Why: kvFail.reason}
	}
	// Then the export rules, module by module (unified_export_hf.py:382-410
	// for the input-sharing linears, 998 for packing).
	for _, o := range outcomes {
		if o.export != nil {
			return Verdict{Kind: Fails, Target: target, Error: o.export.err, Why: o.export.reason}
		}
	}
	v := Verdict{Target: target, layers: layers, KVCacheQuantAlgo: kv}
	v.Notes = runtimeNotes(model, qs, layers)
	if len(layers) == 0 {
		v.Kind = Fails
		v.Why = "quantizes no linear layer of a dense model (its patterns name layers such a model does not have): the export writes the model unquantized"
		if kv == "" {
			v.Why += ", with no quantization config"
		}
		return v
	}
	// One distinct layer dict goes to the top; more than one is
	// MIXED_PRECISION (quant_utils.py:777-787).
	v.QuantAlgo = layers[0].algo
	for _, l := range layers[1:] {
		if l.algo != layers[0].algo || l.group != layers[0].group {
			v.QuantAlgo = "MIXED_PRECISION"
		}
	}
	v.kvMismatch = kvMismatches(kv, model, qs)
	v.Kind, v.Why = Deployable, ""
	why := summarize(layers)
	if len(v.kvMismatch) > 0 {
		if why != "" {
			why += "; "
		}
		why += strings.Join(v.kvMismatch, "; ")
	}
	if why != "" {
		v.Kind, v.Why = Mislabelled, why
	}
	return v
}

// kvLabel is the checkpoint's kv_cache_quant_algo: each module whose k_bmm,
// v_bmm or output quantizer is on gives one from their num_bits (any E4M3:
// FP8; else any 8-bit: INT8; else FP4: NVFP4_AFFINE when every one has a
// bias, NVFP4 otherwise), and they must all agree (quant_utils.py:408-462,
// 1675-1689).
func kvLabel(model []module, qs []quantizers) (string, *failure) {
	label, set := "", false
	for i := range model {
		var nbs []bits
		affine := true
		for _, slot := range []int{kBmmSlot, vBmmSlot, outputSlot} {
			if q := qs[i].get(slot); q != nil && q.on {
				nbs = append(nbs, numBits(q.attrs))
				affine = affine && q.attrs["bias"] != nil
			}
		}
		if len(nbs) == 0 {
			continue
		}
		l := ""
		has := func(pred func(bits) bool) bool { return slices.ContainsFunc(nbs, pred) }
		switch {
		case has(func(b bits) bool { return b.is(4, 3) }):
			l = "FP8"
		case has(func(b bits) bool { return b.isInt(8) }):
			l = "INT8"
		case has(func(b bits) bool { return b.is(2, 1) }) && affine:
			l = "NVFP4_AFFINE"
		case has(func(b bits) bool { return b.is(2, 1) }):
			l = "NVFP4"
		}
		if !set {
			label, set = l, true
		} else if l != label {
			return "", &failure{"AssertionError: Do not support mixed precision kv cache quantization",
				fmt.Sprintf("the KV cache is quantized differently in different layers (%s and %s): ModelOpt's export takes one KV cache format", labelOrNone(label), labelOrNone(l))}
		}
	}
	return label, nil
}

func labelOrNone(l string) string {
	if l == "" {
		return "unquantized"
	}
	return l
}

// kvMeanings is what a reader of kv_cache_quant_algo assumes K and V are.
var kvMeanings = map[string]struct {
	kv   string
	bias bool
}{
	"FP8":          {"fp8 per_tensor_static", false},
	"INT8":         {"int8 per_tensor_static", false},
	"NVFP4":        {"nvfp4 block16", false},
	"NVFP4_AFFINE": {"nvfp4 block16", true},
	"":             {"none", false},
}

// kvMismatches lists what the KV label claims that the attention layers'
// K and V quantizers are not, and a rotation no label expresses.
func kvMismatches(label string, model []module, qs []quantizers) []string {
	want := kvMeanings[label]
	name := label
	if name == "" {
		name = "no kv_cache_quant_algo"
	}
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for i, m := range model {
		if m.kind != attentionModule {
			continue
		}
		for _, kv := range []struct {
			slot int
			name string
		}{{kBmmSlot, "k_bmm"}, {vBmmSlot, "v_bmm"}} {
			q := qs[i].get(kv.slot)
			d := describe(q, false)
			if d != want.kv {
				add(fmt.Sprintf("%s is %s but %s means %s", kv.name, d, name, want.kv))
				continue
			}
			if !q.on {
				continue
			}
			switch bias := q.attrs["bias"] != nil; {
			case bias && !want.bias:
				add(fmt.Sprintf("%s has bias (affine) but %s means no bias", kv.name, name))
			case !bias && want.bias:
				add(fmt.Sprintf("%s has no bias but %s means a bias (affine)", kv.name, name))
			}
		}
		var rotated, rotatedOff []string
		for _, r := range []struct {
			slot int
			name string
		}{{qBmmSlot, "Q"}, {kBmmSlot, "K"}} {
			if q := qs[i].get(r.slot); rotates(q) {
				rotated = append(rotated, r.name)
				if !q.on {
					rotatedOff = append(rotatedOff, r.name)
				}
			}
		}
		if len(rotated) > 0 && label != "" {
			detail := "rotate: true"
			for _, r := range rotatedOff {
				detail += fmt.Sprintf("; %s is rotated even though its quantizer is off", r)
			}
			add(fmt.Sprintf("%s bmm inputs are Hadamard-rotated (%s) but %s carries no rotation flag: a reader cannot know the K cache (and its k_scale) is in the rotated basis", strings.Join(rotated, "/"), detail, label))
		}
	}
	return out
}

// rotates: the quantizer's input is Hadamard-rotated, whether or not it
// quantizes (ModelOpt rotates an off quantizer's input too).
func rotates(q *quantizer) bool {
	if q == nil || q.attrs == nil {
		return false
	}
	switch r := q.attrs["rotate"].(type) {
	case bool:
		return r
	case map[any]any:
		return r["enable"] != false
	}
	return false
}

// runtimeNotes are what a user should know about a config that does not
// change its verdict.
func runtimeNotes(model []module, qs []quantizers, layers []layerVerdict) []string {
	var notes []string
	var unusual []string
	for _, l := range layers {
		if l.name == "lm_head" || l.name == "model.embed_tokens" {
			unusual = append(unusual, l.name)
		}
	}
	switch len(unusual) {
	case 1:
		notes = append(notes, unusual[0]+" is quantized too: the config has no default-disabled entry for it (ModelOpt's presets keep lm_head and the embeddings unquantized)")
	case 2:
		notes = append(notes, unusual[0]+" and "+unusual[1]+" are quantized too: the config has no default-disabled entries for them (ModelOpt's presets keep lm_head and the embeddings unquantized)")
	}
	constant, rotation := false, false
	for i, m := range model {
		if m.kind != attentionModule {
			continue
		}
		for _, slot := range []int{qBmmSlot, kBmmSlot, vBmmSlot, pBmmSlot} {
			q := qs[i].get(slot)
			if q.on && (slot == kBmmSlot || slot == vBmmSlot) && q.attrs["use_constant_amax"] == true {
				constant = true
			}
			if rotates(q) {
				rotation = true
			}
		}
	}
	if constant {
		notes = append(notes, "the KV cache uses constant scales (use_constant_amax): the checkpoint carries no k_scale or v_scale tensors")
	}
	if rotation {
		notes = append(notes, "the Hadamard rotation needs the fast_hadamard_transform package on the GPU machine (without it mtq.quantize raises ModuleNotFoundError)")
	}
	return notes
}

// layerLabel is get_quantization_format for one layer
// (quant_utils.py:492-591): the internal label and the layer's group size,
// or the error it raises.
func layerLabel(c Config, m module, qs *quantizers) (string, int, *failure) {
	w, a := qs.get(weightSlot), qs.get(inputSlot)
	method := algorithmMethod(c.Algorithm)
	calibratedLinear := m.kind == linearModule // calibration passes skip embeddings (is_quantized_linear)
	aOn := a != nil && a.on
	if w.stages != nil {
		s := w.stages
		if len(s) != 2 || !numBits(s[0]).isInt(4) || !numBits(s[1]).is(4, 3) {
			return "", 0, &failure{"AssertionError: Unsupported SequentialQuantizer configuration",
				fmt.Sprintf("weights are %s: ModelOpt exports a sequential weight quantizer only as int4 then fp8 (W4A8_AWQ)", describe(w, true))}
		}
		size, f := lastBlock(s[0], describe(w, true), "Invalid block_sizes for SequentialQuantizer", "W4A8_AWQ")
		if f != nil {
			return "", 0, f
		}
		return "w4a8_awq", size, nil
	}
	attrs := w.attrs
	nb, sb := numBits(attrs), scaleBits(attrs)
	bs := normalBlocks(attrs)
	switch {
	case nb.isInt(4):
		if bs == nil {
			return "", 0, &failure{"TypeError: object of type 'NoneType' has no len()",
				fmt.Sprintf("weights are %s: ModelOpt exports int4 weights only in groups (W4A16_AWQ needs block_sizes {-1: N}); use a group granularity such as w_group128", describe(w, true))}
		}
		size, f := lastBlock(attrs, describe(w, true), "Invalid block_sizes for INT4 quantizer", "W4A16_AWQ")
		if f != nil {
			return "", 0, f
		}
		return "int4_awq", size, nil
	case nb.isInt(8):
		if aOn {
			return "int8_sq", 0, nil
		}
		return "int8_wo", 0, nil
	case nb.is(4, 3):
		if bs != nil {
			size, f := lastBlock(attrs, describe(w, true), "Invalid block_sizes for FP8 quantizer", "fp8")
			if f != nil {
				return "", 0, f
			}
			if blockDynamic(attrs) && sb.is(8, 0) {
				return "mxfp8", size, nil
			}
			if fakeQuant(attrs) {
				return "fp8_pb_wo", 0, nil
			}
			return "fp8_pb_real", 0, nil
		}
		if isAxisZero(normalAxis(attrs, 2), false) {
			return "fp8_pc_pt", 0, nil
		}
		return "fp8", 0, nil
	case nb.is(2, 1):
		if bs == nil {
			return "", 0, &failure{"AttributeError: 'NoneType' object has no attribute 'get'",
				fmt.Sprintf("weights are %s: ModelOpt exports fp4 weights only with block scales (block_sizes with scale_bits)", describe(w, true))}
		}
		size, _ := bs[-1].(int)
		// An fp8 input quantizer beside dynamic fp4 weight blocks.
		fp8Input := aOn && blockDynamic(attrs) && numBits(a.attrs).is(4, 3) && normalBlocks(a.attrs) == nil
		switch {
		case method == "svdquant" && calibratedLinear: // svdquant_lora_a on the weight quantizer
			return "nvfp4_svdquant", size, nil
		case slices.Contains(preQuantScale, method) && calibratedLinear: // _pre_quant_scale, even with the input off
			return "nvfp4_awq", size, nil
		case !aOn && sb.is(4, 3):
			return "w4a16_nvfp4", size, nil
		case fp8Input && sb.is(8, 0):
			return "w4a8_mxfp4_fp8", size, nil
		case fp8Input && sb.is(4, 3):
			return "w4a8_nvfp4_fp8", size, nil
		case sb.is(4, 3):
			return "nvfp4", size, nil
		case sb.is(8, 0):
			return "mxfp4", 0, nil
		}
	}
	return "", 0, &failure{"NotImplementedError: Unsupported quantizer with num_bits: " + nb.python(),
		fmt.Sprintf("weights are %s: ModelOpt 0.46 has no export format for them", describe(w, true))}
}

// lastBlock is block_sizes[-1] of a block-quantized weight, which the
// label code requires to be a positive size.
func lastBlock(a Attrs, described, assertion, label string) (int, *failure) {
	bs := normalBlocks(a)
	if bs == nil {
		return 0, &failure{"AssertionError: " + assertion,
			fmt.Sprintf("weights are %s: ModelOpt's %s export needs the weights in groups (block_sizes {-1: N})", described, label)}
	}
	v, ok := bs[-1]
	if !ok {
		return 0, &failure{"KeyError: -1",
			fmt.Sprintf("weights are %s: ModelOpt's %s export reads the block size of the last axis (block_sizes key -1), which is not set", described, label)}
	}
	size, _ := v.(int)
	if size <= 0 {
		return 0, &failure{"AssertionError: " + assertion,
			fmt.Sprintf("weights are %s: ModelOpt's %s export needs a positive block size on the last axis", described, label)}
	}
	return size, nil
}

// exportRule is what the exporter requires of a labelled layer's scales
// (E0–E6 of the export notes).
func exportRule(label string, qs *quantizers, calibrated bool) *failure {
	w, a := qs.get(weightSlot), qs.get(inputSlot)
	wa := w.attrs
	if w.stages != nil {
		wa = w.stages[0]
	}
	// E0: the input-sharing linears (q/k/v, gate/up) are fused with one
	// scalar input amax (quant_utils.py:1504-1507).
	if label != "fp8" && label != "fp8_pb_real" && a != nil && a.on && hasAmax(a.attrs, calibrated) && normalAxis(a.attrs, 3) != nil {
		return &failure{"AssertionError: Only support scalar input quant amax",
			fmt.Sprintf("activations are %s with calibrated scales: ModelOpt's exporter fuses the linears that share an input (q/k/v, gate/up) with one input scale per tensor", describe(a, false))}
	}
	noAmax := !hasAmax(wa, calibrated)
	why := func(exporter string) string {
		if !calibrated {
			return fmt.Sprintf("weights are %s with static scales, but the format's algorithm is null, so nothing calibrates them: the %s exporter needs a calibrated weight amax; give the format algorithm: max", describe(w, true), exporter)
		}
		return fmt.Sprintf("weights are %s with dynamic scales: the %s exporter needs a calibrated weight amax (static scales)", describe(w, true), exporter)
	}
	switch label {
	case "fp8":
		if noAmax { // unified_export_hf.py:631-642
			return &failure{"AttributeError: 'TensorQuantizer' object has no attribute '_amax'", why("FP8")}
		}
	case "int8_sq", "int8_wo", "fp8_pc_pt":
		if noAmax { // get_scaling_factor returns None (quant_utils.py:230-232)
			return &failure{"TypeError: 'NoneType' object is not subscriptable", why(quantAlgo(label))}
		}
		if label == "fp8_pc_pt" {
			return nil
		}
		// The int8 packer divides by scale[:, None] (quant_utils.py:868-869):
		// per-tensor [1] and per-output-channel [out] scales broadcast, block
		// [out, in/B] and per-input-channel [in] scales do not.
		if normalBlocks(wa) != nil {
			return &failure{"RuntimeError: The size of tensor a (*) must match the size of tensor b (*) at non-singleton dimension 2",
				fmt.Sprintf("weights are %s: ModelOpt's int8 exporter takes one scale per output channel or per tensor, and block scales do not broadcast (the first linear fails)", describe(w, true))}
		}
		if ax := normalAxis(wa, 2); ax != nil && !isAxisZero(ax, true) {
			return &failure{"RuntimeError: The size of tensor a (*) must match the size of tensor b (*) at non-singleton dimension 0",
				fmt.Sprintf("weights are %s: ModelOpt's int8 exporter takes one scale per output channel or per tensor, and per-input-channel scales do not broadcast (the first linear with out features ≠ in features fails)", describe(w, true))}
		}
	case "fp8_pb_wo":
		if noAmax { // quant_utils.py:874-877
			return &failure{"AttributeError: 'NoneType' object has no attribute 'squeeze'", why("fp8_pb_wo")}
		}
		// The packer assumes square 2-D blocks of block_sizes[-1]
		// (fp8_tensor.py:79-100).
		bs := normalBlocks(wa)
		if len(blockAxes(bs)) != 2 || bs[-2] == nil || bs[-1] != bs[-2] {
			return &failure{"AssertionError: Failed to export module '*' (type=QuantLinear): Mismatch in expected scale shape: *",
				fmt.Sprintf("weights are %s: ModelOpt's fp8_pb_wo exporter packs only square 2-D blocks (block_sizes {-1: N, -2: N})", describe(w, true))}
		}
	}
	return nil
}

// quantAlgo is the hf_quant_config quant_algo of an internal label
// (process_layer_quant_config, quant_utils.py:704-768).
func quantAlgo(label string) string {
	if m, ok := labelMeanings[label]; ok {
		return m.algo
	}
	return label
}

// labelMeaning is what a reader of a label assumes the quantizers are.
type labelMeaning struct {
	algo        string
	weights     string // "int4 group%d": the layer's own group size
	activations string
}

var labelMeanings = map[string]labelMeaning{
	"int8_sq":        {"W8A8_SQ_PER_CHANNEL", "int8 per_out_channel", "int8 per_tensor_static"},
	"int8_wo":        {"W8A16", "int8 per_out_channel", "none"},
	"fp8":            {"FP8", "fp8 per_tensor", "fp8 per_tensor_static"},
	"fp8_pc_pt":      {"FP8_PER_CHANNEL_PER_TOKEN", "fp8 per_out_channel", "fp8 per_token_dynamic"},
	"fp8_pb_wo":      {"fp8_pb_wo", "fp8 block2d", "none"},
	"int4_awq":       {"W4A16_AWQ", "int4 group%d", "none"},
	"w4a8_awq":       {"W4A8_AWQ", "int4+fp8 group%d", "fp8 per_tensor_static"},
	"nvfp4":          {"NVFP4", "nvfp4 block16", "nvfp4 block16"},
	"nvfp4_awq":      {"NVFP4_AWQ", "nvfp4 block16", "nvfp4 block16"},
	"nvfp4_svdquant": {"NVFP4_SVD", "nvfp4 block16", "nvfp4 block16"},
	"w4a16_nvfp4":    {"W4A16_NVFP4", "nvfp4 block16", "none"},
	"w4a8_nvfp4_fp8": {"W4A8_NVFP4_FP8", "nvfp4 block32", "fp8 per_tensor_static"},
	"mxfp8":          {"MXFP8", "mxfp8 block32", "mxfp8 block32"},
	"mxfp4":          {"mxfp4", "mxfp4 block32", "mxfp4 block32"},
	"w4a8_mxfp4_fp8": {"W4A8_MXFP4_FP8", "mxfp4 block32", "fp8 per_tensor_static"},
}

// mismatches lists what a layer's label claims that its quantizers are
// not: weights first, then activations.
func mismatches(label, algo string, group int, qs *quantizers) []string {
	m, ok := labelMeanings[label]
	if !ok {
		return []string{"unknown quant_algo " + algo}
	}
	var out []string
	w := describe(qs.get(weightSlot), true)
	want := m.weights
	if strings.Contains(want, "%d") {
		want = fmt.Sprintf(want, group)
	}
	if w != want {
		out = append(out, fmt.Sprintf("weights are %s but %s means %s", w, algo, want))
	}
	if a := describe(qs.get(inputSlot), false); a != m.activations {
		out = append(out, fmt.Sprintf("activations are %s but %s means %s", a, algo, m.activations))
	}
	return out
}

// summarize is the one line that says how the label misdescribes the
// model, or "" when every layer's label is right.
func summarize(layers []layerVerdict) string {
	var bad []layerVerdict
	for _, l := range layers {
		if len(l.mismatch) > 0 {
			bad = append(bad, l)
		}
	}
	if len(bad) == 0 {
		return ""
	}
	text := strings.Join(bad[0].mismatch, "; ")
	same := true
	for _, l := range bad[1:] {
		if strings.Join(l.mismatch, "; ") != text {
			same = false
		}
	}
	if same && len(bad) == len(layers) {
		return text
	}
	var names []string
	for _, l := range bad {
		names = append(names, l.name)
	}
	if same {
		return fmt.Sprintf("%s (%d of %d quantized layers: %s)", text, len(bad), len(layers), strings.Join(names, ", "))
	}
	var parts []string
	for _, l := range bad {
		parts = append(parts, l.name+": "+strings.Join(l.mismatch, "; "))
	}
	return strings.Join(parts, "; ")
}

// Summary is the verdict on one line: "deployable (FP8)", "mislabelled
// (W4A16_AWQ): activations are …", "fails: …".
func (v Verdict) Summary() string {
	switch v.Kind {
	case Deployable:
		return fmt.Sprintf("deployable (%s)", v.QuantAlgo)
	case Mislabelled:
		return fmt.Sprintf("mislabelled (%s): %s", v.QuantAlgo, v.Why)
	case Fails:
		return "fails: " + v.Why
	}
	if v.Why != "" {
		return string(v.Kind) + ": " + v.Why
	}
	return string(v.Kind)
}
