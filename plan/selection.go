// Package plan is where a selection becomes runs: it parses the selection
// (flags and Hydra overrides), resolves every format × granularity, lays
// out the directories, checks the names against the registry, writes the
// run files and records the runs — all or nothing.
package plan

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/qrun-dev/qrun/hydra"
	"github.com/qrun-dev/qrun/internal/suggest"
	"github.com/qrun-dev/qrun/layout"
	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/vocab"
)

// Axis is one swept parameter: a key and its values, as Hydra typed them.
type Axis struct {
	Key    string
	Values []any
}

// Selection is what the user asked to plan.
type Selection struct {
	Models        []string
	Formats       []string
	Granularities []string
	KVCaches      []string // KV-cache settings; none when the selection names none
	Params        []Axis   // identity parameters, sorted by key
	Recorded      []Axis   // ignore_keys: recorded, not identity; never swept
}

// Groups are the Hydra config-group names for format, granularity and KV
// cache, and the Hydra key of the model.
type Groups struct {
	Format      string // quant_pair
	Granularity string // quant_granularity
	KVCache     string // quant_kv_cache
	Model       string // model
}

// DefaultGroups are the names qrun uses unless qrun.yaml says otherwise.
var DefaultGroups = Groups{Format: "quant_pair", Granularity: "quant_granularity", KVCache: "quant_kv_cache", Model: "model"}

// withDefaults fills in the names left empty.
func (g Groups) withDefaults() Groups {
	for _, f := range []struct {
		v *string
		d string
	}{
		{&g.Format, DefaultGroups.Format}, {&g.Granularity, DefaultGroups.Granularity},
		{&g.KVCache, DefaultGroups.KVCache}, {&g.Model, DefaultGroups.Model},
	} {
		if *f.v == "" {
			*f.v = f.d
		}
	}
	return g
}

// Flags are the selection given by command-line flags.
type Flags struct {
	Models        []string
	Formats       []string
	Granularities []string
	KVCaches      []string
	Params        []string // key=value, Hydra value syntax
	// KVCacheDefault is the KV-cache setting of a selection that names
	// none (kv_cache: in qrun.yaml); "" is none.
	KVCacheDefault string
	// MaxSweep is the largest sweep ParseSelection takes (DefaultMaxSweep
	// when 0): a larger one is refused before any range is expanded.
	MaxSweep int64
}

// ErrUsage marks a selection that is malformed as typed (exit 2).
var ErrUsage = errors.New("usage")

type usageErr struct{ msg string }

func (e *usageErr) Error() string        { return e.msg }
func (e *usageErr) Is(target error) bool { return target == ErrUsage }

func usagef(format string, args ...any) error { return &usageErr{fmt.Sprintf(format, args...)} }

