package modelopt

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// yamlValue parses YAML into this package's plain values (int keys
// kept); name says what src is in a failure.
func yamlValue(t *testing.T, src []byte, name string) any {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal(src, &n); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	v, err := FromNode(&n)
	if err != nil {
		t.Fatalf("convert %s: %v", name, err)
	}
	return v
}

// attrs parses a YAML flow mapping into attributes, keeping int keys.
func attrs(t *testing.T, src string) Attrs {
	t.Helper()
	v := yamlValue(t, []byte(src), strconv.Quote(src))
	a, err := AttrsFrom(v.(map[any]any))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestValidateModelOptRules(t *testing.T) {
	cases := []struct {
		name, src string
		target    Version
		wantErr   string // "" = valid
	}{
		{"int per channel", "{num_bits: 8, axis: 0}", V046, ""},
		{"fp8 per tensor", "{num_bits: [4, 3], axis: null}", V046, ""},
		{"group static", "{num_bits: 4, block_sizes: {-1: 128, type: static}}", V046, ""},
		{"null axis with blocks", "{num_bits: 4, axis: null, block_sizes: {-1: 128}}", V046, ""},
		{"per token dynamic", "{num_bits: 8, axis: null, type: dynamic, block_sizes: {-1: null}}", V046, ""},
		{"nvfp4", "{num_bits: [2, 1], effective_bits: 4.5, block_sizes: {-1: 16, type: dynamic, scale_bits: [4, 3]}}", V046, ""},
		{"mx scale bits e8m0", "{num_bits: [4, 3], block_sizes: {-1: 32, type: dynamic, scale_bits: [8, 0]}}", V046, ""},
		{"2d blocks", "{num_bits: [4, 3], block_sizes: {-1: 128, -2: 128}}", V046, ""},
		{"e5m2 with dynamic blocks", "{num_bits: [5, 2], block_sizes: {-1: 32, type: dynamic}}", V046, ""},
		{"axis with blocks", "{num_bits: 4, axis: 0, block_sizes: {-1: 128}}", V046, "axis must be null when block_sizes is set"},
		{"zero block", "{num_bits: 4, block_sizes: {-1: 0}}", V046, "must be a positive integer or null"},
		{"negative block", "{num_bits: 4, block_sizes: {-1: -4}}", V046, "must be a positive integer or null"},
		{"float block", "{num_bits: 4, block_sizes: {-1: 1.5}}", V046, "must be a positive integer or null"},
		{"string block", "{num_bits: 4, block_sizes: {-1: '64'}}", V046, "must be a positive integer or null"},
		{"unknown block key", "{num_bits: 4, block_sizes: {-1: 64, size: 3}}", V046, `block_sizes key "size" is not known`},
		{"block type", "{num_bits: 4, block_sizes: {-1: 64, type: fast}}", V046, "block_sizes type must be static or dynamic"},
		{"dynamic needs one axis", "{num_bits: 4, block_sizes: {-1: 64, -2: 64, type: dynamic}}", V046, "exactly one axis key"},
		{"four_over_six on 0.46", "{num_bits: [2, 1], block_sizes: {-1: 16, type: dynamic, four_over_six: true}}", V046, ""},
		{"four_over_six on 0.45", "{num_bits: [2, 1], block_sizes: {-1: 16, type: dynamic, four_over_six: true}}", Version{0, 45}, "needs ModelOpt 0.46"},
		{"num_bits zero", "{num_bits: 0}", V046, "at least 1"},
		{"pair with zero", "{num_bits: [4, 0]}", V046, "neither exponent nor mantissa bits may be zero"},
		{"e5m2 static", "{num_bits: [5, 2]}", V046, "only supported with dynamic block quantization"},
		{"e3m4", "{num_bits: [3, 4]}", V046, "not a float format ModelOpt supports"},
		{"triple", "{num_bits: [4, 3, 1]}", V046, "integer or an [E, M] pair"},
		{"top type", "{num_bits: 8, type: sometimes}", V046, "type must be static or dynamic"},
		{"exactly enable true", "{enable: true}", V046, "exactly {enable: true}"},
		{"unknown attribute", "{num_bits: 8, block_size: {-1: 64}}", V046, `unknown ModelOpt attribute "block_size"; did you mean "block_sizes"?`},
		{"use_constant_amax on 0.43", "{num_bits: 8, use_constant_amax: true}", V043, ""},
		{"constant_amax on 0.45", "{num_bits: 8, constant_amax: 1.0}", Version{0, 45}, "needs ModelOpt 0.46"},
		{"effective_bits type", "{num_bits: 8, effective_bits: many}", V046, "effective_bits must be a number"},
		{"axis list", "{num_bits: 8, axis: [0, 1]}", V046, ""},
		{"axis string", "{num_bits: 8, axis: rows}", V046, "axis must be null, an integer or a list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := attrs(t, c.src).Validate(c.target)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("%s: unexpected error %v", c.src, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("%s: error %v, want %q", c.src, err, c.wantErr)
			}
		})
	}
}

