package vocab

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/qrun-dev/qrun/modelopt"
)

// Candidate is a qrun format × granularity that reproduces a group.
type Candidate struct {
	Format      string `json:"format"`
	Granularity string `json:"granularity"`
}

// GroupMatch is the answer for one config group.
type GroupMatch struct {
	GroupSummary
	Matches   []Candidate
	Unmatched []string // parts no qrun selection reproduces, and why
	Notes     []string
}

// GroupSummary is what a config group asks for, as the answer shows it
// (its json tags are the names qrun vocab match --json gives its fields).
type GroupSummary struct {
	Group      string   `json:"group"`
	Modifier   string   `json:"modifier"`
	Scheme     string   `json:"scheme,omitempty"`
	Targets    []string `json:"targets"`
	Ignore     []string `json:"ignore"`
	Weights    string   `json:"weights"`
	Activation string   `json:"input_activations"`
	Outputs    string   `json:"output_activations"`
}

// KVMatch is the answer for a recipe's kv_cache_scheme: the qrun KV-cache
// values of the same meaning, or why there is none.
type KVMatch struct {
	Scheme    string   `json:"scheme"`
	Modifier  string   `json:"modifier"`
	Matches   []string `json:"matches"`
	Unmatched []string `json:"unmatched,omitempty"`
	Notes     []string `json:"notes,omitempty"`
}

// RecipeMatch is the answer for a whole recipe.
type RecipeMatch struct {
	Groups    []GroupMatch
	KV        *KVMatch // nil: the recipe has no kv_cache_scheme (kv_cache none)
	Unmatched []string // recipe parts outside the groups with no equivalent
	Notes     []string
}

// KVCacheValue is the qrun kv_cache the recipe means: none without a
// kv_cache_scheme, the first match with one, "" when there is none.
func (m *RecipeMatch) KVCacheValue() string {
	if m.KV == nil {
		return NoKVCache
	}
	if len(m.KV.Unmatched) == 0 && len(m.KV.Matches) > 0 {
		return m.KV.Matches[0]
	}
	return ""
}

// Full reports whether every part of the recipe has a qrun equivalent.
func (m *RecipeMatch) Full() bool {
	if len(m.Unmatched) > 0 || m.KVCacheValue() == "" || len(m.Groups) == 0 {
		return false
	}
	for _, g := range m.Groups {
		if len(g.Unmatched) > 0 {
			return false
		}
	}
	return true
}

// ErrNoEquivalent marks a recipe part no qrun selection reproduces: one
// ModelOpt cannot do, or one the vocabulary has no name for.
var ErrNoEquivalent = errors.New("no qrun equivalent")

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
	if q.ScaleDtype != "" {
		s += " scale_dtype " + q.ScaleDtype
	}
	if q.Actorder != "" {
		s += " actorder " + q.Actorder
	}
	return s
}

func (q *QuantArgs) dynamic() bool { d, _ := q.Dynamic.(bool); return d }

func (q *QuantArgs) local() bool { d, _ := q.Dynamic.(string); return d == "local" }

// mx reports compressed-tensors' MX rule (should_generate_mx_scales): float
// 4- or 8-bit in groups of 32 with uint8 (E8M0) scales.
func (q *QuantArgs) mx() bool {
	return q.Type == "float" && (q.NumBits == 4 || q.NumBits == 8) && q.Strategy == "group" && q.GroupSize == 32 && q.ScaleDtype == "uint8"
}

// roleKV is the KV cache's quantizers (*[kv]_bmm_quantizer), for target
// only: it reads args as activations are read.
const roleKV modelopt.Role = "kv_cache"

// role names for messages.
var roleNames = map[modelopt.Role]string{modelopt.Weights: "weights", modelopt.Activations: "input_activations", roleKV: "kv_cache_scheme"}

