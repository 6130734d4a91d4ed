// Package plan is where a selection becomes runs: it parses the selection
// (flags and Hydra overrides), resolves every format × granularity, lays
// out the directories, checks the names against the registry, writes the
// run files and records the runs — all or nothing.
package plan

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/qrun-dev/qrun/hydra"
	"github.com/qrun-dev/qrun/internal/suggest"
	"github.com/qrun-dev/qrun/layout"
	"github.com/qrun-dev/qrun/manifest"
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
func ParseSelection(f Flags, overrides []string, groups Groups, ignore []string) (Selection, error) {
	var sel Selection
	groups = groups.withDefaults()
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
	for _, arg := range overrides {
		o, err := hydra.Parse(arg)
		if err != nil {
			return sel, usagef("%v", err)
		}
		switch o.Key {
		case groups.Format, groups.Format + ".format_name":
			names, err := nameValues(o)
			if err != nil {
				return sel, err
			}
			if err := claim("format", arg); err != nil {
				return sel, err
			}
			sel.Formats = append(sel.Formats, names...)
		case groups.Granularity, groups.Granularity + ".name":
			names, err := nameValues(o)
			if err != nil {
				return sel, err
			}
			if err := claim("granularity", arg); err != nil {
				return sel, err
			}
			sel.Granularities = append(sel.Granularities, names...)
		case groups.KVCache:
			names, err := nameValues(o)
			if err != nil {
				return sel, err
			}
			if err := claim("kv-cache", arg); err != nil {
				return sel, err
			}
			sel.KVCaches = append(sel.KVCaches, names...)
		case groups.Model:
			names, err := nameValues(o)
			if err != nil {
				return sel, err
			}
			if err := claim("model", arg); err != nil {
				return sel, err
			}
			sel.Models = append(sel.Models, names...)
		default:
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
// granularities × KV-cache settings × each parameter's values).
func (s Selection) Size() int {
	n := max(len(s.Models), 1) * len(s.Formats) * len(s.Granularities) * max(len(s.KVCaches), 1)
	for _, a := range s.Params {
		n *= len(a.Values)
	}
	return n
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
