package vocab

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/modelopt"
)

// QuantArgs are compressed-tensors QuantizationArgs (SPEC §9).
type QuantArgs struct {
	NumBits        int
	Type           string // int | float
	Symmetric      bool
	Strategy       string // tensor | channel | group | block | token | tensor_group | attn_head
	GroupSize      int
	BlockStructure []int
	Dynamic        any // false | true | "local"
	Actorder       any // nil | false | "group" | "weight" | "static" | "dynamic"
}

// Group is one config group of an llm-compressor recipe: what it targets and
// how it quantizes weights and input activations (nil: not quantized).
type Group struct {
	Name        string
	Targets     []string
	Weights     *QuantArgs
	Activations *QuantArgs
	Scheme      string // the preset scheme it came from, if any
}

// Candidate is a qrun format × granularity that reproduces a group.
type Candidate struct {
	Format      string `json:"format"`
	Granularity string `json:"granularity"`
}

// GroupMatch is the answer for one config group.
type GroupMatch struct {
	Group      string      `json:"group"`
	Scheme     string      `json:"scheme,omitempty"`
	Targets    []string    `json:"targets"`
	Weights    string      `json:"weights"`
	Activation string      `json:"input_activations"`
	Matches    []Candidate `json:"matches"`
	Unmatched  []string    `json:"unmatched,omitempty"` // parts with no ModelOpt equivalent, and why
	Notes      []string    `json:"notes,omitempty"`
}

// ErrNoEquivalent marks a recipe part that ModelOpt cannot reproduce.
var ErrNoEquivalent = errors.New("no ModelOpt equivalent")

// presets are compressed-tensors 0.18's preset schemes (SPEC §9).
func preset(name string) (w, a *QuantArgs, ok bool) {
	intW := func(bits int, strategy string, group int) *QuantArgs {
		return &QuantArgs{NumBits: bits, Type: "int", Symmetric: true, Strategy: strategy, GroupSize: group, Dynamic: false}
	}
	switch strings.ToUpper(name) {
	case "W4A16":
		return intW(4, "group", 128), nil, true
	case "W8A16":
		return intW(8, "group", 128), nil, true
	case "W4A8":
		return intW(4, "group", 128), &QuantArgs{NumBits: 8, Type: "int", Symmetric: true, Strategy: "token", Dynamic: true}, true
	case "W8A8", "INT8":
		return intW(8, "channel", 0), &QuantArgs{NumBits: 8, Type: "int", Symmetric: true, Strategy: "token", Dynamic: true}, true
	case "W4AFP8":
		return intW(4, "group", 128), &QuantArgs{NumBits: 8, Type: "float", Symmetric: true, Strategy: "token", Dynamic: true}, true
	case "FP8":
		return &QuantArgs{NumBits: 8, Type: "float", Symmetric: true, Strategy: "tensor", Dynamic: false},
			&QuantArgs{NumBits: 8, Type: "float", Symmetric: true, Strategy: "tensor", Dynamic: false}, true
	case "FP8_DYNAMIC":
		return &QuantArgs{NumBits: 8, Type: "float", Symmetric: true, Strategy: "channel", Dynamic: false},
			&QuantArgs{NumBits: 8, Type: "float", Symmetric: true, Strategy: "token", Dynamic: true}, true
	case "FP8_BLOCK":
		return &QuantArgs{NumBits: 8, Type: "float", Symmetric: true, Strategy: "block", BlockStructure: []int{128, 128}, Dynamic: false},
			&QuantArgs{NumBits: 8, Type: "float", Symmetric: true, Strategy: "group", GroupSize: 128, Dynamic: true}, true
	case "NVFP4":
		return &QuantArgs{NumBits: 4, Type: "float", Symmetric: true, Strategy: "tensor_group", GroupSize: 16, Dynamic: false},
			&QuantArgs{NumBits: 4, Type: "float", Symmetric: true, Strategy: "tensor_group", GroupSize: 16, Dynamic: "local"}, true
	case "NVFP4A16":
		return &QuantArgs{NumBits: 4, Type: "float", Symmetric: true, Strategy: "tensor_group", GroupSize: 16, Dynamic: false}, nil, true
	case "MXFP4":
		return &QuantArgs{NumBits: 4, Type: "float", Symmetric: true, Strategy: "group", GroupSize: 32, Dynamic: false},
			&QuantArgs{NumBits: 4, Type: "float", Symmetric: true, Strategy: "group", GroupSize: 32, Dynamic: true}, true
	case "MXFP8":
		return &QuantArgs{NumBits: 8, Type: "float", Symmetric: true, Strategy: "group", GroupSize: 32, Dynamic: false},
			&QuantArgs{NumBits: 8, Type: "float", Symmetric: true, Strategy: "group", GroupSize: 32, Dynamic: true}, true
	}
	return nil, nil, false
}

