package modelopt

import (
	"bytes"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// Note is something the encoder changed for the target and wants recorded.
type Note string

// Quantize returns the recipe's quantize section for the target as a YAML
// node: {quant_cfg, algorithm}. For ≥ 0.44 quant_cfg is ModelOpt's list;
// for 0.43 it is the legacy mapping. Version-gated attributes the target
// lacks are errors, except effective_bits (autoquant metadata only), which is
// dropped and noted.
func Quantize(c Config, target Version) (*yaml.Node, []Note, error) {
	c, notes, err := adaptToTarget(c, target)
	if err != nil {
		return nil, nil, err
	}
	if err := c.Validate(target); err != nil {
		return nil, nil, err
	}
	var qc *yaml.Node
	if target.Less(V044) {
		qc, err = legacyQuantCfg(c)
		if err != nil {
			return nil, nil, err
		}
	} else {
		qc = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range c.List() {
			qc.Content = append(qc.Content, entryNode(e))
		}
	}
	sec := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	sec.Content = append(sec.Content, ToNode("quant_cfg"), qc, ToNode("algorithm"), ToNode(c.Algorithm))
	return sec, notes, nil
}

// SectionName is the recipe's top-level key holding the quantize section.
func SectionName(target Version) string {
	if target.Less(V044) {
		return "ptq_cfg"
	}
	return "quantize"
}

// Recipe encodes a complete ModelOpt PTQ recipe file for the target:
//
//	metadata: {recipe_type: ptq, description: …}
//	quantize: {quant_cfg: […], algorithm: …}     # ptq_cfg for 0.43
//
// The bytes depend only on the inputs.
func Recipe(c Config, target Version, description string) ([]byte, []Note, error) {
	sec, notes, err := Quantize(c, target)
	if err != nil {
		return nil, nil, err
	}
	meta := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	meta.Content = append(meta.Content, ToNode("recipe_type"), ToNode("ptq"), ToNode("description"), ToNode(description))
	doc := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	doc.Content = append(doc.Content, ToNode("metadata"), meta, ToNode(SectionName(target)), sec)
	out, err := Marshal(doc)
	return out, notes, err
}

// Marshal writes a node as YAML with yaml.v3's encoder, two-space
// indentation.
func Marshal(n *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	return b.Bytes(), nil
}

// adaptToTarget removes what the target cannot take and may lose (only
// effective_bits) and refuses what it cannot take and must not lose.
func adaptToTarget(c Config, target Version) (Config, []Note, error) {
	out := c.Clone()
	var notes []Note
	dropped := false
	fix := func(a Attrs) error {
		for _, k := range sortedAttrNames(a) {
			spec, ok := attributes[k]
			if !ok || !target.Less(spec.since) {
				continue
			}
			if k == "effective_bits" {
				delete(a, k)
				dropped = true
				continue
			}
			return attrErr(k, "attribute %q needs ModelOpt %s or newer; the target is %s: choose a newer target (--modelopt) or a format without it", k, spec.since, target)
		}
		return nil
	}
	for i := range out.Entries {
		if err := fixEntry(&out.Entries[i], fix); err != nil {
			return c, nil, err
		}
	}
	for i := range out.KV {
		if err := fixEntry(&out.KV[i], fix); err != nil {
			return c, nil, err
		}
	}
	if dropped {
		notes = append(notes, Note(fmt.Sprintf("effective_bits dropped: ModelOpt %s does not accept it (autoquant metadata only)", target)))
	}
	return out, notes, nil
}

// fixEntry applies fix to an entry's attributes (each stage's).
func fixEntry(e *Entry, fix func(Attrs) error) error {
	if e.Cfg != nil {
		if err := fix(e.Cfg); err != nil {
			return err
		}
	}
	for _, s := range e.Stages {
		if err := fix(s); err != nil {
			return err
		}
	}
	return nil
}

func entryNode(e Entry) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	n.Content = append(n.Content, ToNode("quantizer_name"), ToNode(e.QuantizerName))
	if e.ParentClass != "" {
		n.Content = append(n.Content, ToNode("parent_class"), ToNode(e.ParentClass))
	}
	switch {
	case e.Stages != nil:
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, s := range e.Stages {
			seq.Content = append(seq.Content, attrsNode(s))
		}
		n.Content = append(n.Content, ToNode("cfg"), seq)
	case e.Cfg != nil:
		n.Content = append(n.Content, ToNode("cfg"), attrsNode(e.Cfg))
	}
	if e.Enable != nil {
		n.Content = append(n.Content, ToNode("enable"), ToNode(*e.Enable))
	}
	if !e.HasCfg() {
		n.Style = yaml.FlowStyle
	}
	return n
}

// attrsNode writes attributes as a block mapping (nested values in flow).
func attrsNode(a Attrs) *yaml.Node {
	n := ToNode(a.Value())
	n.Style = 0
	return n
}

// legacyQuantCfg writes the 0.43 mapping: pattern → attributes (enable
// inside), class-scoped entries as nn.Class: {pattern: …}, the tail, and the
// deny-all as "default" last (0.43 applies "default" first wherever it sits).
func legacyQuantCfg(c Config) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	seen := map[string]bool{}
	classNodes := map[string]*yaml.Node{}
	add := func(e Entry) error {
		val := legacyValue(e)
		if e.ParentClass != "" {
			key := e.ParentClass + "\x00" + e.QuantizerName
			if seen[key] {
				return fmt.Errorf("quant_cfg configures %s under %s twice; the ModelOpt 0.43 mapping form cannot express that: target 0.44 or newer", e.QuantizerName, e.ParentClass)
			}
			seen[key] = true
			cn, ok := classNodes[e.ParentClass]
			if !ok {
				cn = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				classNodes[e.ParentClass] = cn
				n.Content = append(n.Content, ToNode(e.ParentClass), cn)
			}
			cn.Content = append(cn.Content, ToNode(e.QuantizerName), val)
			return nil
		}
		if seen[e.QuantizerName] || e.QuantizerName == "default" {
			return fmt.Errorf("quant_cfg configures %q twice; the ModelOpt 0.43 mapping form cannot express that: target 0.44 or newer", e.QuantizerName)
		}
		seen[e.QuantizerName] = true
		n.Content = append(n.Content, ToNode(e.QuantizerName), val)
		return nil
	}
	for _, e := range append(slices.Clip(c.Entries), c.KV...) {
		if err := add(e); err != nil {
			return nil, err
		}
	}
	if c.DefaultTail {
		for _, e := range DefaultTail(V043) {
			if err := add(e); err != nil {
				return nil, err
			}
		}
	}
	if c.DenyAll {
		n.Content = append(n.Content, ToNode("default"), ToNode(map[any]any{"enable": false}))
	}
	return n, nil
}

func legacyValue(e Entry) *yaml.Node {
	withEnable := func(a Attrs) *yaml.Node {
		m := a.Value()
		if e.Enable != nil {
			m["enable"] = *e.Enable
		}
		return attrsNode(Attrs(toStringKeys(m)))
	}
	switch {
	case e.Stages != nil:
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, s := range e.Stages {
			seq.Content = append(seq.Content, withEnable(s))
		}
		return seq
	case e.Cfg != nil:
		return withEnable(e.Cfg)
	}
	return ToNode(map[any]any{"enable": e.Enable != nil && *e.Enable})
}

func toStringKeys(m map[any]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[fmt.Sprint(k)] = v
	}
	return out
}
