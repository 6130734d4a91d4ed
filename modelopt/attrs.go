package modelopt

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/qrun-dev/qrun/internal/suggest"
)

// Attrs are the attributes of one quantizer (ModelOpt's
// QuantizerAttributeConfig): num_bits, axis, block_sizes, type, …
type Attrs map[string]any

// Clone deep-copies the attributes.
func (a Attrs) Clone() Attrs {
	if a == nil {
		return nil
	}
	out := make(Attrs, len(a))
	for k, v := range a {
		out[k] = Clone(v)
	}
	return out
}

// Has reports whether the attribute is set (possibly to null).
func (a Attrs) Has(k string) bool { _, ok := a[k]; return ok }

// Value returns the attributes as a plain mapping.
func (a Attrs) Value() map[any]any {
	m := make(map[any]any, len(a))
	for k, v := range a {
		m[k] = v
	}
	return m
}

// String renders the attributes on one line in canonical order.
func (a Attrs) String() string { return Format(a.Value()) }

// Version is a ModelOpt release, major.minor.
type Version struct{ Major, Minor int }

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	return v.Minor < w.Minor
}

// Supported targets: 0.43 (legacy mapping form) and 0.44–0.46 (list form).
var (
	V043          = Version{0, 43}
	V044          = Version{0, 44}
	V046          = Version{0, 46}
	DefaultTarget = V046
	Supported     = []Version{{0, 43}, {0, 44}, {0, 45}, {0, 46}}
)

// ParseVersion reads "0.46" (a patch part, "0.46.0", is accepted and ignored).
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(strings.TrimPrefix(strings.TrimSpace(s), "v"), ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("ModelOpt version %q is not of the form 0.46; supported: %s", s, supportedList())
	}
	var nums [2]int
	for i := 0; i < 2; i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 0 {
			return Version{}, fmt.Errorf("ModelOpt version %q is not of the form 0.46; supported: %s", s, supportedList())
		}
		nums[i] = n
	}
	v := Version{nums[0], nums[1]}
	for _, s := range Supported {
		if s == v {
			return v, nil
		}
	}
	return Version{}, fmt.Errorf("ModelOpt %s is not a supported target; supported: %s", v, supportedList())
}

func supportedList() string {
	var s []string
	for _, v := range Supported {
		s = append(s, v.String())
	}
	return strings.Join(s, ", ")
}

// attribute describes one QuantizerAttributeConfig field.
type attribute struct {
	since Version // first ModelOpt release that accepts it
}

// attributes lists every field of ModelOpt's QuantizerAttributeConfig, with
// the release that introduced the version-gated ones. Anything else is
// rejected, as ModelOpt's extra="forbid" does.
var attributes = map[string]attribute{
	"enable":                   {},
	"num_bits":                 {},
	"axis":                     {},
	"fake_quant":               {},
	"unsigned":                 {},
	"narrow_range":             {},
	"learn_amax":               {},
	"type":                     {},
	"block_sizes":              {},
	"bias":                     {},
	"trt_high_precision_dtype": {},
	"calibrator":               {},
	"rotate":                   {},
	"pass_through_bwd":         {},
	"backend":                  {since: Version{0, 41}},
	"backend_extra_args":       {since: Version{0, 41}},
	"use_constant_amax":        {since: Version{0, 43}},
	"constant_amax":            {since: V046},
	"effective_bits":           {since: V046},
}

// blockSizesKeys are the string keys block_sizes accepts besides integer axes.
var blockSizesKeys = map[string]Version{
	"type":              {},
	"scale_bits":        {},
	"scale_block_sizes": {},
	"four_over_six":     V046,
}

// IsAttribute reports whether name is a ModelOpt quantizer attribute.
func IsAttribute(name string) bool { _, ok := attributes[name]; return ok }