// target turns args into the ModelOpt attributes they mean, or says why
// there is none. Notes are true differences that do not change the
// configuration.
func (q *QuantArgs) target(role modelopt.Role) (a modelopt.Attrs, why, notes []string) {
	roleName := roleNames[role]
	acts := role != modelopt.Weights
	if !q.Symmetric {
		if q.Type == "float" {
			why = append(why, roleName+": symmetric: false (asymmetric zero points) — ModelOpt's FP8/FP4 quantization is symmetric")
		} else {
			why = append(why, roleName+": symmetric: false (asymmetric zero points) — ModelOpt's integer quantization is symmetric")
		}
	}
	switch q.Actorder {
	case "group":
		why = append(why, roleName+": actorder: group — a permutation index (g_idx) ModelOpt does not apply")
	case "weight":
		notes = append(notes, roleName+": actorder: weight — GPTQ's column order while calibrating; the stored layout and granularity are unchanged (no g_idx), so it maps")
	}
	a = modelopt.Attrs{}
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
			why = append(why, fmt.Sprintf("%s: float%d — compressed-tensors' float types are FP8 E4M3 and FP4 E2M1 (it refuses other widths)", roleName, q.NumBits))
		}
	}
	dyn := q.dynamic()
	switch q.Strategy {
	case "tensor":
		a["axis"] = nil
		if acts && dyn {
			a["type"] = "dynamic"
		}
	case "channel":
		if acts {
			why = append(why, roleName+": strategy: channel (per hidden channel) has no qrun granularity (compressed-tensors refuses it for activations too)")
		}
		a["axis"] = 0
	case "token":
		if !acts {
			why = append(why, "weights: strategy: token applies to activations only")
		}
		if !dyn {
			why = append(why, roleName+": strategy: token needs dynamic: true (scales per token at run time)")
		}
		a["axis"], a["type"], a["block_sizes"] = nil, "dynamic", map[any]any{-1: nil}
	case "group":
		switch {
		case q.mx():
			// MX: E8M0 (power-of-two) scales per group of 32, computed
			// from the values themselves (ModelOpt: dynamic blocks with
			// scale_bits [8, 0]).
			if acts && !dyn {
				why = append(why, roleName+": MX groups with dynamic: false (calibrated per-group scales) — ModelOpt computes MX activation scales at run time")
			}
			a["block_sizes"] = map[any]any{-1: 32, "type": "dynamic", "scale_bits": []any{8, 0}}
		default:
			if q.Type == "float" && q.GroupSize == 32 {
				sd := q.ScaleDtype
				if sd == "" {
					sd = "unset (float scales)"
				}
				notes = append(notes, fmt.Sprintf("%s: float%d groups of 32 with scale_dtype %s are not MX — MX needs E8M0 scales (scale_dtype: uint8), so the mx formats do not match", roleName, q.NumBits, sd))
			}
			if q.ScaleDtype == "uint8" {
				why = append(why, fmt.Sprintf("%s: scale_dtype uint8 outside MX — compressed-tensors makes E8M0 (MX) scales only for float4/float8 in groups of 32; otherwise it rounds the scales to integers, which no qrun format does", roleName))
			}
			bt := "static"
			if acts && dyn {
				bt = "dynamic"
			}
			a["block_sizes"] = map[any]any{-1: q.GroupSize, "type": bt}
		}
	case "tensor_group":
		if q.Type != "float" || q.NumBits != 4 {
			why = append(why, fmt.Sprintf("%s: strategy: tensor_group (a per-tensor global scale times per-group scales) with %s%d — the only qrun formats with two-level scales are NVFP4's (float4 in groups of 16)", roleName, q.Type, q.NumBits))
		}
		if q.ScaleDtype != "" && q.ScaleDtype != "float8_e4m3fn" {
			why = append(why, fmt.Sprintf("%s: tensor_group with scale_dtype %s — NVFP4's group scales are FP8 E4M3", roleName, q.ScaleDtype))
		}
		if acts && q.local() && q.Type == "float" && q.NumBits == 4 && q.GroupSize == 16 {
			notes = append(notes, roleName+": dynamic: local — a calibrated per-tensor global scale, per-block FP8 scales at run time: ModelOpt's NVFP4 activations are the same (its block_sizes type: dynamic, amax calibrated)")
		}
		if acts {
			switch {
			case dyn:
				why = append(why, roleName+": NVFP4 with dynamic: true (the per-tensor global scale computed at run time too) — ModelOpt's NVFP4 activations are dynamic-local: a calibrated per-tensor global scale, per-block scales at run time (compressed-tensors' dynamic: local)")
			case !q.local():
				why = append(why, roleName+": NVFP4 with dynamic: false (calibrated per-group scales) — ModelOpt's NVFP4 activations are dynamic-local: per-block scales at run time (compressed-tensors' dynamic: local)")
			}
		}
		if q.ScaleDtype == "" && q.Type == "float" && q.NumBits == 4 {
			notes = append(notes, roleName+": tensor_group without scale_dtype: compressed-tensors 0.18 rounds the group scales to FP8 only with scale_dtype: float8_e4m3fn (as its NVFP4 presets set); ModelOpt's NVFP4 scales are always FP8 E4M3")
		}
		a["block_sizes"] = map[any]any{-1: q.GroupSize, "type": "dynamic", "scale_bits": []any{4, 3}}
	case "block":
		a["block_sizes"] = map[any]any{-2: q.BlockStructure[0], -1: q.BlockStructure[1]}
	case "attn_head":
		why = append(why, roleName+": strategy: attn_head (one scale per attention head) — no qrun granularity or KV-cache value has per-head scales")
	default:
		why = append(why, fmt.Sprintf("%s: strategy %q is not a compressed-tensors strategy", roleName, q.Strategy))
	}
	if role == modelopt.Activations && dyn && q.Strategy != "tensor" && q.Strategy != "token" && q.Strategy != "group" && q.Strategy != "tensor_group" {
		why = append(why, fmt.Sprintf("%s: dynamic: true with strategy %s — compressed-tensors refuses it (dynamic needs token, tensor, group or tensor_group)", roleName, q.Strategy))
	}
	return a, why, notes
}

