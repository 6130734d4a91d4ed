package modelopt

import (
	"fmt"
	"slices"
	"strings"
)

// Reading a quantizer's attributes as ModelOpt does: an attribute the
// config leaves out takes QuantizerAttributeConfig's default (num_bits 8,
// axis null, type static, fake_quant true; quantization/config.py).

// bits is a num_bits (or scale_bits) value: an integer, or an [E, M] pair.
type bits struct {
	n    int // the integer form
	e, m int // the pair form
	pair bool
	ok   bool // a value was given and understood
}

func bitsOf(v any) bits {
	switch x := v.(type) {
	case int:
		return bits{n: x, ok: true}
	case []any:
		if len(x) == 2 {
			e, ok1 := x[0].(int)
			m, ok2 := x[1].(int)
			if ok1 && ok2 {
				return bits{e: e, m: m, pair: true, ok: true}
			}
		}
	}
	return bits{}
}

func (b bits) is(e, m int) bool { return b.ok && b.pair && b.e == e && b.m == m }
func (b bits) isInt(n int) bool { return b.ok && !b.pair && b.n == n }

// python is how ModelOpt's messages print the value: 8, or (4, 3).
func (b bits) python() string {
	if b.pair {
		return fmt.Sprintf("(%d, %d)", b.e, b.m)
	}
	return fmt.Sprint(b.n)
}

// numBits is a quantizer's num_bits (default 8).
func numBits(a Attrs) bits {
	v, ok := a["num_bits"]
	if !ok {
		return bits{n: 8, ok: true}
	}
	return bitsOf(v)
}

// blocks is a quantizer's block_sizes, or nil.
func blocks(a Attrs) map[any]any {
	m, _ := a["block_sizes"].(map[any]any)
	return m
}

// scaleBits is block_sizes' scale_bits (zero when unset).
func scaleBits(a Attrs) bits { return bitsOf(blocks(a)["scale_bits"]) }

