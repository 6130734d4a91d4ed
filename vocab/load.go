package vocab

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/internal/suggest"
	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/namekind"
	"github.com/qrun-dev/qrun/vocab/internal/yamlfile"
)

// builtinFS holds the built-in vocabulary files, one per name as a user's
// (builtin/quant_granularity/NAME.yaml, builtin/quant_pair/NAME.yaml): read
// on first use and written by vocab export.
//
//go:embed builtin
var builtinFS embed.FS

// MaxFileSize bounds a vocabulary file: a definition is a few lines.
const MaxFileSize = 256 << 10

// FileError is a problem in a vocabulary file, at a line where it applies.
type FileError struct {
	Path string
	Line int
	Msg  string
}

func (e *FileError) Error() string {
	p := e.Path
	if strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		p = strconv.Quote(p) // a file name with a line break stays on one line
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", p, e.Msg)
}

// Dirs are the folders that hold the user's vocabulary files.
type Dirs struct {
	Granularity string // e.g. conf/quant_granularity
	Format      string // e.g. conf/quant_pair
	KVCache     string // e.g. conf/quant_kv_cache
	// Base is the folder the relative folders are in (the working
	// directory; "" for the process's). Messages name files as given.
	Base string
}

// Open is where file or folder p, as a vocabulary names it, is on disk.
func (d Dirs) Open(p string) string {
	if d.Base == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(d.Base, p)
}

// dir is the folder of a kind's files.
func (d Dirs) dir(k namekind.Kind) string {
	switch k {
	case namekind.Format:
		return d.Format
	case namekind.KVCache:
		return d.KVCache
	}
	return d.Granularity
}

var (
	builtinOnce sync.Once
	builtinVoc  *Vocabulary
	builtinErr  error
)

// Builtin returns the compiled-in vocabulary.
func Builtin() *Vocabulary {
	builtinOnce.Do(func() {
		builtinVoc, builtinErr = load(nil, Dirs{})
	})
	if builtinErr != nil {
		panic("vocab: built-in vocabulary is invalid: " + builtinErr.Error())
	}
	return builtinVoc
}

// BuiltinFiles returns the built-in definitions as `vocab export` writes
// them: group folder/name.yaml → bytes.
func BuiltinFiles() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(builtinFS, "builtin", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := builtinFS.ReadFile(p)
		if err != nil {
			return err
		}
		out[strings.TrimPrefix(p, "builtin/")] = b
		return nil
	})
	return out, err
}

// Load returns the built-ins plus the definitions in the folders (a missing
// folder holds nothing). Every problem found is reported, one line each.
func Load(dirs Dirs) (*Vocabulary, error) {
	return load(func(dir string) ([]string, error) { return osFiles(dirs, dir) }, dirs)
}

type fileSource func(dir string) ([]string, error)

// osFiles lists the YAML files of folder dir (named as given).
func osFiles(d Dirs, dir string) ([]string, error) {
	if dir == "" {
		return nil, nil
	}
	ents, err := os.ReadDir(d.Open(dir))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read vocabulary folder %s: %v", dir, unwrapPathErr(err))
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	sort.Strings(out)
	return out, nil
}