// targetKind sorts a compressed-tensors target: "re:" regexes and dotted or
// lower-case names are module names; a capitalised word is a module class.
func targetKind(t string) string {
	switch {
	case strings.HasPrefix(t, "re:"):
		return "regex"
	case t == "":
		return "name"
	case strings.Contains(t, ".") || !(t[0] >= 'A' && t[0] <= 'Z'):
		return "name"
	}
	return "class"
}

func (v *Vocabulary) matchGroup(g Group) GroupMatch {
	gm := GroupMatch{GroupSummary: GroupSummary{Group: g.Name, Modifier: g.Modifier, Scheme: g.Scheme, Targets: g.Targets, Ignore: g.Ignore,
		Weights: g.Weights.String(), Activation: g.Activations.String(), Outputs: g.Outputs.String()}, Matches: []Candidate{}}
	if g.Weights == nil && g.Activations == nil && g.Outputs == nil {
		gm.Unmatched = append(gm.Unmatched, fmt.Sprintf("scheme %s quantizes nothing: every qrun format quantizes Linear weights", g.Scheme))
	} else if g.Weights == nil {
		gm.Unmatched = append(gm.Unmatched, "weights: not quantized — every qrun format quantizes weights")
	}
	// Targets: Linear by class, layers by name or regex; other classes
	// are not what a qrun format's quantizers are.
	linear, byName := false, false
	for _, t := range g.Targets {
		switch targetKind(t) {
		case "regex", "name":
			byName = true
			if strings.Contains(t, "lm_head") {
				gm.Notes = append(gm.Notes, fmt.Sprintf("target %s names lm_head: every qrun format leaves lm_head unquantized (ModelOpt's default-disabled *lm_head*)", t))
			}
		case "class":
			switch {
			case t == "Linear":
				linear = true
			case t == "Embedding":
				gm.Unmatched = append(gm.Unmatched, "targets Embedding: every qrun format leaves nn.Embedding unquantized (ModelOpt's default-disabled entry for nn.Embedding); qrun formats quantize Linear layers")
			case strings.HasSuffix(t, "Attention"):
				gm.Unmatched = append(gm.Unmatched, fmt.Sprintf("targets %s: an attention module — compressed-tensors quantizes its queries, keys and values; qrun's kv_cache axis quantizes keys and values only, and no qrun selection quantizes queries", t))
			default:
				gm.Unmatched = append(gm.Unmatched, fmt.Sprintf("targets %s: a module class other than Linear — compressed-tensors quantizes it only if it is a Linear subclass, an Embedding or an attention module, and a qrun format's quantizers are not restricted to it, so no qrun selection is claimed for this group", t))
			}
		}
	}
	if len(g.Targets) == 0 {
		gm.Unmatched = append(gm.Unmatched, "targets: none — the group quantizes no module")
	}
	if byName {
		gm.Notes = append(gm.Notes, fmt.Sprintf("targets %v: by layer name — a qrun run quantizes every Linear layer (lm_head and routers excluded by ModelOpt's defaults), so this group's selection holds for these layers only", g.Targets))
	}
	if linear {
		hasLMHead := false
		var others []string
		for _, i := range g.Ignore {
			if strings.Contains(i, "lm_head") {
				hasLMHead = true
			} else {
				others = append(others, i)
			}
		}
		if !hasLMHead {
			gm.Notes = append(gm.Notes, "ignore does not name lm_head: llm-compressor quantizes lm_head too; every qrun format leaves it unquantized (ModelOpt's default-disabled *lm_head*)")
		}
		if len(others) > 0 {
			gm.Notes = append(gm.Notes, fmt.Sprintf("ignore %v: llm-compressor leaves these unquantized; a qrun run leaves ModelOpt's default-disabled layers unquantized instead (lm_head, routers, mlp.gate, vision towers, …)", others))
		}
	}
	var want map[modelopt.Role]modelopt.Attrs
	if g.Weights != nil {
		want = map[modelopt.Role]modelopt.Attrs{}
		wa, why, notes := g.Weights.target(modelopt.Weights)
		gm.Unmatched = append(gm.Unmatched, why...)
		gm.Notes = append(gm.Notes, notes...)
		want[modelopt.Weights] = wa
	}
	if g.Activations != nil {
		aa, why, notes := g.Activations.target(modelopt.Activations)
		gm.Unmatched = append(gm.Unmatched, why...)
		gm.Notes = append(gm.Notes, notes...)
		if want != nil {
			want[modelopt.Activations] = aa
		}
	}
	if g.Outputs != nil {
		gm.Unmatched = append(gm.Unmatched, fmt.Sprintf("output_activations (%s): quantizing a layer's outputs is part of no qrun selection — qrun formats set weight and input quantizers, and the attention's keys and values are the kv_cache axis (kv_cache_scheme)", g.Outputs))
	}
	if g.Weights != nil && g.Weights.Type == "int" || g.Activations != nil && g.Activations.Type == "int" {
		gm.Notes = append(gm.Notes, "integer scales: compressed-tensors divides by 7.5/127.5, ModelOpt by 7/127; results differ slightly")
	}
	if strings.EqualFold(g.Scheme, "W4A8") {
		gm.Notes = append(gm.Notes, "naming trap: this is llm-compressor's W4A8 (int8 per-token dynamic activations), not ModelOpt's w4a8_awq_beta (FP8 activations)")
	}
	if strings.EqualFold(g.Scheme, "W4AFP8") {
		gm.Notes = append(gm.Notes, "naming trap: W4AFP8 (int4 groups of 128, FP8 per-token dynamic activations) is not ModelOpt's w4a8_awq_beta, whose FP8 activations are per-tensor static and whose weights have a second FP8 stage")
	}
	calib := append([]string(nil), g.CalibratedBy...)
	if g.Modifier == "GPTQModifier" || g.Modifier == "AutoRoundModifier" {
		calib = append([]string{g.Modifier}, calib...)
	}
	if len(calib) > 0 {
		gm.Notes = append(gm.Notes, fmt.Sprintf("calibrated by %s: it chooses the rounding, not the format — the qrun format calibrates with its own algorithm (qrun vocab show FORMAT), so the values differ while the configuration corresponds", strings.Join(calib, ", ")))
	}
	if len(gm.Unmatched) == 0 {
		prefer := preferredAlgorithm(g.Transforms)
		gm.Matches = v.candidates(want, prefer)
		if len(gm.Matches) > 0 && prefer != "" {
			if f, err := v.Format(gm.Matches[0].Format); err == nil {
				if got := algorithmMethod(f.Config.Algorithm); got != prefer {
					why := ""
					if g.Activations != nil && g.Activations.Strategy == "token" {
						why = " (ModelOpt's SmoothQuant and AWQ calibration crash with per-token dynamic activations, T14)"
					}
					gm.Notes = append(gm.Notes, fmt.Sprintf("no format calibrating with %s gives these attributes in a combination qrun plans%s, so the selection calibrates with %s", prefer, why, orNone(got)))
				}
			}
		}
		if len(gm.Matches) == 0 {
			gm.Unmatched = append(gm.Unmatched, fmt.Sprintf("no format × granularity in the vocabulary gives these attributes (weights %s; input_activations %s); define a format or granularity for them", attrsOrNone(want, modelopt.Weights), attrsOrNone(want, modelopt.Activations)))
		}
	}
	return gm
}

