package modelopt

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Role is a quantizer role a granularity can touch.
type Role string

const (
	Weights     Role = "weights"
	Activations Role = "activations"
)

// Roles lists the roles in a fixed order.
var Roles = []Role{Weights, Activations}

// Quantizer is the quant_cfg pattern of the role's quantizers.
func (r Role) Quantizer() string {
	if r == Weights {
		return "*weight_quantizer"
	}
	return "*input_quantizer"
}

// Entry is one element of a ModelOpt ≥ 0.44 quant_cfg list.
type Entry struct {
	QuantizerName string
	ParentClass   string  // optional: restrict to quantizers under modules of this class
	Cfg           Attrs   // the quantizer's complete attributes, or nil
	Stages        []Attrs // a sequential quantizer (cfg is a list), or nil
	Enable        *bool   // on the entry, never inside cfg
}

// HasCfg reports whether the entry sets attributes.
func (e Entry) HasCfg() bool { return e.Cfg != nil || e.Stages != nil }

// Disabled reports whether the entry only switches its quantizers off.
func (e Entry) Disabled() bool { return !e.HasCfg() && e.Enable != nil && !*e.Enable }

// Clone deep-copies the entry.
func (e Entry) Clone() Entry {
	out := e
	out.Cfg = e.Cfg.Clone()
	if e.Stages != nil {
		out.Stages = make([]Attrs, len(e.Stages))
		for i, s := range e.Stages {
			out.Stages[i] = s.Clone()
		}
	}
	if e.Enable != nil {
		b := *e.Enable
		out.Enable = &b
	}
	return out
}

// Value returns the entry as ModelOpt's list form spells it.
func (e Entry) Value() map[any]any {
	m := map[any]any{"quantizer_name": e.QuantizerName}
	if e.ParentClass != "" {
		m["parent_class"] = e.ParentClass
	}
	switch {
	case e.Stages != nil:
		stages := make([]any, len(e.Stages))
		for i, s := range e.Stages {
			stages[i] = s.Value()
		}
		m["cfg"] = stages
	case e.Cfg != nil:
		m["cfg"] = e.Cfg.Value()
	}
	if e.Enable != nil {
		m["enable"] = *e.Enable
	}
	return m
}

// Config is a complete ModelOpt quantization config, target-neutral: the
// deny-all head and the default-disabled tail are kept symbolic because each
// ModelOpt release spells them its own way.
type Config struct {
	DenyAll     bool    // ModelOpt's _base_disable_all first: {quantizer_name: '*', enable: false}
	Entries     []Entry // the format's own entries, in order
	KV          []Entry // a KV-cache preset's entries, after the format's (SPEC §12)
	DefaultTail bool    // ModelOpt's _default_disabled_quantizer_cfg last (lm_head, routers, …)
	Algorithm   any     // a method name, null, or a mapping with "method"
}

// Clone deep-copies the config.
func (c Config) Clone() Config {
	out := c
	out.Entries = make([]Entry, len(c.Entries))
	for i, e := range c.Entries {
		out.Entries[i] = e.Clone()
	}
	if c.KV != nil {
		out.KV = make([]Entry, len(c.KV))
		for i, e := range c.KV {
			out.KV[i] = e.Clone()
		}
	}
	out.Algorithm = Clone(c.Algorithm)
	return out
}

// tail046 is ModelOpt 0.46's _default_disabled_quantizer_cfg (also used for
// 0.44 and 0.45 targets), in its order.
var tail046 = []Entry{
	{QuantizerName: "*block_sparse_moe.gate*", Enable: &off},
	{QuantizerName: "*linear_attn.conv1d*", Enable: &off},
	{QuantizerName: "*linear_attn.in_proj_a*", Enable: &off},
	{QuantizerName: "*linear_attn.in_proj_b*", Enable: &off},
	{QuantizerName: "*lm_head*", Enable: &off},
	{QuantizerName: "*mixer.conv1d*", Enable: &off},
	{QuantizerName: "*mlp.gate.*", Enable: &off},
	{QuantizerName: "*mlp.shared_expert_gate.*", Enable: &off},
	{QuantizerName: "*output_layer*", Enable: &off},
	{QuantizerName: "*proj_out.*", Enable: &off},
	{QuantizerName: "*router*", Enable: &off},
	{QuantizerName: "mtp.*", Enable: &off},
	{QuantizerName: "output.*", Enable: &off},
	{QuantizerName: "*embed_vision*", Enable: &off},
	{QuantizerName: "*vision_tower*", Enable: &off},
	{QuantizerName: "*visual*", Enable: &off},
	{QuantizerName: "*vision_model*", Enable: &off},
	{QuantizerName: "*multi_modal_projector*", Enable: &off},
	{QuantizerName: "*", ParentClass: "nn.BatchNorm1d", Enable: &off},
	{QuantizerName: "*", ParentClass: "nn.BatchNorm2d", Enable: &off},
	{QuantizerName: "*", ParentClass: "nn.BatchNorm3d", Enable: &off},
	{QuantizerName: "*", ParentClass: "nn.LeakyReLU", Enable: &off},
	{QuantizerName: "*", ParentClass: "nn.Embedding", Enable: &off},
}

