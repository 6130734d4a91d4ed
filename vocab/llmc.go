package vocab

import (
	"fmt"
	"strings"

	"github.com/qrun-dev/qrun/modelopt"
)

// Compressed is the llm-compressor (compressed-tensors QuantizationArgs)
// equivalent of one role's quantizer, or why there is none (SPEC §9).
type Compressed struct {
	Role           modelopt.Role `json:"role"`
	Type           string        `json:"type,omitempty"` // int | float
	NumBits        int           `json:"num_bits,omitempty"`
	Strategy       string        `json:"strategy,omitempty"`
	GroupSize      int           `json:"group_size,omitempty"`
	BlockStructure []int         `json:"block_structure,omitempty"`
	Dynamic        *bool         `json:"dynamic,omitempty"`
	None           string        `json:"none,omitempty"` // why there is no equivalent

	scale string // "e8m0" (MX) or "e4m3" (NVFP4) for blocks with scale_bits
}

// String renders the equivalent as compressed-tensors keys.
func (c Compressed) String() string {
	if c.None != "" {
		return "no equivalent: " + c.None
	}
	var parts []string
	if c.NumBits > 0 {
		parts = append(parts, fmt.Sprintf("num_bits: %d", c.NumBits))
	}
	if c.Type != "" {
		parts = append(parts, "type: "+c.Type)
	}
	parts = append(parts, "strategy: "+c.Strategy)
	if c.GroupSize > 0 {
		parts = append(parts, fmt.Sprintf("group_size: %d", c.GroupSize))
	}
	if len(c.BlockStructure) == 2 {
		parts = append(parts, fmt.Sprintf("block_structure: [%d, %d]", c.BlockStructure[0], c.BlockStructure[1]))
	}
	if c.Dynamic != nil {
		parts = append(parts, fmt.Sprintf("dynamic: %t", *c.Dynamic))
	}
	return strings.Join(parts, ", ")
}

func boolp(b bool) *bool { return &b }

// classify maps granularity attributes to a compressed-tensors strategy.
func classify(r modelopt.Role, a modelopt.Attrs) Compressed {
	c := Compressed{Role: r}
	axis, hasAxis := a["axis"]
	bs, _ := a["block_sizes"].(map[any]any)
	typ, _ := a["type"].(string)
	intAxes := map[int]any{}
	for k, v := range bs {
		if i, ok := k.(int); ok {
			intAxes[i] = v
		}
	}
	bsType, _ := bs["type"].(string)
	if sb, ok := bs["scale_bits"].([]any); ok && len(sb) == 2 {
		switch {
		case sb[0] == 8 && sb[1] == 0:
			c.scale = "e8m0"
		case sb[0] == 4 && sb[1] == 3:
			c.scale = "e4m3"
		}
	}
	if r == modelopt.Weights {
		switch {
		case bs == nil && (!hasAxis || axis == nil):
			c.Strategy = "tensor"
		case bs == nil && axis == 0:
			c.Strategy = "channel"
		case bs == nil && axis == 1:
			c.None = "compressed-tensors has no per-input-channel weight strategy (its channel strategy is per output channel)"
		case bs == nil:
			c.None = fmt.Sprintf("compressed-tensors has no weight strategy for axis %s", modelopt.Format(axis))
		case bs["scale_bits"] != nil:
			g, ok := intAxes[-1].(int)
			if len(intAxes) == 1 && ok {
				if g == 16 {
					c.Strategy = "tensor_group"
				} else {
					c.Strategy = "group"
				}
				c.GroupSize = g
			} else {
				c.None = fmt.Sprintf("no compressed-tensors strategy for block_sizes %s", modelopt.Format(bs))
			}
		case len(intAxes) == 1 && bsType != "dynamic":
			if g, ok := intAxes[-1].(int); ok {
				c.Strategy, c.GroupSize = "group", g
			} else {
				c.None = fmt.Sprintf("no compressed-tensors strategy for block_sizes %s", modelopt.Format(bs))
			}
		case len(intAxes) == 2 && bsType != "dynamic":
			rows, ok1 := intAxes[-2].(int)
			cols, ok2 := intAxes[-1].(int)
			if ok1 && ok2 {
				c.Strategy, c.BlockStructure = "block", []int{rows, cols}
			} else {
				c.None = fmt.Sprintf("no compressed-tensors strategy for block_sizes %s", modelopt.Format(bs))
			}
		default:
			c.None = fmt.Sprintf("no compressed-tensors weight strategy for block_sizes %s", modelopt.Format(bs))
		}
		return c
	}
	switch {
	case typ == "dynamic" && len(intAxes) == 1 && intAxes[-1] == nil && (!hasAxis || axis == nil):
		c.Strategy, c.Dynamic = "token", boolp(true)
	case bs == nil && (!hasAxis || axis == nil):
		c.Strategy, c.Dynamic = "tensor", boolp(typ == "dynamic")
	case bs != nil && bs["scale_bits"] != nil && len(intAxes) == 1:
		g, _ := intAxes[-1].(int)
		if g == 16 {
			c.Strategy = "tensor_group"
		} else {
			c.Strategy = "group"
		}
		c.GroupSize, c.Dynamic = g, boolp(true)
	case len(intAxes) == 1 && bsType == "dynamic":
		if g, ok := intAxes[-1].(int); ok {
			c.Strategy, c.GroupSize, c.Dynamic = "group", g, boolp(true)
		} else {
			c.None = fmt.Sprintf("no compressed-tensors activation strategy for block_sizes %s", modelopt.Format(bs))
		}
	default:
		c.None = fmt.Sprintf("no compressed-tensors activation strategy for %s", a.String())
	}
	return c
}