// AttributeNames lists every quantizer attribute name, sorted.
func AttributeNames() []string {
	out := make([]string, 0, len(attributes))
	for k := range attributes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// AttrError is a rule of ModelOpt's (or qrun's stricter one) that a set of
// attributes breaks. Key names the offending attribute.
type AttrError struct {
	Key string
	Msg string
}

func (e *AttrError) Error() string { return e.Msg }

func attrErr(key, format string, args ...any) error {
	return &AttrError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks quantizer attributes against ModelOpt's own rules
// (QuantizerAttributeConfig of 0.46, gated by the target version) and qrun's
// stricter ones: block sizes are positive integers, at most one of axis and
// block_sizes, only known attribute names.
func (a Attrs) Validate(target Version) error {
	for _, k := range sortedAttrNames(a) {
		spec, ok := attributes[k]
		if !ok {
			return attrErr(k, "unknown ModelOpt attribute %q%s", k, didYouMean(k, AttributeNames()))
		}
		if target.Less(spec.since) {
			return attrErr(k, "attribute %q needs ModelOpt %s or newer; the target is %s", k, spec.since, target)
		}
	}
	if len(a) == 1 {
		if e, ok := a["enable"].(bool); ok && e {
			return attrErr("enable", "a config that is exactly {enable: true} is rejected by ModelOpt; give the quantizer's attributes")
		}
	}
	if e, ok := a["enable"]; ok {
		if _, isBool := e.(bool); !isBool {
			return attrErr("enable", "enable must be true or false, not %s", Format(e))
		}
	}
	if nb, ok := a["num_bits"]; ok {
		if err := validateNumBits(nb, a); err != nil {
			return err
		}
	}
	if t, ok := a["type"]; ok {
		if s, _ := t.(string); s != "static" && s != "dynamic" {
			return attrErr("type", "type must be static or dynamic, not %s", Format(t))
		}
	}
	if ax, ok := a["axis"]; ok {
		if err := validateAxis(ax); err != nil {
			return err
		}
	}
	if bs, ok := a["block_sizes"]; ok && bs != nil {
		if err := validateBlockSizes(bs, target); err != nil {
			return err
		}
		if ax := a["axis"]; ax != nil {
			return attrErr("axis", "axis must be null when block_sizes is set (axis is %s, block_sizes is %s); a quantizer has at most one of them", Format(ax), Format(bs))
		}
	}
	if eb, ok := a["effective_bits"]; ok {
		switch eb.(type) {
		case int, float64:
		default:
			return attrErr("effective_bits", "effective_bits must be a number, not %s", Format(eb))
		}
	}
	for _, k := range []string{"fake_quant", "unsigned", "narrow_range", "learn_amax", "pass_through_bwd", "use_constant_amax"} {
		if v, ok := a[k]; ok {
			if _, isBool := v.(bool); !isBool {
				return attrErr(k, "%s must be true or false, not %s", k, Format(v))
			}
		}
	}
	return nil
}

func sortedAttrNames(a Attrs) []string {
	out := make([]string, 0, len(a))
	for k := range a {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func validateNumBits(nb any, a Attrs) error {
	switch x := nb.(type) {
	case int:
		if x < 1 {
			return attrErr("num_bits", "num_bits must be at least 1, not %d", x)
		}
		return nil
	case []any:
		if len(x) != 2 {
			return attrErr("num_bits", "num_bits %s must be an integer or an [E, M] pair", Format(nb))
		}
		e, ok1 := x[0].(int)
		m, ok2 := x[1].(int)
		if !ok1 || !ok2 || e < 0 || m < 0 {
			return attrErr("num_bits", "num_bits %s must be an [E, M] pair of integers", Format(nb))
		}
		if e == 0 || m == 0 {
			return attrErr("num_bits", "num_bits %s is not a valid float format: neither exponent nor mantissa bits may be zero", Format(nb))
		}
		switch [2]int{e, m} {
		case [2]int{4, 3}, [2]int{2, 1}:
			return nil
		case [2]int{5, 2}, [2]int{3, 2}, [2]int{2, 3}, [2]int{1, 2}:
			if bs, ok := a["block_sizes"].(map[any]any); ok && bs["type"] == "dynamic" {
				return nil
			}
			return attrErr("num_bits", "num_bits %s is only supported with dynamic block quantization (block_sizes type: dynamic)", Format(nb))
		}
		return attrErr("num_bits", "num_bits %s is not a float format ModelOpt supports ([4, 3], [2, 1]; with dynamic blocks also [5, 2], [3, 2], [2, 3], [1, 2])", Format(nb))
	case string:
		hint := ""
		switch strings.ToLower(x) {
		case "e4m3", "fp8", "float8_e4m3fn":
			hint = "; write num_bits: [4, 3]"
		case "e5m2", "float8_e5m2":
			hint = "; write num_bits: [5, 2]"
		case "e2m1", "fp4", "nvfp4":
			hint = "; write num_bits: [2, 1]"
		}
		return attrErr("num_bits", "num_bits %s is a string, which ModelOpt takes for a custom backend format: use an integer or an [E, M] pair%s", Format(nb), hint)
	}
	return attrErr("num_bits", "num_bits %s must be an integer or an [E, M] pair", Format(nb))
}

func validateAxis(ax any) error {
	switch x := ax.(type) {
	case nil, int:
		return nil
	case []any:
		if len(x) == 0 {
			return attrErr("axis", "axis must be null, an integer or a list of integers, not []")
		}
		for _, e := range x {
			if _, ok := e.(int); !ok {
				return attrErr("axis", "axis must be null, an integer or a list of integers, not %s", Format(ax))
			}
		}
		return nil
	}
	return attrErr("axis", "axis must be null, an integer or a list of integers, not %s", Format(ax))
}

func validateBlockSizes(bs any, target Version) error {
	m, ok := bs.(map[any]any)
	if !ok {
		return attrErr("block_sizes", "block_sizes must be a mapping such as {-1: 128}, not %s", Format(bs))
	}
	axes := 0
	for _, k := range SortedKeys(m) {
		v := m[k]
		switch key := k.(type) {
		case int:
			axes++
			if v == nil {
				continue
			}
			if n, ok := v.(int); !ok || n <= 0 {
				return attrErr("block_sizes", "block size %s for axis %d must be a positive integer or null", Format(v), key)
			}
		case string:
			if _, err := strconv.Atoi(key); err == nil {
				return attrErr("block_sizes", "block_sizes key %q is a string; ModelOpt needs the integer %s (write it unquoted)", key, key)
			}
			since, known := blockSizesKeys[key]
			if !known {
				return attrErr("block_sizes", "block_sizes key %q is not known; allowed: integer axes, type, scale_bits, scale_block_sizes, four_over_six", key)
			}
			if target.Less(since) {
				return attrErr("block_sizes", "block_sizes key %q needs ModelOpt %s or newer; the target is %s", key, since, target)
			}
			switch key {
			case "type":
				if s, _ := v.(string); s != "static" && s != "dynamic" {
					return attrErr("block_sizes", "block_sizes type must be static or dynamic, not %s", Format(v))
				}
			case "scale_bits":
				if !isBitsSpec(v) {
					return attrErr("block_sizes", "block_sizes scale_bits %s must be an integer or an [E, M] pair", Format(v))
				}
			}
		}
	}
	if m["type"] == "dynamic" && axes == 1 {
		for k, v := range m {
			if _, isAxis := k.(int); isAxis && v == nil {
				return attrErr("block_sizes", "block_sizes %s makes ModelOpt compute a static per-position amax, not per-token dynamic scales; for per-token dynamic write type: dynamic, axis: null, block_sizes: {-1: null}", Format(bs))
			}
		}
	}
	if m["type"] == "dynamic" && axes != 1 {
		return attrErr("block_sizes", "block_sizes with type: dynamic must have exactly one axis key, not %d (%s)", axes, Format(bs))
	}
	return nil
}

// isBitsSpec reports whether v is an integer ≥ 1 or a pair of
// non-negative integers (scale formats such as E8M0 have no mantissa).
func isBitsSpec(v any) bool {
	switch x := v.(type) {
	case int:
		return x >= 1
	case []any:
		if len(x) != 2 {
			return false
		}
		e, ok1 := x[0].(int)
		m, ok2 := x[1].(int)
		return ok1 && ok2 && e >= 0 && m >= 0
	}
	return false
}

// didYouMean returns `; did you mean "x"?` for the closest candidate, if any is
// close enough.
func didYouMean(s string, candidates []string) string {
	if c := suggest.Closest(s, candidates); c != "" {
		return fmt.Sprintf("; did you mean %q?", c)
	}
	return ""
}
