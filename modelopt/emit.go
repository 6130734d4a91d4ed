package modelopt

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// emitYAML writes n exactly as yaml.v3's Encoder with two-space indentation
// does, for the documents qrun writes: block and flow mappings and
// sequences of printable-ASCII scalars tagged as what they spell. It is a
// fast path (yaml.v3's emitter is a port of libyaml: an event machine,
// several allocations per scalar); ok is false for anything it does not
// cover — a comment, an anchor, a line break, a string that would spell a
// number or a date — and the caller then uses yaml.v3 itself. Every rule
// below restates one of yaml.v3's (encode.go node, emitterc.go
// analyze_scalar and select_scalar_style); the differential tests and the
// fuzz target compare the two byte for byte.
func emitYAML(n *yaml.Node) (out []byte, ok bool) {
	e := emitter{buf: make([]byte, 0, 2048)}
	if !plainNode(n) || n.Kind == yaml.ScalarNode || len(n.Content) == 0 || n.Style&yaml.FlowStyle != 0 {
		return nil, false
	}
	switch n.Kind {
	case yaml.MappingNode:
		ok = e.blockMap(n, 0, false)
	case yaml.SequenceNode:
		ok = e.blockSeq(n, 0)
	}
	if !ok {
		return nil, false
	}
	return e.buf, true
}

type emitter struct{ buf []byte }

// plainNode reports whether n carries nothing the fast path leaves to
// yaml.v3: comments, anchors, aliases, explicit tags or requested styles.
func plainNode(n *yaml.Node) bool {
	if n.Anchor != "" || n.HeadComment != "" || n.LineComment != "" || n.FootComment != "" {
		return false
	}
	switch n.Kind {
	case yaml.MappingNode:
		return (n.Style == 0 || n.Style == yaml.FlowStyle) && (n.Tag == "" || shortTag(n.Tag) == "!!map")
	case yaml.SequenceNode:
		return (n.Style == 0 || n.Style == yaml.FlowStyle) && (n.Tag == "" || shortTag(n.Tag) == "!!seq")
	case yaml.ScalarNode:
		return n.Style == 0
	}
	return false
}

func shortTag(tag string) string {
	if rest, ok := strings.CutPrefix(tag, "tag:yaml.org,2002:"); ok {
		return "!!" + rest
	}
	return tag
}

func (e *emitter) indent(n int) {
	for ; n > 0; n-- {
		e.buf = append(e.buf, ' ')
	}
}

// blockMap writes a block mapping whose keys start at column ind; inSeq
// means the first key follows a sequence item's "- " on the same line.
func (e *emitter) blockMap(n *yaml.Node, ind int, inSeq bool) bool {
	if len(n.Content)%2 != 0 {
		return false
	}
	for i := 0; i < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if i > 0 || !inSeq {
			e.indent(ind)
		}
		if !e.key(k, false) {
			return false
		}
		e.buf = append(e.buf, ':')
		if !plainNode(v) {
			return false
		}
		switch {
		case v.Kind == yaml.ScalarNode:
			e.buf = append(e.buf, ' ')
			if !e.scalar(v, false, false) {
				return false
			}
			e.buf = append(e.buf, '\n')
		case len(v.Content) == 0 || v.Style&yaml.FlowStyle != 0:
			e.buf = append(e.buf, ' ')
			if !e.flow(v) {
				return false
			}
			e.buf = append(e.buf, '\n')
		case v.Kind == yaml.MappingNode:
			e.buf = append(e.buf, '\n')
			if !e.blockMap(v, ind+2, false) {
				return false
			}
		default:
			e.buf = append(e.buf, '\n')
			if !e.blockSeq(v, ind+2) {
				return false
			}
		}
	}
	return true
}

// blockSeq writes a block sequence whose "- " starts at column ind.
func (e *emitter) blockSeq(n *yaml.Node, ind int) bool {
	for _, v := range n.Content {
		e.indent(ind)
		e.buf = append(e.buf, '-', ' ')
		if !plainNode(v) {
			return false
		}
		switch {
		case v.Kind == yaml.ScalarNode:
			if !e.scalar(v, false, false) {
				return false
			}
			e.buf = append(e.buf, '\n')
		case len(v.Content) == 0 || v.Style&yaml.FlowStyle != 0:
			if !e.flow(v) {
				return false
			}
			e.buf = append(e.buf, '\n')
		case v.Kind == yaml.MappingNode:
			if !e.blockMap(v, ind+2, true) {
				return false
			}
		default:
			return false // a block sequence directly in a block sequence
		}
	}
	return true
}

// flow writes a collection in flow style (everything inside a flow
// collection is flow too).
func (e *emitter) flow(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content)%2 != 0 {
			return false
		}
		e.buf = append(e.buf, '{')
		for i := 0; i < len(n.Content); i += 2 {
			if i > 0 {
				e.buf = append(e.buf, ',', ' ')
			}
			if !e.key(n.Content[i], true) {
				return false
			}
			e.buf = append(e.buf, ':', ' ')
			if !e.flowValue(n.Content[i+1]) {
				return false
			}
		}
		e.buf = append(e.buf, '}')
	case yaml.SequenceNode:
		e.buf = append(e.buf, '[')
		for i, v := range n.Content {
			if i > 0 {
				e.buf = append(e.buf, ',', ' ')
			}
			if !e.flowValue(v) {
				return false
			}
		}
		e.buf = append(e.buf, ']')
	default:
		return false
	}
	return true
}