// preferredAlgorithm is the ModelOpt calibration a recipe's transforms
// correspond to: AWQ for AWQModifier, SmoothQuant for SmoothQuantModifier.
func preferredAlgorithm(transforms []string) string {
	for _, t := range transforms {
		switch t {
		case "AWQModifier":
			// llm-compressor's AWQ searches per-channel scales (no
			// clipping search): ModelOpt's awq_lite
			return "awq_lite"
		case "SmoothQuantModifier":
			return "smoothquant"
		}
	}
	return ""
}

func attrsOrNone(want map[modelopt.Role]modelopt.Attrs, r modelopt.Role) string {
	if a, ok := want[r]; ok {
		return a.String()
	}
	return "not quantized"
}

// matchKV maps a kv_cache_scheme to the vocabulary's KV-cache entries of
// the same meaning. compressed-tensors' static per-tensor KV scheme
// (dynamic: false) calibrates one scale per tensor from the calibration
// data, which is ModelOpt's fp8 preset ({num_bits: [4, 3], axis: null},
// amax calibrated); fp8_cast sets use_constant_amax — a fixed amax with no
// calibration — so it is not the same meaning and never matches.
func (v *Vocabulary) matchKV(q *QuantArgs, modifier string) *KVMatch {
	km := &KVMatch{Scheme: q.String(), Modifier: modifier, Matches: []string{}}
	a, why, notes := q.target(roleKV)
	km.Unmatched, km.Notes = why, notes
	if q.Type == "int" {
		km.Unmatched = append(km.Unmatched, fmt.Sprintf("kv_cache_scheme: int%d — ModelOpt's KV-cache presets are FP8 or NVFP4", q.NumBits))
	}
	if q.Strategy == "token" || q.Strategy == "group" && !q.mx() || q.Strategy == "channel" || q.Strategy == "block" {
		km.Unmatched = append(km.Unmatched, fmt.Sprintf("kv_cache_scheme: strategy %s — ModelOpt's KV-cache presets use one scale per tensor (fp8) or per block of 16 (nvfp4)", q.Strategy))
	}
	if q.Strategy == "tensor" && q.dynamic() {
		km.Unmatched = append(km.Unmatched, "kv_cache_scheme: dynamic: true (a scale computed at run time) — ModelOpt's FP8 KV-cache scales are static: calibrated (fp8) or a constant amax (fp8_cast)")
	}
	if len(km.Unmatched) > 0 {
		return km
	}
	for _, c := range v.KVCaches() {
		if c.Retired || c.None() || len(c.Entries) != 1 || c.Algorithm != nil {
			continue
		}
		e := c.Entries[0]
		if e.QuantizerName != "*[kv]_bmm_quantizer" || e.Stages != nil || e.Cfg == nil || e.Enable != nil && !*e.Enable || e.ParentClass != "" {
			continue
		}
		if modelopt.Equal(normalizeAttrs(e.Cfg), normalizeAttrs(a)) {
			km.Matches = append(km.Matches, c.Name)
		}
	}
	if len(km.Matches) == 0 {
		km.Unmatched = append(km.Unmatched, fmt.Sprintf("no kv_cache value in the vocabulary gives these attributes (%s); define a KV-cache entry for them", a))
	}
	return km
}