// tail043 is ModelOpt 0.43's _default_disabled_quantizer_cfg, in its order
// (class-scoped entries first, "default" last).
var tail043 = []Entry{
	{QuantizerName: "*", ParentClass: "nn.BatchNorm1d", Enable: &off},
	{QuantizerName: "*", ParentClass: "nn.BatchNorm2d", Enable: &off},
	{QuantizerName: "*", ParentClass: "nn.BatchNorm3d", Enable: &off},
	{QuantizerName: "*", ParentClass: "nn.LeakyReLU", Enable: &off},
	{QuantizerName: "*lm_head*", Enable: &off},
	{QuantizerName: "*proj_out.*", Enable: &off},
	{QuantizerName: "*block_sparse_moe.gate*", Enable: &off},
	{QuantizerName: "*router*", Enable: &off},
	{QuantizerName: "*mlp.gate.*", Enable: &off},
	{QuantizerName: "*mlp.shared_expert_gate.*", Enable: &off},
	{QuantizerName: "*linear_attn.conv1d*", Enable: &off},
	{QuantizerName: "*mixer.conv1d*", Enable: &off},
	{QuantizerName: "*output_layer*", Enable: &off},
	{QuantizerName: "output.*", Enable: &off},
}

// off is the Enable of the tail entries and the deny-all, shared: they are
// only ever handed out cloned (DefaultTail, List), and so are static data,
// not values an init function builds.
var off = false

// DefaultTail returns the target's default-disabled tail entries.
func DefaultTail(target Version) []Entry {
	src := tail046
	if target.Less(V044) {
		src = tail043
	}
	out := make([]Entry, len(src))
	for i, e := range src {
		out[i] = e.Clone()
	}
	return out
}

var denyAll = Entry{QuantizerName: "*", Enable: &off}

// List returns the config as ModelOpt ≥ 0.44 applies it: deny-all, the
// entries, the KV cache's, the tail (where ModelOpt's own shipped recipes
// put a KV preset).
func (c Config) List() []Entry {
	var out []Entry
	if c.DenyAll {
		out = append(out, denyAll.Clone())
	}
	for _, e := range c.Entries {
		out = append(out, e.Clone())
	}
	for _, e := range c.KV {
		out = append(out, e.Clone())
	}
	if c.DefaultTail {
		out = append(out, DefaultTail(V046)...)
	}
	return out
}

// FromList builds a config from a ModelOpt list, recognising the deny-all
// head and the default-disabled tail so that a spelled-out preset means the
// same as the preset.
func FromList(entries []Entry, algorithm any) Config {
	c := Config{Algorithm: algorithm}
	if len(entries) > 0 && isDenyAll(entries[0]) {
		c.DenyAll = true
		entries = entries[1:]
	}
	if n := len(tail046); len(entries) >= n {
		match := true
		for i, t := range tail046 {
			if !Equal(entries[len(entries)-n+i].Value(), t.Value()) {
				match = false
				break
			}
		}
		if match {
			c.DefaultTail = true
			entries = entries[:len(entries)-n]
		}
	}
	c.Entries = entries
	return c
}

func isDenyAll(e Entry) bool { return Equal(e.Value(), denyAll.Value()) }

