package modelopt

import "fmt"

// A model as ModelOpt's quantizer insertion sees it: its modules in
// named_modules order, each with its class (the name an entry's
// parent_class gives) and the quantizers ModelOpt inserts into it. qrun
// predicts what ModelOpt does with a config by applying the config's
// entries to these quantizers, as set_quantizer_by_cfg does
// (quantization/conversion.py at 0.46.0: fnmatch on the quantizer's full
// name, parent_class on its module's class, a cfg entry replacing every
// attribute, an entry without cfg only switching it on or off).

// moduleKind is what ModelOpt inserts into a module.
type moduleKind int

const (
	linearModule    moduleKind = iota // QuantLinear: input, weight, output quantizers
	embeddingModule                   // QuantEmbedding: weight, a hard-disabled input, output
	attentionModule                   // the HF attention plugin: q/k/v/p bmm quantizers
)

// module is one quantizable module of the model.
type module struct {
	name  string
	class string
	kind  moduleKind
}

// denseDecoder is a dense decoder-only LLM (Qwen3 and its kin: every
// decoder layer has q/k/v/o projections and a gated MLP), with two layers:
// what runtime-0.46.0.yaml's GPU runs used, and enough for any pattern that
// names a layer.
var denseDecoder = func() []module {
	ms := []module{{name: "model.embed_tokens", class: "nn.Embedding", kind: embeddingModule}}
	for i := range 2 {
		p := fmt.Sprintf("model.layers.%d.", i)
		ms = append(ms, module{name: p + "self_attn", class: "Qwen3Attention", kind: attentionModule})
		for _, l := range []string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"} {
			ms = append(ms, module{name: p + l, class: "nn.Linear", kind: linearModule})
		}
	}
	return append(ms, module{name: "lm_head", class: "nn.Linear", kind: linearModule})
}()

// quantizer is one quantizer as a config leaves it: on or off, with its
// attributes (a sequential quantizer has stages instead).
type quantizer struct {
	on     bool
	attrs  Attrs   // the attributes in effect (creation defaults until a cfg sets them)
	stages []Attrs // a SequentialQuantizer's stages, or nil
	hard   bool    // a hard-disabled slot: never on, whatever the config says
}

// quantizers are the quantizers of one module after the config is applied,
// by their attribute name (weight_quantizer, input_quantizer, …).
type quantizers map[string]*quantizer

// created is what ModelOpt inserts into a module, before any entry applies:
// QuantLinear's weight quantizer is 8-bit per output row
// (QUANT_DESC_8BIT_LINEAR_WEIGHT_PER_ROW), its input quantizer 8-bit per
// tensor, both on; output quantizers start off.
func created(kind moduleKind) quantizers {
	switch kind {
	case linearModule:
		return quantizers{
			"input_quantizer":  {on: true, attrs: Attrs{"num_bits": 8, "axis": nil}},
			"weight_quantizer": {on: true, attrs: Attrs{"num_bits": 8, "axis": 0}},
			"output_quantizer": {on: false, attrs: Attrs{"num_bits": 8, "axis": nil}},
		}
	case embeddingModule:
		return quantizers{
			"weight_quantizer": {on: true, attrs: Attrs{"num_bits": 8, "axis": nil}},
			"input_quantizer":  {hard: true, attrs: Attrs{"num_bits": 8, "axis": nil}},
			"output_quantizer": {on: false, attrs: Attrs{"num_bits": 8, "axis": nil}},
		}
	}
	return quantizers{
		"q_bmm_quantizer": {on: true, attrs: Attrs{"num_bits": 8, "axis": nil}},
		"k_bmm_quantizer": {on: true, attrs: Attrs{"num_bits": 8, "axis": nil}},
		"v_bmm_quantizer": {on: true, attrs: Attrs{"num_bits": 8, "axis": nil}},
		"p_bmm_quantizer": {on: true, attrs: Attrs{"num_bits": 8, "axis": nil}},
	}
}

// quantizerOrder lists a module's quantizers in a fixed order.
var quantizerOrder = []string{"weight_quantizer", "input_quantizer", "output_quantizer",
	"q_bmm_quantizer", "k_bmm_quantizer", "v_bmm_quantizer", "p_bmm_quantizer"}

// apply sets a module's quantizers from the config's entries, in order
// (ModelOpt ≥ 0.44's list: deny-all, the entries, the default-disabled
// tail): later entries win.
func apply(entries []Entry, m module) quantizers {
	qs := created(m.kind)
	for _, e := range entries {
		if e.ParentClass != "" && e.ParentClass != m.class {
			continue
		}
		for name, q := range qs {
			if !fnmatch(e.QuantizerName, m.name+"."+name) {
				continue
			}
			on := e.Enable == nil || *e.Enable
			switch {
			case e.Stages != nil:
				q.stages = make([]Attrs, len(e.Stages))
				for i, s := range e.Stages {
					q.stages[i] = s.Clone()
				}
				q.attrs = nil
			case e.Cfg != nil:
				q.attrs, q.stages = e.Cfg.Clone(), nil
			default:
				on = e.Enable != nil && *e.Enable
			}
			q.on = on && !q.hard
		}
	}
	return qs
}

// modelQuantizers applies a config to every module of the model.
func modelQuantizers(c Config, model []module) []quantizers {
	entries := c.List()
	out := make([]quantizers, len(model))
	for i, m := range model {
		out[i] = apply(entries, m)
	}
	return out
}
