package modelopt

import (
	"regexp"
	"strings"
	"testing"
)

func TestFnmatchIsPythons(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"*weight_quantizer", "model.layers.0.self_attn.q_proj.weight_quantizer", true},
		{"*weight_quantizer", "lm_head.weight_quantizer", true},
		{"*input_quantizer", "model.layers.0.mlp.up_proj.weight_quantizer", false},
		{"*lm_head*", "lm_head.input_quantizer", true},
		{"*mlp.gate.*", "model.layers.0.mlp.gate_proj.weight_quantizer", false},
		{"*mlp.gate.*", "model.layers.0.mlp.gate.weight_quantizer", true},
		{"*mlp*weight_quantizer", "model.layers.1.mlp.down_proj.weight_quantizer", true},
		{"*[kv]_bmm_quantizer", "model.layers.0.self_attn.k_bmm_quantizer", true},
		{"*[kv]_bmm_quantizer", "model.layers.0.self_attn.q_bmm_quantizer", false},
		{"*[!q]_bmm_quantizer", "model.layers.0.self_attn.v_bmm_quantizer", true},
		{"*[!q]_bmm_quantizer", "model.layers.0.self_attn.q_bmm_quantizer", false},
		{"model.layers.?.*", "model.layers.1.mlp.up_proj.input_quantizer", true},
		{"model.layers.?.*", "model.layers.10.mlp.up_proj.input_quantizer", false}, // ? is one character ("1"); a dot must follow, not "0"
		{"model.layers.?.mlp*", "model.layers.10.mlp.up_proj.input_quantizer", false},
		{"*layers.[0-1].*", "model.layers.1.self_attn.o_proj.weight_quantizer", true},
		{"*layers.[0-1].*", "model.layers.2.self_attn.o_proj.weight_quantizer", false},
		{"*", "", true},
		{"", "", true},
		{"", "x", false},
		{"a[", "a[", true},   // an unclosed bracket is a literal
		{"[]]", "]", true},   // ] first in a class is a member
		{`a\b`, `a\b`, true}, // no escapes: a backslash is itself
		{"output.*", "output_layer.weight_quantizer", false},
		{"mtp.*", "model.mtp.weight_quantizer", false}, // anchored at the start
	} {
		if got := fnmatch(c.pattern, c.name); got != c.want {
			t.Errorf("fnmatch(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

// translate is Python's fnmatch.translate, as a Go regexp: the reference
// the matcher is fuzzed against.
func translate(pattern string) string {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	p := []rune(pattern)
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			j := i + 1
			if j < len(p) && p[j] == '!' {
				j++
			}
			if j < len(p) && p[j] == ']' {
				j++
			}
			for j < len(p) && p[j] != ']' {
				j++
			}
			if j >= len(p) {
				b.WriteString(`\[`)
				continue
			}
			cls, neg, ok := pyClass(p[i+1 : j])
			if !ok {
				return "(" // Python's re rejects it: not compared
			}
			switch {
			case cls == "" && neg:
				b.WriteString(".")
			case cls == "":
				b.WriteString("[^\\x{0}-\\x{10FFFF}]") // matches nothing
			case neg:
				b.WriteString("[^" + cls + "]")
			default:
				b.WriteString("[" + cls + "]")
			}
			i = j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`\z`)
	return b.String()
}

// pyClass is a bracket's body as Python 3.11's fnmatch.translate makes it
// (chunks split at range hyphens, empty ranges merged away) and as its re
// then reads the class, written as a Go class; ok is false where Python's
// re would reject the class.
func pyClass(body []rune) (cls string, neg, ok bool) {
	var chunks [][]rune
	if !containsRune(body, '-') {
		chunks = [][]rune{body}
	} else {
		start, k := 0, 1
		if body[0] == '!' {
			k = 2
		}
		for {
			d := -1
			for x := k; x < len(body); x++ {
				if body[x] == '-' {
					d = x
					break
				}
			}
			if d < 0 {
				break
			}
			chunks = append(chunks, body[start:d])
			start, k = d+1, d+3
		}
		if rest := body[start:]; len(rest) > 0 {
			chunks = append(chunks, rest)
		} else {
			chunks[len(chunks)-1] = append(append([]rune(nil), chunks[len(chunks)-1]...), '-')
		}
		for k := len(chunks) - 1; k > 0; k-- {
			a, c := chunks[k-1], chunks[k]
			if len(a) == 0 || len(c) == 0 {
				return "", false, false // Python raises IndexError
			}
			if a[len(a)-1] > c[0] {
				chunks[k-1] = append(append([]rune(nil), a[:len(a)-1]...), c[1:]...)
				chunks = append(chunks[:k], chunks[k+1:]...)
			}
		}
	}
	// The class as tokens: each chunk's characters, literal, and a range
	// hyphen between chunks.
	type tok struct {
		r      rune
		range_ bool
	}
	var toks []tok
	for n, c := range chunks {
		if n > 0 {
			toks = append(toks, tok{'-', true})
		}
		for _, r := range c {
			toks = append(toks, tok{r, false})
		}
	}
	if len(toks) > 0 && toks[0] == (tok{'!', false}) {
		neg, toks = true, toks[1:]
	}
	var b strings.Builder
	for x := 0; x < len(toks); x++ {
		if x+2 < len(toks) && toks[x+1].range_ {
			lo, hi := toks[x].r, toks[x+2].r
			if lo > hi {
				return "", false, false // bad character range
			}
			b.WriteString(classChar(lo) + "-" + classChar(hi))
			x += 2
			continue
		}
		b.WriteString(classChar(toks[x].r))
	}
	return b.String(), neg, true
}

// classChar is r as a literal inside a Go character class.
func classChar(r rune) string {
	if strings.ContainsRune(`\-]^[`, r) {
		return `\` + string(r)
	}
	return regexp.QuoteMeta(string(r))
}

func containsRune(rs []rune, r rune) bool {
	for _, c := range rs {
		if c == r {
			return true
		}
	}
	return false
}

func FuzzFnmatch(f *testing.F) {
	for _, s := range [][2]string{{"*weight_quantizer", "a.weight_quantizer"}, {"*[kv]_bmm*", "x.k_bmm_quantizer"}, {"a[!b-d]?*", "aex"}, {"[]a]*", "]b"}, {"a[", "a["}, {"[00---9]", "4"}, {"[00---9]", "-"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if len(pattern) > 64 || len(name) > 64 || !utf8Valid(pattern) || !utf8Valid(name) {
			return
		}
		re, err := regexp.Compile(translate(pattern))
		if err != nil {
			return // a range Python would reject too
		}
		if got, want := fnmatch(pattern, name), re.MatchString(name); got != want {
			t.Errorf("fnmatch(%q, %q) = %v; Python's fnmatch gives %v (%s)", pattern, name, got, want, translate(pattern))
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// A config as ModelOpt presets spell them: deny-all, the entries, the tail.
func cfg(algorithm any, entries ...Entry) Config {
	return Config{DenyAll: true, DefaultTail: true, Entries: entries, Algorithm: algorithm}
}

func w(a Attrs) Entry { return Entry{QuantizerName: "*weight_quantizer", Cfg: a} }
func in(a Attrs) Entry {
	if a == nil {
		return Entry{QuantizerName: "*input_quantizer", Enable: &off}
	}
	return Entry{QuantizerName: "*input_quantizer", Cfg: a}
}

var (
	perToken  = Attrs{"num_bits": 8, "type": "dynamic", "axis": nil, "block_sizes": map[any]any{-1: nil}}
	int8Row   = Attrs{"num_bits": 8, "axis": 0}
	int8Act   = Attrs{"num_bits": 8, "axis": nil}
	int4G128  = Attrs{"num_bits": 4, "block_sizes": map[any]any{-1: 128, "type": "static"}}
	fp8       = Attrs{"num_bits": []any{4, 3}, "axis": nil}
	nvfp4     = Attrs{"num_bits": []any{2, 1}, "block_sizes": map[any]any{-1: 16, "type": "dynamic", "scale_bits": []any{4, 3}}}
	mxfp8     = Attrs{"num_bits": []any{4, 3}, "block_sizes": map[any]any{-1: 32, "type": "dynamic", "scale_bits": []any{8, 0}}}
	fp4Static = Attrs{"num_bits": []any{2, 1}, "block_sizes": map[any]any{-1: 16, "type": "static", "scale_bits": []any{4, 3}}}
)

func with(a Attrs, kv ...any) Attrs {
	out := a.Clone()
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil && (k == "block_sizes") {
			delete(out, k)
			continue
		}
		out[k] = kv[i+1]
	}
	return out
}

// TestCrashRules: what mtq.quantize or the first forward pass raises, from
// the attributes alone (whatever the format is called).
func TestCrashRules(t *testing.T) {
	for _, c := range []struct {
		name  string
		cfg   Config
		stage string // "" for no crash
		raise string
	}{
		{"smoothquant with per-token activations", cfg("smoothquant", w(int8Row), in(perToken)), "calibration", "AssertionError: Axis and block_sizes are both set."},
		{"awq_lite (a mapping) with per-token activations", cfg(map[any]any{"method": "awq_lite", "alpha_step": 0.1}, w(int4G128), in(perToken)), "calibration", "AssertionError: Axis and block_sizes are both set."},
		{"svdquant runs awq_lite", cfg(map[any]any{"method": "svdquant", "lowrank": 32}, w(nvfp4), in(with(perToken, "num_bits", []any{4, 3}))), "calibration", "AssertionError: Axis and block_sizes are both set."},
		{"max with per-token activations", cfg("max", w(int8Row), in(perToken)), "", ""},
		{"awq_clip keeps the axis", cfg(map[any]any{"method": "awq_clip"}, w(nvfp4), in(with(perToken, "num_bits", []any{4, 3}))), "", ""},
		{"smoothquant, per-token activations switched off", cfg("smoothquant", w(int8Row), in(nil)), "", ""},
		{"awq_lite fakes fp4 weights without dynamic blocks", cfg("awq_lite", w(fp4Static), in(nil)), "calibration", "NotImplementedError: Only support E=4 & M=3 for now."},
		{"fp4 weights in static groups at the forward", cfg("max", w(Attrs{"num_bits": []any{2, 1}, "block_sizes": map[any]any{-1: 64, "type": "static"}}), in(nil)), "forward", "NotImplementedError: Only support E=4 & M=3 for now."},
		{"nvfp4 static weights are promoted by calibration", cfg(map[any]any{"method": "mse", "fp8_scale_sweep": true}, w(fp4Static), in(nvfp4)), "", ""},
		{"nvfp4 static weights uncalibrated", cfg(nil, w(fp4Static), in(nil)), "forward", "NotImplementedError: Only support E=4 & M=3 for now."},
		{"fp4 activations without blocks at the forward", cfg("max", w(nvfp4), in(Attrs{"num_bits": []any{2, 1}, "axis": nil})), "forward", "NotImplementedError: Only support E=4 & M=3 for now."},
		{"e5m2 without dynamic blocks", cfg("max", w(Attrs{"num_bits": []any{5, 2}, "axis": nil}), in(nil)), "forward", "NotImplementedError: Only support E=4 & M=3 for now."},
		{"a bad quantizer that the tail switches off", cfg("max", w(int8Row), in(int8Act), Entry{QuantizerName: "*lm_head*", Cfg: Attrs{"num_bits": []any{5, 2}}}), "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Crash(c.cfg)
			switch {
			case c.stage == "" && got != nil:
				t.Fatalf("predicted crash %v; ModelOpt runs it", got)
			case c.stage == "":
			case got == nil:
				t.Fatalf("no crash predicted; ModelOpt raises %s at %s", c.raise, c.stage)
			case got.Stage != c.stage || got.Raises != c.raise || got.Reason == "":
				t.Fatalf("got %s %q (%s), want %s %q", got.Stage, got.Raises, got.Reason, c.stage, c.raise)
			}
		})
	}
}

// TestExportRules: the label, or the error, of each rule of the export
// notes, from the attributes alone.
func TestExportRules(t *testing.T) {
	for _, c := range []struct {
		name  string
		cfg   Config
		kind  VerdictKind
		algo  string
		error string // fails: the pattern of ModelOpt's exception
		why   string // mislabelled: the whole reason
	}{
		{"int8 per row + int8 per tensor", cfg("max", w(int8Row), in(int8Act)), Deployable, "W8A8_SQ_PER_CHANNEL", "", ""},
		{"int8 weights only", cfg("max", w(int8Row), in(nil)), Deployable, "W8A16", "", ""},
		{"int8 per tensor weights", cfg("max", w(with(int8Row, "axis", nil)), in(nil)), Mislabelled, "W8A16", "", "weights are int8 per_tensor but W8A16 means int8 per_out_channel"},
		{"int8 groups", cfg("max", w(with(int4G128, "num_bits", 8)), in(nil)), Fails, "", "RuntimeError: The size of tensor a (*) must match the size of tensor b (*) at non-singleton dimension 2", ""},
		{"int8 per in channel", cfg("max", w(with(int8Row, "axis", 1)), in(int8Act)), Fails, "", "RuntimeError: The size of tensor a (*) must match the size of tensor b (*) at non-singleton dimension 0", ""},
		{"int8 weights in the per-token form take axis (0,)", cfg("max", w(with(perToken, "type", "static")), in(nil)), Mislabelled, "W8A16", "", "weights are int8 per_token_static but W8A16 means int8 per_out_channel"},
		{"int8 without calibration", cfg(nil, w(int8Row), in(nil)), Fails, "", "TypeError: 'NoneType' object is not subscriptable", ""},
		{"int8 with per-channel static activations", cfg("max", w(int8Row), in(with(int8Act, "axis", -1))), Fails, "", "AssertionError: Only support scalar input quant amax", ""},
		{"fp8 with per-channel static activations is labelled FP8", cfg("max", w(fp8), in(with(fp8, "axis", -1))), Mislabelled, "FP8", "", "activations are fp8 per_channel but FP8 means fp8 per_tensor_static"},
		{"fp8", cfg("max", w(fp8), in(fp8)), Deployable, "FP8", "", ""},
		{"fp8 per out channel + per tensor", cfg("max", w(with(fp8, "axis", 0)), in(fp8)), Mislabelled, "FP8_PER_CHANNEL_PER_TOKEN", "", "activations are fp8 per_tensor_static but FP8_PER_CHANNEL_PER_TOKEN means fp8 per_token_dynamic"},
		{"fp8 per out channel + per token", cfg("max", w(with(fp8, "axis", 0)), in(with(perToken, "num_bits", []any{4, 3}))), Deployable, "FP8_PER_CHANNEL_PER_TOKEN", "", ""},
		{"fp8 without calibration", cfg(nil, w(fp8), in(fp8)), Fails, "", "AttributeError: 'TensorQuantizer' object has no attribute '_amax'", ""},
		{"fp8 square 2-D blocks, weights only", cfg("max", w(with(fp8, "axis", nil, "block_sizes", map[any]any{-1: 128, -2: 128})), in(nil)), Deployable, "fp8_pb_wo", "", ""},
		{"fp8 1-D groups", cfg("max", w(with(fp8, "block_sizes", map[any]any{-1: 128, "type": "static"})), in(nil)), Fails, "", "AssertionError: Failed to export module '*' (type=QuantLinear): Mismatch in expected scale shape: *", ""},
		{"fp8 blocks without calibration", cfg(nil, w(with(fp8, "block_sizes", map[any]any{-1: 128, -2: 128})), in(nil)), Fails, "", "AttributeError: 'NoneType' object has no attribute 'squeeze'", ""},
		{"fp8 blocks without the last axis", cfg("max", w(with(fp8, "block_sizes", map[any]any{-2: 128})), in(nil)), Fails, "", "KeyError: -1", ""},
		{"fp8 real-quant blocks", cfg("max", w(with(fp8, "fake_quant", false, "block_sizes", map[any]any{-1: 128, -2: 128})), in(nil)), Mislabelled, "fp8_pb_real", "", "unknown quant_algo fp8_pb_real"},
		{"int4 groups, awq", cfg("awq_lite", w(int4G128), in(nil)), Deployable, "W4A16_AWQ", "", ""},
		{"int4 per channel", cfg("max", w(with(int4G128, "block_sizes", nil, "axis", 0)), in(nil)), Fails, "", "TypeError: object of type 'NoneType' has no len()", ""},
		{"int4 with int8 activations is labelled A16", cfg("max", w(int4G128), in(int8Act)), Mislabelled, "W4A16_AWQ", "", "activations are int8 per_tensor_static but W4A16_AWQ means none"},
		{"int4 then fp8", cfg("awq_lite", Entry{QuantizerName: "*weight_quantizer", Stages: []Attrs{int4G128, fp8}}, in(fp8)), Deployable, "W4A8_AWQ", "", ""},
		{"int4 then fp8 per channel", cfg("max", Entry{QuantizerName: "*weight_quantizer", Stages: []Attrs{with(int4G128, "block_sizes", nil, "axis", 0), fp8}}, in(fp8)), Fails, "", "AssertionError: Invalid block_sizes for SequentialQuantizer", ""},
		{"int8 then fp8", cfg("max", Entry{QuantizerName: "*weight_quantizer", Stages: []Attrs{int8Row, fp8}}, in(fp8)), Fails, "", "AssertionError: Unsupported SequentialQuantizer configuration", ""},
		{"nvfp4", cfg("max", w(nvfp4), in(nvfp4)), Deployable, "NVFP4", "", ""},
		{"nvfp4 awq_lite", cfg("awq_lite", w(nvfp4), in(nvfp4)), Deployable, "NVFP4_AWQ", "", ""},
		{"nvfp4 weights only", cfg("max", w(nvfp4), in(nil)), Deployable, "W4A16_NVFP4", "", ""},
		{"nvfp4 blocks of 32", cfg("max", w(with(nvfp4, "block_sizes", map[any]any{-1: 32, "type": "dynamic", "scale_bits": []any{4, 3}})), in(nil)), Mislabelled, "W4A16_NVFP4", "", "weights are nvfp4 block32 but W4A16_NVFP4 means nvfp4 block16"},
		{"nvfp4 + fp8", cfg("max", w(with(nvfp4, "block_sizes", map[any]any{-1: 32, "type": "dynamic", "scale_bits": []any{4, 3}})), in(fp8)), Deployable, "W4A8_NVFP4_FP8", "", ""},
		{"nvfp4 + int8 activations", cfg("max", w(nvfp4), in(int8Act)), Mislabelled, "NVFP4", "", "activations are int8 per_tensor_static but NVFP4 means nvfp4 block16"},
		{"mxfp8", cfg(nil, w(mxfp8), in(mxfp8)), Deployable, "MXFP8", "", ""},
		{"mxfp4 weights only is labelled mxfp4", cfg(nil, w(with(nvfp4, "block_sizes", map[any]any{-1: 32, "type": "dynamic", "scale_bits": []any{8, 0}})), in(nil)), Mislabelled, "mxfp4", "", "activations are none but mxfp4 means mxfp4 block32"},
		{"fp4 without blocks", cfg("max", w(Attrs{"num_bits": []any{2, 1}, "block_sizes": map[any]any{-1: nil, "type": "dynamic"}}), in(nil)), Fails, "", "AttributeError: 'NoneType' object has no attribute 'get'", ""},
		{"mxfp6 has no export", cfg(nil, w(Attrs{"num_bits": []any{3, 2}, "block_sizes": map[any]any{-1: 32, "type": "dynamic", "scale_bits": []any{8, 0}}}), in(nil)), Fails, "", "NotImplementedError: Unsupported quantizer with num_bits: (3, 2)", ""},
		{"int2 has no export", cfg("max", w(Attrs{"num_bits": 2, "axis": 0}), in(nil)), Fails, "", "NotImplementedError: Unsupported quantizer with num_bits: 2", ""},
		{"nothing quantized", cfg("max"), Fails, "", "", ""},
		{"a crash never reaches the export", cfg("smoothquant", w(int8Row), in(perToken)), Fails, "", "AssertionError: Axis and block_sizes are both set.", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := Export(c.cfg, V046)
			if v.Kind != c.kind || v.QuantAlgo != c.algo {
				t.Fatalf("got %s %q (%s), want %s %q", v.Kind, v.QuantAlgo, v.Summary(), c.kind, c.algo)
			}
			if c.kind == Fails && (v.Why == "" || v.Error != c.error) {
				t.Errorf("fails with error %q, reason %q; want error %q and a reason", v.Error, v.Why, c.error)
			}
			if c.kind == Mislabelled && v.Why != c.why {
				t.Errorf("why = %q, want %q", v.Why, c.why)
			}
			if c.kind == Deployable && v.Why != "" {
				t.Errorf("a deployable verdict has a why: %q", v.Why)
			}
		})
	}
}

func TestExportUnverifiedBeforeTheVerifiedTarget(t *testing.T) {
	for _, target := range []Version{V043, V044, {0, 45}} {
		v := Export(cfg("max", w(int8Row), in(int8Act)), target)
		if v.Kind != Unverified || v.QuantAlgo != "" || !strings.Contains(v.Why, "0.46") || v.Target != target {
			t.Errorf("%s: %+v, want unverified naming the verified target", target, v)
		}
	}
}

// TestExportLayerByLayer: a config that quantizes layers differently gets
// each layer's label; different labels make MIXED_PRECISION, and a label
// wrong for some layers says which.
func TestExportLayerByLayer(t *testing.T) {
	mlpOnly := cfg("max", Entry{QuantizerName: "*mlp*weight_quantizer", Cfg: nvfp4}, Entry{QuantizerName: "*mlp*input_quantizer", Cfg: nvfp4})
	if v := Export(mlpOnly, V046); v.Kind != Deployable || v.QuantAlgo != "NVFP4" || len(v.layers) != 6 {
		t.Errorf("nvfp4 on the MLPs only: %s, %d layers; want deployable NVFP4 on 6 layers", v.Summary(), len(v.layers))
	}
	mixed := cfg("max", w(nvfp4), in(nvfp4), Entry{QuantizerName: "*self_attn*weight_quantizer", Cfg: fp8}, Entry{QuantizerName: "*self_attn*input_quantizer", Cfg: fp8})
	if v := Export(mixed, V046); v.Kind != Deployable || v.QuantAlgo != "MIXED_PRECISION" {
		t.Errorf("fp8 attention, nvfp4 MLPs: %s; want deployable MIXED_PRECISION", v.Summary())
	}
	// An entry scoped by parent_class applies only to that class's quantizers.
	scoped := cfg("max", w(int8Row), in(int8Act), Entry{QuantizerName: "*", ParentClass: "nn.Linear", Enable: &off})
	if v := Export(scoped, V046); v.Kind != Fails || v.Why == "" {
		t.Errorf("every linear switched off by class: %s; want fails (nothing quantized)", v.Summary())
	}
	partly := cfg("max", w(int8Row), in(nil), Entry{QuantizerName: "*down_proj.weight_quantizer", Cfg: with(int8Row, "axis", nil)})
	v := Export(partly, V046)
	if v.Kind != Mislabelled || !strings.Contains(v.Why, "2 of 14 quantized layers") || !strings.Contains(v.Why, "model.layers.1.mlp.down_proj") {
		t.Errorf("per-tensor down_proj weights: %s; want mislabelled naming the 2 down_proj layers", v.Summary())
	}
}

func TestDescribe(t *testing.T) {
	on := func(a Attrs) *quantizer { return &quantizer{on: true, attrs: a} }
	for _, c := range []struct {
		q       *quantizer
		weights bool
		want    string
	}{
		{nil, true, "none"},
		{&quantizer{on: false, attrs: int8Row}, true, "none"},
		{on(int8Row), true, "int8 per_out_channel"},
		{on(with(int8Row, "axis", 1)), true, "int8 per_in_channel"},
		{on(with(int8Row, "axis", -1)), true, "int8 per_in_channel"},
		{on(int8Act), false, "int8 per_tensor_static"},
		{on(with(int8Act, "type", "dynamic")), false, "int8 per_tensor_dynamic"},
		{on(with(int8Act, "axis", -1)), false, "int8 per_channel"},
		{on(perToken), false, "int8 per_token_dynamic"},
		{on(int4G128), true, "int4 group128"},
		{on(with(int4G128, "block_sizes", map[any]any{-1: 32, "type": "dynamic"})), false, "int4 group32_dynamic"},
		{on(with(fp8, "block_sizes", map[any]any{-1: 128, -2: 128})), true, "fp8 block2d"},
		{on(nvfp4), true, "nvfp4 block16"},
		{on(mxfp8), false, "mxfp8 block32"},
		{on(Attrs{"num_bits": []any{3, 2}, "block_sizes": map[any]any{-1: 32, "type": "dynamic", "scale_bits": []any{8, 0}}}), true, "mxfp6_e3m2 block32"},
		{on(Attrs{"num_bits": 8, "block_sizes": map[any]any{-1: 32, "type": "dynamic", "scale_bits": []any{8, 0}}}), true, "mxint8 block32"},
		{&quantizer{on: true, stages: []Attrs{int4G128, fp8}}, true, "int4+fp8 group128"},
		{on(Attrs{}), false, "int8 per_tensor_static"},
	} {
		if got := describe(c.q, c.weights); got != c.want {
			t.Errorf("describe(%v) = %q, want %q", c.q, got, c.want)
		}
	}
}

func TestApplyFollowsModelOptEntrySemantics(t *testing.T) {
	m := newModule("model.layers.0.mlp.up_proj", "nn.Linear", linearModule)
	// An entry with cfg replaces every attribute and switches the quantizer
	// on; one without cfg only switches it.
	qs := apply([]Entry{
		{QuantizerName: "*", Enable: &off},
		{QuantizerName: "*weight_quantizer", Cfg: Attrs{"num_bits": 4, "block_sizes": map[any]any{-1: 64}}},
		{QuantizerName: "*weight_quantizer", Cfg: Attrs{"axis": 0}},
		{QuantizerName: "*input_quantizer", Enable: &on},
		{QuantizerName: "*", ParentClass: "nn.Embedding", Enable: &off},
	}, m)
	if w := qs.get(weightSlot); !w.on || !Equal(w.attrs.Value(), map[any]any{"axis": 0}) || numBits(w.attrs).n != 8 {
		t.Errorf("weight quantizer %+v: want on with only axis 0 (num_bits back to its default 8)", w)
	}
	if a := qs.get(inputSlot); !a.on || numBits(a.attrs).n != 8 {
		t.Errorf("input quantizer %+v: want switched on with its creation attributes", a)
	}
	if o := qs.get(outputSlot); o.on {
		t.Errorf("output quantizer on; ModelOpt creates it off")
	}
	emb := apply([]Entry{{QuantizerName: "*input_quantizer", Cfg: int8Act}}, newModule("model.embed_tokens", "nn.Embedding", embeddingModule))
	if emb.get(inputSlot).on {
		t.Errorf("an embedding's input quantizer is hard-disabled; a wildcard must not switch it on")
	}
}

var on = true
