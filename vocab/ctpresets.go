package vocab

import "strings"

// compressed-tensors 0.18's preset schemes (quant_scheme.py PRESET_SCHEMES,
// tag 0.18.0), transcribed by meaning: every name it knows, in its order.
// A name maps to the QuantizationArgs of weights and input activations (nil:
// not quantized); UNQUANTIZED has neither.
var presetOrder = []string{
	"UNQUANTIZED",
	"W4A16_ASYM", "W8A8", "INT8", "W4AFP8",
	"FP8", "FP8_DYNAMIC", "FP8_BLOCK",
	"NVFP4A16", "NVFP4", "MXFP4A16", "MXFP4", "MXFP8A16", "MXFP8",
	"W2A4", "W2A8", "W2A16", "W3A4", "W3A8", "W3A16", "W4A4", "W4A8", "W4A16",
	"W5A8", "W5A16", "W6A8", "W6A16", "W7A8", "W7A16", "W8A16",
}

// PresetNames returns compressed-tensors 0.18's preset scheme names, in the
// order of its PRESET_SCHEMES.
func PresetNames() []string { return append([]string(nil), presetOrder...) }

func intArgs(bits int, strategy string, group int, sym bool) *QuantArgs {
	return &QuantArgs{NumBits: bits, Type: "int", Symmetric: sym, Strategy: strategy, GroupSize: group, Dynamic: false}
}

func tokenArgs(typ string, bits int) *QuantArgs {
	return &QuantArgs{NumBits: bits, Type: typ, Symmetric: true, Strategy: "token", Dynamic: true}
}

// wNaM is compressed-tensors' _int_wnam: int weights in groups of 128,
// symmetric, static; below 16 activation bits, int per-token dynamic
// activations.
func wNaM(w, a int) (*QuantArgs, *QuantArgs) {
	if a >= 16 {
		return intArgs(w, "group", 128, true), nil
	}
	return intArgs(w, "group", 128, true), tokenArgs("int", a)
}

func mxArgs(bits int, dynamic bool) *QuantArgs {
	return &QuantArgs{NumBits: bits, Type: "float", Symmetric: true, Strategy: "group", GroupSize: 32, Dynamic: dynamic, ScaleDtype: "uint8"}
}

func nvfp4Args(dynamic any) *QuantArgs {
	return &QuantArgs{NumBits: 4, Type: "float", Symmetric: true, Strategy: "tensor_group", GroupSize: 16, Dynamic: dynamic, ScaleDtype: "float8_e4m3fn"}
}

// preset returns a preset's weights and input activations; ok is false for a
// name compressed-tensors 0.18 does not know. Names are case-insensitive, as
// preset_name_to_scheme upper-cases them.
func preset(name string) (w, a *QuantArgs, ok bool) {
	n := strings.ToUpper(name)
	switch n {
	case "UNQUANTIZED":
		return nil, nil, true
	case "W4A16_ASYM":
		return intArgs(4, "group", 128, false), nil, true
	case "W8A8", "INT8":
		return intArgs(8, "channel", 0, true), tokenArgs("int", 8), true
	case "W4AFP8":
		return intArgs(4, "group", 128, true), tokenArgs("float", 8), true
	case "FP8":
		return &QuantArgs{NumBits: 8, Type: "float", Symmetric: true, Strategy: "tensor", Dynamic: false},
			&QuantArgs{NumBits: 8, Type: "float", Symmetric: true, Strategy: "tensor", Dynamic: false, Observer: "static_minmax"}, true
	case "FP8_DYNAMIC":
		return &QuantArgs{NumBits: 8, Type: "float", Symmetric: true, Strategy: "channel", Dynamic: false}, tokenArgs("float", 8), true
	case "FP8_BLOCK":
		return &QuantArgs{NumBits: 8, Type: "float", Symmetric: true, Strategy: "block", BlockStructure: []int{128, 128}, Dynamic: false},
			&QuantArgs{NumBits: 8, Type: "float", Symmetric: true, Strategy: "group", GroupSize: 128, Dynamic: true}, true
	case "NVFP4A16":
		return nvfp4Args(false), nil, true
	case "NVFP4":
		a := nvfp4Args("local")
		a.Observer = "static_minmax"
		return nvfp4Args(false), a, true
	case "MXFP4A16":
		return mxArgs(4, false), nil, true
	case "MXFP4":
		return mxArgs(4, false), mxArgs(4, true), true
	case "MXFP8A16":
		return mxArgs(8, false), nil, true
	case "MXFP8":
		return mxArgs(8, false), mxArgs(8, true), true
	}
	var wb, ab int
	if len(n) >= 4 && n[0] == 'W' && n[2] == 'A' {
		wb = int(n[1] - '0')
		switch n[3:] {
		case "4":
			ab = 4
		case "8":
			ab = 8
		case "16":
			ab = 16
		}
	}
	// PRESET_SCHEMES has WxAy for x in 2..8, y in 4, 8, 16 with x <= y,
	// and of those with x = 8 only W8A16 (W8A8 is the channel one above).
	if wb >= 2 && wb <= 8 && ab > 0 && wb <= ab && n != "W8A8" {
		w, a := wNaM(wb, ab)
		return w, a, true
	}
	return nil, nil, false
}
