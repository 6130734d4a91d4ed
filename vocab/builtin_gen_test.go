package vocab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
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
		genTop := b.top()
		if !reflect.DeepEqual(*top, genTop) {
			t.Errorf("%s: generated fields differ from the YAML's:\n gen  %s\n yaml %s", b.path, typed(genTop), typed(*top))
		}
		var fromGen, fromYAML any
		var genErr, yamlErr error
		var e Entry // the parsed file's header
		if b.kind == KindGranularity {
			fromGen, genErr = granularityFrom(b.path, &genTop, true)
			var g *Granularity
			g, yamlErr = ParseGranularity(b.path, data)
			if g != nil {
				fromYAML, e = g, g.Entry
			}
		} else {
			fromGen, genErr = formatFrom(b.path, &genTop)
			var f *Format
			f, yamlErr = ParseFormat(b.path, data)
			if f != nil {
				fromYAML, e = f, f.Entry
			}
		}
		if genErr != nil || yamlErr != nil {
			t.Fatalf("%s: %v / %v", b.path, genErr, yamlErr)
		}
		if !reflect.DeepEqual(fromGen, fromYAML) {
			t.Errorf("%s: entry from generated fields differs from the parsed file's", b.path)
		}
		// The static header is what reading the file gives.
		if b.name != e.Name || b.description != e.Description || !reflect.DeepEqual(b.aliases, e.Aliases) || b.retired != e.Retired {
			t.Errorf("%s: generated header (%q, %q, %#v, %v) differs from the file's (%q, %q, %#v, %v)", b.path,
				b.name, b.description, b.aliases, b.retired, e.Name, e.Description, e.Aliases, e.Retired)
		}
	}
	// The whole vocabulary: definitions, configs, sources, lines, aliases,
	// fingerprints. The built-ins are read on first use: list them all.
	got, err := load(nil, Dirs{})
	if err != nil {
		t.Fatal(err)
	}
	got.Granularities()
	got.Formats()
	got.trustBuiltins = false // the one difference: builtin_gen.go's are trusted
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
	files := builtinFiles()
	for i := range files {
		a, b := files[i].top(), files[i].top()
		for j, f := range a.Fields {
			if m, ok := f.Val.(map[any]any); ok {
				m["poison"] = true
				if _, leaked := b.Fields[j].Val.(map[any]any)["poison"]; leaked {
					t.Fatalf("%s: %s shares its map between calls", files[i].path, f.Key)
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

// The built-ins are read on first use: loading builds none, a lookup
// builds the entry it returns (and what it extends or composes), and
// listing entries builds nothing.
func TestBuiltinsBuiltOnFirstUse(t *testing.T) {
	v, err := load(nil, Dirs{})
	if err != nil {
		t.Fatal(err)
	}
	lazy := func() (n int) {
		for _, g := range v.granularities {
			if g.lazy != nil {
				n++
			}
		}
		for _, f := range v.formats {
			if f.lazy != nil {
				n++
			}
		}
		return n
	}
	all := len(v.granularities) + len(v.formats)
	if n := lazy(); n != all {
		t.Fatalf("%d of %d built-ins unread after load, want all", n, all)
	}
	if len(v.Entries(KindGranularity))+len(v.Entries(KindFormat)) != all || lazy() != all {
		t.Fatal("listing the entries read a definition")
	}
	f, err := v.Format("w4a8_int")
	if err != nil || f.lazy != nil || len(f.Config.Entries) == 0 {
		t.Fatalf("Format: %v, lazy %v, config %v", err, f.lazy != nil, f.Config.Entries)
	}
	g, err := v.Granularity("recipe_match_channel_token")
	if err != nil || g.lazy != nil || g.overlays == nil {
		t.Fatalf("Granularity: %v", err)
	}
	if n := lazy(); n != all-2 {
		t.Fatalf("%d built-ins unread after two lookups, want %d", n, all-2)
	}
}

// Built-ins built on first use from many goroutines at once (a shared
// Vocabulary, like Builtin's) are built once, and alike (go test -race).
func TestBuiltinsBuiltConcurrently(t *testing.T) {
	v, err := load(nil, Dirs{})
	if err != nil {
		t.Fatal(err)
	}
	want := loadYAMLBuiltins(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for _, name := range want.Names(KindFormat) {
				f, err := v.Format(name)
				if err != nil {
					errs <- err
					return
				}
				w, _ := want.Format(name)
				if f.Fingerprint() != w.Fingerprint() {
					errs <- fmt.Errorf("format %s: fingerprint %s, want %s", name, f.Fingerprint(), w.Fingerprint())
				}
			}
			if i%2 == 0 {
				v.Granularities()
			} else {
				v.Entries(KindFormat)
				v.Entries(KindGranularity)
			}
			for _, name := range want.Names(KindGranularity) {
				if _, err := v.Resolve("int8", name); err != nil && !errors.Is(err, ErrInvalidSelection) {
					errs <- err
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
