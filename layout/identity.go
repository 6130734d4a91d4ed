// Package layout maps a run's identity (model, format, granularity, typed
// parameters) to its run id and to its directory under the output root
// (SPEC §4): a layout template of path segments, each segment built so that
// it is always a safe single path component and different raw values never
// share one; confinement to the root, including through symbolic links
// already on disk; and exclusive creation of the leaf directory.
//
// The package touches the disk only in Confine, CreateLeaf and
// CreateConfined. It knows nothing of the vocabulary or the registry: the
// caller passes canonical format and granularity names, refuses two model ids
// whose ModelSegment is the same, and compares the manifest's identity when
// CreateLeaf finds the directory already there.
package layout

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrInvalidIdentity is wrapped by every error Identity.Validate returns.
var ErrInvalidIdentity = errors.New("invalid run identity")

// Kind is the type of a parameter value.
type Kind uint8

// Parameter value kinds. The zero Kind is KindNull.
const (
	KindNull Kind = iota
	KindInt
	KindFloat
	KindBool
	KindString
)

func (k Kind) String() string {
	switch k {
	case KindInt:
		return "int"
	case KindFloat:
		return "float"
	case KindBool:
		return "bool"
	case KindString:
		return "string"
	}
	return "null"
}

// tag is the kind's one-byte tag in the canonical encoding. Frozen: changing
// one changes every run id.
func (k Kind) tag() byte {
	switch k {
	case KindInt:
		return 'i'
	case KindFloat:
		return 'f'
	case KindBool:
		return 'b'
	case KindString:
		return 's'
	}
	return 'n'
}

// Value is a typed parameter value: null, a 64-bit integer, a 64-bit float, a
// bool or a string. The type is part of the identity: the int 1, the float
// 1.0 and the string "1" are three different values, with three different
// run ids and three different directories (a Hydra override `seed=1` gives the
// int, `seed='1'` the string). The zero Value is null.
type Value struct {
	kind Kind
	i    int64
	f    float64
	b    bool
	s    string
}

// NullValue returns the null value.
func NullValue() Value { return Value{} }

// IntValue returns an integer value.
func IntValue(n int64) Value { return Value{kind: KindInt, i: n} }

// FloatValue returns a float value. NaN and infinities are allowed; all NaNs
// are the same value.
func FloatValue(x float64) Value { return Value{kind: KindFloat, f: x} }

// BoolValue returns a bool value.
func BoolValue(b bool) Value { return Value{kind: KindBool, b: b} }

// StringValue returns a string value.
func StringValue(s string) Value { return Value{kind: KindString, s: s} }

// ValueOf converts a plain Go value: nil, bool, string, any signed or
// unsigned integer type (unsigned ones up to math.MaxInt64), float64 or
// float32 (taken by its shortest decimal form, so float32(0.1) is 0.1), or a
// Value.
func ValueOf(v any) (Value, error) {
	switch x := v.(type) {
	case nil:
		return NullValue(), nil
	case Value:
		return x, nil
	case bool:
		return BoolValue(x), nil
	case string:
		return StringValue(x), nil
	case int, int8, int16, int32, int64:
		return IntValue(reflect.ValueOf(x).Int()), nil
	case uint, uint8, uint16, uint32, uint64:
		return uintValue(reflect.ValueOf(x).Uint())
	case float64:
		return FloatValue(x), nil
	case float32:
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
		return FloatValue(f), nil
	}
	return Value{}, fmt.Errorf("%w: a parameter value must be null, a bool, an integer, a float or a string, not %T", ErrInvalidIdentity, v)
}

func uintValue(u uint64) (Value, error) {
	if u > math.MaxInt64 {
		return Value{}, fmt.Errorf("%w: integer %d is out of range (at most %d)", ErrInvalidIdentity, u, int64(math.MaxInt64))
	}
	return IntValue(int64(u)), nil
}

// Kind returns the value's type.
func (v Value) Kind() Kind { return v.kind }

// Any returns the plain Go value: nil, int64, float64, bool or string.
func (v Value) Any() any {
	switch v.kind {
	case KindInt:
		return v.i
	case KindFloat:
		return v.f
	case KindBool:
		return v.b
	case KindString:
		return v.s
	}
	return nil
}

// String returns the value as written in a directory name before
// sanitising: integers in decimal, floats in their shortest form with a
// ".0" when it would otherwise read as an integer (1.0, 1e-05, +Inf, NaN),
// true/false, null, and strings as they are.
func (v Value) String() string {
	switch v.kind {
	case KindInt:
		return strconv.FormatInt(v.i, 10)
	case KindFloat:
		s := strconv.FormatFloat(v.f, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEnN") { // NaN, +Inf and -Inf contain an n
			s += ".0"
		}
		return s
	case KindBool:
		return strconv.FormatBool(v.b)
	case KindString:
		return v.s
	}
	return "null"
}