// dtype fills in num_bits and type from a format's attributes.
func dtype(c *Compressed, a modelopt.Attrs) {
	switch nb := a["num_bits"].(type) {
	case int:
		c.Type, c.NumBits = "int", nb
	case []any:
		e, _ := nb[0].(int)
		m, _ := nb[1].(int)
		c.Type, c.NumBits = "float", 1+e+m
	}
}

// LLMCompressor returns the granularity's equivalent for each role it touches.
func (g *Granularity) LLMCompressor() []Compressed {
	var out []Compressed
	for _, r := range g.Touches() {
		ov, _ := g.Overlay(r)
		out = append(out, classify(r, ov))
	}
	return out
}

// LLMCompressor returns the format's equivalent for each quantized role
// (weights via stage 0 for a sequential quantizer).
func (f *Format) LLMCompressor() []Compressed {
	var out []Compressed
	for _, r := range modelopt.Roles {
		a := f.Config.RoleAttrs(r)
		if a == nil {
			continue
		}
		c := classify(r, a)
		dtype(&c, a)
		i := f.Config.RoleIndex(r)
		if st := f.Config.Entries[i].Stages; len(st) > 1 {
			c.None = fmt.Sprintf("the weight quantizer is sequential (%d stages); compressed-tensors quantizes a weight once", len(st))
		}
		out = append(out, c)
	}
	return out
}

// Notes returns warnings users need when reading this name: the W4A8
// naming trap (SPEC §1.2, §10 T13) and scale convention differences.
func (f *Format) Notes() []string {
	var notes []string
	switch f.Name {
	case "w4a8_awq_beta":
		notes = append(notes, "naming trap: this is ModelOpt's W4A8 (w4a8_awq): int4 weights in groups of 128 plus a second FP8 weight stage, FP8 per-tensor STATIC activations, AWQ-lite. llm-compressor's W4A8 is different: int4 weights with int8 per-token DYNAMIC activations — for that use format w4a8_int with granularity a_per_token_dynamic (group-128 weights) or recipe_match_channel_token (per-channel weights).")
	case "w4a8_int":
		notes = append(notes, "naming trap: llm-compressor's W4A8 is int4 weights with int8 per-token dynamic activations; this format's own default activations are int8 per-tensor static — add granularity a_per_token_dynamic (or recipe_match_channel_token) to match it. ModelOpt's w4a8_awq (w4a8_awq_beta) is not this: its activations are FP8 per-tensor static.")
	}
	for _, c := range f.LLMCompressor() {
		if c.Type == "int" {
			notes = append(notes, "integer scales: compressed-tensors divides by 7.5/127.5, ModelOpt by 7/127 (symmetric); results differ slightly, the configuration still corresponds")
			break
		}
	}
	return notes
}