// RoleIndex finds the entry that configures a role: the last entry whose
// quantizer_name is exactly the role's pattern with no parent_class (later
// entries win in ModelOpt).
func (c Config) RoleIndex(r Role) int {
	for i := len(c.Entries) - 1; i >= 0; i-- {
		e := c.Entries[i]
		if e.QuantizerName == r.Quantizer() && e.ParentClass == "" {
			return i
		}
	}
	return -1
}

// RoleAttrs returns the attributes a role's quantizer gets (stage 0 for a
// sequential quantizer), or nil when the format lacks or disables the role.
func (c Config) RoleAttrs(r Role) Attrs {
	i := c.RoleIndex(r)
	if i < 0 {
		return nil
	}
	e := c.Entries[i]
	if e.Stages != nil {
		return e.Stages[0]
	}
	return e.Cfg
}

// NotApplicableError says why an overlay cannot apply to a config.
type NotApplicableError struct{ Reason string }

func (e *NotApplicableError) Error() string { return e.Reason }

// granularityKeys may appear in an overlay; dtype belongs to the format.
var granularityKeys = map[string]bool{"axis": true, "block_sizes": true, "type": true}

// dtypeBlockKeys are block_sizes keys that describe the dtype's scales, not
// the granularity; an overlay keeps the format's.
var dtypeBlockKeys = []string{"scale_bits", "scale_block_sizes", "four_over_six"}

// ValidateOverlay checks that an overlay sets only granularity attributes:
// axis, block_sizes (integer axes and type) and top-level type.
func ValidateOverlay(ov Attrs) error {
	for _, k := range sortedAttrNames(ov) {
		if granularityKeys[k] {
			continue
		}
		if k == "num_bits" || k == "scale_bits" {
			return attrErr(k, "%q is a dtype attribute: it belongs to the format (quant_pair), not to a granularity", k)
		}
		if IsAttribute(k) {
			return attrErr(k, "%q is not a granularity attribute; a granularity may set only axis, block_sizes and type", k)
		}
		return attrErr(k, "unknown ModelOpt attribute %q%s", k, didYouMean(k, AttributeNames()))
	}
	if bs, ok := ov["block_sizes"]; ok && bs != nil {
		m, ok := bs.(map[any]any)
		if !ok {
			return attrErr("block_sizes", "block_sizes must be a mapping such as {-1: 128}, not %s", Format(bs))
		}
		for _, k := range SortedKeys(m) {
			if s, isStr := k.(string); isStr && s != "type" {
				if s == "scale_bits" || s == "scale_block_sizes" || s == "four_over_six" {
					return attrErr("block_sizes", "block_sizes key %q is a dtype attribute: it belongs to the format (quant_pair), not to a granularity", s)
				}
			}
		}
	}
	// An overlay on its own must already satisfy ModelOpt's rules.
	return ov.Validate(DefaultTarget)
}

// Overlay returns base with the overlay applied: the format's attributes,
// then the overlay's, with axis and block_sizes mutually exclusive (setting
// axis removes block_sizes; setting block_sizes removes axis, which ModelOpt
// then takes as null). The result is complete: nothing the format set and
// the overlay did not touch is lost — above all not num_bits.
func Overlay(base, ov Attrs) (Attrs, error) {
	out := base.Clone()
	_, setsBlocks := ov["block_sizes"]
	var kept map[any]any
	if old, ok := base["block_sizes"].(map[any]any); ok {
		for _, k := range dtypeBlockKeys {
			if v, ok := old[k]; ok {
				if kept == nil {
					kept = map[any]any{}
				}
				kept[k] = v
			}
		}
	}
	for _, k := range OverlayRemoves(ov) {
		if k == "block_sizes" && kept != nil {
			return nil, &NotApplicableError{Reason: fmt.Sprintf("defines its scales per block (block_sizes %s); an axis granularity would drop them", Format(base["block_sizes"]))}
		}
		delete(out, k)
	}
	for k, v := range ov {
		out[k] = Clone(v)
	}
	if bs, ok := out["block_sizes"].(map[any]any); ok && setsBlocks {
		for k, v := range kept {
			if _, present := bs[k]; !present {
				bs[k] = Clone(v)
			}
		}
	} else if setsBlocks && kept != nil {
		return nil, &NotApplicableError{Reason: fmt.Sprintf("defines its scales per block (block_sizes %s); this granularity removes the blocks", Format(base["block_sizes"]))}
	}
	return out, nil
}