func (e *emitter) flowValue(v *yaml.Node) bool {
	if !plainNode(v) {
		return false
	}
	if v.Kind == yaml.ScalarNode {
		return e.scalar(v, true, false)
	}
	return e.flow(v)
}

// key writes a mapping key: a scalar short enough to be a simple key
// (yaml.v3 writes longer ones in the "? key" form).
func (e *emitter) key(k *yaml.Node, inFlow bool) bool {
	if k.Kind != yaml.ScalarNode || !plainNode(k) || len(k.Value) > 128 {
		return false
	}
	return e.scalar(k, inFlow, true)
}

// scalar writes a scalar as yaml.v3 chooses: plain when the text reads back
// as its tag and the context allows it, else single-quoted; a string that
// would read back as something else is double-quoted.
func (e *emitter) scalar(n *yaml.Node, inFlow, isKey bool) bool {
	s := n.Value
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false // tabs, line breaks, non-ASCII: yaml.v3 decides
		}
	}
	tag := shortTag(n.Tag)
	rtag := resolvedTag(s)
	switch {
	case tag == "" || rtag == "":
		return false
	case rtag != tag && tag != "!!str":
		return false // yaml.v3 would write an explicit tag
	case rtag != tag:
		// A string spelling another type: yaml.v3 double-quotes it.
		if strings.ContainsAny(s, `"\`) {
			return false
		}
		e.buf = append(e.buf, '"')
		e.buf = append(e.buf, s...)
		e.buf = append(e.buf, '"')
		return true
	}
	if plainAllowed(s, inFlow) {
		e.buf = append(e.buf, s...)
		return true
	}
	e.buf = append(e.buf, '\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			e.buf = append(e.buf, '\'')
		}
		e.buf = append(e.buf, s[i])
	}
	e.buf = append(e.buf, '\'')
	return true
}

// plainAllowed is yaml.v3's analyze_scalar for a non-empty line of
// printable ASCII: no leading or trailing space, and no indicator that
// would change how the line reads in this context.
func plainAllowed(s string, inFlow bool) bool {
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	if strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...") {
		return false
	}
	flowInd, blockInd := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		followedBySpace := i+1 >= len(s) || s[i+1] == ' '
		if i == 0 {
			switch c {
			case '#', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
				flowInd, blockInd = true, true
			case '?', ':':
				flowInd = true
				blockInd = blockInd || followedBySpace
			case '-':
				if followedBySpace {
					flowInd, blockInd = true, true
				}
			}
			continue
		}
		switch c {
		case ',', '?', '[', ']', '{', '}':
			flowInd = true
		case ':':
			flowInd = true
			blockInd = blockInd || followedBySpace
		case '#':
			if s[i-1] == ' ' {
				flowInd, blockInd = true, true
			}
		}
	}
	if inFlow {
		return !flowInd
	}
	return !blockInd
}

// resolvedTag is the tag yaml.v3 gives s written plain (resolve.go), or ""
// where the fast path does not decide: text starting with a digit or a sign
// that is not a plain integer or qrun's float spelling (dates, octal, hex,
// underscores and the like).
func resolvedTag(s string) string {
	switch s {
	case "~", "null", "Null", "NULL":
		return "!!null"
	case "true", "True", "TRUE", "false", "False", "FALSE":
		return "!!bool"
	case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF":
		return "!!float"
	case "<<":
		return "!!merge"
	}
	switch c := s[0]; {
	case c == '.':
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return "!!float"
		}
		return "!!str"
	case c == '+' || c == '-' || c >= '0' && c <= '9':
		if plainInt(s) {
			return "!!int"
		}
		if plainFloat(s) {
			if _, err := strconv.ParseFloat(s, 64); err == nil {
				return "!!float"
			}
		}
		return "" // out of range, among others: yaml.v3 reads 1e+400 as a string
	}
	return "!!str"
}

// plainInt: -?(0|[1-9][0-9]*), at most 18 digits (always an int64).
func plainInt(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || len(s) > 18 || s[0] == '0' && len(s) > 1 {
		return false
	}
	return digits(s) == len(s)
}

// plainFloat is how formatFloat spells a finite number: -?D+.D+ or
// -?D(.D+)?e[-+]D+ (never a date, which needs four digits and a dash).
func plainFloat(s string) bool {
	s = strings.TrimPrefix(s, "-")
	mant, exp, hasExp := strings.Cut(s, "e")
	whole, frac, hasDot := strings.Cut(mant, ".")
	if whole == "" || digits(whole) != len(whole) || hasDot && (frac == "" || digits(frac) != len(frac)) {
		return false
	}
	if !hasExp {
		return hasDot
	}
	if len(whole) != 1 || len(exp) < 2 || exp[0] != '-' && exp[0] != '+' {
		return false
	}
	return digits(exp[1:]) == len(exp)-1
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
