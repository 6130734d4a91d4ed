// Package vocab holds qrun's vocabulary: granularities
// (quant_granularity.name) and formats (quant_pair.format_name), built-in and
// from the user's Hydra group folders; their definitions, aliases,
// fingerprints, and the resolution of a format × granularity into one
// complete ModelOpt config.
package vocab

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/qrun-dev/qrun/internal/suggest"
	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/namekind"
)

// group is the kind's Hydra config group (and vocabulary folder name).
func group(k namekind.Kind) string {
	switch k {
	case namekind.Format:
		return "quant_pair"
	case namekind.KVCache:
		return "quant_kv_cache"
	}
	return "quant_granularity"
}

// NoKVCache is the KV-cache value that quantizes nothing: the KV cache as
// qrun's recipes had it before the axis existed.
const NoKVCache = "none"

// nameKey is the key that holds the name in a vocabulary file.
func nameKey(k namekind.Kind) string {
	if k == namekind.Format {
		return "format_name"
	}
	return "name"
}

// BuiltinSource is the Source of compiled-in entries.
const BuiltinSource = "built-in"

// nameRE is a name's form; a name is at most 64 bytes long (checked with
// len: a {0,63} repetition would make the regexp costly to compile).
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ValidName reports whether s may name a granularity or format:
// ^[a-z][a-z0-9_]{0,63}$.
func ValidName(s string) bool { return len(s) <= 64 && nameRE.MatchString(s) }

// Entry is what granularities and formats have in common.
type Entry struct {
	Kind        namekind.Kind
	Name        string
	Description string
	Aliases     []string
	Retired     bool
	Builtin     bool
	Source      string // "built-in" or the file's path

	lines map[string]int // line of each top-level key in the file
}

// Granularity is a named overlay on a format's weight and/or activation
// quantizer.
type Granularity struct {
	Entry
	Weights     modelopt.Attrs // the file's own overlays; nil = untouched
	Activations modelopt.Attrs
	Compose     []string

	overlays map[modelopt.Role]modelopt.Attrs // effective, compose expanded
	raw      map[any]any                      // the definition as read (all keys)
	fp       string                           // fingerprint, computed on first use
	fpOnce   sync.Once
}

// Overlay returns the effective overlay for a role, compose expanded.
func (g *Granularity) Overlay(r modelopt.Role) (modelopt.Attrs, bool) {
	a, ok := g.overlays[r]
	return a, ok
}

// Touches lists the roles the granularity changes.
func (g *Granularity) Touches() []modelopt.Role {
	var out []modelopt.Role
	for _, r := range modelopt.Roles {
		if _, ok := g.overlays[r]; ok {
			out = append(out, r)
		}
	}
	return out
}

// Format is a complete base ModelOpt config plus its locks.
type Format struct {
	Entry
	Base   string
	Config modelopt.Config
	Lock   []modelopt.Role

	raw    map[any]any
	fp     string // fingerprint, computed on first use
	fpOnce sync.Once
}

// Locked reports whether the format fixes a role's granularity.
func (f *Format) Locked(r modelopt.Role) bool {
	for _, l := range f.Lock {
		if l == r {
			return true
		}
	}
	return false
}

// KVCache is a KV-cache setting: quant_cfg entries for the attention's
// K/V quantizers (*[kv]_bmm_quantizer), placed after a format's entries.
// Its algorithm, if any, is kept for the record and never merged into the
// format's, as hf_ptq does with ModelOpt's KV presets.
type KVCache struct {
	Entry
	Entries   []modelopt.Entry
	Algorithm any

	raw    map[any]any
	fp     string
	fpOnce sync.Once
}

// None reports whether the setting quantizes nothing.
func (c *KVCache) None() bool { return len(c.Entries) == 0 }

