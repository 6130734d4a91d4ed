package manifest

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/modelopt"
)

// Plain strings are those yaml.v3 writes unquoted in block context:
// starting with a letter, _ or /, made of characters that are never special
// there ([A-Za-z0-9_./@=,'+-]), and never read back as another type (a
// number cannot start with a letter; YAML 1.1's words for booleans and null
// are excluded).

var yamlWords = map[string]bool{"y": true, "n": true, "yes": true, "no": true, "on": true, "off": true, "true": true, "false": true, "null": true}

func plain(s string) bool {
	if plainWord(s) {
		return !yamlWords[strings.ToLower(s)]
	}
	// Run ids and fingerprints are hex and may start with a digit: plain
	// unless YAML would read them as a number (0b101, 1e10, 123).
	if isHex(s) {
		// With an a, c, d or f in it, hex is no YAML number: those need
		// only digits, or digits with e (1e10), or 0b and binary digits.
		if strings.ContainsAny(s, "acdf") {
			return true
		}
		if v, ok := hexPlain.Load(s); ok {
			return v.(bool)
		}
		var v any
		ok := yaml.Unmarshal([]byte(s), &v) == nil && v == s
		if len(s) == 64 { // fingerprints recur; run ids do not
			hexPlain.Store(s, ok)
		}
		return ok
	}
	return false
}

// hexPlain caches the verdict for fingerprints, seen again and again.
var hexPlain sync.Map // string → bool

// plainWord is plainRE without the regexp engine (it runs for every
// scalar of every manifest).
func plainWord(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || c == '/') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			continue
		}
		switch c {
		case '_', '.', '/', '@', '=', ',', '\'', '+', '-':
			continue
		}
		return false
	}
	return true
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// resolvedCache holds the encoded "resolved:" section per config
// fingerprint: every run of a format × granularity shares it.
var resolvedCache sync.Map // string → []byte

// encodeFast writes the manifest without the YAML encoder when every scalar
// is plain; ok is false otherwise.
func (m *Manifest) encodeFast() ([]byte, bool) {
	var b bytes.Buffer
	b.Grow(1536)
	ok := true
	str := func(s string) string {
		if s == "" {
			return `""`
		}
		if !plain(s) {
			ok = false
		}
		return s
	}
	val := func(v any) string {
		switch x := v.(type) {
		case nil:
			return "null"
		case bool:
			return strconv.FormatBool(x)
		case int:
			return strconv.Itoa(x)
		case string:
			return str(x)
		}
		ok = false // floats and anything else: the YAML encoder decides
		return ""
	}
	b.WriteString("qrun_manifest: 1\nrun_id: ")
	b.WriteString(str(m.RunID))
	b.WriteString("\nmodel: ")
	b.WriteString(str(m.Model))
	b.WriteByte('\n')
	for _, n := range []struct {
		key string
		n   Name
	}{{"format", m.Format}, {"granularity", m.Granularity}} {
		b.WriteString(n.key + ":\n  name: " + str(n.n.Name) + "\n")
		if n.n.Typed != "" {
			b.WriteString("  typed: " + str(n.n.Typed) + "\n")
		}
		b.WriteString("  fingerprint: " + str(n.n.Fingerprint) + "\n")
	}
	for _, ps := range []struct {
		key string
		ps  []Param
	}{{"params", m.Params}, {"recorded_params", m.Recorded}} {
		if len(ps.ps) == 0 {
			b.WriteString(ps.key + ": {}\n")
			continue
		}
		b.WriteString(ps.key + ":\n")
		for _, p := range ps.ps {
			b.WriteString("  " + str(p.Key) + ": " + val(p.Value) + "\n")
		}
	}
	b.WriteString("config_fingerprint: " + str(m.ConfigFingerprint) + "\n")
	if !ok {
		return nil, false
	}
	res, err := m.resolvedSection()
	if err != nil {
		return nil, false
	}
	b.Write(res)
	b.WriteString("modelopt:\n  target: \"" + m.ModelOpt + "\"\n")
	if _, err := strconv.ParseFloat(m.ModelOpt, 64); err != nil || strings.ContainsAny(m.ModelOpt, "\"\\") {
		return nil, false
	}
	list := func(indent string, items []string) {
		for _, it := range items {
			b.WriteString(indent + "- " + str(it) + "\n")
		}
	}
	if len(m.Notes) == 0 {
		b.WriteString("  notes: []\n")
	} else {
		b.WriteString("  notes:\n")
		list("    ", m.Notes)
	}
	b.WriteString("  recipe: " + RecipeFile + "\n")
	b.WriteString("layout:\n  template: '" + m.LayoutTemplate + "'\n  fingerprint: " + str(m.LayoutFingerprint) + "\n")
	if !layoutRE.MatchString(m.LayoutTemplate) {
		return nil, false
	}
	if len(m.HydraOverrides) == 0 {
		b.WriteString("hydra:\n  overrides: []\n")
	} else {
		b.WriteString("hydra:\n  overrides:\n")
		list("    ", m.HydraOverrides)
	}
	b.WriteString("qrun_version: " + str(m.QrunVersion) + "\n")
	b.WriteString("created: \"" + m.Created + "\"\n")
	if !createdRE.MatchString(m.Created) {
		return nil, false
	}
	b.WriteString("host: " + str(m.Host) + "\n")
	if m.GitCommit != "" {
		b.WriteString("git:\n  commit: " + str(m.GitCommit) + "\n  dirty: " + strconv.FormatBool(m.GitDirty) + "\n")
	}
	if !ok {
		return nil, false
	}
	return b.Bytes(), true
}

// Layout templates are written single-quoted (they start with "{"), and
// created times double-quoted (they would read back as timestamps): only
// these spellings take the fast path.
var (
	layoutRE  = regexp.MustCompile(`^\{[A-Za-z0-9_{}/=,.\-]*$`)
	createdRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$`)
)

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
