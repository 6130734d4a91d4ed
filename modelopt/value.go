// Package modelopt models NVIDIA ModelOpt quantization configs: quantizer
// attributes, the ordered quant_cfg entries, applying a granularity overlay to
// a role, ModelOpt's validation rules, and the recipe encoding for each target
// ModelOpt version. It knows nothing of qrun's vocabulary or registry.
package modelopt

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Values inside attributes are plain Go values, as close to what Python's
// yaml.safe_load gives ModelOpt as Go allows:
//
//	nil, bool, int, float64, string, []any, map[any]any
//
// Mapping keys are int or string: the distinction is the point, since
// ModelOpt's block_sizes wants the integer -1 and rejects the string "-1".

// FromNode converts a YAML node into a plain value, keeping integer and string
// keys apart. Anchors and aliases are refused: vocabulary files have no use
// for them and they are how "billion laughs" files blow up memory.
func FromNode(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return FromNode(n.Content[0])
	case yaml.AliasNode:
		return nil, &NodeError{Line: n.Line, Msg: "YAML aliases (*name) are not supported; write the value out"}
	case yaml.ScalarNode:
		if n.Anchor != "" {
			return nil, &NodeError{Line: n.Line, Msg: "YAML anchors (&name) are not supported; write the value out"}
		}
		return scalar(n)
	case yaml.SequenceNode:
		if n.Anchor != "" {
			return nil, &NodeError{Line: n.Line, Msg: "YAML anchors (&name) are not supported; write the value out"}
		}
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := FromNode(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		if n.Anchor != "" {
			return nil, &NodeError{Line: n.Line, Msg: "YAML anchors (&name) are not supported; write the value out"}
		}
		out := make(map[any]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn := n.Content[i]
			if kn.Kind != yaml.ScalarNode {
				return nil, &NodeError{Line: kn.Line, Msg: "mapping keys must be plain scalars"}
			}
			k, err := scalar(kn)
			if err != nil {
				return nil, err
			}
			switch k.(type) {
			case int, string:
			default:
				return nil, &NodeError{Line: kn.Line, Msg: fmt.Sprintf("mapping key %s must be an integer or a string", kn.Value)}
			}
			if _, dup := out[k]; dup {
				return nil, &NodeError{Line: kn.Line, Msg: fmt.Sprintf("duplicate key %s", Format(k))}
			}
			v, err := FromNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	}
	return nil, &NodeError{Line: n.Line, Msg: "unsupported YAML node"}
}

// NodeError is a problem at a line of a YAML document.
type NodeError struct {
	Line int
	Msg  string
}

func (e *NodeError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

func scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, &NodeError{Line: n.Line, Msg: fmt.Sprintf("invalid boolean %q", n.Value)}
		}
		return b, nil
	case "!!int":
		var i int
		if err := n.Decode(&i); err != nil {
			return nil, &NodeError{Line: n.Line, Msg: fmt.Sprintf("integer %s is out of range", n.Value)}
		}
		return i, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, &NodeError{Line: n.Line, Msg: fmt.Sprintf("number %s is not a finite number", n.Value)}
		}
		return f, nil
	case "!!str":
		return n.Value, nil
	}
	return nil, &NodeError{Line: n.Line, Msg: fmt.Sprintf("value %s has YAML type %s, which qrun does not take; quote it to make it a string", strconv.Quote(n.Value), strings.TrimPrefix(n.ShortTag(), "!!"))}
}

// ToNode encodes a plain value as a YAML node in qrun's canonical spelling:
// mapping keys in a fixed order (see keyLess), short mappings and lists of
// scalars in flow style, integer keys as YAML integers.
func ToNode(v any) *yaml.Node {
	switch x := v.(type) {
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(x)}
	case float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: formatFloat(x)}
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: x}
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		flow := true
		for _, e := range x {
			c := ToNode(e)
			if c.Kind != yaml.ScalarNode {
				flow = false
			}
			n.Content = append(n.Content, c)
		}
		if flow {
			n.Style = yaml.FlowStyle
		}
		return n
	case map[any]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		flow := len(x) <= 3
		for _, k := range SortedKeys(x) {
			c := ToNode(x[k])
			if c.Kind != yaml.ScalarNode && c.Style != yaml.FlowStyle {
				flow = false
			}
			n.Content = append(n.Content, ToNode(k), c)
		}
		if flow {
			n.Style = yaml.FlowStyle
		}
		return n
	case map[string]any:
		m := make(map[any]any, len(x))
		for k, v := range x {
			m[k] = v
		}
		return ToNode(m)
	}
	panic(fmt.Sprintf("modelopt: unsupported value type %T", v))
}

func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !bytes.ContainsAny([]byte(s), ".eEn") {
		s += ".0"
	}
	return s
}

// Format renders a value on one line, as YAML flow style would. It stays
// here because it is about this package's values: an integer key shows as
// -1 and a string one as "-1" (the difference block_sizes turns on), a
// float keeps its ".0", and the package's own validation messages quote
// values with it.
func Format(v any) string {
	var b bytes.Buffer
	format(&b, v)
	return b.String()
}