// Scheme names the compressed-tensors 0.18 preset scheme a format ×
// granularity reproduces, or "" — the inverse of vocab match's reading of
// the presets (W8A8 for the int8 channel × token pair, never its alias
// INT8).
func Scheme(weights, acts *Compressed) string {
	ok := func(c *Compressed) bool { return c != nil && c.None == "" }
	if !ok(weights) || acts != nil && !ok(acts) {
		return ""
	}
	dyn := func(c *Compressed) bool { return c.Dynamic != nil && *c.Dynamic }
	w, a := weights, acts
	name := ""
	switch {
	case w.Type == "int" && w.Strategy == "group" && w.GroupSize == 128 && w.scale == "":
		switch {
		case a == nil:
			name = fmt.Sprintf("W%dA16", w.NumBits)
		case a.Type == "int" && a.Strategy == "token" && dyn(a):
			name = fmt.Sprintf("W%dA%d", w.NumBits, a.NumBits)
		case w.NumBits == 4 && a.Type == "float" && a.NumBits == 8 && a.Strategy == "token" && dyn(a):
			name = "W4AFP8"
		}
	case w.Type == "int" && w.NumBits == 8 && w.Strategy == "channel" && a != nil && a.Type == "int" && a.NumBits == 8 && a.Strategy == "token" && dyn(a):
		name = "W8A8"
	case w.Type == "float" && w.NumBits == 8 && w.Strategy == "tensor" && a != nil && a.Type == "float" && a.NumBits == 8 && a.Strategy == "tensor" && !dyn(a):
		name = "FP8"
	case w.Type == "float" && w.NumBits == 8 && w.Strategy == "channel" && a != nil && a.Type == "float" && a.NumBits == 8 && a.Strategy == "token" && dyn(a):
		name = "FP8_DYNAMIC"
	case w.Type == "float" && w.NumBits == 8 && w.Strategy == "block" && len(w.BlockStructure) == 2 && w.BlockStructure[0] == 128 && w.BlockStructure[1] == 128 &&
		a != nil && a.Type == "float" && a.NumBits == 8 && a.Strategy == "group" && a.GroupSize == 128 && dyn(a) && a.scale == "":
		name = "FP8_BLOCK"
	case w.Type == "float" && w.NumBits == 4 && w.Strategy == "tensor_group" && w.GroupSize == 16 && w.scale == "e4m3":
		switch {
		case a == nil:
			name = "NVFP4A16"
		case a.Type == "float" && a.NumBits == 4 && a.Strategy == "tensor_group" && a.GroupSize == 16 && a.scale == "e4m3":
			name = "NVFP4"
		}
	case w.Type == "float" && (w.NumBits == 4 || w.NumBits == 8) && w.Strategy == "group" && w.GroupSize == 32 && w.scale == "e8m0":
		switch {
		case a == nil:
			name = fmt.Sprintf("MXFP%dA16", w.NumBits)
		case a.Type == "float" && a.NumBits == w.NumBits && a.Strategy == "group" && a.GroupSize == 32 && a.scale == "e8m0" && dyn(a):
			name = fmt.Sprintf("MXFP%d", w.NumBits)
		}
	}
	if _, _, known := preset(name); name == "" || !known || name == "W8A8" && w.Strategy != "channel" {
		return ""
	}
	return name
}
