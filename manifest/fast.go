package manifest

import (
	"bytes"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/modelopt"
)

// The fast encoder writes a manifest's fixed layout directly and each
// scalar by one rule, blockScalar: yaml.v3's choice of style, restated for
// the scalars it can decide for certain. Where it cannot decide, the whole
// manifest goes to yaml.v3 (encodeYAML). A sweep writes one manifest per
// run, and yaml.v3 takes about 0.2 ms for one: some 2 s of a 10,000-run
// sweep. FuzzFastEncoderMatchesYAML compares the two byte for byte.

// blockScalar returns a scalar, its text s with its YAML tag (as
// modelopt.ToNode gives them: !!str, !!int, !!float, !!bool, !!null), as
// yaml.v3's encoder writes it in block context (a mapping value, a block
// sequence item, or — with key set — a mapping key), or ok false where it
// does not decide: a value other than one line of printable ASCII, a key
// too long to be a simple key, or a value yaml.v3 would write with an
// explicit tag.
//
// The rule is yaml.v3's (encode.go node, emitterc.go analyze_scalar and
// select_scalar_style): a string that would read back as another type
// (null, a bool, a number, a date; the empty string) is double-quoted;
// otherwise it is plain when no character would change how the line
// reads, and single-quoted when one would.
func blockScalar(tag, s string, key bool) (string, bool) {
	if key && len(s) > 128 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return "", false // line breaks, tabs, other controls, non-ASCII
		}
	}
	read := readsAs(s)
	switch {
	case read != tag && tag != "!!str":
		return "", false // written with an explicit tag
	case read != tag:
		return `"` + doubleQuoted.Replace(s) + `"`, true
	case plainAllowed(s):
		return s, true
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'", true
}

// readsAs is the tag yaml.v3 reads s as, written plain: its own resolver,
// which reads at once as a string whatever starts with a character that
// cannot begin another type (resolve.go's resolveTable).
func readsAs(s string) string {
	if s != "" && strings.IndexByte("+-.0123456789yYnNtTfFoO~<", s[0]) < 0 {
		return "!!str"
	}
	return (&yaml.Node{Kind: yaml.ScalarNode, Value: s}).ShortTag()
}

// doubleQuoted escapes what yaml.v3 escapes in a double-quoted line of
// printable ASCII.
var doubleQuoted = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// plainAllowed is analyze_scalar's block_plain_allowed for one line of
// printable ASCII: no leading or trailing space, no document marker, and
// no indicator that would change how the line reads.
func plainAllowed(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' || strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...") {
		return false
	}
	for i := 0; i < len(s); i++ {
		spaceAfter := i+1 == len(s) || s[i+1] == ' '
		switch c := s[i]; {
		case i == 0 && strings.IndexByte("#,[]{}&*!|>'\"%@`", c) >= 0:
			return false
		case i == 0 && (c == '?' || c == '-') && spaceAfter:
			return false
		case c == ':' && spaceAfter:
			return false
		case i > 0 && c == '#' && s[i-1] == ' ':
			return false
		}
	}
	return true
}

// resolvedCache holds the encoded "resolved:" section per config
// fingerprint: every run of a format × granularity shares it.
var resolvedCache sync.Map // string → []byte

// fastWriter writes YAML lines; ok turns false at the first scalar
// blockScalar does not decide.
type fastWriter struct {
	b  bytes.Buffer
	ok bool
}

// str writes a string scalar.
func (w *fastWriter) str(s string, key bool) {
	out, ok := blockScalar("!!str", s, key)
	w.ok = w.ok && ok
	w.b.WriteString(out)
}

// value writes a plain value: a scalar, or (ok false) anything else.
func (w *fastWriter) value(v any) {
	if s, isStr := v.(string); isStr {
		w.str(s, false)
		return
	}
	n := modelopt.ToNode(v)
	out, ok := blockScalar(n.Tag, n.Value, false)
	w.ok = w.ok && ok && n.Kind == yaml.ScalarNode
	w.b.WriteString(out)
}

// section writes a section encoded elsewhere; its error turns ok false.
func (w *fastWriter) section(b []byte, err error) {
	if err != nil {
		w.ok = false
		return
	}
	w.b.Write(b)
}

// field writes "indent key: s"; key is one of the manifest's own keys,
// plain as it stands.
func (w *fastWriter) field(indent, key, s string) {
	w.b.WriteString(indent)
	w.b.WriteString(key)
	w.b.WriteString(": ")
	w.str(s, false)
	w.b.WriteByte('\n')
}