// ParseSelection merges flags and Hydra overrides into a selection. Group
// selection (quant_pair=int8) and the seed's field notation
// (quant_pair.format_name=int8) are synonyms on input; comma lists and
// range() sweep. Keys in ignore are recorded but not part of the identity.
// A sweep of more runs than f.MaxSweep is refused (SweepTooLargeError)
// before any value list is built: its size is counted from the arguments.
func ParseSelection(f Flags, overrides []string, groups Groups, ignore []string) (Selection, error) {
	var sel Selection
	groups = groups.withDefaults()
	if err := checkSize(countSelection(f, overrides, groups, ignore), f.MaxSweep); err != nil {
		return sel, err
	}
	sel.Models = append(sel.Models, splitFlag(f.Models)...)
	sel.Formats = append(sel.Formats, splitFlag(f.Formats)...)
	sel.Granularities = append(sel.Granularities, splitFlag(f.Granularities)...)
	sel.KVCaches = append(sel.KVCaches, splitFlag(f.KVCaches)...)
	params := map[string][]any{}
	seen := map[string]string{}
	claim := func(slot, raw string) error {
		if prev, dup := seen[slot]; dup {
			return usagef("%s is given twice (%s and %s); give one list: key=a,b", slot, prev, raw)
		}
		seen[slot] = raw
		return nil
	}
	for slot, vals := range map[string][]string{"model": f.Models, "format": f.Formats, "granularity": f.Granularities, "kv-cache": f.KVCaches} {
		if len(vals) > 0 {
			seen[slot] = "--" + slot + " " + strings.Join(vals, ",")
		}
	}
	for _, p := range f.Params {
		o, err := hydra.Parse(p)
		if err != nil {
			return sel, usagef("--param %v", err)
		}
		if err := claim(o.Key, "--param "+p); err != nil {
			return sel, err
		}
		params[o.Key] = o.Values
	}
	// The axes a key=value override selects (the seed's field notation,
	// quant_pair.format_name=…, as a synonym of the group's).
	type axis struct {
		slot string
		into *[]string
	}
	axes := map[string]axis{
		groups.Format: {"format", &sel.Formats}, groups.Format + ".format_name": {"format", &sel.Formats},
		groups.Granularity: {"granularity", &sel.Granularities}, groups.Granularity + ".name": {"granularity", &sel.Granularities},
		groups.KVCache: {"kv-cache", &sel.KVCaches}, groups.Model: {"model", &sel.Models},
	}
	for _, arg := range overrides {
		o, err := hydra.Parse(arg)
		if err != nil {
			return sel, usagef("%v", err)
		}
		if ax, ok := axes[o.Key]; ok {
			names, err := nameValues(o)
			if err != nil {
				return sel, err
			}
			if err := claim(ax.slot, arg); err != nil {
				return sel, err
			}
			*ax.into = append(*ax.into, names...)
			continue
		}
		if o.Key == "hydra" || strings.HasPrefix(o.Key, "hydra.") || strings.HasPrefix(o.Key, "hydra/") {
			return sel, usagef("override %s: qrun sets hydra.run.dir itself and emits no other hydra.* keys; leave it out", o.Raw)
		}
		if strings.HasPrefix(o.Key, groups.Format+".") || strings.HasPrefix(o.Key, groups.Granularity+".") || strings.HasPrefix(o.Key, groups.KVCache+".") {
			return sel, usagef("override %s: a format, granularity or KV-cache setting is selected as a whole (%s=NAME); change its definition in its vocabulary file instead", o.Raw, strings.SplitN(o.Key, ".", 2)[0])
		}
		if near := nearGroupKey(o.Key, groups); near != "" {
			return sel, usagef("override %s: unknown key %q; did you mean %q? (as a parameter it would silently plan the default instead)", o.Raw, o.Key, near)
		}
		if err := claim(o.Key, arg); err != nil {
			return sel, err
		}
		params[o.Key] = o.Values
	}
	ignored := map[string]bool{}
	for _, k := range ignore {
		ignored[k] = true
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ax := Axis{Key: k, Values: dedupe(params[k])}
		if ignored[k] {
			if len(ax.Values) > 1 {
				return sel, usagef("%s is in ignore_keys (not part of a run's identity), so it cannot sweep: its runs would share one directory", k)
			}
			sel.Recorded = append(sel.Recorded, ax)
			continue
		}
		sel.Params = append(sel.Params, ax)
	}
	sel.Models = dedupeStrings(sel.Models)
	sel.Formats = dedupeStrings(sel.Formats)
	sel.Granularities = dedupeStrings(sel.Granularities)
	sel.KVCaches = dedupeStrings(sel.KVCaches)
	if len(sel.Granularities) == 0 {
		sel.Granularities = []string{"default"}
	}
	if len(sel.KVCaches) == 0 {
		sel.KVCaches = []string{f.KVCacheDefault}
		if f.KVCacheDefault == "" {
			sel.KVCaches[0] = layout.NoKVCache
		}
	}
	if len(sel.Formats) == 0 {
		return sel, usagef("no format selected: give --format NAME or %s=NAME (see qrun vocab list --kind format)", groups.Format)
	}
	return sel, nil
}