// canon is the value's text in the canonical encoding (the kind is encoded
// beside it): floats in Go's shortest round-trip form, so every float64
// but NaN has exactly one text and -0 differs from 0.
func (v Value) canon() string {
	switch v.kind {
	case KindInt:
		return strconv.FormatInt(v.i, 10)
	case KindFloat:
		return strconv.FormatFloat(v.f, 'g', -1, 64)
	case KindBool:
		return strconv.FormatBool(v.b)
	case KindString:
		return v.s
	}
	return ""
}

// Param is one extra identity parameter (seed=1, calib_size=512).
type Param struct {
	Key   string
	Value Value
}

// NewParam returns a Param with ValueOf(v).
func NewParam(key string, v any) (Param, error) {
	val, err := ValueOf(v)
	if err != nil {
		return Param{}, fmt.Errorf("param %q: %w", key, err)
	}
	return Param{Key: key, Value: val}, nil
}

func (p Param) String() string { return p.Key + "=" + p.Value.String() }

// Identity is what makes a run the run it is. Format and Granularity are
// canonical names (aliases already resolved); Model is the model id as the
// user gave it (a hub id such as Qwen/Qwen3-8B or a local path); Params are
// the extra identity parameters, in any order.
type Identity struct {
	Model       string
	Format      string
	Granularity string
	// KVCache is the canonical KV-cache setting; "" or NoKVCache for none,
	// which leaves the identity what it was before the axis existed.
	KVCache string
	Params  []Param
}

// NoKVCache is the KV-cache setting that quantizes nothing.
const NoKVCache = "none"

// KVCacheKey is the key a KV-cache setting other than none takes among the
// params, in the run id's encoding and in a {params} segment; no user
// parameter may use it.
const KVCacheKey = "kv_cache"

func (id Identity) kvCache() string {
	if id.KVCache == "" {
		return NoKVCache
	}
	return id.KVCache
}

// identityParams are the params with the KV-cache setting among them (when
// it is not none), in the order given.
func (id Identity) identityParams() []Param {
	if kv := id.kvCache(); kv != NoKVCache {
		return append(slices.Clip(id.Params), Param{Key: KVCacheKey, Value: StringValue(kv)})
	}
	return id.Params
}

// CleanModelID removes what does not change which model an id names:
// trailing slashes and trailing "/." (so "Qwen/Qwen3-8B/" is
// "Qwen/Qwen3-8B"). Nothing else is touched: a hub id is not a path.
func CleanModelID(id string) string {
	for {
		switch {
		case len(id) > 1 && strings.HasSuffix(id, "/"):
			id = id[:len(id)-1]
		case len(id) > 2 && strings.HasSuffix(id, "/."):
			id = id[:len(id)-2]
		default:
			return id
		}
	}
}

// Canonical returns the identity as RunID sees it: the model id cleaned by
// CleanModelID and the params sorted by key (a copy; id is unchanged).
func (id Identity) Canonical() Identity {
	id.Model = CleanModelID(id.Model)
	id.Params = sortedParams(id.Params)
	return id
}

// sortedParams returns a copy sorted by key, then (only for duplicate keys,
// which Validate refuses) by kind and value, so the order never depends on
// the input's.
func sortedParams(ps []Param) []Param {
	out := slices.Clone(ps)
	slices.SortFunc(out, func(a, b Param) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		if a.Value.kind != b.Value.kind {
			return int(a.Value.kind) - int(b.Value.kind)
		}
		return strings.Compare(a.Value.canon(), b.Value.canon())
	})
	return out
}

// validKey reports whether s is a Hydra key: dotted identifiers,
// ^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$ (checked by hand:
// every run of a sweep checks its keys).
func validKey(s string) bool {
	start := true // at the start of an identifier
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		switch {
		case start && letter:
			start = false
		case !start && (letter || c >= '0' && c <= '9' || c == '-'):
		case !start && c == '.':
			start = true
		default:
			return false
		}
	}
	return !start
}

// maxKey bounds a parameter key's length.
const maxKey = 128

