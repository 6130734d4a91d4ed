package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"
)

// jsonKeysNote is said wherever JSON output carries block_sizes: JSON has no
// integer keys, so "-1" there is the YAML recipe's integer -1.
const jsonKeysNote = "JSON object keys are strings: a block_sizes key \"-1\" here is the integer -1 in the YAML recipe"

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// nonNil is s, or an empty slice when s is nil: JSON [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// writeList prints items as the JSON array ([] for none) --json asks for,
// else each with text.
func writeList[T any](streams *IOStreams, j jsonOutput, items []T, text func(io.Writer, T)) error {
	if j.JSON {
		return j.Exporter.write(streams, nonNil(items))
	}
	for _, it := range items {
		text(streams.Out, it)
	}
	return nil
}

// table prints rows: aligned with a header on a TTY, tab-separated without
// a header otherwise (for cut, awk and xargs).
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

var cellLine = strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ")

func (t *table) write(w io.Writer, tty bool) error {
	// A cell is one line without tabs in both forms: a user's description
	// may hold either. Other control characters (NUL, a terminal escape)
	// are shown escaped, never sent raw.
	for _, r := range t.rows {
		for i := range r {
			if strings.ContainsAny(r[i], "\t\r\n") {
				r[i] = cellLine.Replace(r[i])
			}
			r[i] = printable(r[i])
		}
	}
	// Buffered: tabwriter writes every cell and every run of padding
	// separately, one write(2) each on a terminal (300 for vocab list).
	bw := bufio.NewWriterSize(w, 32<<10)
	if !tty {
		for _, r := range t.rows {
			if _, err := fmt.Fprintln(bw, strings.Join(r, "\t")); err != nil {
				return err
			}
		}
		return bw.Flush()
	}
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}

// nodeJSON converts a YAML node to JSON keeping mapping keys in document
// order (encoding/json sorts map keys, which would reorder a ModelOpt 0.43
// quant_cfg mapping, where order decides which pattern wins). Keys become
// strings: -1 is "-1" (see jsonKeysNote).
func nodeJSON(n *yaml.Node) (json.RawMessage, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return json.RawMessage("null"), nil
		}
		return nodeJSON(n.Content[0])
	case yaml.MappingNode:
		var b bytes.Buffer
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			k, err := json.Marshal(n.Content[i].Value)
			if err != nil {
				return nil, err
			}
			v, err := nodeJSON(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			b.Write(k)
			b.WriteByte(':')
			b.Write(v)
		}
		b.WriteByte('}')
		return b.Bytes(), nil
	case yaml.SequenceNode:
		var b bytes.Buffer
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			v, err := nodeJSON(c)
			if err != nil {
				return nil, err
			}
			b.Write(v)
		}
		b.WriteByte(']')
		return b.Bytes(), nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		return json.Marshal(v)
	}
	return nil, fmt.Errorf("cannot write a YAML %v node as JSON", n.Kind)
}

// printable shows control characters other than newline and tab escaped
// (\x1b, \x00), so that text from a user's file can't drive the terminal.
func printable(s string) string {
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool {
	return r != '\n' && r != '\t' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0))
}

// quoteValue shows a value the user typed on one line, quoted and, when
// huge, shortened: "aaaa…"… (10000 characters).
func quoteValue(s string) string {
	const max = 80
	if r := []rune(s); len(r) > max {
		return fmt.Sprintf("%q… (%d characters)", string(r[:max]), len(r))
	}
	return fmt.Sprintf("%q", s)
}