// load adds the built-ins by name, each read from its file when first
// needed (a resolve reads one format and one granularity), then the user's
// files, which are checked and built at once — after every built-in is
// read, since a user's name must not be any built-in's name or alias.
func load(src fileSource, dirs Dirs) (*Vocabulary, error) {
	v := newVocabulary()
	for _, k := range namekind.All {
		ents, err := builtinFS.ReadDir("builtin/" + group(k))
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			v.unread[k][strings.TrimSuffix(e.Name(), ".yaml")] = true
		}
	}
	var errs []error
	if src != nil {
		for _, k := range namekind.All {
			dir := dirs.dir(k)
			files, err := src(dir)
			if err != nil {
				return nil, err
			}
			if len(files) > 0 {
				v.readHeaders() // a user's name must be no built-in's name or alias
			}
			for _, p := range files {
				b, err := readLimited(p, dirs.Open(p))
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if err := v.addFile(k, p, b, false); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	errs = append(errs, v.finish()...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return v, nil
}

// readLimited reads file p (named p in messages) at path at.
func readLimited(p, at string) ([]byte, error) {
	st, err := os.Stat(at)
	if err != nil {
		return nil, &FileError{Path: p, Msg: fmt.Sprintf("cannot read: %v", unwrapPathErr(err))}
	}
	if !st.Mode().IsRegular() {
		return nil, &FileError{Path: p, Msg: "not a regular file (a pipe, device or socket); a vocabulary file is a plain YAML file"}
	}
	if st.Size() > MaxFileSize {
		return nil, &FileError{Path: p, Msg: fmt.Sprintf("file is larger than %d KiB; a vocabulary file holds one short definition", MaxFileSize>>10)}
	}
	f, err := os.Open(at)
	if err != nil {
		return nil, &FileError{Path: p, Msg: fmt.Sprintf("cannot read: %v", unwrapPathErr(err))}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &FileError{Path: p, Msg: fmt.Sprintf("cannot read: %v", unwrapPathErr(err))}
	}
	if len(b) > MaxFileSize {
		return nil, &FileError{Path: p, Msg: fmt.Sprintf("file is larger than %d KiB; a vocabulary file holds one short definition", MaxFileSize>>10)}
	}
	return b, nil
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ParseGranularity reads one granularity file. name is the file's base name
// without .yaml, which must equal the name inside.
func ParseGranularity(p string, data []byte) (*Granularity, error) {
	top, err := decodeTop(p, data)
	if err != nil {
		return nil, err
	}
	return granularityFrom(p, top)
}

// ParseFormat reads one format file.
func ParseFormat(p string, data []byte) (*Format, error) {
	top, err := decodeTop(p, data)
	if err != nil {
		return nil, err
	}
	return formatFrom(p, top)
}

// decodeTop is the YAML step: the file's top-level fields.
func decodeTop(p string, data []byte) (*yamlfile.Top, error) {
	top, yerr := yamlfile.Decode(data)
	if yerr != nil {
		return nil, &FileError{Path: p, Line: yerr.Line, Msg: yerr.Msg}
	}
	return top, nil
}

// granularityFrom reads a granularity from a file's top-level fields.
func granularityFrom(p string, top *yamlfile.Top) (*Granularity, error) {
	g := &Granularity{Entry: Entry{Kind: namekind.Granularity, Source: p}}
	fields, err := readFields(p, top, namekind.Granularity, []string{"name", "description", "weights", "activations", "compose", "aliases", "retired"})
	if err != nil {
		return nil, err
	}
	if err := readCommon(p, fields, &g.Entry); err != nil {
		return nil, err
	}
	for _, r := range modelopt.Roles {
		f, ok := fields.get(string(r))
		if !ok || f.val == nil {
			continue
		}
		m, isMap := f.val.(map[any]any)
		if !isMap {
			return nil, &FileError{p, f.line, fmt.Sprintf("%s must be a mapping of quantizer attributes such as {axis: 0}", r)}
		}
		if len(m) == 0 {
			continue
		}
		ov, err := modelopt.AttrsFrom(m)
		if err == nil {
			err = modelopt.ValidateOverlay(ov)
		}
		if err != nil {
			return nil, &FileError{p, attrLine(f, err), fmt.Sprintf("%s: %v", r, err)}
		}
		if r == modelopt.Weights {
			g.Weights = ov
		} else {
			g.Activations = ov
		}
	}
	if f, ok := fields.get("compose"); ok && f.val != nil {
		names, err := stringList(f.val)
		if err != nil {
			return nil, &FileError{p, f.line, "compose must be a list of granularity names"}
		}
		if len(names) > 0 && (g.Weights != nil || g.Activations != nil) {
			return nil, &FileError{p, f.line, "compose replaces weights/activations: give one or the other"}
		}
		for _, n := range names {
			if !ValidName(n) {
				return nil, &FileError{p, f.line, fmt.Sprintf("compose: %s is not a valid name", quote(n))}
			}
		}
		g.Compose = names
	}
	g.raw = rawOf(fields) // no lines: nothing reports a granularity's line after this
	return g, nil
}

// formatFrom reads a format from a file's top-level fields.
func formatFrom(p string, top *yamlfile.Top) (*Format, error) {
	f := &Format{Entry: Entry{Kind: namekind.Format, Source: p}}
	fields, err := readFields(p, top, namekind.Format, []string{"format_name", "description", "base", "weights", "activations", "algorithm", "lock", "quant_cfg", "aliases", "retired"})
	if err != nil {
		return nil, err
	}
	if err := readCommon(p, fields, &f.Entry); err != nil {
		return nil, err
	}
	if b, ok := fields.get("base"); ok && b.val != nil {
		s, isStr := b.val.(string)
		if !isStr || s == "" {
			return nil, &FileError{p, b.line, "base must be the name of a built-in format"}
		}
		f.Base = s
	}
	if l, ok := fields.get("lock"); ok && l.val != nil {
		names, err := stringList(l.val)
		if err != nil {
			return nil, &FileError{p, l.line, "lock must be a list of roles: weights, activations"}
		}
		for _, n := range names {
			r := modelopt.Role(n)
			if r != modelopt.Weights && r != modelopt.Activations {
				return nil, &FileError{p, l.line, fmt.Sprintf("lock: unknown role %s; roles are weights and activations", quote(n))}
			}
			if !f.Locked(r) {
				f.Lock = append(f.Lock, r)
			}
		}
		sort.Slice(f.Lock, func(i, j int) bool { return f.Lock[i] == modelopt.Weights })
	}
	f.raw, f.lines = rawOf(fields), linesOf(fields)
	return f, nil
}

// kvCacheFrom reads a KV-cache setting from a file's top-level fields:
//
//	name: fp8_cast
//	quant_cfg: [{quantizer_name: '*[kv]_bmm_quantizer', cfg: {...}}]   # [] for none
//	algorithm: max        # optional: recorded, never merged into a format's
func kvCacheFrom(p string, top *yamlfile.Top) (*KVCache, error) {
	c := &KVCache{Entry: Entry{Kind: namekind.KVCache, Source: p}}
	fields, err := readFields(p, top, namekind.KVCache, []string{"name", "description", "quant_cfg", "algorithm", "aliases", "retired"})
	if err != nil {
		return nil, err
	}
	if err := readCommon(p, fields, &c.Entry); err != nil {
		return nil, err
	}
	qc, ok := fields.get("quant_cfg")
	if !ok {
		return nil, &FileError{p, top.Line, "missing quant_cfg: a KV-cache setting is a list of quant_cfg entries for the K/V quantizers (*[kv]_bmm_quantizer), or [] for none"}
	}
	if qc.val != nil {
		entries, err := modelopt.ParseEntries(qc.val)
		if err != nil {
			return nil, &FileError{p, qc.line, err.Error()}
		}
		for i, e := range entries {
			if e.QuantizerName == "*" || strings.HasSuffix(e.QuantizerName, "weight_quantizer") || strings.HasSuffix(e.QuantizerName, "input_quantizer") {
				return nil, &FileError{p, qc.line, fmt.Sprintf("quant_cfg entry %d (%s): a KV-cache setting configures the attention's K/V quantizers (*[kv]_bmm_quantizer, *k_bmm_quantizer, …), not a format's weights or inputs", i+1, e.QuantizerName)}
			}
		}
		if err := (modelopt.Config{Entries: entries}).Validate(modelopt.DefaultTarget); err != nil {
			return nil, &FileError{p, qc.line, err.Error()}
		}
		c.Entries = entries
	}
	if a, ok := fields.get("algorithm"); ok {
		if err := modelopt.ValidateAlgorithm(a.val); err != nil {
			return nil, &FileError{p, a.line, err.Error()}
		}
		c.Algorithm = a.val
	}
	c.raw, c.lines = rawOf(fields), linesOf(fields)
	return c, nil
}

// field is one top-level key of a vocabulary file.
type field struct {
	key  string
	line int
	node *yaml.Node
	val  any
}

// fieldSet is a file's top-level keys in file order: a handful, found
// faster by a scan than by a map.
type fieldSet []field

func (fs fieldSet) get(key string) (field, bool) {
	for _, f := range fs {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

func readFields(p string, top *yamlfile.Top, k namekind.Kind, allowed []string) (fieldSet, error) {
	fields := make(fieldSet, 0, len(top.Fields))
	for _, tf := range top.Fields {
		if !tf.KeyOK {
			return nil, &FileError{p, tf.Line, fmt.Sprintf("key %s is not a name", quote(tf.Key))}
		}
		if !contains(allowed, tf.Key) {
			msg := fmt.Sprintf("unknown key %s", quote(tf.Key))
			if s := suggest.Closest(tf.Key, allowed); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				msg += fmt.Sprintf("; a %s file has: %s", k, strings.Join(allowed, ", "))
			}
			if tf.Key == "name" && k == namekind.Format {
				msg = `unknown key "name"; a format file names its format with format_name`
			} else if tf.Key == "format_name" && k == namekind.Granularity {
				msg = `unknown key "format_name"; a granularity file names its granularity with name`
			}
			if modelopt.IsAttribute(tf.Key) {
				msg = fmt.Sprintf("unknown key %s: quantizer attributes go under weights: or activations:", quote(tf.Key))
			}
			return nil, &FileError{p, tf.Line, msg}
		}
		if _, dup := fields.get(tf.Key); dup {
			return nil, &FileError{p, tf.Line, fmt.Sprintf("key %s appears twice", quote(tf.Key))}
		}
		if tf.Err != nil {
			return nil, &FileError{p, tf.Err.Line, tf.Err.Msg}
		}
		fields = append(fields, field{key: tf.Key, line: tf.Line, node: tf.Node, val: tf.Val})
	}
	nk := nameKey(k)
	if _, ok := fields.get(nk); !ok {
		return nil, &FileError{p, top.Line, fmt.Sprintf("missing %s: the file must name its %s", nk, k)}
	}
	return fields, nil
}

func readCommon(p string, fields fieldSet, e *Entry) error {
	nk := nameKey(e.Kind)
	nf, _ := fields.get(nk)
	name, ok := nf.val.(string)
	if !ok {
		return &FileError{p, nf.line, fmt.Sprintf("%s must be a string", nk)}
	}
	if !ValidName(name) {
		return &FileError{p, nf.line, fmt.Sprintf("invalid name %s: names are lower-case letters, digits and _, starting with a letter, at most 64 characters", quote(name))}
	}
	stem := strings.TrimSuffix(path.Base(filepath.ToSlash(p)), ".yaml")
	if stem != name {
		return &FileError{p, nf.line, fmt.Sprintf("%s is %s but the file is named %s.yaml; Hydra selects the option by file name: rename one to match", nk, quote(name), stem)}
	}
	e.Name = name
	if d, ok := fields.get("description"); ok && d.val != nil {
		s, isStr := d.val.(string)
		if !isStr {
			return &FileError{p, d.line, "description must be a string"}
		}
		e.Description = s
	}
	if a, ok := fields.get("aliases"); ok && a.val != nil {
		names, err := stringList(a.val)
		if err != nil {
			return &FileError{p, a.line, "aliases must be a list of names"}
		}
		for _, n := range names {
			if !ValidName(n) {
				return &FileError{p, a.line, fmt.Sprintf("invalid alias %s: names are lower-case letters, digits and _, starting with a letter", quote(n))}
			}
			if n == name {
				return &FileError{p, a.line, fmt.Sprintf("alias cycle: %s lists itself as an alias", name)}
			}
		}
		e.Aliases = names
	}
	if r, ok := fields.get("retired"); ok && r.val != nil {
		b, isBool := r.val.(bool)
		if !isBool {
			return &FileError{p, r.line, "retired must be true or false"}
		}
		e.Retired = b
	}
	return nil
}

// attrLine finds the line of the attribute an error is about.
func attrLine(f field, err error) int {
	n := f.node
	var ae *modelopt.AttrError
	if errors.As(err, &ae) && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == ae.Key {
				return n.Content[i].Line
			}
		}
	}
	return n.Line
}

func stringList(v any) ([]string, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, errors.New("not a list")
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, errors.New("not a string")
		}
		out = append(out, s)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func linesOf(fields fieldSet) map[string]int {
	m := make(map[string]int, len(fields))
	for _, f := range fields {
		m[f.key] = f.line
	}
	return m
}

func rawOf(fields fieldSet) map[any]any {
	m := make(map[any]any, len(fields))
	for _, f := range fields {
		m[f.key] = f.val
	}
	return m
}
