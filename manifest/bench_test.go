package manifest

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkEncode: one run's manifest, the fast path a sweep takes.
func BenchmarkEncode(b *testing.B) {
	m := sample()
	for b.Loop() {
		if _, err := m.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeYAML: the same manifest through yaml.v3, the fallback.
func BenchmarkEncodeYAML(b *testing.B) {
	m := sample()
	for b.Loop() {
		if _, err := m.encodeYAML(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteNew: a run's two files written atomically into a new
// directory, unsynced (a sweep syncs once at the end).
func BenchmarkWriteNew(b *testing.B) {
	dir := b.TempDir()
	for i := range 64 {
		if err := os.Mkdir(filepath.Join(dir, strconv.Itoa(i)), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	mb, err := sample().Encode()
	if err != nil {
		b.Fatal(err)
	}
	f := Files{Manifest: mb, Recipe: make([]byte, 2048)}
	batch := NewBatch("")
	for i := 0; b.Loop(); i++ {
		if err := batch.WriteNew(filepath.Join(dir, strconv.Itoa(i%64)), f); err != nil {
			b.Fatal(err)
		}
	}
}