func format(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		if plainWord.MatchString(x) && !yamlSpecial[strings.ToLower(x)] {
			b.WriteString(x)
		} else {
			b.WriteString(strconv.Quote(x))
		}
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			format(b, e)
		}
		b.WriteByte(']')
	case map[any]any:
		b.WriteByte('{')
		for i, k := range SortedKeys(x) {
			if i > 0 {
				b.WriteString(", ")
			}
			format(b, k)
			b.WriteString(": ")
			format(b, x[k])
		}
		b.WriteByte('}')
	case map[string]any:
		m := make(map[any]any, len(x))
		for k, v := range x {
			m[k] = v
		}
		format(b, m)
	case float64:
		b.WriteString(formatFloat(x))
	default:
		fmt.Fprint(b, x)
	}
}

// plainWord matches strings shown unquoted in messages; anything else is
// quoted on one line, control characters escaped.
var plainWord = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

var yamlSpecial = map[string]bool{"null": true, "true": true, "false": true, "yes": true, "no": true, "on": true, "off": true, "y": true, "n": true, "~": true}

// keyRank orders well-known keys the way ModelOpt's own presets spell them.
var keyRank = map[string]int{
	"quantizer_name": 1, "parent_class": 2, "cfg": 3, "enable": 4,
	"method":   5,
	"num_bits": 10, "effective_bits": 11, "axis": 12, "type": 13, "block_sizes": 14,
	"scale_bits": 20, "scale_block_sizes": 21, "four_over_six": 22,
}

// SortedKeys returns a mapping's keys in canonical order: integer keys first
// in descending order (-1, -2, …, as ModelOpt writes them), then well-known
// string keys in ModelOpt's order, then the other strings alphabetically.
func SortedKeys(m map[any]any) []any {
	keys := make([]any, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
	return keys
}

func keyLess(a, b any) bool {
	ai, aInt := a.(int)
	bi, bInt := b.(int)
	switch {
	case aInt && bInt:
		// -1 before -2, negatives before non-negatives, non-negatives ascending.
		if (ai < 0) != (bi < 0) {
			return ai < 0
		}
		if ai < 0 {
			return ai > bi
		}
		return ai < bi
	case aInt:
		return true
	case bInt:
		return false
	}
	as, bs := fmt.Sprint(a), fmt.Sprint(b)
	ra, rb := keyRank[as], keyRank[bs]
	if ra == 0 {
		ra = 1000
	}
	if rb == 0 {
		rb = 1000
	}
	if ra != rb {
		return ra < rb
	}
	return as < bs
}

// Canonical writes a value as bytes that depend only on its meaning: mapping
// key order does not matter, YAML spelling does not matter, and every scalar
// carries its type so that the integer -1 and the string "-1" differ.
func Canonical(v any) []byte {
	var b bytes.Buffer
	canonical(&b, v)
	return b.Bytes()
}

func canonical(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("n")
	case bool:
		if x {
			b.WriteString("T")
		} else {
			b.WriteString("F")
		}
	case int:
		b.WriteString("i")
		b.WriteString(strconv.Itoa(x))
		b.WriteByte(';')
	case float64:
		b.WriteString("f")
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		b.WriteByte(';')
	case string:
		b.WriteString("s")
		b.WriteString(strconv.Itoa(len(x)))
		b.WriteByte(':')
		b.WriteString(x)
	case []any:
		b.WriteByte('[')
		for _, e := range x {
			canonical(b, e)
		}
		b.WriteByte(']')
	case map[any]any:
		type kv struct{ k, v []byte }
		items := make([]kv, 0, len(x))
		for k, v := range x {
			items = append(items, kv{Canonical(k), Canonical(v)})
		}
		sort.Slice(items, func(i, j int) bool { return bytes.Compare(items[i].k, items[j].k) < 0 })
		b.WriteByte('{')
		for _, it := range items {
			b.Write(it.k)
			b.Write(it.v)
		}
		b.WriteByte('}')
	case map[string]any:
		m := make(map[any]any, len(x))
		for k, v := range x {
			m[k] = v
		}
		canonical(b, m)
	default:
		panic(fmt.Sprintf("modelopt: unsupported value type %T", v))
	}
}

// Clone deep-copies a plain value.
func Clone(v any) any { return deepCopy(v, false) }

// JSONValue deep-copies a plain value into what encoding/json takes: its
// mappings keyed by strings (block_sizes' -1 becomes "-1").
func JSONValue(v any) any { return deepCopy(v, true) }

func deepCopy(v any, stringKeys bool) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e, stringKeys)
		}
		return out
	case map[any]any:
		if stringKeys {
			out := make(map[string]any, len(x))
			for k, e := range x {
				out[fmt.Sprint(k)] = deepCopy(e, stringKeys)
			}
			return out
		}
		out := make(map[any]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e, stringKeys)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e, stringKeys)
		}
		return out
	}
	return v
}

// Equal reports whether two plain values mean the same.
func Equal(a, b any) bool { return bytes.Equal(Canonical(a), Canonical(b)) }