// Vocabulary is the set of names in effect: built-ins plus the user's files.
type Vocabulary struct {
	granularities map[string]*Granularity
	formats       map[string]*Format
	kvcaches      map[string]*KVCache
	aliases       map[namekind.Kind]map[string]string // alias → canonical name
	// unread are the built-ins whose files are not read yet, by kind and
	// name (builtin/<group>/<name>.yaml): a lookup reads the one it needs,
	// anything that needs every name reads them all (see readBuiltin).
	unread map[namekind.Kind]map[string]bool
	// headers are every built-in's name, description, aliases and retired
	// flag, read from the first lines of its file (see readHeaders).
	headers map[namekind.Kind]map[string]Entry
	// mu guards reading and building the built-ins on first use: a
	// Vocabulary may be shared (Builtin's is).
	mu sync.Mutex
	// notices are what loading accepted but a user should hear of, one
	// line each (see Notices).
	notices []string
}

// Notices are one-line remarks on the files loaded that changed nothing
// (an exported built-in whose description the user edited), in file order.
func (v *Vocabulary) Notices() []string { return v.notices }

func newVocabulary() *Vocabulary {
	return &Vocabulary{
		granularities: map[string]*Granularity{},
		formats:       map[string]*Format{},
		kvcaches:      map[string]*KVCache{},
		aliases:       map[namekind.Kind]map[string]string{namekind.Granularity: {}, namekind.Format: {}, namekind.KVCache: {}},
		unread:        map[namekind.Kind]map[string]bool{namekind.Granularity: {}, namekind.Format: {}, namekind.KVCache: {}},
	}
}

// Granularities returns every granularity, sorted by name, each built.
func (v *Vocabulary) Granularities() []*Granularity {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.readBuiltins()
	out := byName(v.granularities)
	for _, g := range out {
		v.readyGranularity(g)
	}
	return out
}

// Formats returns every format, sorted by name, each built.
func (v *Vocabulary) Formats() []*Format {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.readBuiltins()
	out := byName(v.formats)
	for _, f := range out {
		v.readyFormat(f)
	}
	return out
}

// KVCaches returns every KV-cache setting, sorted by name.
func (v *Vocabulary) KVCaches() []*KVCache {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.readBuiltins()
	return byName(v.kvcaches)
}