// TestT8NumBitsStringRejected: num_bits: e4m3 passes ModelOpt's raw
// validation as a custom backend format; qrun refuses it and says [4, 3].
func TestT8NumBitsStringRejected(t *testing.T) {
	err := attrs(t, "{num_bits: e4m3, axis: null}").Validate(V046)
	if err == nil || !strings.Contains(err.Error(), "write num_bits: [4, 3]") {
		t.Fatalf("num_bits: e4m3 → %v", err)
	}
}

// TestT9StringBlockKeyRejected: a quoted "-1" is a string key, which ModelOpt
// rejects only when the GPU job starts; qrun refuses it at once, and always
// writes integer keys.
func TestT9StringBlockKeyRejected(t *testing.T) {
	err := attrs(t, `{num_bits: 4, block_sizes: {"-1": 128}}`).Validate(V046)
	if err == nil || !strings.Contains(err.Error(), `block_sizes key "-1" is a string`) {
		t.Fatalf(`"-1" key → %v`, err)
	}
	c := Config{DenyAll: true, DefaultTail: true, Algorithm: "max", Entries: []Entry{{QuantizerName: "*weight_quantizer", Cfg: attrs(t, "{num_bits: 4, block_sizes: {-1: 128, -2: 64, type: static}}")}}}
	for _, target := range []Version{V046, V043} {
		out, _, err := Recipe(c, target, "t9")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(out, []byte("{-1: 128, -2: 64, type: static}")) || bytes.Contains(out, []byte(`"-1"`)) || bytes.Contains(out, []byte(`'-1'`)) {
			t.Errorf("%s: block_sizes not written with integer keys:\n%s", target, out)
		}
	}
}

// TestT7EnableOnTheEntry: enable inside cfg is ignored by ModelOpt ≥ 0.45
// (and false there enables); qrun refuses it in a config and writes enable
// on the entry.
func TestT7EnableOnTheEntry(t *testing.T) {
	bad := Config{Entries: []Entry{{QuantizerName: "*input_quantizer", Cfg: attrs(t, "{num_bits: 8, enable: false}")}}}
	if err := bad.Validate(V046); err == nil || !strings.Contains(err.Error(), "put enable on the entry") {
		t.Fatalf("enable inside cfg → %v", err)
	}
	f := false
	good := Config{DenyAll: true, Algorithm: "max", Entries: []Entry{{QuantizerName: "*input_quantizer", Enable: &f}}}
	out, _, err := Recipe(good, V046, "t7")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("- {quantizer_name: '*input_quantizer', enable: false}")) {
		t.Errorf("enable not on the entry:\n%s", out)
	}
}

// TestT5LegacyFormOnlyFor043: the 0.43 mapping form, whose "default" key
// becomes a trailing deny-all on ≥ 0.44, is written only for 0.43.
func TestT5LegacyFormOnlyFor043(t *testing.T) {
	c := Config{DenyAll: true, DefaultTail: true, Algorithm: "max", Entries: []Entry{{QuantizerName: "*weight_quantizer", Cfg: attrs(t, "{num_bits: 8, axis: 0}")}}}
	for _, target := range Supported {
		out, _, err := Recipe(c, target, "t5")
		if err != nil {
			t.Fatal(err)
		}
		legacy := bytes.Contains(out, []byte("default: {enable: false}"))
		if legacy != (target == V043) {
			t.Errorf("target %s: legacy default key present = %v\n%s", target, legacy, out)
		}
		section := "\nquantize:\n"
		if target == V043 {
			section = "\nptq_cfg:\n"
		}
		if !bytes.Contains(out, []byte(section)) {
			t.Errorf("target %s: section %q missing", target, strings.TrimSpace(section))
		}
	}
}

