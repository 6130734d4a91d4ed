package vocab

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/internal/suggest"
	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/namekind"
	"github.com/qrun-dev/qrun/vocab/internal/yamlfile"
)

// readBuiltin reads the embedded file of a built-in not read yet and adds
// its entry, checked as a user's file is (the definition is built when
// first needed: readyGranularity, readyFormat). A built-in that fails is a
// bug the tests catch.
func (v *Vocabulary) readBuiltin(k namekind.Kind, name string) {
	delete(v.unread[k], name)
	p := builtinPath(k, name)
	data, err := builtinFS.ReadFile(p)
	if err == nil {
		err = v.addFile(k, p, data, true)
	}
	if err != nil {
		panic("vocab: built-in " + string(k) + " " + name + " is invalid: " + err.Error())
	}
}

// readHeaders reads, once, the name, description, aliases and retired flag
// of every built-in — the few one-line keys at the top of its file — so
// that names, aliases and listings need no built-in's whole file: decoding
// all of them takes yaml.v3 about 7 ms; their headers, gathered into one
// YAML list and decoded at once, well under 1 ms.
// TestBuiltinHeadersEqualTheirFiles checks each header against its file.
func (v *Vocabulary) readHeaders() {
	if v.headers != nil {
		return
	}
	type file struct {
		k    namekind.Kind
		name string
	}
	var files []file
	var doc []byte
	for _, k := range namekind.All {
		for _, name := range slices.Sorted(maps.Keys(v.unread[k])) {
			data, err := builtinFS.ReadFile(builtinPath(k, name))
			if err != nil {
				panic("vocab: built-in " + builtinPath(k, name) + ": " + err.Error())
			}
			files = append(files, file{k, name})
			prefix := "- "
			for line := range strings.Lines(string(data)) {
				for _, key := range headerKeys {
					if strings.HasPrefix(line, key) {
						doc = append(append(doc, prefix...), line...)
						prefix = "  "
					}
				}
			}
		}
	}
	v.headers = map[namekind.Kind]map[string]Entry{namekind.Granularity: {}, namekind.Format: {}, namekind.KVCache: {}}
	if len(files) == 0 {
		return // every built-in is read already
	}
	var list yaml.Node
	if err := yaml.Unmarshal(doc, &list); err != nil || len(list.Content) != 1 || len(list.Content[0].Content) != len(files) {
		panic(fmt.Sprintf("vocab: the built-ins' headers do not decode: %v", err))
	}
	for i, item := range list.Content[0].Content {
		f := files[i]
		e, err := headerEntry(f.k, builtinPath(f.k, f.name), item)
		if err != nil {
			panic("vocab: built-in " + builtinPath(f.k, f.name) + ": " + err.Error())
		}
		v.headers[f.k][f.name] = e
		for _, a := range e.Aliases {
			v.aliases[f.k][a] = f.name
		}
	}
}

// headerKeys are the top-level keys a built-in's header is read from.
var headerKeys = []string{"name:", "format_name:", "description:", "aliases:", "retired:"}

