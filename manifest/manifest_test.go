package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/modelopt"
)

func sample() *Manifest {
	return &Manifest{
		RunID: "0123456789ab", Model: "Qwen/Qwen3-8B",
		Format:            Name{Name: "int8_smoothquant", Typed: "int8_sq", Fingerprint: "f1"},
		Granularity:       Name{Name: "w_group64", Fingerprint: "g1"},
		Params:            []Param{{"calib_size", 512}, {"seed", 1}},
		Recorded:          []Param{{"wandb.tags", "x"}},
		ConfigFingerprint: "c1",
		Weights:           map[any]any{"num_bits": 8, "block_sizes": map[any]any{-1: 64, "type": "static"}},
		Activations:       map[any]any{"num_bits": 8, "axis": nil},
		ModelOpt:          "0.46", LayoutTemplate: "{model}/{format}/{granularity}", LayoutFingerprint: "l1",
		HydraOverrides: []string{"quant_pair=int8_smoothquant", "quant_granularity=w_group64"},
		QrunVersion:    "dev", Created: "2026-11-25T19:00:00Z", Host: "node1", GitCommit: "abc", GitDirty: true,
		Export: &Export{Verdict: "fails", Why: "weights are int8 group64: ModelOpt's int8 exporter takes one scale per output channel or per tensor", ModelOpt: "0.46"},
	}
}

func TestEncodeIsDeterministicWithIntegerKeys(t *testing.T) {
	a, err := sample().Encode()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := sample().Encode()
	if !bytes.Equal(a, b) {
		t.Fatal("encoding differs between calls")
	}
	for _, want := range []string{"qrun_manifest: 1\n", "run_id: 0123456789ab\n", "typed: int8_sq", "block_sizes: {-1: 64, type: static}", "seed: 1\n", "dirty: true",
		"export:\n  verdict: fails\n  quant_algo: \"\"\n  why: 'weights are int8 group64: ModelOpt''s int8 exporter takes one scale per output channel or per tensor'\n  modelopt: \"0.46\"\n"} {
		if !bytes.Contains(a, []byte(want)) {
			t.Errorf("manifest lacks %q:\n%s", want, a)
		}
	}
}

