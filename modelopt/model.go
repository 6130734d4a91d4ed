package modelopt

import (
	"fmt"
	"sync"
)

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

// Quantizer slots: a module's quantizers by attribute name.
const (
	weightSlot = iota
	inputSlot
	outputSlot
	qBmmSlot
	kBmmSlot
	vBmmSlot
	pBmmSlot
	slots
)

var slotNames = [slots]string{"weight_quantizer", "input_quantizer", "output_quantizer",
	"q_bmm_quantizer", "k_bmm_quantizer", "v_bmm_quantizer", "p_bmm_quantizer"}

// module is one quantizable module of the model.
type module struct {
	name  string
	class string
	kind  moduleKind
	full  [slots]string // each quantizer's full name; "" where the module has none
}

func newModule(name, class string, kind moduleKind) module {
	m := module{name: name, class: class, kind: kind}
	for s, q := range created(kind) {
		if q.exists {
			m.full[s] = name + "." + slotNames[s]
		}
	}
	return m
}

// denseDecoder is a dense decoder-only LLM (Qwen3 and its kin: every
// decoder layer has q/k/v/o projections and a gated MLP), with two layers:
// what runtime-0.46.0.yaml's GPU runs used, and enough for any pattern that
// names a layer.
var denseDecoder = sync.OnceValue(func() []module {
	ms := []module{newModule("model.embed_tokens", "nn.Embedding", embeddingModule)}
	for i := range 2 {
		p := fmt.Sprintf("model.layers.%d.", i)
		ms = append(ms, newModule(p+"self_attn", "Qwen3Attention", attentionModule))
		for _, l := range []string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"} {
			ms = append(ms, newModule(p+l, "nn.Linear", linearModule))
		}
	}
	return append(ms, newModule("lm_head", "nn.Linear", linearModule))
})

// quantizer is one quantizer as a config leaves it: on or off, with its
// attributes (a sequential quantizer has stages instead). Attributes are
// the config's own, shared, never changed.
type quantizer struct {
	exists bool
	on     bool
	attrs  Attrs   // the attributes in effect (creation defaults until a cfg sets them)
	stages []Attrs // a SequentialQuantizer's stages, or nil
	hard   bool    // a hard-disabled slot: never on, whatever the config says
	set    int     // the entry whose cfg set the attributes; -1 for the creation defaults
}

// quantizers are the quantizers of one module after the config is
// applied, by slot.
type quantizers [slots]quantizer

func (qs *quantizers) get(slot int) *quantizer {
	if !qs[slot].exists {
		return nil
	}
	return &qs[slot]
}

var (
	defaults8     = Attrs{"num_bits": 8, "axis": nil}
	defaults8Rows = Attrs{"num_bits": 8, "axis": 0}
)

// created is what ModelOpt inserts into a module, before any entry applies:
// QuantLinear's weight quantizer is 8-bit per output row
// (QUANT_DESC_8BIT_LINEAR_WEIGHT_PER_ROW), its input quantizer 8-bit per
// tensor, both on; output quantizers start off.
func created(kind moduleKind) quantizers {
	var qs quantizers
	q := func(slot int, on bool, a Attrs) { qs[slot] = quantizer{exists: true, on: on, attrs: a, set: -1} }
	switch kind {
	case linearModule:
		q(weightSlot, true, defaults8Rows)
		q(inputSlot, true, defaults8)
		q(outputSlot, false, defaults8)
	case embeddingModule:
		q(weightSlot, true, defaults8)
		q(inputSlot, false, defaults8)
		qs[inputSlot].hard = true
		q(outputSlot, false, defaults8)
	default:
		for _, s := range []int{qBmmSlot, kBmmSlot, vBmmSlot, pBmmSlot} {
			q(s, true, defaults8)
		}
	}
	return qs
}

// apply sets a module's quantizers from the config's entries, in order
// (ModelOpt ≥ 0.44's list: deny-all, the entries, the default-disabled
// tail): later entries win.
func apply(entries []Entry, m module) quantizers {
	return applyCompiled(entries, compileEntries(entries), m)
}

func compileEntries(entries []Entry) []glob {
	out := make([]glob, len(entries))
	for i, e := range entries {
		out[i] = compileGlob(e.QuantizerName)
	}
	return out
}

func applyCompiled(entries []Entry, globs []glob, m module) quantizers {
	qs := created(m.kind)
	for ei, e := range entries {
		if e.ParentClass != "" && e.ParentClass != m.class {
			continue
		}
		for s := range qs {
			q := &qs[s]
			if !q.exists || !globs[ei].match(m.full[s]) {
				continue
			}
			on := e.Enable == nil || *e.Enable
			switch {
			case e.Stages != nil:
				q.stages, q.attrs, q.set = e.Stages, nil, ei
			case e.Cfg != nil:
				q.attrs, q.stages, q.set = e.Cfg, nil, ei
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
	globs := compileEntries(entries)
	out := make([]quantizers, len(model))
	for i, m := range model {
		out[i] = applyCompiled(entries, globs, m)
	}
	return out
}