// MatchRecipe finds, for each config group of a recipe, the qrun format ×
// granularity pairs that reproduce it, and the kv_cache value of its
// kv_cache_scheme. A part no qrun selection reproduces is listed with why;
// errors.Is(err, ErrNoEquivalent) is then true for the whole answer.
func (v *Vocabulary) MatchRecipe(r *Recipe) (*RecipeMatch, error) {
	out := &RecipeMatch{Unmatched: r.Unmatched, Notes: r.Notes}
	for _, g := range r.Groups {
		out.Groups = append(out.Groups, v.matchGroup(g))
	}
	if r.KVCache != nil {
		out.KV = v.matchKV(r.KVCache, r.KVModifier)
	}
	if len(r.Groups) == 0 {
		out.Unmatched = append(out.Unmatched, "the recipe quantizes no Linear layer (only the KV cache, or nothing): every qrun format quantizes Linear weights")
	}
	if !out.Full() {
		return out, ErrNoEquivalent
	}
	return out, nil
}

// Relaxed is a pair that would match a group with the named parts changed.
type Relaxed struct {
	Candidate
	Changed []string
}

// NearestMatches answers, for groups that fail only on what ModelOpt
// cannot do (asymmetric zero points, activation reordering, fully dynamic
// NVFP4 activations), which pair would match with those changed: the
// closest run qrun can plan, keyed by the group's index. A group that
// matches as it is gets its first match; one that matches nothing even so
// has no entry.
func (v *Vocabulary) NearestMatches(groups []Group) map[int]Relaxed {
	out := map[int]Relaxed{}
	for i, g := range groups {
		changed := map[string]bool{}
		r := g
		for _, q := range []**QuantArgs{&r.Weights, &r.Activations} {
			if *q == nil {
				continue
			}
			c := **q
			if !c.Symmetric {
				c.Symmetric = true
				changed["symmetric"] = true
			}
			if c.Actorder == "group" {
				c.Actorder = ""
				changed["without activation reordering"] = true
			}
			if q == &r.Activations && c.Strategy == "tensor_group" && !c.local() {
				c.Dynamic = "local"
				changed["NVFP4 activations dynamic-local"] = true
			}
			*q = &c
		}
		m := v.matchGroup(r)
		if len(m.Unmatched) == 0 && len(m.Matches) > 0 {
			rel := Relaxed{Candidate: m.Matches[0]}
			for k := range changed {
				rel.Changed = append(rel.Changed, k)
			}
			sort.Strings(rel.Changed)
			out[i] = rel
		}
	}
	return out
}