// blockAxes are block_sizes' integer keys.
func blockAxes(bs map[any]any) []int {
	var out []int
	for k := range bs {
		if i, ok := k.(int); ok {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// perTokenForm: block_sizes whose sizes are all null ({-1: null}). At the
// first forward ModelOpt turns it into an axis over the other dimensions
// and drops block_sizes, after asserting that axis was null
// (tensor_quantizer.py:1077-1084).
func perTokenForm(a Attrs) bool {
	bs := blocks(a)
	if bs == nil {
		return false
	}
	for _, k := range blockAxes(bs) {
		if bs[k] != nil {
			return false
		}
	}
	return true
}

// blockDynamic: block_sizes type dynamic (scales computed per block at run
// time, e.g. NVFP4 and MX).
func blockDynamic(a Attrs) bool { return blocks(a)["type"] == "dynamic" }

// dynamic: top-level type dynamic, or dynamic blocks.
func dynamic(a Attrs) bool { return a["type"] == "dynamic" || blockDynamic(a) }

// hasAmax: calibration leaves the quantizer an amax — there is an
// algorithm (none at all skips calibration: mode.py:408-417) and the
// quantizer's scales are static.
func hasAmax(a Attrs, calibrated bool) bool {
	return calibrated && a["type"] != "dynamic" && !blockDynamic(a)
}

// badFloat: a float format other than E4M3 without dynamic blocks. Such a
// quantizer fakes through the FP8 kernel, which raises for anything but
// E4M3 (tensor_quantizer.py:920-932, tensor_quant.py:435-436).
func badFloat(a Attrs) bool {
	nb := numBits(a)
	return nb.pair && !nb.is(4, 3) && !blockDynamic(a)
}

// nvfp4Static: E2M1 values with E4M3 per-block scales in static blocks
// (is_nvfp4_static, tensor_quantizer.py:573-580).
func nvfp4Static(a Attrs) bool {
	bs := blocks(a)
	return numBits(a).is(2, 1) && bs != nil && bs["type"] != "dynamic" && scaleBits(a).is(4, 3) && fakeQuant(a)
}

// normalBlocks is block_sizes after the first forward: nil for the
// per-token form.
func normalBlocks(a Attrs) map[any]any {
	if perTokenForm(a) {
		return nil
	}
	return blocks(a)
}

// normalAxis is the axis after the first forward, for a tensor of dims
// dimensions: the per-token form becomes the tuple of the dimensions its
// block_sizes do not name.
func normalAxis(a Attrs, dims int) any {
	if !perTokenForm(a) {
		return a["axis"]
	}
	named := map[int]bool{}
	for _, k := range blockAxes(blocks(a)) {
		if k < 0 {
			k += dims
		}
		named[k] = true
	}
	var axis []any
	for i := range dims {
		if !named[i] {
			axis = append(axis, i)
		}
	}
	if len(axis) == 0 {
		return nil
	}
	return axis
}

// isAxisZero: axis 0, as an integer (exactly) or, with tuples allowed, a
// one-element tuple (0,).
func isAxisZero(axis any, tuples bool) bool {
	switch x := axis.(type) {
	case int:
		return x == 0
	case []any:
		return tuples && len(x) == 1 && x[0] == 0
	}
	return false
}

// fakeQuant is the fake_quant attribute (default true).
func fakeQuant(a Attrs) bool {
	b, ok := a["fake_quant"].(bool)
	return !ok || b
}

// algorithmMethod is the calibration method of a config's algorithm ("" for
// none, which means no calibration at all).
func algorithmMethod(alg any) string {
	switch x := alg.(type) {
	case string:
		return x
	case map[any]any:
		s, _ := x["method"].(string)
		return s
	}
	return ""
}

// Calibration methods by what they do to the quantizers.
var (
	// setsInputAxis: methods that set the input quantizer's axis to -1 while
	// they collect per-channel statistics (model_calib.py: smoothquant
	// 1153-1159, awq_lite 1291-1299; awq_full and svdquant run awq_lite).
	setsInputAxis = []string{"smoothquant", "awq_lite", "awq_full", "svdquant"}
	// fakesWeights: methods that run the quantized weights while they search
	// (awq_lite 1395-1409).
	fakesWeights = []string{"awq_lite", "awq_full", "svdquant"}
	// preQuantScale: methods that leave a pre_quant_scale on the input
	// quantizer, which the exporter's label looks for (quant_utils.py:555-560).
	preQuantScale = []string{"awq_lite", "awq_full"}
)

// describeDtype says what a quantizer's number format is, in qrun's terms:
// int8, int4, fp8, fp4, nvfp4, mxfp8, mxfp4, …
func describeDtype(a Attrs) string {
	nb, sb := numBits(a), scaleBits(a)
	var s string
	switch {
	case !nb.ok:
		return "num_bits " + Format(a["num_bits"])
	case !nb.pair:
		s = fmt.Sprintf("int%d", nb.n)
	case nb.is(4, 3):
		s = "fp8"
	case nb.is(2, 1):
		s = "fp4"
		if sb.is(4, 3) {
			return "nvfp4"
		}
	default:
		s = fmt.Sprintf("fp%d_e%dm%d", 1+nb.e+nb.m, nb.e, nb.m)
	}
	if sb.is(8, 0) {
		return "mx" + s
	}
	return s
}

// describeGranularity says how a quantizer shares its scales, in qrun's
// terms (per_tensor, per_out_channel, group128, block16, per_token_dynamic,
// …), for a Linear weight (out, in) or its input activations [..., in].
func describeGranularity(a Attrs, weights bool) string {
	bs := blocks(a)
	dyn := dynamic(a)
	if bs != nil {
		axes := blockAxes(bs)
		switch {
		case perTokenForm(a) && dyn:
			return "per_token_dynamic"
		case perTokenForm(a):
			return "per_token_static"
		case bs["scale_bits"] != nil:
			return "block" + Format(bs[-1])
		case len(axes) == 1 && axes[0] == -1:
			if dyn {
				return "group" + Format(bs[-1]) + "_dynamic"
			}
			return "group" + Format(bs[-1])
		}
		return "block2d"
	}
	switch ax := a["axis"].(type) {
	case nil:
		if weights {
			return "per_tensor"
		}
		if dyn {
			return "per_tensor_dynamic"
		}
		return "per_tensor_static"
	case int:
		switch {
		case ax == 0 || (weights && ax == -2):
			return "per_out_channel"
		case ax == 1 || (weights && ax == -1):
			return "per_in_channel"
		case ax == -1:
			return "per_channel"
		}
	}
	return "axis " + Format(a["axis"])
}

// describe is a role's quantizer in qrun's terms ("int8 per_out_channel"),
// "none" when it is off.
func describe(q *quantizer, weights bool) string {
	if q == nil || !q.on {
		return "none"
	}
	if q.stages != nil {
		var dts []string
		for _, s := range q.stages {
			dts = append(dts, describeDtype(s))
		}
		return strings.Join(dts, "+") + " " + describeGranularity(q.stages[0], weights)
	}
	return describeDtype(q.attrs) + " " + describeGranularity(q.attrs, weights)
}