// headerEntry reads a built-in's header from its decoded header keys.
func headerEntry(k namekind.Kind, p string, m *yaml.Node) (Entry, error) {
	e := Entry{Kind: k, Source: BuiltinSource, Builtin: true}
	var fields fieldSet
	for i := 0; i+1 < len(m.Content); i += 2 {
		val, err := modelopt.FromNode(m.Content[i+1])
		if err != nil {
			return e, err
		}
		fields = append(fields, field{key: m.Content[i].Value, line: m.Content[i].Line, node: m.Content[i+1], val: val})
	}
	if err := readCommon(p, fields, &e); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// readBuiltins reads every built-in not read yet, in kind and name order,
// and reports whether there was any.
func (v *Vocabulary) readBuiltins() bool {
	read := false
	for _, k := range namekind.All {
		for _, name := range slices.Sorted(maps.Keys(v.unread[k])) {
			if v.unread[k][name] {
				v.readBuiltin(k, name)
				read = true
			}
		}
	}
	return read
}

func builtinPath(k namekind.Kind, name string) string {
	return "builtin/" + group(k) + "/" + name + ".yaml"
}

// readyGranularity builds g if it is a built-in not built yet; the caller
// holds v.mu. A built-in that fails here is a bug the tests catch.
func (v *Vocabulary) readyGranularity(g *Granularity) {
	if g.overlays == nil {
		if err := v.expand(g, nil); err != nil {
			panic("vocab: built-in granularity " + g.Name + " is invalid: " + err.Error())
		}
	}
}

// readyFormat builds f if it is a built-in not built yet; the caller holds
// v.mu.
func (v *Vocabulary) readyFormat(f *Format) {
	if f.Config.Entries == nil {
		if err := v.buildFormat(f); err != nil {
			panic("vocab: built-in format " + f.Name + " is invalid: " + err.Error())
		}
	}
}

// addFile parses one file and adds its entry, refusing clashes with what is
// already there.
func (v *Vocabulary) addFile(k namekind.Kind, p string, data []byte, builtin bool) error {
	top, err := decodeTop(p, data)
	if err != nil {
		return err
	}
	return v.addTop(k, p, top, builtin)
}

// addTop adds the entry a file's top-level fields define.
func (v *Vocabulary) addTop(k namekind.Kind, p string, top *yamlfile.Top, builtin bool) error {
	var e *Entry
	var raw map[any]any
	var g *Granularity
	var f *Format
	var kv *KVCache
	var err error
	switch k {
	case namekind.Granularity:
		g, err = granularityFrom(p, top)
		if err != nil {
			return err
		}
		e, raw = &g.Entry, g.raw
	case namekind.KVCache:
		kv, err = kvCacheFrom(p, top)
		if err != nil {
			return err
		}
		e, raw = &kv.Entry, kv.raw
	default:
		f, err = formatFrom(p, top)
		if err != nil {
			return err
		}
		e, raw = &f.Entry, f.raw
	}
	if !builtin {
		// The built-ins a user's names or aliases meet are read, to be
		// compared with (their headers have every built-in name and alias).
		v.readHeaders()
		for _, n := range append([]string{e.Name}, e.Aliases...) {
			for _, b := range []string{n, v.aliases[k][n]} {
				if v.unread[k][b] {
					v.readBuiltin(k, b)
				}
			}
		}
	}
	if builtin {
		e.Builtin = true
		e.Source = BuiltinSource
	} else if old := v.entry(k, e.Name); old != nil {
		if old.Builtin {
			if modelopt.Equal(raw, v.rawOf(k, e.Name)) {
				return nil // the built-in as `vocab export` writes it
			}
			if modelopt.Equal(withoutDescription(raw), withoutDescription(v.rawOf(k, e.Name))) {
				// Descriptions are not meaning (no fingerprint covers
				// them): an exported built-in with the user's own words
				// is the built-in, qrun's description kept.
				v.notices = append(v.notices, fmt.Sprintf("%s: the description of built-in %s %s differs from qrun's; descriptions are not meaning, so qrun's is kept", p, k, e.Name))
				return nil
			}
			return &FileError{Path: p, Msg: fmt.Sprintf("%s %s is built in and never changes; this file defines it differently: choose a new name, or restore the file with qrun vocab export", k, e.Name)}
		}
		return &FileError{Path: p, Msg: fmt.Sprintf("duplicate %s %s: already defined in %s", k, e.Name, old.Source)}
	}
	// A name means one thing across formats and granularities (both are
	// selected with the same kind of words); KV-cache settings are their own
	// axis, named after ModelOpt's KV presets (fp8, nvfp4, …). Built-ins
	// are checked against each other by the tests.
	if k != namekind.KVCache && !builtin {
		other := namekind.Format
		if k == namekind.Format {
			other = namekind.Granularity
		}
		for _, n := range append([]string{e.Name}, e.Aliases...) {
			if v.known(other, n) {
				return &FileError{Path: p, Msg: fmt.Sprintf("%s is already a %s name; a name means one thing across formats and granularities: choose another", n, other)}
			}
		}
	}
	if owner, ok := v.aliases[k][e.Name]; ok {
		if contains(e.Aliases, owner) {
			return &FileError{Path: p, Msg: fmt.Sprintf("alias cycle: %s and %s (%s) name each other as aliases", e.Name, owner, v.entry(k, owner).Source)}
		}
		return &FileError{Path: p, Msg: fmt.Sprintf("duplicate name: %s is already an alias of %s %s (%s)", e.Name, k, owner, v.entry(k, owner).Source)}
	}
	for _, a := range e.Aliases {
		if builtin && v.aliases[k][a] == e.Name {
			continue // known from the built-in's header
		}
		if other := v.entry(k, a); other != nil {
			if contains(other.Aliases, e.Name) {
				return &FileError{Path: p, Msg: fmt.Sprintf("alias cycle: %s and %s (%s) name each other as aliases", e.Name, a, other.Source)}
			}
			return &FileError{Path: p, Msg: fmt.Sprintf("duplicate name: alias %s is already the name of a %s (%s)", a, k, other.Source)}
		}
		if owner, ok := v.aliases[k][a]; ok {
			return &FileError{Path: p, Msg: fmt.Sprintf("duplicate alias: %s is already an alias of %s (%s)", a, owner, v.entry(k, owner).Source)}
		}
	}
	for _, a := range e.Aliases {
		v.aliases[k][a] = e.Name
	}
	switch {
	case g != nil:
		v.granularities[e.Name] = g
	case kv != nil:
		v.kvcaches[e.Name] = kv
	default:
		v.formats[e.Name] = f
	}
	return nil
}

func (v *Vocabulary) entry(k namekind.Kind, name string) *Entry {
	switch k {
	case namekind.Format:
		if f, ok := v.formats[name]; ok {
			return &f.Entry
		}
	case namekind.KVCache:
		if c, ok := v.kvcaches[name]; ok {
			return &c.Entry
		}
	default:
		if g, ok := v.granularities[name]; ok {
			return &g.Entry
		}
	}
	return nil
}

// known reports whether a name or alias of the kind is taken, without
// reading a built-in: the user's files are added once every built-in is
// read, and a built-in read alone is checked against the others when they
// all are.
func (v *Vocabulary) known(k namekind.Kind, name string) bool {
	v.readHeaders()
	_, isAlias := v.aliases[k][name]
	return isAlias || v.unread[k][name] || v.entry(k, name) != nil
}

func (v *Vocabulary) rawOf(k namekind.Kind, name string) map[any]any {
	switch k {
	case namekind.Format:
		return v.formats[name].raw
	case namekind.KVCache:
		return v.kvcaches[name].raw
	}
	return v.granularities[name].raw
}

// finish expands compositions and builds the configs of the entries read
// from the user's files (building those builds the built-ins they compose
// or extend); the other built-ins are built on first use.
func (v *Vocabulary) finish() []error {
	var errs []error
	for _, g := range byName(v.granularities) {
		if g.Builtin || g.overlays != nil {
			continue
		}
		if err := v.expand(g, nil); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range byName(v.formats) {
		if f.Builtin || f.Config.Entries != nil {
			continue
		}
		if err := v.buildFormat(f); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func (v *Vocabulary) expand(g *Granularity, stack []string) error {
	if g.overlays != nil {
		return nil
	}
	for _, s := range stack {
		if s == g.Name {
			for _, member := range stack {
				v.granularities[member].overlays = map[modelopt.Role]modelopt.Attrs{} // report the cycle once
			}
			return &FileError{Path: g.Source, Msg: fmt.Sprintf("compose cycle: %s", strings.Join(append(stack, g.Name), " → "))}
		}
	}
	ovs := map[modelopt.Role]modelopt.Attrs{}
	from := map[modelopt.Role]string{}
	if g.Weights != nil {
		ovs[modelopt.Weights] = g.Weights
	}
	if g.Activations != nil {
		ovs[modelopt.Activations] = g.Activations
	}
	for _, part := range g.Compose {
		c, _, ok := v.canonical(namekind.Granularity, part)
		if !ok {
			msg := fmt.Sprintf("compose: unknown granularity %s", quote(part))
			if s := suggest.Closest(part, v.names(namekind.Granularity)); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			return &FileError{Path: g.Source, Msg: msg}
		}
		pg := v.granularities[c]
		if err := v.expand(pg, append(stack, g.Name)); err != nil {
			return err
		}
		for _, r := range modelopt.Roles {
			ov, ok := pg.overlays[r]
			if !ok {
				continue
			}
			if prev, dup := from[r]; dup {
				return &FileError{Path: g.Source, Msg: fmt.Sprintf("compose: %s and %s both set the %s granularity; composed parts must touch different roles", prev, c, r)}
			}
			from[r] = c
			ovs[r] = ov.Clone()
		}
	}
	g.overlays = ovs
	return nil
}

// buildFormat turns a format's definition into its complete config.
func (v *Vocabulary) buildFormat(f *Format) error {
	fail := func(key, msg string) error {
		return &FileError{Path: f.Source, Line: f.lines[key], Msg: msg}
	}
	raw := f.raw
	_, hasQC := raw["quant_cfg"]
	var cfg modelopt.Config
	switch {
	case hasQC && raw["quant_cfg"] != nil:
		for _, k := range []string{"base", "weights", "activations"} {
			if _, ok := raw[k]; ok {
				return fail(k, fmt.Sprintf("quant_cfg replaces base, weights and activations: give either quant_cfg or %s", k))
			}
		}
		entries, err := modelopt.ParseEntries(raw["quant_cfg"])
		if err != nil {
			return fail("quant_cfg", err.Error())
		}
		cfg = modelopt.FromList(entries, "max")
		if !cfg.DenyAll {
			return fail("quant_cfg", "quant_cfg must start with ModelOpt's deny-all {quantizer_name: '*', enable: false}; without it every layer the list does not name (lm_head included) is quantized with default attributes")
		}
	case f.Base != "":
		c, _, ok := v.canonical(namekind.Format, f.Base)
		if !ok || !v.formats[c].Builtin {
			msg := fmt.Sprintf("base %s is not a built-in format", quote(f.Base))
			if s := suggest.Closest(f.Base, builtinFormatNames(v)); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			return fail("base", msg)
		}
		base := v.formats[c]
		if base.Config.Entries == nil {
			if err := v.buildFormat(base); err != nil {
				return err
			}
		}
		cfg = base.Config.Clone()
		for _, l := range base.Lock {
			if _, redefined := raw[string(l)]; !redefined && !f.Locked(l) {
				f.Lock = append(f.Lock, l)
			}
		}
	default:
		cfg = modelopt.Config{DenyAll: true, DefaultTail: true, Algorithm: "max"}
	}
	for _, r := range modelopt.Roles {
		val, ok := raw[string(r)]
		if !ok || val == nil {
			continue
		}
		e, err := roleEntry(r, val)
		if err != nil {
			return fail(string(r), err.Error())
		}
		if i := cfg.RoleIndex(r); i >= 0 {
			cfg.Entries[i] = e
		} else if r == modelopt.Activations && cfg.RoleIndex(modelopt.Weights) >= 0 {
			i := cfg.RoleIndex(modelopt.Weights) + 1
			cfg.Entries = append(cfg.Entries[:i], append([]modelopt.Entry{e}, cfg.Entries[i:]...)...)
		} else if r == modelopt.Weights {
			cfg.Entries = append([]modelopt.Entry{e}, cfg.Entries...)
		} else {
			cfg.Entries = append(cfg.Entries, e)
		}
	}
	if alg, ok := raw["algorithm"]; ok {
		if err := modelopt.ValidateAlgorithm(alg); err != nil {
			return fail("algorithm", err.Error())
		}
		cfg.Algorithm = alg
	}
	if cfg.Entries == nil {
		cfg.Entries = []modelopt.Entry{}
	}
	if err := cfg.Validate(modelopt.DefaultTarget); err != nil {
		return fail("", err.Error())
	}
	for _, l := range f.Lock {
		if cfg.RoleIndex(l) < 0 && len(cfg.RoleEntries(l)) == 0 {
			return fail("lock", fmt.Sprintf("lock: the format has no %s quantizer entry to lock", l))
		}
	}
	f.Config = cfg
	return nil
}

func builtinFormatNames(v *Vocabulary) []string {
	v.readBuiltins()
	var out []string
	for _, f := range v.formats {
		if f.Builtin {
			out = append(out, f.Name)
		}
	}
	return out
}

// roleEntry reads a format's role definition: complete attributes, a list of
// stages (a sequential weight quantizer), or {enable: false}, checked by
// ModelOpt's attribute rules.
func roleEntry(r modelopt.Role, val any) (modelopt.Entry, error) {
	e := modelopt.Entry{QuantizerName: r.Quantizer()}
	switch x := val.(type) {
	case map[any]any:
		if len(x) == 1 {
			if en, ok := x["enable"].(bool); ok && !en {
				f := false
				e.Enable = &f
				return e, nil
			}
		}
		a, err := roleAttrs(r, x)
		if err != nil {
			return e, err
		}
		e.Cfg = a
	case []any:
		if r != modelopt.Weights {
			return e, fmt.Errorf("%s: only a weight quantizer may be sequential (a list of stages)", r)
		}
		if len(x) == 0 {
			return e, fmt.Errorf("%s: the list of stages is empty", r)
		}
		for _, s := range x {
			m, ok := s.(map[any]any)
			if !ok {
				return e, fmt.Errorf("%s: each stage must be a mapping of quantizer attributes", r)
			}
			a, err := roleAttrs(r, m)
			if err != nil {
				return e, err
			}
			e.Stages = append(e.Stages, a)
		}
	default:
		return e, fmt.Errorf("%s must be a mapping of quantizer attributes such as {num_bits: 8, axis: 0}", r)
	}
	return e, nil
}

func roleAttrs(r modelopt.Role, m map[any]any) (modelopt.Attrs, error) {
	a, err := modelopt.AttrsFrom(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r, err)
	}
	if _, ok := a["enable"]; ok {
		return nil, fmt.Errorf("%s: enable belongs on the entry, not among the attributes; write {enable: false} alone to leave the role unquantized", r)
	}
	if len(a) == 0 {
		return nil, fmt.Errorf("%s: no attributes; give the role's complete attributes (at least num_bits)", r)
	}
	if !a.Has("num_bits") {
		return nil, fmt.Errorf("%s: num_bits is missing; a format gives each role's complete attributes (ModelOpt would silently use 8 bits)", r)
	}
	if err := a.Validate(modelopt.DefaultTarget); err != nil {
		return nil, fmt.Errorf("%s: %w", r, err)
	}
	return a, nil
}

// withoutDescription is a definition as read without its description.
func withoutDescription(raw map[any]any) map[any]any {
	out := make(map[any]any, len(raw))
	for k, v := range raw {
		if k != "description" {
			out[k] = v
		}
	}
	return out
}