// candidates lists every format × granularity whose resolved roles equal
// the wanted attributes (weights; activations, or none quantized). Only
// formats that quantize every layer alike qualify: one whose quant_cfg has
// entries beyond its two roles (scoped to MLP or experts, attention left out
// or quantized in FP8, extra layers disabled) quantizes other layers than
// the recipe's group, and SVDQuant adds a low-rank branch the recipe has
// not. Order: formats calibrating like the recipe's transforms (prefer:
// "awq_lite", "smoothquant") first, then max calibration, then the rest; within
// that, granularity default first, then by name.
func (v *Vocabulary) candidates(want map[modelopt.Role]modelopt.Attrs, prefer string) []Candidate {
	type ranked struct {
		c    Candidate
		rank int
	}
	var out []ranked
	for _, f := range v.Formats() {
		if f.Retired || !uniform(f.Config) {
			continue
		}
		method := algorithmMethod(f.Config.Algorithm)
		if method == "svdquant" {
			continue
		}
		rank := 2
		switch {
		case prefer != "" && method == prefer:
			rank = 0
		case method == "max" || method == "":
			rank = 1
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
				out = append(out, ranked{Candidate{Format: f.Name, Granularity: g.Name}, rank})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].rank != out[j].rank {
			return out[i].rank < out[j].rank
		}
		return (out[i].c.Granularity == "default") && (out[j].c.Granularity != "default")
	})
	cs := make([]Candidate, len(out))
	for i, r := range out {
		cs[i] = r.c
	}
	return cs
}

// uniform reports whether a config quantizes every layer alike: ModelOpt's
// deny-all and default-disabled tail around entries of the two roles only.
func uniform(c modelopt.Config) bool {
	if !c.DenyAll || !c.DefaultTail {
		return false
	}
	for _, e := range c.Entries {
		if e.ParentClass != "" || e.QuantizerName != modelopt.Weights.Quantizer() && e.QuantizerName != modelopt.Activations.Quantizer() {
			return false
		}
	}
	return true
}

func algorithmMethod(a any) string {
	switch x := a.(type) {
	case string:
		return x
	case map[any]any:
		m, _ := x["method"].(string)
		return m
	}
	return ""
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
