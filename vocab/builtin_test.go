package vocab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// unread counts the built-ins whose files are not read yet.
func unread(v *Vocabulary) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.unread[KindGranularity]) + len(v.unread[KindFormat]) + len(v.unread[KindKVCache])
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
	if c, viaAlias, ok := v.Canonical(KindFormat, "int8_sq"); c != "int8_smoothquant" || !viaAlias || !ok {
		t.Fatalf("Canonical(int8_sq) = %q, %v, %v", c, viaAlias, ok)
	}
	if n := unread(v); n != 0 {
		t.Fatalf("%d built-ins unread after an alias lookup, want none", n)
	}
	// Reading is not building: a listing builds no definition.
	v, err = load(nil, Dirs{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(v.Entries(KindGranularity)) + len(v.Entries(KindFormat)) + len(v.Entries(KindKVCache)); n != all || unread(v) != 0 {
		t.Fatalf("Entries listed %d of %d, %d unread", n, all, unread(v))
	}
	for _, f := range v.formats {
		if f.Config.Entries != nil {
			t.Errorf("listing the entries built format %s", f.Name)
		}
	}
	// A user's file needs every built-in's names and aliases.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "w_group32.yaml"), []byte("name: w_group32\nweights:\n  block_sizes: {-1: 32, type: static}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if v, err = Load(Dirs{Granularity: dir}); err != nil {
		t.Fatal(err)
	}
	if n := unread(v); n != 0 {
		t.Fatalf("%d built-ins unread with a user's file, want none", n)
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