func (w *fastWriter) params(key string, ps []Param) {
	if len(ps) == 0 {
		w.b.WriteString(key + ": {}\n")
		return
	}
	w.b.WriteString(key + ":\n")
	for _, p := range ps {
		w.b.WriteString("  ")
		w.str(p.Key, true)
		w.b.WriteString(": ")
		w.value(p.Value)
		w.b.WriteByte('\n')
	}
}

func (w *fastWriter) list(indent, key string, items []string) {
	if len(items) == 0 {
		w.b.WriteString(indent + key + ": []\n")
		return
	}
	w.b.WriteString(indent + key + ":\n")
	for _, it := range items {
		w.b.WriteString(indent)
		w.b.WriteString("  - ")
		w.str(it, false)
		w.b.WriteByte('\n')
	}
}

// encodeFast writes the manifest as encodeYAML does; ok is false when a
// scalar is not one blockScalar decides.
func (m *Manifest) encodeFast() ([]byte, bool) {
	w := &fastWriter{ok: true}
	w.b.Grow(1536)
	w.b.WriteString("qrun_manifest: " + strconv.Itoa(SchemaVersion) + "\n")
	w.field("", "run_id", m.RunID)
	w.field("", "model", m.Model)
	names := []struct {
		key string
		n   Name
	}{{"format", m.Format}, {"granularity", m.Granularity}}
	if m.KVCache != nil {
		names = append(names, struct {
			key string
			n   Name
		}{"kv_cache", *m.KVCache})
	}
	for _, n := range names {
		w.b.WriteString(n.key + ":\n")
		w.field("  ", "name", n.n.Name)
		if n.n.Typed != "" {
			w.field("  ", "typed", n.n.Typed)
		}
		w.field("  ", "fingerprint", n.n.Fingerprint)
	}
	w.params("params", m.Params)
	w.params("recorded_params", m.Recorded)
	w.field("", "config_fingerprint", m.ConfigFingerprint)
	if !w.ok {
		return nil, false
	}
	w.section(m.resolvedSection())
	w.b.WriteString("modelopt:\n")
	w.field("  ", "target", m.ModelOpt)
	w.list("  ", "notes", m.Notes)
	w.field("  ", "recipe", RecipeFile)
	if m.Export != nil {
		w.section(m.exportSection())
	}
	w.b.WriteString("layout:\n")
	w.field("  ", "template", m.LayoutTemplate)
	w.field("  ", "fingerprint", m.LayoutFingerprint)
	w.b.WriteString("hydra:\n")
	w.list("  ", "overrides", m.HydraOverrides)
	w.field("", "qrun_version", m.QrunVersion)
	w.field("", "created", m.Created)
	w.field("", "host", m.Host)
	if m.GitCommit != "" {
		w.b.WriteString("git:\n")
		w.field("  ", "commit", m.GitCommit)
		w.b.WriteString("  dirty: " + strconv.FormatBool(m.GitDirty) + "\n")
	}
	if !w.ok {
		return nil, false
	}
	return w.b.Bytes(), true
}

// resolvedSection encodes "resolved:" through yaml.v3, once per config.
func (m *Manifest) resolvedSection() ([]byte, error) {
	if m.ConfigFingerprint != "" {
		if b, ok := resolvedCache.Load(m.ConfigFingerprint); ok {
			return b.([]byte), nil
		}
	}
	b, err := modelopt.Marshal(mapping("resolved", mapping("weights", modelopt.ToNode(m.Weights), "activations", modelopt.ToNode(m.Activations))))
	if err != nil {
		return nil, err
	}
	if m.ConfigFingerprint != "" {
		resolvedCache.Store(m.ConfigFingerprint, b)
	}
	return b, nil
}

// exportCache holds the encoded "export:" section by its content: every run
// of a format × granularity shares it.
var exportCache sync.Map // Export → []byte

// exportSection encodes "export:" through yaml.v3, once per verdict.
func (m *Manifest) exportSection() ([]byte, error) {
	if b, ok := exportCache.Load(*m.Export); ok {
		return b.([]byte), nil
	}
	b, err := modelopt.Marshal(mapping("export", m.Export.node()))
	if err != nil {
		return nil, err
	}
	exportCache.Store(*m.Export, b)
	return b, nil
}