func TestReadIdentityAndWriteMissing(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadIdentity(dir); !errors.Is(err, ErrNoManifest) {
		t.Fatalf("empty dir: %v", err)
	}
	empty, err := Uncommitted(dir)
	if err != nil || !empty {
		t.Fatalf("Uncommitted(empty) = %v, %v", empty, err)
	}
	m, _ := sample().Encode()
	n, err := WriteMissing(dir, Files{Manifest: m, Recipe: []byte("recipe\n")})
	if err != nil || n != 2 {
		t.Fatalf("WriteMissing = %d, %v", n, err)
	}
	id, err := ReadIdentity(dir)
	if err != nil || id.RunID != "0123456789ab" || id.Format != "int8_smoothquant" || id.Model != "Qwen/Qwen3-8B" {
		t.Fatalf("identity = %+v, %v", id, err)
	}
	// Existing files are never rewritten; a missing one is.
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(m, []byte("# edited\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, RecipeFile))
	n, err = WriteMissing(dir, Files{Manifest: m, Recipe: []byte("recipe\n")})
	if err != nil || n != 1 {
		t.Fatalf("second WriteMissing = %d, %v", n, err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	if !strings.HasSuffix(string(got), "# edited\n") {
		t.Error("existing manifest was rewritten")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("run dir holds %d entries, want exactly 2", len(ents))
	}
}

func TestReadIdentityRefusesOthers(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{
		"hello: world\n":                  "is not a qrun manifest",
		"qrun_manifest: 9\nrun_id: abc\n": "newer than this qrun",
		"[unclosed\n":                     "is not a qrun manifest",
	} {
		os.WriteFile(filepath.Join(dir, ManifestFile), []byte(content), 0o644)
		if _, err := ReadIdentity(dir); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", content, err, want)
		}
	}
	os.WriteFile(filepath.Join(dir, TempPrefix+"x"), nil, 0o644)
	os.Remove(filepath.Join(dir, ManifestFile))
	os.WriteFile(filepath.Join(dir, RecipeFile), []byte("r"), 0o644)
	if only, _ := Uncommitted(dir); !only {
		t.Error("a dir with only temp files and a recipe holds no run yet")
	}
	if err := Reset(dir); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("Reset left %d entries", len(ents))
	}
	os.Mkdir(filepath.Join(dir, "seed=1"), 0o755)
	if only, _ := Uncommitted(dir); !only {
		t.Error("a nested run directory does not make a directory foreign")
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644)
	if only, _ := Uncommitted(dir); only {
		t.Error("a dir with a foreign file is not an interrupted write")
	}
}

func TestWriteAtomicLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.yaml")
	for i := 0; i < 3; i++ {
		if err := WriteAtomic(p, []byte("v\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d entries after atomic writes, want 1", len(ents))
	}
	if err := WriteAtomic(filepath.Join(dir, "missing", "f"), []byte("x"), 0o644); err == nil {
		t.Error("writing into a missing folder should fail")
	}
}

// TestFastEncodingEqualsYAML: the direct writer and the YAML encoder give
// the same bytes, for plain manifests and for ones that need quoting.
func TestFastEncodingEqualsYAML(t *testing.T) {
	variants := []func(*Manifest){
		func(m *Manifest) {},
		func(m *Manifest) {
			m.Params = nil
			m.Recorded = nil
			m.GitCommit = ""
			m.Notes = []string{"effective_bits dropped"}
		},
		func(m *Manifest) { m.Host = "host with spaces" },
		func(m *Manifest) { m.Model = "/data/models/qwen3-8b" },
		func(m *Manifest) { m.Params = []Param{{"lr", 0.5}, {"tag", "true"}, {"x", nil}, {"y", false}} },
		func(m *Manifest) {
			m.Notes = []string{"effective_bits dropped: ModelOpt 0.43 does not accept it (autoquant metadata only)"}
		},
		func(m *Manifest) {
			m.HydraOverrides = append(m.HydraOverrides, "hydra.run.dir='/o/Qwen3-8B/int8/w_group64/calib_size=512,seed=1'", "note='a b'")
		},
		func(m *Manifest) { m.Params = []Param{{"seed", "1"}} },
		func(m *Manifest) { m.Model = "yes" },
		func(m *Manifest) { m.Export = nil },
		func(m *Manifest) { m.Export = &Export{Verdict: "deployable", QuantAlgo: "FP8", ModelOpt: "0.46"} },
		func(m *Manifest) {
			m.Export = &Export{Verdict: "mislabelled", QuantAlgo: "W4A16_AWQ", Why: "activations are int8 per_tensor_static but W4A16_AWQ means none", ModelOpt: "0.46"}
		},
		func(m *Manifest) {
			m.Export = &Export{Verdict: "unverified", Why: "qrun's export rule is checked against ModelOpt 0.46 only; no verdict for 0.44", ModelOpt: "0.44"}
		},
		func(m *Manifest) { m.QrunVersion = ""; m.Host = "" },
		func(m *Manifest) { m.Host = "a\\b" },
		func(m *Manifest) { m.RunID = "123456789012" },
		func(m *Manifest) { m.RunID = "0b1010101010" },
		func(m *Manifest) { m.RunID = "00000001e100" },
		func(m *Manifest) {
			m.RunID = "0a1b2c3d4e5f"
			m.ConfigFingerprint = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
		},
	}
	for i, v := range variants {
		m := sample()
		m.ConfigFingerprint = fmt.Sprintf("c%d", i)
		v(m)
		want, err := m.encodeYAML()
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("variant %d: fast encoding differs\n got:\n%s\nwant:\n%s", i, got, want)
		}
	}
}

func TestCommonManifestTakesTheFastPath(t *testing.T) {
	m := sample()
	m.HydraOverrides = append(m.HydraOverrides, "hydra.run.dir='/o/Qwen3-8B/int8/w_group64/calib_size=512,seed=1'")
	if _, ok := m.encodeFast(); !ok {
		t.Error("a plain manifest fell back to the YAML encoder")
	}
}

// scalarCases are strings the YAML rules treat differently: words YAML
// reads as other types, numbers in every base, dates, indicators, quotes,
// spaces, and what the fast encoder leaves to yaml.v3 (line breaks, tabs,
// non-ASCII, long keys).
var scalarCases = []string{
	"", " ", "a", "x y", " lead", "trail ", "a  b", "null", "Null", "NULL", "~", "true", "False", "TRUE", "yes", "no", "on", "off", "y", "n",
	"1", "-1", "+1", "0", "01", "0123", "089", "1_000", "0x1f", "0X1F", "0o17", "0b101", "-0b101", "0b12", "1e10", "1e", "e1", "1.", ".5", "1.5e-3",
	"9223372036854775807", "18446744073709551615", "99999999999999999999", "1e400", ".inf", "-.Inf", "+.INF", ".nan", ".NaN", "NaN", "inf",
	"2026-11-25", "2026-11-25T19:00:00Z", "2026-11-25 19:00:00", "2026-1-5", "2026-11-25T19:00:00.5+01:00", "1234-", "0.46", "0.1.0", "v1.2",
	"<<", "<", "---", "--- x", "...", "-", "- x", "-x", "?", "? x", "?x", ":", ": x", ":x", "a:", "a: b", "a:b", "a :b", "#", "a#b", "a #b", "# x",
	",", "a,b", "[x]", "x]", "{x}", "x{", "&a", "*a", "!t", "|", ">", "%", "@x", "`x`", "'", "a'b", "'a'", `"`, `a"b`, `"a"`, `\`, `a\b`,
	"{model}/{format}/{granularity}", "hydra.run.dir='/o/Qwen3-8B/int8/w_group64/calib_size=512,seed=1'", "note='a b'", "Qwen/Qwen3-8B",
	"effective_bits dropped: ModelOpt 0.43 does not accept it (autoquant metadata only)", "/data/models/qwen3-8b", "host with spaces",
	"line\nbreak", "tab\there", "trailing\n", "é", "\u2028", "\x7f", "\x00", strings.Repeat("k", 128), strings.Repeat("k", 129),
}

// TestBlockScalarAgreesWithYAML: where blockScalar decides, its spelling is
// yaml.v3's, as a mapping value, a block sequence item and a mapping key;
// hex strings (run ids, fingerprints, commits) included, whose digits and
// b or e can spell a number.
func TestBlockScalarAgreesWithYAML(t *testing.T) {
	cases := append([]string{}, scalarCases...)
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		b := make([]byte, 1+r.IntN(12))
		for i := range b {
			b[i] = "0123456789abcdef"[r.IntN(16)]
			if r.IntN(3) == 0 {
				b[i] = "0123456789be"[r.IntN(12)]
			}
		}
		cases = append(cases, string(b))
	}
	printable := regexp.MustCompile(`^[ -~]*$`)
	for _, s := range cases {
		for _, v := range []any{s, nil, true, 42, -7, 0.5, 1e-05, 1e21, 4.0} {
			if _, isStr := v.(string); !isStr && s != "" {
				continue // each non-string value once
			}
			n := modelopt.ToNode(v)
			value, ok := blockScalar(n.Tag, n.Value, false)
			if !ok {
				if printable.MatchString(s) {
					t.Errorf("value %#v: one line of printable ASCII left to yaml.v3", v)
				}
				continue
			}
			if want := marshal(t, mapping("k", v)); "k: "+value+"\n" != want {
				t.Errorf("value %#v: fast %q, yaml.v3 %q", v, "k: "+value+"\n", want)
			}
			if want := marshal(t, stringsNode([]string{s})); v == s && "- "+value+"\n" != want {
				t.Errorf("item %q: fast %q, yaml.v3 %q", s, "- "+value+"\n", want)
			}
		}
		if key, ok := blockScalar("!!str", s, true); ok {
			if want := marshal(t, mapping(s, 1)); key+": 1\n" != want {
				t.Errorf("key %q: fast %q, yaml.v3 %q", s, key+": 1\n", want)
			}
		}
	}
}

func marshal(t *testing.T, n *yaml.Node) string {
	t.Helper()
	b, err := modelopt.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