// ParseRecipe reads an llm-compressor recipe: a QuantizationModifier or
// GPTQModifier (at any nesting of stages and modifier lists) with
// config_groups, or with scheme: a preset name (or {PRESET: [targets]}).
func ParseRecipe(data []byte) ([]Group, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("recipe is larger than %d KiB", MaxFileSize>>10)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("recipe is empty")
		}
		return nil, fmt.Errorf("recipe is not valid YAML: %s", strings.ReplaceAll(strings.TrimPrefix(err.Error(), "yaml: "), "\n", "; "))
	}
	v, err := modelopt.FromNode(&doc)
	if err != nil {
		return nil, fmt.Errorf("recipe: %v", err)
	}
	var mods []map[any]any
	findModifiers(v, &mods)
	if len(mods) == 0 {
		return nil, errors.New("recipe has no QuantizationModifier or GPTQModifier")
	}
	var out []Group
	for _, m := range mods {
		gs, err := modifierGroups(m)
		if err != nil {
			return nil, err
		}
		out = append(out, gs...)
	}
	return out, nil
}

func findModifiers(v any, out *[]map[any]any) {
	switch x := v.(type) {
	case map[any]any:
		for _, k := range modelopt.SortedKeys(x) {
			if k == "QuantizationModifier" || k == "GPTQModifier" {
				if m, ok := x[k].(map[any]any); ok {
					*out = append(*out, m)
					continue
				}
			}
			findModifiers(x[k], out)
		}
	case []any:
		for _, e := range x {
			findModifiers(e, out)
		}
	}
}

func modifierGroups(m map[any]any) ([]Group, error) {
	scheme, hasScheme := m["scheme"]
	groups, hasGroups := m["config_groups"].(map[any]any)
	if hasScheme && hasGroups {
		return nil, errors.New("a modifier has both scheme and config_groups; llm-compressor takes one or the other")
	}
	if hasScheme {
		switch s := scheme.(type) {
		case string:
			w, a, ok := preset(s)
			if !ok {
				return nil, fmt.Errorf("scheme %q is not a compressed-tensors preset (W4A16, W8A16, W4A8, W8A8, INT8, W4AFP8, FP8, FP8_DYNAMIC, FP8_BLOCK, NVFP4, NVFP4A16, MXFP4, MXFP8)", s)
			}
			targets := stringsOf(m["targets"])
			if len(targets) == 0 {
				targets = []string{"Linear"}
			}
			return []Group{{Name: "scheme", Targets: targets, Weights: w, Activations: a, Scheme: strings.ToUpper(s)}}, nil
		case map[any]any:
			var out []Group
			for _, k := range modelopt.SortedKeys(s) {
				name, _ := k.(string)
				w, a, ok := preset(name)
				if !ok {
					return nil, fmt.Errorf("scheme %q is not a compressed-tensors preset", name)
				}
				out = append(out, Group{Name: name, Targets: stringsOf(s[k]), Weights: w, Activations: a, Scheme: strings.ToUpper(name)})
			}
			return out, nil
		}
		return nil, errors.New("scheme must be a preset name or {PRESET: [targets]}")
	}
	if !hasGroups {
		return nil, errors.New("a modifier has neither scheme nor config_groups")
	}
	var out []Group
	for _, k := range modelopt.SortedKeys(groups) {
		g, ok := groups[k].(map[any]any)
		if !ok {
			return nil, fmt.Errorf("config group %v is not a mapping", k)
		}
		grp := Group{Name: fmt.Sprint(k), Targets: stringsOf(g["targets"])}
		var err error
		if grp.Weights, err = quantArgs(g["weights"], false); err != nil {
			return nil, fmt.Errorf("config group %v weights: %v", k, err)
		}
		if grp.Activations, err = quantArgs(g["input_activations"], true); err != nil {
			return nil, fmt.Errorf("config group %v input_activations: %v", k, err)
		}
		out = append(out, grp)
	}
	return out, nil
}