// Validate reports the first problem with the identity: an empty, non-UTF-8
// or control-character-bearing model id, format or granularity; a model id
// with no name in it ("/", "."); a param key that is not a Hydra key
// (dotted identifiers of letters, digits, _ and -) or given twice; a string
// value that is not UTF-8 or holds a control character (NUL, newline, tab).
// Errors wrap ErrInvalidIdentity.
func (id Identity) Validate() error {
	if err := checkText("model id", id.Model); err != nil {
		return err
	}
	if b := modelBase(CleanModelID(id.Model)); b == "" || b == "." {
		return fmt.Errorf("%w: model id %q has no name to use as a directory; give a hub id such as Qwen/Qwen3-8B or the path of the model's folder", ErrInvalidIdentity, id.Model)
	}
	if err := checkText("format", id.Format); err != nil {
		return err
	}
	if err := checkText("granularity", id.Granularity); err != nil {
		return err
	}
	if err := checkText("kv_cache", id.kvCache()); err != nil {
		return err
	}
	seen := make(map[string]bool, len(id.Params))
	for _, p := range id.Params {
		if p.Key == KVCacheKey {
			return fmt.Errorf("%w: param %q is the KV-cache axis: select it with --kv-cache or quant_kv_cache=NAME", ErrInvalidIdentity, p.Key)
		}
		if len(p.Key) > maxKey || !validKey(p.Key) {
			return fmt.Errorf("%w: param key %q is not a Hydra key: use letters, digits, _ and - (dotted for nested keys, e.g. calib.size), at most %d characters", ErrInvalidIdentity, p.Key, maxKey)
		}
		if seen[p.Key] {
			return fmt.Errorf("%w: param %q is given twice; give each parameter once", ErrInvalidIdentity, p.Key)
		}
		seen[p.Key] = true
		if p.Value.kind > KindString {
			return fmt.Errorf("%w: param %q has an unknown value type", ErrInvalidIdentity, p.Key)
		}
		if p.Value.kind == KindString {
			if err := checkValue(p.Key, p.Value.s); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkText(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", ErrInvalidIdentity, what)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s %q is not valid UTF-8", ErrInvalidIdentity, what, s)
	}
	if hasControl(s) {
		return fmt.Errorf("%w: %s %q contains a control character (NUL, newline, tab, ...); remove it", ErrInvalidIdentity, what, s)
	}
	return nil
}

func checkValue(key, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: value of param %q is not valid UTF-8", ErrInvalidIdentity, key)
	}
	if hasControl(s) {
		return fmt.Errorf("%w: value %q of param %q contains a control character (NUL, newline, tab, ...); remove it", ErrInvalidIdentity, s, key)
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}

// Domain prefixes of the canonical encodings. Frozen: changing one changes
// every run id (or every hashed params segment).
const (
	runIDDomain  = "qrun/run-id/1\x00"
	paramsDomain = "qrun/params/1\x00"
)

// RunIDLen is the length of a run id in hex digits.
const RunIDLen = 12

// RunID returns the run id: the first 12 hex digits of the sha256 of the
// identity's canonical encoding. Deterministic: the same selection has the
// same id in every database, on every machine, forever.
//
// A KV-cache setting other than none is encoded as a param kv_cache with
// the setting's name as a string; none adds nothing, so that every run id
// from before the axis stays what it was.
//
// The encoding, of id.Canonical(), is the domain string
// "qrun/run-id/1\x00", then the model id, the format and the granularity,
// then the number of params and, for each in key order, its key, its kind's
// tag byte (n, i, f, b, s) and its value's canonical text. Every string
// and the count are preceded by their length as a big-endian uint64, so no
// choice of characters in one field can imitate another field: two
// identities have the same encoding only if they are the same identity.
//
// RunID does not validate; Dir does.
func RunID(id Identity) string {
	id.Params = id.identityParams()
	c := id.Canonical()
	h := sha256.New()
	h.Write([]byte(runIDDomain))
	writeString(h, c.Model)
	writeString(h, c.Format)
	writeString(h, c.Granularity)
	writeParams(h, c.Params)
	return hex.EncodeToString(h.Sum(nil))[:RunIDLen]
}

type writer interface{ Write([]byte) (int, error) }

func writeUint(w writer, n uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	w.Write(b[:])
}

func writeString(w writer, s string) {
	writeUint(w, uint64(len(s)))
	w.Write([]byte(s))
}

// writeParams writes sorted params: count, then key, tag, value of each.
func writeParams(w writer, ps []Param) {
	writeUint(w, uint64(len(ps)))
	for _, p := range ps {
		writeString(w, p.Key)
		w.Write([]byte{p.Value.kind.tag()})
		writeString(w, p.Value.canon())
	}
}

// encodeParams is the canonical encoding of sorted params alone: the raw
// value of a params segment, hashed when the segment is not plain.
func encodeParams(ps []Param) []byte {
	var b bytesWriter
	b = append(b, paramsDomain...)
	writeParams(&b, ps)
	return b
}

type bytesWriter []byte

func (b *bytesWriter) Write(p []byte) (int, error) {
	*b = append(*b, p...)
	return len(p), nil
}
