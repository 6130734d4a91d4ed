package layout

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalidTemplate is wrapped by every error ParseTemplate returns.
var ErrInvalidTemplate = errors.New("invalid layout template")

// Placeholders of a layout template.
const (
	PlaceholderModel       = "model"
	PlaceholderFormat      = "format"
	PlaceholderGranularity = "granularity"
	PlaceholderParams      = "params"
	PlaceholderRunID       = "run_id"
	PlaceholderKVCache     = "kv_cache"
)

var placeholders = []string{PlaceholderModel, PlaceholderFormat, PlaceholderGranularity, PlaceholderParams, PlaceholderRunID, PlaceholderKVCache}

// DefaultTemplate is the layout template when none is set (SPEC §4).
const DefaultTemplate = "{model}/{format}/{granularity}"

// layoutVersion names the segment rules of this package. It is part of
// every template's fingerprint, so that a change in how segments are built
// reads as a layout change to the registry. Bump it with any such change.
const layoutVersion = "qrun/layout/1\x00"

// Template is a parsed layout template: "/"-separated segments, each either
// one placeholder ({model}, {format}, {granularity}, {params}, {run_id}) or
// plain text ([A-Za-z0-9._-], not starting with "." or "-"). A segment never
// mixes text and placeholders: "{format}_{granularity}" would make
// format "a_b" × granularity "c" and format "a" × granularity "b_c" one
// directory.
//
// When the identity has params and the template has no {params}, a {params}
// segment is appended as the last; when the identity has none, the {params}
// segment is left out. The zero Template is DefaultTemplate.
type Template struct {
	text  string
	parts []part
}

// part is a placeholder name or, when ph is "", a literal segment.
type part struct {
	ph  string
	lit string
}

var defaultParts = []part{{ph: PlaceholderModel}, {ph: PlaceholderFormat}, {ph: PlaceholderGranularity}}

// ParseTemplate parses a layout template such as "{model}/{format}/{granularity}".
// It refuses an empty or absolute template, empty, "." and ".." segments,
// unknown or repeated placeholders, text mixed with a placeholder in one
// segment, unsafe characters in text, and a template that would put runs of
// different identities in one directory: it must hold {run_id}, or all of
// {model}, {format} and {granularity}. Errors wrap ErrInvalidTemplate.
func ParseTemplate(text string) (Template, error) {
	bad := func(format string, args ...any) (Template, error) {
		return Template{}, fmt.Errorf("%w %q: %s", ErrInvalidTemplate, text, fmt.Sprintf(format, args...))
	}
	switch {
	case text == "":
		return bad("it is empty; the default is %q", DefaultTemplate)
	case !utf8.ValidString(text) || hasControl(text):
		return bad("it holds a control character or invalid UTF-8")
	case strings.HasPrefix(text, "/"):
		return bad("it is absolute; it is a path under the output root, such as %q", DefaultTemplate)
	}
	var parts []part
	seen := map[string]bool{}
	for i, seg := range strings.Split(text, "/") {
		switch {
		case seg == "":
			return bad("segment %d is empty (a doubled or trailing /)", i+1)
		case seg == "." || seg == "..":
			return bad("%q is not allowed as a segment", seg)
		}
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") && strings.Count(seg, "{") == 1 && strings.Count(seg, "}") == 1 {
			name := seg[1 : len(seg)-1]
			if !isPlaceholder(name) {
				return bad("unknown placeholder %s; known: {model}, {format}, {granularity}, {kv_cache}, {params}, {run_id}", seg)
			}
			if seen[name] {
				return bad("placeholder %s appears twice", seg)
			}
			seen[name] = true
			parts = append(parts, part{ph: name})
			continue
		}
		if strings.ContainsAny(seg, "{}") {
			return bad("segment %q mixes text and placeholders; a segment is one placeholder or plain text", seg)
		}
		if !allBytes(seg, safeByte) || !plainShape(seg) {
			return bad("segment %q: plain text segments use only letters, digits, '.', '_' and '-', do not start with '.' or '-', and are at most %d bytes", seg, MaxSegment)
		}
		parts = append(parts, part{lit: seg})
	}
	if !seen[PlaceholderRunID] && !(seen[PlaceholderModel] && seen[PlaceholderFormat] && seen[PlaceholderGranularity]) {
		return bad("runs of different models, formats or granularities would share a directory; include {model}, {format} and {granularity}, or {run_id}")
	}
	return Template{text: text, parts: parts}, nil
}

// MustParseTemplate is ParseTemplate for templates known to be valid; it
// panics on an error.
func MustParseTemplate(text string) Template {
	t, err := ParseTemplate(text)
	if err != nil {
		panic(err)
	}
	return t
}

func isPlaceholder(name string) bool {
	for _, p := range placeholders {
		if p == name {
			return true
		}
	}
	return false
}

// has reports whether the template holds a placeholder.
func (t Template) has(ph string) bool {
	for _, p := range t.partsOrDefault() {
		if p.ph == ph {
			return true
		}
	}
	return false
}

func (t Template) partsOrDefault() []part {
	if t.parts == nil {
		return defaultParts
	}
	return t.parts
}

// String returns the template's text.
func (t Template) String() string {
	if t.parts == nil {
		return DefaultTemplate
	}
	return t.text
}

// Fingerprint identifies the template and this package's segment rules:
// the hex sha256 of the rules' version and the template's text. The same
// fingerprint means the same identity gets the same directory.
func (t Template) Fingerprint() string {
	sum := sha256.Sum256([]byte(layoutVersion + t.String()))
	return hex.EncodeToString(sum[:])
}

// Segments returns the path segments of the identity's run directory
// under this template. The identity is not validated (Dir does that). A
// KV-cache setting other than none goes to the {kv_cache} segment where the
// template has one, else into the {params} segment as kv_cache=NAME.
func (t Template) Segments(id Identity) []string {
	parts := t.partsOrDefault()
	out := make([]string, 0, len(parts)+1)
	hasParams := false
	if !t.has(PlaceholderKVCache) {
		id.Params = id.identityParams()
	}
	for _, p := range parts {
		switch p.ph {
		case "":
			out = append(out, p.lit)
		case PlaceholderModel:
			out = append(out, ModelSegment(id.Model))
		case PlaceholderFormat:
			out = append(out, Segment(id.Format))
		case PlaceholderGranularity:
			out = append(out, Segment(id.Granularity))
		case PlaceholderRunID:
			out = append(out, Segment(RunID(id)))
		case PlaceholderKVCache:
			out = append(out, Segment(id.kvCache()))
		case PlaceholderParams:
			hasParams = true
			if len(id.Params) > 0 {
				out = append(out, ParamsSegment(id.Params))
			}
		}
	}
	if !hasParams && len(id.Params) > 0 {
		out = append(out, ParamsSegment(id.Params))
	}
	return out
}
