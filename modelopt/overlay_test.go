package modelopt

import (
	"strings"
	"testing"
)

// TestOverlayAppliesToEveryRoleEntry: a granularity overlay replaces every
// entry of its role in place — scoped ones (*mlp*weight_quantizer) too —
// and leaves the disabling entries, the other role and the order alone
// (SPEC §1.2).
func TestOverlayAppliesToEveryRoleEntry(t *testing.T) {
	c := cfg("max",
		Entry{QuantizerName: "*mlp*weight_quantizer", Cfg: Attrs{"num_bits": 8, "axis": 0}},
		Entry{QuantizerName: "*mlp*input_quantizer", Cfg: Attrs{"num_bits": 8, "axis": nil}},
		Entry{QuantizerName: "*self_attn*weight_quantizer", Cfg: Attrs{"num_bits": 4, "block_sizes": map[any]any{-1: 128, "type": "static"}}},
		Entry{QuantizerName: "*o_proj*weight_quantizer", Enable: &off},
	)
	got, err := c.ApplyOverlay(Weights, Attrs{"block_sizes": map[any]any{-1: 64, "type": "static"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []map[any]any{
		{"quantizer_name": "*mlp*weight_quantizer", "cfg": map[any]any{"num_bits": 8, "block_sizes": map[any]any{-1: 64, "type": "static"}}},
		{"quantizer_name": "*mlp*input_quantizer", "cfg": map[any]any{"num_bits": 8, "axis": nil}},
		{"quantizer_name": "*self_attn*weight_quantizer", "cfg": map[any]any{"num_bits": 4, "block_sizes": map[any]any{-1: 64, "type": "static"}}},
		{"quantizer_name": "*o_proj*weight_quantizer", "enable": false},
	}
	for i, e := range got.Entries {
		if !Equal(e.Value(), want[i]) {
			t.Errorf("entry %d: %s, want %s", i+1, Format(e.Value()), Format(want[i]))
		}
	}
	if !Equal(c.Entries[0].Value(), map[any]any{"quantizer_name": "*mlp*weight_quantizer", "cfg": map[any]any{"num_bits": 8, "axis": 0}}) {
		t.Errorf("the overlay changed the format's own config")
	}
}

// TestOverlayIsNeverPartial: when one entry of the role cannot take the
// overlay (block-scaled NVFP4 weights beside int8 ones), the whole overlay
// is refused, naming the entry; nothing is edited.
func TestOverlayIsNeverPartial(t *testing.T) {
	c := cfg("max",
		Entry{QuantizerName: "*mlp*weight_quantizer", Cfg: Attrs{"num_bits": 8, "axis": 0}},
		Entry{QuantizerName: "*self_attn*weight_quantizer", Cfg: nvfp4},
	)
	_, err := c.ApplyOverlay(Weights, Attrs{"axis": 0})
	if err == nil || !strings.Contains(err.Error(), "*self_attn*weight_quantizer") || !strings.Contains(err.Error(), "every weight entry or to none") {
		t.Fatalf("got %v, want a refusal naming the entry", err)
	}
	for _, c := range []struct {
		cfg  Config
		role Role
		want string
	}{
		{cfg("max", w(int8Row), in(nil)), Activations, "quantizes weights only (its input quantizer is disabled)"},
		{cfg("max", w(int8Row)), Activations, "has no input (activation) quantizer entry (*input_quantizer)"},
		{cfg("max", Entry{QuantizerName: "*weight_quantizer", Enable: &off}), Weights, "does not quantize weights (its weight quantizer is disabled)"},
	} {
		if _, err := c.cfg.ApplyOverlay(c.role, Attrs{"axis": nil}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.role, err, c.want)
		}
	}
}
