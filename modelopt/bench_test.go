package modelopt_test

import (
	"testing"

	"github.com/qrun-dev/qrun/modelopt"
)

// Benchmarks: go test -run '^$' -bench . -benchmem ./modelopt/

func bnBool(b bool) *bool { return &b }

// bnConfig is w4a8_int × recipe_match_channel_token as qrun resolves it:
// deny-all, int4 per-output-channel weights, int8 per-token dynamic
// activations, ModelOpt's default-disabled tail.
func bnConfig() modelopt.Config {
	return modelopt.Config{
		DenyAll: true,
		Entries: []modelopt.Entry{
			{QuantizerName: "*weight_quantizer", Cfg: modelopt.Attrs{"num_bits": 4, "axis": 0}},
			{QuantizerName: "*input_quantizer", Cfg: modelopt.Attrs{
				"num_bits": 8, "axis": nil, "type": "dynamic", "block_sizes": map[any]any{-1: nil},
			}},
		},
		DefaultTail: true,
		Algorithm:   "max",
	}
}

// bnSequential is w4a8_awq_beta: a two-stage weight quantizer, fp8
// activations, awq_lite.
func bnSequential() modelopt.Config {
	return modelopt.Config{
		DenyAll: true,
		Entries: []modelopt.Entry{
			{QuantizerName: "*weight_quantizer", Stages: []modelopt.Attrs{
				{"num_bits": 4, "block_sizes": map[any]any{-1: 128, "type": "static"}},
				{"num_bits": []any{4, 3}, "axis": nil},
			}},
			{QuantizerName: "*input_quantizer", Cfg: modelopt.Attrs{"num_bits": []any{4, 3}, "axis": nil}},
			{QuantizerName: "*mlp.down_proj.input_quantizer", Enable: bnBool(false)},
		},
		DefaultTail: true,
		Algorithm:   map[any]any{"method": "awq_lite"},
	}
}

func BenchmarkOverlay(b *testing.B) {
	base := modelopt.Attrs{"num_bits": 4, "block_sizes": map[any]any{-1: 128, "type": "static"}}
	nvfp4 := modelopt.Attrs{"num_bits": []any{2, 1}, "block_sizes": map[any]any{-1: 16, "type": "dynamic", "scale_bits": []any{4, 3}}}
	cases := []struct {
		name     string
		base, ov modelopt.Attrs
	}{
		{"axis", base, modelopt.Attrs{"axis": 0}},
		{"blocks", base, modelopt.Attrs{"block_sizes": map[any]any{-1: 64, "type": "static"}}},
		{"token-dynamic", modelopt.Attrs{"num_bits": 8, "axis": nil}, modelopt.Attrs{"type": "dynamic", "axis": nil, "block_sizes": map[any]any{-1: nil}}},
		{"keep-scale-bits", nvfp4, modelopt.Attrs{"block_sizes": map[any]any{-1: 32, "type": "dynamic"}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := modelopt.Overlay(c.base, c.ov); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("apply-in-place", func(b *testing.B) {
		c := bnSequential()
		ov := modelopt.Attrs{"block_sizes": map[any]any{-1: 64, "type": "static"}}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.ApplyOverlay(modelopt.Weights, ov); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRecipe(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  modelopt.Config
	}{
		{"w4a8_int", bnConfig()},
		{"w4a8_awq_beta", bnSequential()},
	} {
		for _, target := range []modelopt.Version{modelopt.V046, modelopt.V043} {
			b.Run(c.name+"/"+target.String(), func(b *testing.B) {
				out, _, err := modelopt.Recipe(c.cfg, target, "bench")
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(out)))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, _, err := modelopt.Recipe(c.cfg, target, "bench"); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	c := bnSequential()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Validate(modelopt.V046); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCanonical(b *testing.B) {
	attrs := map[any]any{"num_bits": 8, "axis": nil, "type": "dynamic", "block_sizes": map[any]any{-1: nil}}
	var entries []any
	for _, e := range bnSequential().List() {
		entries = append(entries, e.Value())
	}
	config := map[any]any{"entries": entries, "algorithm": map[any]any{"method": "awq_lite"}, "deny_all": true, "default_tail": true}
	for _, c := range []struct {
		name string
		v    any
	}{
		{"attrs", attrs},
		{"config", config},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(modelopt.Canonical(c.v))))
			b.ReportAllocs()
			for b.Loop() {
				_ = modelopt.Canonical(c.v)
			}
		})
	}
}

// BenchmarkExportVerdict: qrun's rule over one config (every resolve and
// every combination of a plan runs it once).
func BenchmarkExportVerdict(b *testing.B) {
	c := modelopt.Config{DenyAll: true, DefaultTail: true, Algorithm: "max", Entries: []modelopt.Entry{
		{QuantizerName: "*weight_quantizer", Cfg: modelopt.Attrs{"num_bits": 4, "block_sizes": map[any]any{-1: 128, "type": "static"}}},
		{QuantizerName: "*input_quantizer", Cfg: modelopt.Attrs{"num_bits": 8, "axis": nil}},
	}}
	for b.Loop() {
		if v := modelopt.Export(c, modelopt.V046); v.Kind != modelopt.Mislabelled {
			b.Fatal(v.Summary())
		}
	}
}
