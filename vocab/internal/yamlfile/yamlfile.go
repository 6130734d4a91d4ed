// Package yamlfile is the YAML step of reading a vocabulary file: it decodes
// the file's top-level mapping into its fields (key, line, plain value) and
// knows nothing of what the keys mean. The vocab package checks and reads the
// fields.
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/modelopt"
)

// Error is a problem at a line of the file (0: the file as a whole): the
// error ModelOpt values' decoding reports too.
type Error = modelopt.NodeError

// Field is one top-level key of the file, in file order. A key that is not
// a plain string (KeyOK false) or a value that does not decode (Err) is kept
// as found: the reader reports problems in the order the file has them.
type Field struct {
	Key   string     // the key's text
	KeyOK bool       // the key is a plain string scalar
	Line  int        // the key's line
	Node  *yaml.Node // the value's node
	Val   any        // the decoded value: nil, bool, int, float64, string, []any, map[any]any
	Err   *Error     // the value's decoding problem, if any
}

// Top is a file's top-level mapping.
type Top struct {
	Line   int // the mapping's line
	Fields []Field
}

// Decode reads a vocabulary file's one YAML document, which must be a
// mapping.
func Decode(data []byte) (*Top, *Error) {
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, &Error{Msg: "file contains a NUL byte; it is not a YAML text file"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Msg: "file is empty; it must hold a definition"}
		}
		return nil, yamlErr(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &Error{Line: extra.Line, Msg: "file holds more than one YAML document; keep one definition per file"}
	}
	if len(doc.Content) == 0 || (doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].ShortTag() == "!!null") {
		return nil, &Error{Msg: "file is empty; it must hold a definition"}
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, &Error{Line: top.Line, Msg: "file must hold a mapping (key: value lines)"}
	}
	if top.Anchor != "" {
		return nil, &Error{Line: top.Line, Msg: "YAML anchors (&name) are not supported; write the value out"}
	}
	t := &Top{Line: top.Line, Fields: make([]Field, 0, len(top.Content)/2)}
	for i := 0; i+1 < len(top.Content); i += 2 {
		kn, vn := top.Content[i], top.Content[i+1]
		f := Field{Key: kn.Value, KeyOK: kn.Kind == yaml.ScalarNode && kn.ShortTag() == "!!str", Line: kn.Line, Node: vn}
		if f.KeyOK {
			val, err := modelopt.FromNode(vn)
			if err != nil {
				var ne *Error
				if errors.As(err, &ne) {
					f.Err = ne
				} else {
					f.Err = &Error{Line: vn.Line, Msg: err.Error()}
				}
			}
			f.Val = val
		}
		t.Fields = append(t.Fields, f)
	}
	return t, nil
}

// yamlErr turns yaml.v3's message into one line.
func yamlErr(err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ":"); i > 0 {
			if _, scanErr := fmt.Sscanf(rest[:i], "%d", &line); scanErr == nil {
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	if line > 0 && strings.HasPrefix(msg, "did not find expected") {
		line++ // yaml.v3 reports parser errors with the line before the problem
	}
	msg = strings.ReplaceAll(msg, "\n", "; ")
	return &Error{Line: line, Msg: "invalid YAML: " + msg}
}