func TestOverlayExclusion(t *testing.T) {
	cases := []struct{ base, ov, want string }{
		{"{num_bits: 8, axis: 0}", "{block_sizes: {-1: 64, type: static}}", "{num_bits: 8, block_sizes: {-1: 64, type: static}}"},
		{"{num_bits: 4, block_sizes: {-1: 128, type: static}}", "{axis: 0}", "{num_bits: 4, axis: 0}"},
		{"{num_bits: 4, block_sizes: {-1: 128, type: static}}", "{axis: null}", "{num_bits: 4, axis: null}"},
		{"{num_bits: [4, 3], axis: null}", "{type: dynamic, axis: null, block_sizes: {-1: null}}", "{num_bits: [4, 3], axis: null, type: dynamic, block_sizes: {-1: null}}"},
		{"{num_bits: [4, 3], axis: null, type: dynamic, block_sizes: {-1: null}}", "{type: static, axis: null}", "{num_bits: [4, 3], axis: null, type: static}"},
	}
	for _, c := range cases {
		got, err := Overlay(attrs(t, c.base), attrs(t, c.ov))
		if err != nil {
			t.Fatal(err)
		}
		if !Equal(got.Value(), attrs(t, c.want).Value()) {
			t.Errorf("%s + %s = %s, want %s", c.base, c.ov, got, c.want)
		}
	}
	if _, err := Overlay(attrs(t, "{num_bits: [2, 1], block_sizes: {-1: 16, type: dynamic, scale_bits: [4, 3]}}"), attrs(t, "{axis: 0}")); err == nil {
		t.Error("an axis overlay on a block-scaled dtype must be refused")
	}
}

func TestOverlayRemoves(t *testing.T) {
	cases := []struct {
		ov   string
		want []string
	}{
		{"{axis: 0}", []string{"block_sizes"}},
		{"{axis: null}", []string{"block_sizes"}},
		{"{block_sizes: {-1: 64, type: static}}", []string{"axis"}},
		{"{axis: null, block_sizes: {-1: null}}", nil},
		{"{type: dynamic}", nil},
		{"{}", nil},
	}
	for _, c := range cases {
		if got := OverlayRemoves(attrs(t, c.ov)); !slices.Equal(got, c.want) {
			t.Errorf("OverlayRemoves(%s) = %q, want %q", c.ov, got, c.want)
		}
	}
}

func TestValidateOverlay(t *testing.T) {
	cases := []struct{ src, wantErr string }{
		{"{axis: 0}", ""},
		{"{block_sizes: {-1: 32, type: static}}", ""},
		{"{block_sizes: {-2: 128, -1: 128}}", ""},
		{"{num_bits: 4}", "dtype attribute"},
		{"{scale_bits: [4, 3]}", "dtype attribute"},
		{"{block_sizes: {-1: 16, scale_bits: [4, 3]}}", "dtype attribute"},
		{"{enable: false}", "not a granularity attribute"},
		{"{blocksizes: {-1: 3}}", "unknown ModelOpt attribute"},
		{"{block_sizes: {-1: 0}}", "positive integer"},
	}
	for _, c := range cases {
		err := ValidateOverlay(attrs(t, c.src))
		if (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: error %v, want %q", c.src, err, c.wantErr)
		}
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]string{"0.46": "0.46", "0.43": "0.43", "0.44.1": "0.44", "v0.45": "0.45"} {
		v, err := ParseVersion(in)
		if err != nil || v.String() != want {
			t.Errorf("ParseVersion(%q) = %v, %v", in, v, err)
		}
	}
	for _, in := range []string{"", "0.42", "1.0", "0.50", "x.y", "0", "0.46.0.1"} {
		if _, err := ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) accepted", in)
		}
	}
}

func TestLegacyCannotExpressDuplicates(t *testing.T) {
	c := Config{Entries: []Entry{
		{QuantizerName: "*weight_quantizer", Cfg: attrs(t, "{num_bits: 8}")},
		{QuantizerName: "*weight_quantizer", Cfg: attrs(t, "{num_bits: 4}")},
	}, Algorithm: "max"}
	if _, _, err := Recipe(c, V043, "dup"); err == nil || !strings.Contains(err.Error(), "target 0.44 or newer") {
		t.Fatalf("duplicate pattern for 0.43 → %v", err)
	}
	if _, _, err := Recipe(c, V046, "dup"); err != nil {
		t.Fatalf("duplicate pattern for 0.46 → %v", err)
	}
}