func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

func quantArgs(v any, activation bool) (*QuantArgs, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[any]any)
	if !ok {
		return nil, errors.New("must be a mapping of QuantizationArgs")
	}
	q := &QuantArgs{NumBits: 8, Type: "int", Symmetric: true, Dynamic: false}
	for _, k := range modelopt.SortedKeys(m) {
		val := m[k]
		switch k {
		case "num_bits":
			n, ok := val.(int)
			if !ok || n < 1 {
				return nil, fmt.Errorf("num_bits %s is not a positive integer", modelopt.Format(val))
			}
			q.NumBits = n
		case "type":
			s, _ := val.(string)
			if s != "int" && s != "float" {
				return nil, fmt.Errorf("type %s is not int or float", modelopt.Format(val))
			}
			q.Type = s
		case "symmetric":
			b, ok := val.(bool)
			if !ok {
				return nil, fmt.Errorf("symmetric must be true or false")
			}
			q.Symmetric = b
		case "strategy":
			s, _ := val.(string)
			q.Strategy = s
		case "group_size":
			n, ok := val.(int)
			if !ok || n < 1 {
				return nil, fmt.Errorf("group_size %s is not a positive integer", modelopt.Format(val))
			}
			q.GroupSize = n
		case "block_structure":
			l, ok := val.([]any)
			if !ok || len(l) != 2 {
				return nil, fmt.Errorf("block_structure must be [rows, cols]")
			}
			for _, e := range l {
				n, ok := e.(int)
				if !ok || n < 1 {
					return nil, fmt.Errorf("block_structure must be [rows, cols] of positive integers")
				}
				q.BlockStructure = append(q.BlockStructure, n)
			}
		case "dynamic":
			q.Dynamic = val
		case "actorder":
			q.Actorder = val
		case "observer", "observer_kwargs", "scale_dtype", "zp_dtype":
			// calibration details without a granularity meaning
		default:
			return nil, fmt.Errorf("unknown QuantizationArgs key %s", modelopt.Format(k))
		}
	}
	if q.Strategy == "" {
		switch {
		case q.GroupSize > 0:
			q.Strategy = "group"
		case activation:
			q.Strategy = "tensor"
		default:
			q.Strategy = "tensor"
		}
	}
	return q, nil
}

// String shows the args in compressed-tensors terms.
func (q *QuantArgs) String() string {
	if q == nil {
		return "not quantized"
	}
	s := fmt.Sprintf("%s%d %s", q.Type, q.NumBits, q.Strategy)
	if q.GroupSize > 0 {
		s += fmt.Sprintf(" group_size %d", q.GroupSize)
	}
	if len(q.BlockStructure) == 2 {
		s += fmt.Sprintf(" block %dx%d", q.BlockStructure[0], q.BlockStructure[1])
	}
	switch d := q.Dynamic.(type) {
	case bool:
		if d {
			s += " dynamic"
		} else {
			s += " static"
		}
	case string:
		s += " dynamic=" + d
	}
	if !q.Symmetric {
		s += " asymmetric"
	}
	return s
}