// splitFlag splits comma lists given to repeatable flags.
func splitFlag(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			out = append(out, strings.TrimSpace(s))
		}
	}
	return out
}

// nameValues takes an override's values as names (strings).
func nameValues(o hydra.Override) ([]string, error) {
	out := make([]string, 0, len(o.Values))
	for _, v := range o.Values {
		s, ok := v.(string)
		if !ok {
			s = hydra.Quote(v)
		}
		out = append(out, s)
	}
	return out, nil
}

func dedupe(vals []any) []any {
	seen := map[string]bool{}
	var out []any
	for _, v := range vals {
		k := fmt.Sprintf("%T:%v", v, v)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, v)
	}
	return out
}

func dedupeStrings(vals []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range vals {
		if seen[v] {
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	return out
}

// kvCaches are the selection's KV-cache settings; none when it names none.
func (s Selection) kvCaches() []string {
	if len(s.KVCaches) == 0 {
		return []string{layout.NoKVCache}
	}
	return s.KVCaches
}

// Axes names the axes the selection's combinations vary on, for messages:
// "format × granularity", with " × kv_cache" when it names more than one
// KV-cache setting.
func (s Selection) Axes() string {
	if len(s.kvCaches()) > 1 {
		return "format × granularity × kv_cache"
	}
	return "format × granularity"
}

// Combinations is the number of format × granularity × KV-cache
// combinations the selection names.
func (s Selection) Combinations() int {
	return len(s.Formats) * len(s.Granularities) * len(s.kvCaches())
}

// Size is the number of runs the selection expands to (models × formats ×
// granularities × each parameter's values), computed from the lists alone,
// before anything is expanded; math.MaxUint64 when it would overflow. An
// alias and its name in one list count twice here (the sweep plans them
// once).
func (s Selection) Size() uint64 {
	n := uint64(max(len(s.Models), 1))
	for _, k := range []int{len(s.Formats), len(s.Granularities), len(s.kvCaches())} {
		n = mulSat(n, uint64(k))
	}
	for _, a := range s.Params {
		n = mulSat(n, uint64(len(a.Values)))
	}
	return n
}

// mulSat is a × b, saturating at math.MaxUint64.
func mulSat(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

// DefaultMaxSweep is the largest sweep a plan takes when no limit is set
// (max_sweep in qrun.yaml, --max-sweep).
const DefaultMaxSweep = 1_000_000

// SweepTooLargeError refuses a selection whose sweep has more runs than
// the limit; it is found from the lists' lengths, before any run is
// generated (by ParseSelection, before any range is expanded), so a
// selection of any size is refused in constant memory.
type SweepTooLargeError struct {
	Size    uint64 // math.MaxUint64: more than that
	Limit   int64
	Factors []Factor // the lists whose lengths multiply to Size
}

// Factor is one list of a sweep and its length.
type Factor struct {
	What string // "model(s)", "format(s)", "granularity(ies)", or a parameter's key
	N    uint64
}

func (e *SweepTooLargeError) Error() string {
	var b strings.Builder
	size := strconv.FormatUint(e.Size, 10)
	if e.Size == math.MaxUint64 {
		size = "more than " + size
	}
	fmt.Fprintf(&b, "the selection is a sweep of %s runs (", size)
	for i, f := range e.Factors {
		if i > 0 {
			b.WriteString(" × ")
		}
		if i < 4 { // the axes; then the params
			fmt.Fprintf(&b, "%d %s", f.N, f.What)
		} else {
			fmt.Fprintf(&b, "%s: %d", f.What, f.N)
		}
	}
	fmt.Fprintf(&b, "), more than the limit of %d; nothing was written: narrow the sweep, or raise the limit with --max-sweep N or max_sweep: N in qrun.yaml", e.Limit)
	return b.String()
}

// Is makes a sweep too large an invalid selection (exit 4).
func (e *SweepTooLargeError) Is(target error) bool { return target == vocab.ErrInvalidSelection }

// checkSize refuses a sweep of factors larger than limit (DefaultMaxSweep
// when limit is 0 or less).
func checkSize(factors []Factor, limit int64) error {
	if limit <= 0 {
		limit = DefaultMaxSweep
	}
	n := uint64(1)
	for _, f := range factors {
		n = mulSat(n, f.N)
	}
	if n > uint64(limit) {
		return &SweepTooLargeError{Size: n, Limit: limit, Factors: factors}
	}
	return nil
}

// CheckSize refuses a selection larger than limit (DefaultMaxSweep when
// limit is 0 or less).
func (s Selection) CheckSize(limit int64) error {
	fs := []Factor{{"model(s)", uint64(max(len(s.Models), 1))}, {"format(s)", uint64(len(s.Formats))}, {"granularity(ies)", uint64(len(s.Granularities))}}
	for _, a := range s.Params {
		fs = append(fs, Factor{a.Key, uint64(len(a.Values))})
	}
	return checkSize(fs, limit)
}

// countSelection counts what ParseSelection would expand, without
// expanding anything (ranges are counted, see hydra.Count): the length of
// each list of the sweep. Malformed arguments count as one value each;
// ParseSelection reports them.
func countSelection(f Flags, overrides []string, groups Groups, ignore []string) []Factor {
	groups = groups.withDefaults()
	models, formats, grans := uint64(len(splitFlag(f.Models))), uint64(len(splitFlag(f.Formats))), uint64(len(splitFlag(f.Granularities)))
	kvs := uint64(len(splitFlag(f.KVCaches)))
	params := map[string]uint64{}
	var keys []string
	add := func(key string, n uint64) {
		if _, ok := params[key]; !ok {
			keys = append(keys, key)
		}
		params[key] = n
	}
	count := func(arg string) (string, uint64) {
		o, n, err := hydra.Count(arg)
		if err != nil {
			return "", 1
		}
		return o.Key, n
	}
	for _, p := range f.Params {
		if k, n := count(p); k != "" {
			add(k, n)
		}
	}
	for _, arg := range overrides {
		k, n := count(arg)
		switch k {
		case "":
		case groups.Format, groups.Format + ".format_name":
			formats = addSat(formats, n)
		case groups.Granularity, groups.Granularity + ".name":
			grans = addSat(grans, n)
		case groups.KVCache:
			kvs = addSat(kvs, n)
		case groups.Model:
			models = addSat(models, n)
		default:
			if !slices.Contains(ignore, k) {
				add(k, n)
			}
		}
	}
	if grans == 0 {
		grans = 1 // default
	}
	fs := []Factor{{"model(s)", max(models, 1)}, {"format(s)", formats}, {"granularity(ies)", grans}, {"KV-cache setting(s)", max(kvs, 1)}}
	sort.Strings(keys)
	for _, k := range keys {
		fs = append(fs, Factor{k, params[k]})
	}
	return fs
}

// addSat is a + b, saturating at math.MaxUint64.
func addSat(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint64
}

// each calls fn for every combination of parameter values, in order.
func (s Selection) eachParams(fn func([]manifest.Param) error) error {
	idx := make([]int, len(s.Params))
	for {
		ps := make([]manifest.Param, len(s.Params))
		for i, a := range s.Params {
			ps[i] = manifest.Param{Key: a.Key, Value: a.Values[idx[i]]}
		}
		if err := fn(ps); err != nil {
			return err
		}
		i := len(idx) - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < len(s.Params[i].Values) {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return nil
		}
	}
}

// nearGroupKey returns the selection key (a group, its field notation, or
// model) that key is a likely typo of, or "".
func nearGroupKey(key string, g Groups) string {
	keys := []string{g.Format, g.Granularity, g.KVCache, g.Format + ".format_name", g.Granularity + ".name", g.Model}
	for _, k := range keys {
		if key == k {
			return ""
		}
	}
	return suggest.Closest(key, keys)
}