// OverlayRemoves lists the attributes an overlay takes away from the
// format's without setting them, axis and block_sizes being mutually
// exclusive: block_sizes when it sets axis alone, axis when it sets
// block_sizes alone; nil otherwise.
func OverlayRemoves(ov Attrs) []string {
	_, axis := ov["axis"]
	_, blocks := ov["block_sizes"]
	switch {
	case axis && !blocks:
		return []string{"block_sizes"}
	case blocks && !axis:
		return []string{"axis"}
	}
	return nil
}

// RoleEntries lists, in order, the entries that configure a role's
// quantizers: each entry with attributes whose pattern names the role's
// quantizers (*weight_quantizer, or a scoped *mlp*weight_quantizer), not
// switched off on the entry.
func (c Config) RoleEntries(r Role) []int {
	suffix := strings.TrimPrefix(r.Quantizer(), "*")
	var out []int
	for i, e := range c.Entries {
		if e.HasCfg() && (e.Enable == nil || *e.Enable) && strings.HasSuffix(e.QuantizerName, suffix) {
			out = append(out, i)
		}
	}
	return out
}

// ApplyOverlay replaces the role's entries in place with complete
// attributes: never an appended partial entry (which would reset the dtype
// and re-enable lm_head). Every entry of the role takes the overlay, scoped
// ones too (*mlp*weight_quantizer); when one of them cannot, the whole
// overlay is refused, never applied in part. A sequential quantizer takes
// the overlay on its first stage.
func (c Config) ApplyOverlay(r Role, ov Attrs) (Config, error) {
	idx := c.RoleEntries(r)
	if len(idx) == 0 {
		if i := c.RoleIndex(r); i >= 0 && !c.Entries[i].HasCfg() {
			if r == Activations {
				return c, &NotApplicableError{Reason: "quantizes weights only (its input quantizer is disabled)"}
			}
			return c, &NotApplicableError{Reason: fmt.Sprintf("does not quantize %s (its %s quantizer is disabled)", r, roleNoun(r))}
		}
		return c, &NotApplicableError{Reason: fmt.Sprintf("has no %s quantizer entry (%s)", roleNoun(r), r.Quantizer())}
	}
	out := c.Clone()
	for _, i := range idx {
		ne := out.Entries[i]
		var err error
		if ne.Stages != nil {
			ne.Stages[0], err = Overlay(ne.Stages[0], ov)
		} else {
			ne.Cfg, err = Overlay(ne.Cfg, ov)
		}
		if err != nil {
			if len(idx) > 1 {
				var na *NotApplicableError
				if errors.As(err, &na) {
					err = &NotApplicableError{Reason: fmt.Sprintf("%s (entry %s; the overlay applies to every %s entry or to none)", na.Reason, ne.QuantizerName, roleNoun(r))}
				}
			}
			return c, err
		}
		out.Entries[i] = ne
	}
	return out, nil
}

func roleNoun(r Role) string {
	if r == Weights {
		return "weight"
	}
	return "input (activation)"
}

// Validate checks every entry of the config for the target.
func (c Config) Validate(target Version) error {
	first := 1
	if c.DenyAll {
		first = 2 // entries are numbered as the user's list has them
	}
	for i, e := range append(slices.Clip(c.Entries), c.KV...) {
		if err := e.validate(target); err != nil {
			return fmt.Errorf("quant_cfg entry %d (%s): %w", i+first, e.QuantizerName, err)
		}
	}
	if err := ValidateAlgorithm(c.Algorithm); err != nil {
		return err
	}
	return nil
}

func (e Entry) validate(target Version) error {
	if e.QuantizerName == "" {
		return fmt.Errorf("quantizer_name is empty")
	}
	if !e.HasCfg() && e.Enable == nil {
		return fmt.Errorf("an entry with only quantizer_name does nothing; give cfg or enable")
	}
	check := func(a Attrs) error {
		if len(a) == 0 {
			return fmt.Errorf("cfg is empty; give the quantizer's attributes or drop cfg")
		}
		if _, ok := a["enable"]; ok {
			return attrErr("enable", "enable inside cfg is ignored by ModelOpt 0.45 and newer; put enable on the entry")
		}
		return a.Validate(target)
	}
	if e.Stages != nil {
		if len(e.Stages) == 0 {
			return fmt.Errorf("cfg is an empty list")
		}
		for _, s := range e.Stages {
			if err := check(s); err != nil {
				return err
			}
		}
	} else if e.Cfg != nil {
		if err := check(e.Cfg); err != nil {
			return err
		}
	}
	return nil
}