// target turns args into the ModelOpt attributes they mean, or says why
// there is none.
func (q *QuantArgs) target(role modelopt.Role) (modelopt.Attrs, []string) {
	var why []string
	roleName := map[modelopt.Role]string{modelopt.Weights: "weights", modelopt.Activations: "input_activations"}[role]
	if !q.Symmetric {
		why = append(why, roleName+": symmetric: false (asymmetric zero points) — ModelOpt's integer quantization is symmetric")
	}
	if q.Actorder != nil && q.Actorder != false {
		why = append(why, fmt.Sprintf("%s: actorder: %v — a permutation index ModelOpt does not apply", roleName, q.Actorder))
	}
	if s, ok := q.Dynamic.(string); ok && s == "local" && q.Strategy != "tensor_group" {
		why = append(why, roleName+`: dynamic: "local" has no ModelOpt equivalent outside NVFP4`)
	}
	a := modelopt.Attrs{}
	switch q.Type {
	case "int":
		a["num_bits"] = q.NumBits
	case "float":
		switch q.NumBits {
		case 8:
			a["num_bits"] = []any{4, 3}
		case 4:
			a["num_bits"] = []any{2, 1}
		default:
			why = append(why, fmt.Sprintf("%s: float%d has no ModelOpt format (FP8 E4M3 and FP4 E2M1 do)", roleName, q.NumBits))
		}
	}
	dyn, _ := q.Dynamic.(bool)
	switch q.Strategy {
	case "tensor":
		a["axis"] = nil
		if role == modelopt.Activations {
			if dyn {
				a["type"] = "dynamic"
			}
		}
	case "channel":
		if role == modelopt.Activations {
			why = append(why, "input_activations: strategy: channel (per hidden channel) has no qrun granularity")
		}
		a["axis"] = 0
	case "token":
		if role == modelopt.Weights {
			why = append(why, "weights: strategy: token applies to activations only")
		}
		if !dyn {
			why = append(why, "input_activations: strategy: token needs dynamic: true (scales per token at run time)")
		}
		a["axis"], a["type"], a["block_sizes"] = nil, "dynamic", map[any]any{-1: nil}
	case "group":
		if q.GroupSize < 1 {
			why = append(why, roleName+": strategy: group without group_size")
			break
		}
		bt := "static"
		if role == modelopt.Activations && dyn {
			bt = "dynamic"
		}
		if q.Type == "float" && q.GroupSize == 32 {
			a["block_sizes"] = map[any]any{-1: 32, "type": "dynamic", "scale_bits": []any{8, 0}}
		} else {
			a["block_sizes"] = map[any]any{-1: q.GroupSize, "type": bt}
		}
	case "tensor_group":
		a["block_sizes"] = map[any]any{-1: q.GroupSize, "type": "dynamic", "scale_bits": []any{4, 3}}
	case "block":
		if len(q.BlockStructure) != 2 {
			why = append(why, roleName+": strategy: block without block_structure")
			break
		}
		a["block_sizes"] = map[any]any{-2: q.BlockStructure[0], -1: q.BlockStructure[1]}
	case "attn_head":
		why = append(why, roleName+": strategy: attn_head (per attention head) has no ModelOpt equivalent")
	default:
		why = append(why, fmt.Sprintf("%s: strategy %q is not a compressed-tensors strategy", roleName, q.Strategy))
	}
	return a, why
}

// Match finds the qrun format × granularity pairs that reproduce each group
// of a recipe. A group with a part that has no ModelOpt equivalent lists
// that part and why; errors.Is(err, ErrNoEquivalent) is then true for the
// whole answer.
func (v *Vocabulary) Match(groups []Group) ([]GroupMatch, error) {
	var out []GroupMatch
	partial := false
	for _, g := range groups {
		gm := GroupMatch{Group: g.Name, Scheme: g.Scheme, Targets: g.Targets, Weights: g.Weights.String(), Activation: g.Activations.String(), Matches: []Candidate{}}
		if g.Weights == nil {
			gm.Unmatched = append(gm.Unmatched, "weights: not quantized — every qrun format quantizes weights")
		}
		var want map[modelopt.Role]modelopt.Attrs
		if g.Weights != nil {
			want = map[modelopt.Role]modelopt.Attrs{}
			wa, why := g.Weights.target(modelopt.Weights)
			gm.Unmatched = append(gm.Unmatched, why...)
			want[modelopt.Weights] = wa
			if g.Activations != nil {
				aa, why := g.Activations.target(modelopt.Activations)
				gm.Unmatched = append(gm.Unmatched, why...)
				want[modelopt.Activations] = aa
			}
		}
		if g.Weights != nil && g.Weights.Type == "int" || g.Activations != nil && g.Activations.Type == "int" {
			gm.Notes = append(gm.Notes, "integer scales: compressed-tensors divides by 7.5/127.5, ModelOpt by 7/127; results differ slightly")
		}
		if !containsFold(g.Targets, "Linear") && len(g.Targets) > 0 {
			gm.Notes = append(gm.Notes, fmt.Sprintf("targets %v: qrun formats quantize every Linear layer (lm_head and routers excluded by ModelOpt's defaults)", g.Targets))
		}
		if strings.EqualFold(g.Scheme, "W4A8") {
			gm.Notes = append(gm.Notes, "naming trap: this is llm-compressor's W4A8 (int8 per-token dynamic activations), not ModelOpt's w4a8_awq_beta (FP8 activations)")
		}
		if len(gm.Unmatched) == 0 {
			gm.Matches = v.candidates(want)
			if len(gm.Matches) == 0 {
				gm.Unmatched = append(gm.Unmatched, "no format × granularity in the vocabulary gives these attributes; define a format or granularity for them")
			}
		}
		if len(gm.Unmatched) > 0 {
			partial = true
		}
		out = append(out, gm)
	}
	if partial {
		return out, ErrNoEquivalent
	}
	return out, nil
}