// Entries returns the entries of a kind, sorted by name — names, aliases,
// descriptions, sources — without building a definition.
func (v *Vocabulary) Entries(k namekind.Kind) []Entry {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.readHeaders()
	var out []Entry
	for name := range v.unread[k] { // built-ins not read: their headers
		out = append(out, v.headers[k][name])
	}
	switch k {
	case namekind.Format:
		for _, f := range byName(v.formats) {
			out = append(out, f.Entry)
		}
	case namekind.KVCache:
		for _, c := range byName(v.kvcaches) {
			out = append(out, c.Entry)
		}
	default:
		for _, g := range byName(v.granularities) {
			out = append(out, g.Entry)
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// byName lists a name → entry map's entries in name order.
func byName[E any](m map[string]E) []E {
	out := make([]E, 0, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[name])
	}
	return out
}

// Names lists the canonical names and aliases of a kind, sorted.
func (v *Vocabulary) Names(k namekind.Kind) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.names(k)
}

func (v *Vocabulary) names(k namekind.Kind) []string {
	v.readHeaders()
	var out []string
	out = slices.AppendSeq(out, maps.Keys(v.unread[k]))
	switch k {
	case namekind.Format:
		out = slices.AppendSeq(out, maps.Keys(v.formats))
	case namekind.KVCache:
		out = slices.AppendSeq(out, maps.Keys(v.kvcaches))
	default:
		out = slices.AppendSeq(out, maps.Keys(v.granularities))
	}
	for a := range v.aliases[k] {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Canonical returns the canonical name for a name or alias, and whether the
// name was an alias.
func (v *Vocabulary) Canonical(k namekind.Kind, name string) (canonical string, viaAlias bool, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.canonical(k, name)
}

// RecordedNames maps typed names (aliases too) to the names runs may be
// recorded under: the canonical name, and also the typed name and the
// canonical name's other aliases, since a name renamed the allowed way
// (declared as an alias of its new name) keeps its runs under the old name.
// Names the vocabulary no longer has (retired or deleted) are kept as
// typed, and so is every name when v is nil (a vocabulary that did not
// load must not stop a query). Names are trimmed; each comes once.
func (v *Vocabulary) RecordedNames(k namekind.Kind, names []string) []string {
	out := make([]string, 0, len(names))
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, n := range names {
		n = strings.TrimSpace(n)
		add(n)
		if v == nil {
			continue
		}
		c, _, ok := v.Canonical(k, n)
		if !ok {
			continue
		}
		add(c)
		var aliases []string
		if k == namekind.Format {
			if f, err := v.Format(c); err == nil {
				aliases = f.Aliases
			}
		} else if g, err := v.Granularity(c); err == nil {
			aliases = g.Aliases
		}
		for _, a := range aliases {
			add(a)
		}
	}
	return out
}

// canonical is Canonical for a caller holding v.mu. The entry it names is
// read: a built-in's name is its file's name, so a built-in looked up by
// name is read alone; any other name may be an alias of any built-in, and
// reads them all.
func (v *Vocabulary) canonical(k namekind.Kind, name string) (canonical string, viaAlias bool, ok bool) {
	if v.unread[k][name] {
		v.readBuiltin(k, name)
	}
	if v.entry(k, name) != nil {
		return name, false, true
	}
	v.readHeaders() // any other name may be a built-in's alias
	if c, isAlias := v.aliases[k][name]; isAlias {
		if v.unread[k][c] {
			v.readBuiltin(k, c)
		}
		return c, true, true
	}
	return name, false, false
}

// ErrInvalidSelection marks errors about what the user selected: an unknown
// or retired name, or a format × granularity that does not apply.
var ErrInvalidSelection = errors.New("invalid selection")

// SelectionError is an invalid selection, with the message to show.
type SelectionError struct{ Msg string }

func (e *SelectionError) Error() string        { return e.Msg }
func (e *SelectionError) Is(target error) bool { return target == ErrInvalidSelection }

func selectionErr(format string, args ...any) error {
	return &SelectionError{Msg: fmt.Sprintf(format, args...)}
}

// Granularity looks a granularity up by name or alias.
func (v *Vocabulary) Granularity(name string) (*Granularity, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c, _, ok := v.canonical(namekind.Granularity, name)
	if !ok {
		return nil, v.unknown(namekind.Granularity, name)
	}
	g := v.granularities[c]
	v.readyGranularity(g)
	return g, nil
}

// Format looks a format up by name or alias.
func (v *Vocabulary) Format(name string) (*Format, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c, _, ok := v.canonical(namekind.Format, name)
	if !ok {
		return nil, v.unknown(namekind.Format, name)
	}
	f := v.formats[c]
	v.readyFormat(f)
	return f, nil
}

// KVCache looks a KV-cache setting up by name or alias.
func (v *Vocabulary) KVCache(name string) (*KVCache, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c, _, ok := v.canonical(namekind.KVCache, name)
	if !ok {
		return nil, v.unknown(namekind.KVCache, name)
	}
	return v.kvcaches[c], nil
}

// Lookup finds a name of either kind.
func (v *Vocabulary) Lookup(name string) (*Granularity, *Format, *KVCache, error) {
	g, gerr := v.Granularity(name)
	f, ferr := v.Format(name)
	kv, kerr := v.KVCache(name)
	if gerr != nil && ferr != nil && kerr != nil {
		all := append(append(v.Names(namekind.Granularity), v.Names(namekind.Format)...), v.Names(namekind.KVCache)...)
		msg := fmt.Sprintf("unknown name %s: it is neither a granularity, a format nor a KV-cache setting", quote(name))
		if s := suggest.Closest(name, all); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		} else {
			msg += "; see qrun vocab list"
		}
		return nil, nil, nil, selectionErr("%s", msg)
	}
	return g, f, kv, nil
}

// unknown is the error for a name the vocabulary lacks; the caller holds
// v.mu.
func (v *Vocabulary) unknown(k namekind.Kind, name string) error {
	msg := fmt.Sprintf("unknown %s %s", k, quote(name))
	if s := suggest.Closest(name, v.names(k)); s != "" {
		return selectionErr("%s; did you mean %q?", msg, s)
	}
	return selectionErr("%s; see qrun vocab list --kind %s", msg, k)
}

// quote shows a user-typed value safely on one line.
func quote(s string) string {
	const max = 80
	r := []rune(s)
	if len(r) > max {
		return fmt.Sprintf("%q… (%d characters)", string(r[:max]), len(r))
	}
	return fmt.Sprintf("%q", s)
}
