package layout

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// How a raw value becomes a path segment.
//
// A segment is either plain — the raw value itself, when it is made only of
// safe characters, at most MaxSegment bytes, does not start with "." or "-"
// (so it is never ".", "..", hidden, or read as an option), and does not end
// like a hashed segment — or hashed: a readable prefix (the value with
// every character outside the safe set replaced by "_", a leading "." or
// "-" replaced by "_", cut to 68 bytes) then "__" and the first 10 hex digits
// of the sha256 of the raw value. The safe set is [A-Za-z0-9._-]; in a params
// segment "=" and "," separate keys and values and values may also hold "+"
// (as in 1e+21).
//
// Why different raw values never share a segment:
//   - two plain segments are their raw values, so they differ when those do
//     (a params segment is plain only if reading it back — split at ",",
//     then at the first "=", each value typed as null, bool, int, float or
//     else string — gives exactly the params it was made from, so it too
//     determines its raw value);
//   - a plain segment never ends in "__" and 10 lower-case hex digits and a
//     hashed one always does, so a plain and a hashed segment always differ;
//   - two hashed segments are the same only if their hash suffixes are,
//     which for different raw values is a 40-bit sha256 prefix collision
//     (about one chance in 10^12 for a given pair; at a million distinct
//     hashed values under one parent, about 0.05% that any two meet). The
//     caller's manifest check (CreateLeaf finds the directory, the identity
//     there differs: hard error) turns even that into a refusal, never a
//     shared directory.
//
// So whenever sanitising changes anything ("a/b" and "a_b", "x=a,b" and
// "x=a_b", the string "1" and the int 1), the changed one is hashed and the
// two stay apart. Segments are case-sensitive: on a case-insensitive file
// system ("Qwen3-8B" and "qwen3-8b") the manifest check is what refuses.

// MaxSegment is the longest segment, in bytes.
const MaxSegment = 80

const (
	hashSep    = "__"
	hashHexLen = 10
	maxPrefix  = MaxSegment - len(hashSep) - hashHexLen
)

// safeByte reports whether c may appear in a plain segment.
func safeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// valueByte reports whether c may appear in a param value of a plain
// params segment.
func valueByte(c byte) bool { return safeByte(c) || c == '+' }

// plainShape reports whether s, already known to hold only allowed
// characters, may be used as a segment as it is.
func plainShape(s string) bool {
	return len(s) > 0 && len(s) <= MaxSegment && s[0] != '.' && s[0] != '-' && !looksHashed(s)
}

// looksHashed reports whether s ends like a hashed segment: "__" then 10
// lower-case hex digits.
func looksHashed(s string) bool {
	n := len(hashSep) + hashHexLen
	if len(s) < n || s[len(s)-n:len(s)-hashHexLen] != hashSep {
		return false
	}
	for i := len(s) - hashHexLen; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// sanitize writes s to b with every character outside ok replaced by one
// "_" (an invalid UTF-8 byte counts as one character), stopping once b
// holds limit bytes.
func sanitize(b *strings.Builder, s string, ok func(byte) bool, limit int) {
	for _, r := range s {
		if b.Len() >= limit {
			return
		}
		if r < 0x80 && ok(byte(r)) {
			b.WriteByte(byte(r))
		} else {
			b.WriteByte('_')
		}
	}
}

// hashed returns the hashed segment of raw with the readable prefix p (only
// safe bytes, any length).
func hashed(p string, raw []byte) string {
	if len(p) > maxPrefix {
		p = p[:maxPrefix]
	}
	if p != "" && (p[0] == '.' || p[0] == '-') {
		p = "_" + p[1:]
	}
	sum := sha256.Sum256(raw)
	return p + hashSep + hex.EncodeToString(sum[:])[:hashHexLen]
}

// Segment returns the path segment of a raw value (a format or granularity
// name, a template's run id): raw itself when it is plain, else a readable
// prefix and a hash of raw (see the package's segment rules). The result is
// never empty, ".", or "..", never holds "/" or NUL, is valid UTF-8 of at
// most MaxSegment bytes, and differs for different raw values.
func Segment(raw string) string {
	if allBytes(raw, safeByte) && plainShape(raw) {
		return raw
	}
	var b strings.Builder
	sanitize(&b, raw, safeByte, maxPrefix)
	return hashed(b.String(), []byte(raw))
}

// modelBase returns the last path component of a model id, after
// CleanModelID: "Qwen/Qwen3-8B" → "Qwen3-8B", "/data/models/qwen3-8b/" →
// "qwen3-8b".
func modelBase(id string) string {
	id = CleanModelID(id)
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// ModelSegment returns the {model} segment of a model id: Segment of its
// last path component (a trailing "/" ignored), so "Qwen/Qwen3-8B" →
// "Qwen3-8B" and "/data/models/qwen3-8b/" → "qwen3-8b". Different model ids
// can share it ("org1/X" and "org2/X" both give "X"): that is a collision
// the caller must refuse (SPEC §4, T12), never a shared directory.
func ModelSegment(modelID string) string { return Segment(modelBase(modelID)) }

// ParamsSegment returns the {params} segment: the params sorted by key,
// written key=value and joined by "," (calib_size=512,seed=1), when that is
// plain, else its readable prefix and a hash of the params' typed canonical
// encoding. It returns "" for no params: the template then has no {params}
// segment.
func ParamsSegment(params []Param) string {
	if len(params) == 0 {
		return ""
	}
	ps := sortedParams(params)
	// Writing stops past MaxSegment bytes: a longer text is hashed and
	// only its first maxPrefix bytes are kept.
	var b strings.Builder
	for i, p := range ps {
		if b.Len() > MaxSegment {
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		sanitize(&b, p.Key, safeByte, MaxSegment+1)
		b.WriteByte('=')
		sanitize(&b, p.Value.String(), valueByte, MaxSegment+1)
	}
	s := b.String()
	raw := encodeParams(ps)
	if plainShape(s) && bytes.Equal(encodeParams(sortedParams(readParams(s))), raw) {
		return s
	}
	return hashed(s, raw)
}

// readParams reads a params segment back: split at ",", then at the first
// "=", each value typed by readValue.
func readParams(s string) []Param {
	var out []Param
	for part := range strings.SplitSeq(s, ",") {
		k, v, _ := strings.Cut(part, "=")
		out = append(out, Param{Key: k, Value: readValue(v)})
	}
	return out
}

// readValue types a value as written in a segment: null, true/false, an
// integer, a float, else a string.
func readValue(s string) Value {
	switch s {
	case "null":
		return NullValue()
	case "true":
		return BoolValue(true)
	case "false":
		return BoolValue(false)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return IntValue(n)
	}
	if x, err := strconv.ParseFloat(s, 64); err == nil {
		return FloatValue(x)
	}
	return StringValue(s)
}
