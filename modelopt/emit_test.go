package modelopt_test

import (
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/vocab"
)

// sameAsYAMLv3 fails when the fast path writes anything but yaml.v3's
// bytes; it reports whether the fast path took n.
func sameAsYAMLv3(t testing.TB, n *yaml.Node) bool {
	t.Helper()
	fast, ok := modelopt.EmitYAML(n)
	if !ok {
		return false
	}
	slow, err := modelopt.MarshalYAML(n)
	if err != nil {
		t.Fatalf("fast path wrote a document yaml.v3 refuses (%v):\n%s", err, fast)
	}
	if string(fast) != string(slow) {
		t.Fatalf("fast path differs from yaml.v3\nfast:\n%s\nyaml.v3:\n%s", fast, slow)
	}
	return true
}

// Every recipe qrun can write today goes through the fast path, and the
// bytes are yaml.v3's.
func TestEmitYAMLEveryBuiltinRecipe(t *testing.T) {
	v := vocab.Builtin()
	n := 0
	for _, f := range v.Formats() {
		for _, g := range v.Granularities() {
			r, err := v.Resolve(f.Name, g.Name)
			if err != nil {
				continue // not applicable: the golden error files cover these
			}
			for _, target := range modelopt.Supported {
				doc, _, err := modelopt.RecipeDoc(r.Config, target, fmt.Sprintf("qrun: format %s x granularity %s", f.Name, g.Name))
				if err != nil {
					continue
				}
				if !sameAsYAMLv3(t, doc) {
					t.Fatalf("%s x %s for %s: the fast path declined a built-in recipe", f.Name, g.Name, target)
				}
				n++
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d recipes checked", n)
	}
}

// trickyStrings are texts whose YAML spelling depends on yaml.v3's rules:
// indicators, spaces, quotes, and words that read back as other types.
var trickyStrings = []string{
	"a", "max", "nn.BatchNorm1d", "mtp.*", "*", "*weight_quantizer", "qrun: format x", "a:b", "a: b", "a :b", ":a", ": a", ":",
	"?", "? a", "?a", "a?", "-", "- a", "-a", "a-", "--", "---", "---a", "...", "...a", "..", ".a", ".5", ".e1", ".inf", ".NaN",
	"#", "#a", "a#b", "a #b", "a# b", ",", "a,b", "[a]", "a]", "{", "a}", "&a", "a&", "!x", "a!", "|", ">", "'", "it's", "''",
	`"q"`, `a"b`, `a\b`, "%", "@", "`", " a", "a ", " ", "a  b", "true", "True", "TRUE", "tRue", "false", "yes", "no", "on",
	"off", "y", "n", "null", "Null", "~", "~a", "<<", "<", "<a", "1", "-1", "+1", "0", "-0", "007", "0x10", "0o7", "0b1", "1_000",
	"1.5", "-1.5", "1.", "1e5", "1e-05", "1.5e+20", "1e+400", "-1e+999", "9e+308", "1e-400", "2024-01-02", "2024-1-2 10:00:00", "1:20", "12:30:45", "inf", "nan",
	"a\tb", "a\nb", "ünï", "é", "a\x7fb", strings.Repeat("x", 129), strings.Repeat("long words ", 12),
}

func scalarNode(tag, v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v}
}

// positions puts a scalar everywhere a recipe or manifest can hold one.
func positions(s *yaml.Node) map[string]*yaml.Node {
	k := func(v string) *yaml.Node { return scalarNode("!!str", v) }
	mapping := func(style yaml.Style, kv ...*yaml.Node) *yaml.Node {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: style, Content: kv}
	}
	seq := func(style yaml.Style, items ...*yaml.Node) *yaml.Node {
		return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: style, Content: items}
	}
	return map[string]*yaml.Node{
		"block value":      mapping(0, k("a"), s),
		"block key":        mapping(0, s, k("v")),
		"flow value":       mapping(0, k("a"), mapping(yaml.FlowStyle, k("b"), s)),
		"flow key":         mapping(0, k("a"), mapping(yaml.FlowStyle, s, k("v"), k("c"), k("d"))),
		"flow item":        mapping(0, k("a"), seq(yaml.FlowStyle, s, k("x"))),
		"block item":       seq(0, s, k("x")),
		"item mapping key": seq(0, mapping(0, s, k("v"), k("b"), mapping(0, k("c"), s))),
		"nested":           mapping(0, k("a"), mapping(0, k("b"), seq(0, mapping(0, k("c"), seq(yaml.FlowStyle, s)), mapping(yaml.FlowStyle, s, s)))),
	}
}

