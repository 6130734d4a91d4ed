package vocab_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/vocab"
)

// Benchmarks: go test -run '^$' -bench . -benchmem ./vocab/

// BenchmarkLoadBuiltin is a load as every command without vocabulary files
// starts with: the built-ins' names, each file read on first use.
func BenchmarkLoadBuiltin(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := vocab.Load(vocab.Dirs{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadBuiltinAll reads and builds every built-in as well (vocab
// check, vocab match, vocab list --json).
func BenchmarkLoadBuiltinAll(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		v, err := vocab.Load(vocab.Dirs{})
		if err != nil {
			b.Fatal(err)
		}
		v.Granularities()
		v.Formats()
	}
}

// bnUserFiles writes 20 user vocabulary files: 14 granularities (groups,
// blocks, compositions with aliases, a retired one) and 6 formats (base,
// spelled-out roles, a quant_cfg list, a sequential weight quantizer).
func bnUserFiles(b *testing.B) vocab.Dirs {
	b.Helper()
	dir := b.TempDir()
	dirs := vocab.Dirs{Granularity: filepath.Join(dir, "quant_granularity"), Format: filepath.Join(dir, "quant_pair")}
	files := map[string]string{}
	for _, g := range []int{8, 16, 32, 256, 512} {
		files[fmt.Sprintf("quant_granularity/w_group%d.yaml", g)] = fmt.Sprintf("name: w_group%d\ndescription: weight groups of %d\nweights:\n  block_sizes: {-1: %d, type: static}\n", g, g, g)
	}
	for _, bs := range []int{64, 128} {
		files[fmt.Sprintf("quant_granularity/w_block%dx%d.yaml", bs, bs)] = fmt.Sprintf("name: w_block%dx%d\nweights:\n  block_sizes: {-2: %d, -1: %d}\n", bs, bs, bs, bs)
	}
	for _, g := range []int{32, 64, 128} {
		files[fmt.Sprintf("quant_granularity/w_group%d_a_token.yaml", g)] = fmt.Sprintf("name: w_group%d_a_token\ncompose: [w_group%d, a_per_token_dynamic]\naliases: [wg%d_tok]\n", g, g, g)
	}
	files["quant_granularity/a_group64_dynamic.yaml"] = "name: a_group64_dynamic\nactivations:\n  block_sizes: {-1: 64, type: dynamic}\n"
	files["quant_granularity/w_channel_a_tensor.yaml"] = "name: w_channel_a_tensor\ncompose: [w_per_out_channel, a_per_tensor_static]\n"
	files["quant_granularity/w_col.yaml"] = "name: w_col\nweights: {axis: 1}\nretired: true\n"
	files["quant_granularity/w_block32x32.yaml"] = "name: w_block32x32\nweights:\n  block_sizes: {-2: 32, -1: 32}\n"
	files["quant_pair/w8a8_token.yaml"] = "format_name: w8a8_token\nweights: {num_bits: 8, axis: 0}\nactivations: {num_bits: 8, axis: null, type: dynamic, block_sizes: {-1: null}}\nalgorithm: max\n"
	files["quant_pair/w4a16_int.yaml"] = "format_name: w4a16_int\nweights:\n  num_bits: 4\n  block_sizes: {-1: 128, type: static}\nactivations: {enable: false}\nalgorithm: max\n"
	files["quant_pair/int8_channel.yaml"] = "format_name: int8_channel\nbase: int8\nweights: {num_bits: 8, axis: 0}\naliases: [i8c]\n"
	files["quant_pair/fp8_token.yaml"] = "format_name: fp8_token\nbase: fp8\nactivations: {num_bits: [4, 3], axis: null, type: dynamic, block_sizes: {-1: null}}\n"
	files["quant_pair/w4a8_list.yaml"] = `format_name: w4a8_list
quant_cfg:
- {quantizer_name: '*', enable: false}
- quantizer_name: '*weight_quantizer'
  cfg:
  - {num_bits: 4, block_sizes: {-1: 128, type: static}}
  - {num_bits: [4, 3], axis: null}
- quantizer_name: '*input_quantizer'
  cfg: {num_bits: [4, 3], axis: null}
- {quantizer_name: '*lm_head*', enable: false}
`
	files["quant_pair/w2a16_int.yaml"] = "format_name: w2a16_int\nweights: {num_bits: 2, block_sizes: {-1: 64, type: static}}\nactivations: {enable: false}\nalgorithm: null\n"
	if len(files) != 20 {
		b.Fatalf("bnUserFiles writes %d files, want 20", len(files))
	}
	for rel, body := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dirs
}

// BenchmarkLoadUserFolder measures Load with built-ins plus 20 user files
// read from disk (the page cache keeps it warm).
func BenchmarkLoadUserFolder(b *testing.B) {
	dirs := bnUserFiles(b)
	v, err := vocab.Load(dirs)
	if err != nil {
		b.Fatal(err)
	}
	if n := len(v.Granularities()) + len(v.Formats()); n < 20 {
		b.Fatalf("loaded %d entries", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := vocab.Load(dirs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveAll resolves every built-in format × granularity (invalid
// combinations included: their error path is part of a sweep's cost).
func BenchmarkResolveAll(b *testing.B) {
	v := vocab.Builtin()
	formats, grans := v.Formats(), v.Granularities()
	ok := 0
	for _, f := range formats {
		for _, g := range grans {
			if _, err := v.Resolve(f.Name, g.Name); err == nil {
				ok++
			}
		}
	}
	b.ReportMetric(float64(len(formats)*len(grans)), "pairs/op")
	b.ReportMetric(float64(ok), "valid/op")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, f := range formats {
			for _, g := range grans {
				_, _ = v.Resolve(f.Name, g.Name)
			}
		}
	}
}

// BenchmarkResolveOne is the resolution `qrun resolve` does.
func BenchmarkResolveOne(b *testing.B) {
	v := vocab.Builtin()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Resolve("w4a8_int", "recipe_match_channel_token"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFingerprint fingerprints every built-in name and one resolved
// config.
func BenchmarkFingerprint(b *testing.B) {
	v := vocab.Builtin()
	r, err := v.Resolve("w4a8_int", "recipe_match_channel_token")
	if err != nil {
		b.Fatal(err)
	}
	formats, grans := v.Formats(), v.Granularities()
	b.Run("all-names", func(b *testing.B) {
		b.ReportMetric(float64(len(formats)+len(grans)), "names/op")
		b.ReportAllocs()
		for b.Loop() {
			for _, f := range formats {
				_ = f.Fingerprint()
			}
			for _, g := range grans {
				_ = g.Fingerprint()
			}
		}
	})
	b.Run("format", func(b *testing.B) {
		f := r.Format
		b.ReportAllocs()
		for b.Loop() {
			_ = f.Fingerprint()
		}
	})
	b.Run("granularity", func(b *testing.B) {
		g := r.Granularity
		b.ReportAllocs()
		for b.Loop() {
			_ = g.Fingerprint()
		}
	})
	b.Run("config", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = r.Fingerprint()
		}
	})
}

// BenchmarkResolveRecipe is resolve plus encoding, for both recipe forms.
func BenchmarkResolveRecipe(b *testing.B) {
	v := vocab.Builtin()
	for _, target := range []modelopt.Version{modelopt.V046, modelopt.V043} {
		b.Run(target.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, err := v.Resolve("w4a8_int", "recipe_match_channel_token")
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := r.Recipe(target); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