// ValidateAlgorithm checks a calibration algorithm: a method name, null, or
// a mapping with a method.
func ValidateAlgorithm(a any) error {
	switch x := a.(type) {
	case nil:
		return nil
	case string:
		if x == "" {
			return fmt.Errorf("algorithm is empty; use null for no calibration or a method such as max")
		}
		return nil
	case map[any]any:
		if m, ok := x["method"].(string); !ok || m == "" {
			return fmt.Errorf("algorithm %s needs a method, e.g. {method: awq_lite}", Format(a))
		}
		return nil
	}
	return fmt.Errorf("algorithm must be a method name, null, or a mapping with method, not %s", Format(a))
}

// ParseEntries reads a ModelOpt ≥ 0.44 quant_cfg list from plain values.
func ParseEntries(v any) ([]Entry, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("quant_cfg must be a list of entries (ModelOpt 0.44+ form), not %s", kindOf(v))
	}
	out := make([]Entry, 0, len(list))
	for i, raw := range list {
		m, ok := raw.(map[any]any)
		if !ok {
			return nil, fmt.Errorf("quant_cfg entry %d must be a mapping with quantizer_name", i+1)
		}
		var e Entry
		for _, k := range SortedKeys(m) {
			ks, _ := k.(string)
			val := m[k]
			switch ks {
			case "quantizer_name":
				s, ok := val.(string)
				if !ok || s == "" {
					return nil, fmt.Errorf("quant_cfg entry %d: quantizer_name must be a non-empty string", i+1)
				}
				e.QuantizerName = s
			case "parent_class":
				s, ok := val.(string)
				if !ok || s == "" {
					return nil, fmt.Errorf("quant_cfg entry %d: parent_class must be a non-empty string", i+1)
				}
				e.ParentClass = s
			case "enable":
				b, ok := val.(bool)
				if !ok {
					return nil, fmt.Errorf("quant_cfg entry %d: enable must be true or false", i+1)
				}
				e.Enable = &b
			case "cfg":
				switch c := val.(type) {
				case map[any]any:
					a, err := AttrsFrom(c)
					if err != nil {
						return nil, fmt.Errorf("quant_cfg entry %d: %w", i+1, err)
					}
					e.Cfg = a
				case []any:
					e.Stages = []Attrs{}
					for _, s := range c {
						sm, ok := s.(map[any]any)
						if !ok {
							return nil, fmt.Errorf("quant_cfg entry %d: each stage of a sequential cfg must be a mapping", i+1)
						}
						a, err := AttrsFrom(sm)
						if err != nil {
							return nil, fmt.Errorf("quant_cfg entry %d: %w", i+1, err)
						}
						e.Stages = append(e.Stages, a)
					}
				default:
					return nil, fmt.Errorf("quant_cfg entry %d: cfg must be a mapping of attributes or a list of them", i+1)
				}
			default:
				return nil, fmt.Errorf("quant_cfg entry %d: unknown entry key %s; an entry has quantizer_name, parent_class, cfg and enable", i+1, Format(k))
			}
		}
		if e.QuantizerName == "" {
			return nil, fmt.Errorf("quant_cfg entry %d has no quantizer_name", i+1)
		}
		out = append(out, e)
	}
	return out, nil
}

// AttrsFrom converts a plain mapping to attributes; keys must be strings.
func AttrsFrom(m map[any]any) (Attrs, error) {
	a := make(Attrs, len(m))
	for k, v := range m {
		s, ok := k.(string)
		if !ok {
			return nil, attrErr(fmt.Sprint(k), "attribute names are strings, not %s", Format(k))
		}
		a[s] = v
	}
	return a, nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[any]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	}
	return "a " + strings.TrimPrefix(fmt.Sprintf("%T", v), "float64")
}

// Touched lists, for display, which roles an overlay set touches.
func Touched(ovs map[Role]Attrs) []Role {
	var out []Role
	for _, r := range Roles {
		if _, ok := ovs[r]; ok {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i] == Weights && out[j] != Weights })
	return out
}
