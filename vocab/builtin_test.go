package vocab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/qrun-dev/qrun/namekind"
)

// unread counts the built-ins whose files are not read yet.
func unread(v *Vocabulary) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.unread[namekind.Granularity]) + len(v.unread[namekind.Format]) + len(v.unread[namekind.KVCache])
}

// The built-ins are read on first use: loading reads none, a lookup by
// name reads the entry it returns, and an alias, a listing or the user's
// files read them all.
func TestBuiltinsReadOnFirstUse(t *testing.T) {
	files, err := BuiltinFiles()
	if err != nil {
		t.Fatal(err)
	}
	all := len(files)
	v, err := load(nil, Dirs{})
	if err != nil {
		t.Fatal(err)
	}
	if n := unread(v); n != all {
		t.Fatalf("%d of %d built-ins unread after load, want all", n, all)
	}
	f, err := v.Format("w4a8_int")
	if err != nil || len(f.Config.Entries) == 0 {
		t.Fatalf("Format: %v, config %v", err, f.Config.Entries)
	}
	g, err := v.Granularity("recipe_match_channel_token")
	if err != nil || g.overlays == nil {
		t.Fatalf("Granularity: %v", err)
	}
	if n := unread(v); n != all-2 {
		t.Fatalf("%d built-ins unread after two lookups by name, want %d", n, all-2)
	}
	if c, viaAlias, ok := v.Canonical(namekind.Format, "int8_sq"); c != "int8_smoothquant" || !viaAlias || !ok {
		t.Fatalf("Canonical(int8_sq) = %q, %v, %v", c, viaAlias, ok)
	}
	if n := unread(v); n != all-3 {
		t.Fatalf("%d built-ins unread after an alias lookup, want %d: the headers know every alias", n, all-3)
	}
	// A listing reads the headers alone.
	v, err = load(nil, Dirs{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(v.Entries(namekind.Granularity)) + len(v.Entries(namekind.Format)) + len(v.Entries(namekind.KVCache)); n != all || unread(v) != all {
		t.Fatalf("Entries listed %d of %d, %d unread", n, all, unread(v))
	}
	// A user's file reads the built-ins it meets: its name or aliases.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "w_group32.yaml"), []byte("name: w_group32\nweights:\n  block_sizes: {-1: 32, type: static}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if v, err = Load(Dirs{Granularity: dir}); err != nil {
		t.Fatal(err)
	}
	if n := unread(v); n != all {
		t.Fatalf("%d built-ins unread with a user's file that meets none, want all %d", n, all)
	}
	copied, _ := builtinFS.ReadFile("builtin/quant_granularity/w_group64.yaml")
	if err := os.WriteFile(filepath.Join(dir, "w_group64.yaml"), copied, 0o644); err != nil {
		t.Fatal(err)
	}
	if v, err = Load(Dirs{Granularity: dir}); err != nil {
		t.Fatal(err)
	}
	if n := unread(v); n != all-1 {
		t.Fatalf("%d built-ins unread with a user's copy of w_group64, want %d", n, all-1)
	}
}

// TestBuiltinHeadersEqualTheirFiles: the header of every built-in read from
// its first lines (name, description, aliases, retired) is what its whole
// file says.
func TestBuiltinHeadersEqualTheirFiles(t *testing.T) {
	v, err := load(nil, Dirs{})
	if err != nil {
		t.Fatal(err)
	}
	v.mu.Lock()
	v.readHeaders()
	headers := v.headers
	v.mu.Unlock()
	for _, k := range namekind.All {
		for _, e := range v.Entries(k) { // every one read below, whole
			_ = e
		}
		v.mu.Lock()
		v.readBuiltins()
		v.mu.Unlock()
		for _, full := range v.Entries(k) {
			h := headers[k][full.Name]
			h.lines, full.lines = nil, nil
			if h.Name != full.Name || h.Description != full.Description || !slices.Equal(h.Aliases, full.Aliases) || h.Retired != full.Retired || h.Kind != full.Kind || !h.Builtin {
				t.Errorf("%s %s: header %+v, file %+v", k, full.Name, h, full)
			}
		}
	}
}

// Built-ins read and built on first use from many goroutines at once (a
// shared Vocabulary, like Builtin's) are read once, and alike (go test
// -race).
func TestBuiltinsReadConcurrently(t *testing.T) {
	v, err := load(nil, Dirs{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := load(nil, Dirs{})
	if err != nil {
		t.Fatal(err)
	}
	want.Formats()
	want.Granularities()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for _, name := range want.Names(namekind.Format) {
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
				v.Entries(namekind.Format)
				v.Entries(namekind.Granularity)
			}
			for _, name := range want.Names(namekind.Granularity) {
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