// NearestMatches answers, for groups that fail only on what ModelOpt
// cannot do (asymmetric zero points, activation reordering), which pair
// would match with those dropped: the closest run qrun can plan, keyed by
// the group's index. A group that matches as it is gets its first match; one
// that matches nothing even so has no entry.
func (v *Vocabulary) NearestMatches(groups []Group) map[int]Candidate {
	relaxed := make([]Group, len(groups))
	for i, g := range groups {
		relaxed[i] = g
		for _, q := range []**QuantArgs{&relaxed[i].Weights, &relaxed[i].Activations} {
			if *q != nil {
				c := **q
				c.Symmetric, c.Actorder = true, nil
				*q = &c
			}
		}
	}
	ms, _ := v.Match(relaxed)
	out := map[int]Candidate{}
	for i, m := range ms {
		if len(m.Unmatched) == 0 && len(m.Matches) > 0 {
			out[i] = m.Matches[0]
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

// candidates lists every format × granularity whose resolved roles equal
// the wanted attributes (weights; activations, or none quantized).
// Granularity default comes first, then built-ins, then by name.
func (v *Vocabulary) candidates(want map[modelopt.Role]modelopt.Attrs) []Candidate {
	var out []Candidate
	for _, f := range v.Formats() {
		if f.Retired {
			continue
		}
		for _, g := range v.Granularities() {
			if g.Retired {
				continue
			}
			r, err := v.Resolve(f.Name, g.Name)
			if err != nil {
				continue
			}
			if rolesEqual(r.Config, want) {
				out = append(out, Candidate{Format: f.Name, Granularity: g.Name})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return (out[i].Granularity == "default") && (out[j].Granularity != "default")
	})
	return out
}

// rolesEqual compares a config's roles with wanted attributes, ignoring
// effective_bits (autoquant metadata) and spelling differences that mean
// the same: axis absent = null; block_sizes type absent = static.
func rolesEqual(c modelopt.Config, want map[modelopt.Role]modelopt.Attrs) bool {
	for _, r := range modelopt.Roles {
		got := c.RoleAttrs(r)
		i := c.RoleIndex(r)
		if i >= 0 && c.Entries[i].Stages != nil {
			return false // a sequential quantizer is not one compressed-tensors quantizer
		}
		w, wanted := want[r]
		if !wanted {
			if got != nil {
				return false
			}
			continue
		}
		if got == nil || !modelopt.Equal(normalizeAttrs(got), normalizeAttrs(w)) {
			return false
		}
	}
	return true
}

func normalizeAttrs(a modelopt.Attrs) map[any]any {
	m := a.Clone().Value()
	delete(m, "effective_bits")
	if ax, ok := m["axis"]; ok && ax == nil {
		delete(m, "axis")
	}
	if t, ok := m["type"]; ok && t == "static" {
		delete(m, "type")
	}
	if bs, ok := m["block_sizes"].(map[any]any); ok {
		if bs["type"] == "static" {
			delete(bs, "type")
		}
	}
	return m
}
