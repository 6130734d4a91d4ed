package vocab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/qrun-dev/qrun/vocab/internal/builtingen"
	"github.com/qrun-dev/qrun/vocab/internal/yamlfile"
)

func TestBuiltinGenUpToDate(t *testing.T) {
	want, err := builtingen.Generate(builtinFS)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("builtin_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("builtin_gen.go is not what builtin/ generates: run go generate ./vocab")
	}
}

// loadYAMLBuiltins is the built-in vocabulary as qrun read it before
// builtin_gen.go: every embedded file parsed from YAML, as user files are.
func loadYAMLBuiltins(t *testing.T) *Vocabulary {
	t.Helper()
	v := newVocabulary()
	for _, k := range []Kind{KindGranularity, KindFormat} {
		ents, err := builtinFS.ReadDir("builtin/" + k.Group())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			p := "builtin/" + k.Group() + "/" + e.Name()
			b, err := builtinFS.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.addFile(k, p, b, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	if errs := v.finish(); len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	return v
}

func TestBuiltinGenEqualsYAML(t *testing.T) {
	files, err := BuiltinFiles()
	if err != nil {
		t.Fatal(err)
	}
	gen := builtinFiles()
	if len(gen) != len(files) {
		t.Fatalf("builtin_gen.go has %d files, builtin/ has %d: run go generate ./vocab", len(gen), len(files))
	}
	// File by file: the generated fields are what the YAML step decodes
	// (types included: 4.0 stays a float64, 4 an int), and both give the
	// same entry.
	for _, b := range gen {
		data, ok := files[strings.TrimPrefix(b.path, "builtin/")]
		if !ok {
			t.Fatalf("%s: not among the embedded files", b.path)
		}
		top, yerr := yamlfile.Decode(data)
		if yerr != nil {
			t.Fatalf("%s: %v", b.path, yerr)
		}
		for i := range top.Fields {
			top.Fields[i].Node = nil
		}
		if !reflect.DeepEqual(*top, b.top) {
			t.Errorf("%s: generated fields differ from the YAML's:\n gen  %s\n yaml %s", b.path, typed(b.top), typed(*top))
		}
		var fromGen, fromYAML any
		var genErr, yamlErr error
		if b.kind == KindGranularity {
			fromGen, genErr = granularityFrom(b.path, &b.top, true)
			fromYAML, yamlErr = ParseGranularity(b.path, data)
		} else {
			fromGen, genErr = formatFrom(b.path, &b.top)
			fromYAML, yamlErr = ParseFormat(b.path, data)
		}
		if genErr != nil || yamlErr != nil {
			t.Fatalf("%s: %v / %v", b.path, genErr, yamlErr)
		}
		if !reflect.DeepEqual(fromGen, fromYAML) {
			t.Errorf("%s: entry from generated fields differs from the parsed file's", b.path)
		}
	}
	// The whole vocabulary: definitions, configs, sources, lines, aliases,
	// fingerprints.
	got, err := load(nil, Dirs{})
	if err != nil {
		t.Fatal(err)
	}
	want := loadYAMLBuiltins(t)
	if !reflect.DeepEqual(got, want) {
		t.Fatal("the built-in vocabulary from builtin_gen.go differs from the one parsed from builtin/")
	}
	for _, g := range want.Granularities() {
		if fp := got.granularities[g.Name].Fingerprint(); fp != g.Fingerprint() {
			t.Errorf("granularity %s: fingerprint %s, from YAML %s", g.Name, fp, g.Fingerprint())
		}
	}
	for _, f := range want.Formats() {
		if fp := got.formats[f.Name].Fingerprint(); fp != f.Fingerprint() {
			t.Errorf("format %s: fingerprint %s, from YAML %s", f.Name, fp, f.Fingerprint())
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("after fingerprinting, the two vocabularies differ")
	}
}

// The generated values are fresh at each call: a caller that changes one
// (an overlay applied in place, a lock appended) cannot change the next
// load.
func TestBuiltinFilesFresh(t *testing.T) {
	a, b := builtinFiles(), builtinFiles()
	for i := range a {
		for j, f := range a[i].top.Fields {
			if m, ok := f.Val.(map[any]any); ok {
				m["poison"] = true
				if _, leaked := b[i].top.Fields[j].Val.(map[any]any)["poison"]; leaked {
					t.Fatalf("%s: %s shares its map between calls", a[i].path, f.Key)
				}
			}
		}
	}
}

// typed shows the fields with each value's Go type (%#v prints float64(128)
// as 128).
func typed(top yamlfile.Top) string {
	var b strings.Builder
	fmt.Fprintf(&b, "line %d:", top.Line)
	for _, f := range top.Fields {
		fmt.Fprintf(&b, " %s(ok=%v line=%d)=%s", f.Key, f.KeyOK, f.Line, typedVal(f.Val))
	}
	return b.String()
}

func typedVal(v any) string {
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = typedVal(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[any]any:
		var parts []string
		for k, e := range x {
			parts = append(parts, typedVal(k)+": "+typedVal(e))
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprintf("%T(%v)", v, v)
}