func TestEmitYAMLScalars(t *testing.T) {
	tags := []string{"!!str", "!!int", "!!float", "!!bool", "!!null", "tag:yaml.org,2002:str"}
	taken := 0
	for _, s := range trickyStrings {
		for _, tag := range tags {
			for where, doc := range positions(scalarNode(tag, s)) {
				t.Run(fmt.Sprintf("%q/%s/%s", s, tag, where), func(t *testing.T) {
					if sameAsYAMLv3(t, doc) {
						taken++
					}
				})
			}
		}
	}
	// The plain names and numbers of a recipe must take the fast path.
	for _, c := range []struct{ tag, v string }{
		{"!!str", "max"}, {"!!str", "*weight_quantizer"}, {"!!str", "qrun: format x"}, {"!!str", "true"}, {"!!str", "1.5"},
		{"!!str", "it's"}, {"!!int", "-1"}, {"!!int", "128"}, {"!!float", "1e-05"}, {"!!float", "0.5"}, {"!!bool", "false"},
		{"!!null", "null"},
	} {
		for where, doc := range positions(scalarNode(c.tag, c.v)) {
			if !sameAsYAMLv3(t, doc) {
				t.Errorf("%s %q (%s): the fast path declined", c.tag, c.v, where)
			}
		}
	}
	if taken < len(trickyStrings) {
		t.Fatalf("the fast path took only %d of the tricky cases", taken)
	}
}

// Empty collections, requested styles, comments, anchors and odd shapes:
// the fast path writes yaml.v3's bytes or declines.
func TestEmitYAMLShapes(t *testing.T) {
	s := func(v string) *yaml.Node { return scalarNode("!!str", v) }
	emptyMap := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	emptySeq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	m := func(kv ...*yaml.Node) *yaml.Node {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: kv}
	}
	q := func(n yaml.Node) *yaml.Node { return &n }
	cases := map[string]struct {
		doc      *yaml.Node
		wantFast bool
	}{
		"empty map value":      {m(s("a"), emptyMap), true},
		"empty seq value":      {m(s("a"), emptySeq), true},
		"empty seq item":       {&yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{emptyMap, emptySeq}}, true},
		"untagged collections": {&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{s("a"), {Kind: yaml.SequenceNode, Content: []*yaml.Node{s("b")}}}}, true},
		"seq in seq":           {&yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{{Kind: yaml.SequenceNode, Content: []*yaml.Node{s("b")}}}}, false},
		"empty document":       {emptyMap, false},
		"scalar document":      {s("a"), false},
		"flow document":        {q(yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle, Content: []*yaml.Node{s("a"), s("b")}}), false},
		"comment":              {m(q(yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "a", LineComment: "# c"}), s("b")), false},
		"anchor":               {m(s("a"), q(yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "b", Anchor: "x"})), false},
		"quoted style":         {m(s("a"), q(yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "b", Style: yaml.DoubleQuotedStyle})), false},
		"custom tag":           {m(s("a"), scalarNode("!thing", "b")), false},
		"untagged scalar":      {m(s("a"), scalarNode("", "b")), false},
		"odd mapping":          {&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{s("a")}}, false},
		"mapping key":          {m(m(s("a"), s("b")), s("c")), false},
		"document node":        {&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{m(s("a"), s("b"))}}, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := sameAsYAMLv3(t, c.doc); got != c.wantFast {
				t.Fatalf("fast path taken: %v, want %v", got, c.wantFast)
			}
		})
	}
}

// FuzzEmitYAML builds documents from the input's bytes (shape) and words
// (scalars); whenever the fast path takes one, its bytes are yaml.v3's.
//
//	go test -run '^$' -fuzz '^FuzzEmitYAML$' -fuzztime 30s ./modelopt/
func FuzzEmitYAML(f *testing.F) {
	for _, s := range []string{"\x00\x01a\x02b", "\x03\x04*\x05-1\x06x y", "\x07qrun: a\x08\x09'\x0a.5", strings.Join(trickyStrings, "\x0b")} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return // a document's shape needs few bytes; long inputs only slow the fuzzer's minimizing
		}
		b := &builder{data: data}
		doc := b.node(0)
		if doc.Kind == yaml.ScalarNode {
			doc = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{scalarNode("!!str", "k"), doc}}
		}
		sameAsYAMLv3(t, doc)
	})
}

// builder reads a document tree from fuzz input: each control byte below
// 0x10 picks a node kind, tag or style; the text up to the next control
// byte is a scalar's value.
type builder struct {
	data []byte
	pos  int
}

func (b *builder) next() byte {
	if b.pos >= len(b.data) {
		return 0xff
	}
	c := b.data[b.pos]
	b.pos++
	return c
}

func (b *builder) word() string {
	start := b.pos
	for b.pos < len(b.data) && b.data[b.pos] >= 0x10 {
		b.pos++
	}
	return string(b.data[start:b.pos])
}

func (b *builder) node(depth int) *yaml.Node {
	c := b.next()
	tags := []string{"!!str", "!!str", "!!str", "!!int", "!!float", "!!bool", "!!null"}
	switch {
	case c == 0xff || depth > 5 || c%4 == 0:
		return scalarNode(tags[int(c)%len(tags)], b.word())
	case c%4 == 1 || c%4 == 2:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		if c%4 == 2 {
			n.Kind, n.Tag = yaml.SequenceNode, "!!seq"
		}
		if c&0x08 != 0 {
			n.Style = yaml.FlowStyle
		}
		count := int(b.next()%4) + 1
		for i := 0; i < count; i++ {
			if n.Kind == yaml.MappingNode {
				n.Content = append(n.Content, scalarNode(tags[int(b.next())%len(tags)], b.word()))
			}
			n.Content = append(n.Content, b.node(depth+1))
		}
		return n
	default:
		return scalarNode("!!str", b.word())
	}
}
