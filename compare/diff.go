package compare

import (
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/store"
)

// Field is one fact of a run that a diff compares: its section (identity,
// resolved, recipe, export, metrics), a key within it, and the value as
// text ("" when the run lacks it).
type Field struct {
	Section string `json:"section"`
	Key     string `json:"key"`
	Value   string `json:"-"`
}

// Change is a field whose value differs between two runs; A or B is ""
// where that run lacks the field.
type Change struct {
	Section string `json:"section"`
	Key     string `json:"key"`
	A       string `json:"a"`
	B       string `json:"b"`
}

// Diff lists the fields of a and b whose values differ: a's in its order,
// then those only b has, in b's order.
func Diff(a, b []Field) []Change {
	type key struct{ s, k string }
	bv := map[key]string{}
	for _, f := range b {
		bv[key{f.Section, f.Key}] = f.Value
	}
	seen := map[key]bool{}
	var out []Change
	for _, f := range a {
		k := key{f.Section, f.Key}
		seen[k] = true
		if f.Value != bv[k] {
			out = append(out, Change{f.Section, f.Key, f.Value, bv[k]})
		}
	}
	for _, f := range b {
		if k := (key{f.Section, f.Key}); !seen[k] && f.Value != "" {
			out = append(out, Change{f.Section, f.Key, "", f.Value})
		}
	}
	return out
}

// YAMLFields flattens a YAML mapping into fields of section: nested
// mappings with string keys become dotted keys (weights.num_bits); any
// other value is one field, written in YAML flow style ([4, 3]).
func YAMLFields(section string, doc []byte) ([]Field, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(doc, &n); err != nil {
		return nil, fmt.Errorf("read %s: %w", section, err)
	}
	var out []Field
	if len(n.Content) == 1 {
		flatten(section, "", n.Content[0], &out)
	}
	return out, nil
}

// RecipeFields are a ModelOpt recipe's quant_cfg entries, each keyed by
// what it selects (quantizer name and parent class; a repeated selector is
// numbered, as the later entry wins in ModelOpt), and its other top-level
// settings (algorithm) flattened.
func RecipeFields(recipe []byte) ([]Field, error) {
	var doc struct {
		Quantize yaml.Node `yaml:"quantize"`
	}
	if err := yaml.Unmarshal(recipe, &doc); err != nil {
		return nil, fmt.Errorf("read the recipe: %w", err)
	}
	var out []Field
	q := &doc.Quantize
	for i := 0; i+1 < len(q.Content); i += 2 {
		k, v := q.Content[i].Value, q.Content[i+1]
		if k != "quant_cfg" || v.Kind != yaml.SequenceNode {
			flatten("recipe", k, v, &out)
			continue
		}
		count := map[string]int{}
		for _, e := range v.Content {
			sel := map[string]string{}
			rest := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			for j := 0; j+1 < len(e.Content); j += 2 {
				ek, ev := e.Content[j].Value, e.Content[j+1]
				if ek == "quantizer_name" || ek == "parent_class" {
					sel[ek] = ev.Value
					continue
				}
				rest.Content = append(rest.Content, e.Content[j], ev)
			}
			key := sel["quantizer_name"]
			if pc := sel["parent_class"]; pc != "" {
				key += " in " + pc
			}
			count[key]++
			if c := count[key]; c > 1 {
				key += fmt.Sprintf(" (#%d)", c)
			}
			out = append(out, Field{Section: "recipe", Key: key, Value: flow(rest)})
		}
	}
	return out, nil
}

func flatten(section, prefix string, n *yaml.Node, out *[]Field) {
	if n.Kind == yaml.MappingNode && stringKeys(n) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if prefix != "" {
				k = prefix + "." + k
			}
			flatten(section, k, n.Content[i+1], out)
		}
		return
	}
	*out = append(*out, Field{Section: section, Key: prefix, Value: flow(n)})
}

func stringKeys(n *yaml.Node) bool {
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
			return false
		}
	}
	return len(n.Content) > 0
}

// flow writes n on one line, YAML flow style.
func flow(n *yaml.Node) string {
	c := *n
	setFlow(&c)
	b, err := yaml.Marshal(&c)
	if err != nil {
		return fmt.Sprint(n.Value)
	}
	return strings.TrimSpace(string(b))
}

func setFlow(n *yaml.Node) {
	n.Content = append([]*yaml.Node(nil), n.Content...)
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = yaml.FlowStyle
	}
	for i, c := range n.Content {
		cc := *c
		setFlow(&cc)
		n.Content[i] = &cc
	}
}

// RunFields are what a diff compares of a run: its identity and fingerprints,
// its export verdict, its latest metrics, and, from its run files when
// given (nil when absent), the resolved attributes per role (the
// manifest's resolved block) and the recipe's entries.
func RunFields(r store.Run, metrics map[string]Metric, manifestYAML, recipeYAML []byte) ([]Field, error) {
	out := []Field{
		{"identity", "model", r.Model}, {"identity", "format", r.Format}, {"identity", "granularity", r.Granularity},
		{"identity", "dir", r.Dir}, {"identity", "modelopt", r.ModelOpt}, {"identity", "status", string(r.Status)},
		{"identity", "format_fingerprint", r.FormatFP}, {"identity", "granularity_fingerprint", r.GranularityFP},
		{"identity", "config_fingerprint", r.ConfigFP}, {"identity", "layout_fingerprint", r.LayoutFP},
	}
	if r.KVCache != "" && r.KVCache != store.NoKVCache {
		out = append(out, Field{"identity", "kv_cache", r.KVCache})
	}
	params, err := YAMLFields("params", []byte(r.Params))
	if err != nil {
		return nil, err
	}
	out = append(out, params...)
	if manifestYAML != nil {
		all, err := YAMLFields("resolved", manifestYAML)
		if err != nil {
			return nil, err
		}
		for _, f := range all {
			if k, ok := strings.CutPrefix(f.Key, "resolved."); ok {
				f.Key = k
				out = append(out, f)
			}
		}
	}
	if recipeYAML != nil {
		entries, err := RecipeFields(recipeYAML)
		if err != nil {
			return nil, err
		}
		out = append(out, entries...)
	}
	out = append(out, Field{"export", "verdict", r.Export.Verdict}, Field{"export", "quant_algo", r.Export.QuantAlgo}, Field{"export", "why", r.Export.Why})
	keys := make([]string, 0, len(metrics))
	for k := range metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, Field{"metrics", k, FormatValue(metrics[k].Value)})
	}
	return out, nil
}
