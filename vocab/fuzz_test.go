package vocab_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/vocab"
)

// Fuzz targets for the vocabulary file readers. Run one with e.g.
//
//	go test -run '^$' -fuzz '^FuzzParseGranularity$' -fuzztime 20s ./vocab/
//
// Without -fuzz, `go test` runs every seed (f.Add and testdata/fuzz/<Name>/)
// as an ordinary test.

// fzGoWords are words that betray Go internals leaking into a message meant
// for a user (SPEC §7: no stack traces, no Go-internal words, for any input).
var fzGoWords = []string{
	"runtime", "goroutine", "panic", "interface {}", "interface{}", "[]interface",
	"map[", "yaml: unmarshal errors", "reflect", "%!", "<nil>", "0xc0",
}

// fzCheckMessage fails when an error message is not one clean line. Words
// that the input itself contains may legitimately be echoed back (quoted).
func fzCheckMessage(t *testing.T, input []byte, msg string) {
	t.Helper()
	if msg == "" {
		t.Fatalf("empty error message")
	}
	if strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("error message spans several lines: %q", msg)
	}
	for _, w := range fzGoWords {
		if strings.Contains(msg, w) && !strings.Contains(string(input), w) {
			t.Fatalf("error message contains Go-internal word %q: %q", w, msg)
		}
	}
}

// fzStem keeps the fuzzed file stem a plausible file name, so that the
// fuzzer spends its time on the contents (a stem that does not match the
// name inside is just one more error path). Messages print the path as it
// is, so a file name with a line break in it is out of scope here.
func fzStem(s string) string {
	if s == "" || len(s) > 80 {
		return "x"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return "x"
		}
	}
	return s
}

// fzBroken are hostile or malformed vocabulary files: both kinds get them.
// %s is replaced by the name key (name / format_name).
var fzBroken = []string{
	// Billion laughs: anchors and aliases must be refused before expansion.
	"%s: x\nweights: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\nactivations: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\ndescription: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
	"a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n",
	"&top\n%s: x\nweights: {axis: 0}\n",
	"%s: &n x\naliases: [*n]\n",
	"%s: x\nweights: {<<: {axis: 0}}\n",
	// Tabs: YAML forbids them in indentation.
	"%s: x\nweights:\n\taxis: 0\n",
	"%s:\tx\nweights: {axis:\t0}\n",
	// Duplicate keys, at the top and inside a mapping (also int vs 0x int).
	"%s: x\n%s: x\n",
	"%s: x\nweights: {axis: 0, axis: 1}\n",
	"%s: x\nweights: {block_sizes: {-1: 64, -1: 128}}\n",
	"%s: x\nweights: {block_sizes: {16: 64, 0x10: 128}}\n",
	// Quoted "-1": a string key that ModelOpt rejects.
	"%s: x\nweights: {block_sizes: {\"-1\": 64, type: static}}\n",
	"%s: x\nweights: {block_sizes: {'-1': null}}\n",
	// Typos, wrong types, odd scalars.
	"%s: x\nweights: {block_size: {-1: 64}}\n",
	"%s: x\nweights: {num_bits: e4m3}\n",
	"%s: x\nweights: {num_bits: [4, 3], axis: 0, block_sizes: {-1: 16}}\n",
	"%s: x\nweights: {block_sizes: {-1: 99999999999999999999999}}\n",
	"%s: x\nweights: {block_sizes: {-1: .inf}}\n",
	"%s: x\nweights: {block_sizes: {-1: 1.5}}\n",
	"%s: x\nweights: {block_sizes: {[1]: 2}}\n",
	"%s: x\nweights: {type: \"dyn\\namic\"}\n",
	"%s: x\ndescription: 2001-12-14\n",
	"%s: x\ndescription: !!binary aGVsbG8=\n",
	"%s: x\nretired: yes\n",
	"%s: x\naliases: x\n",
	"%s: x\ncompose: [x]\n",
	"%s: X\n",
	"%s: [x]\n",
	"%s: x\n---\n%s: x\n",
	"- a\n- b\n",
	"",
	"\x00",
	"%s: x\nweights: {",
	"%s: \"\\xff\\u2028\"\n",
	"%s: x\nquant_cfg: [{quantizer_name: '*', enable: false}, {quantizer_name: '*weight_quantizer', cfg: {num_bits: 8, enable: true}}]\n",
	"%s: x\nweights: [{num_bits: 4}, {num_bits: [4, 3]}]\nactivations: {enable: false}\n",
	"%s: x\nbase: int8\nlock: [weights, weights, gpu]\n",
	"%s: x\nalgorithm: {method: awq_lite, alpha: 1}\n",
}

func fzSeeds(f *testing.F, group, nameKey string) {
	files, err := vocab.BuiltinFiles()
	if err != nil {
		f.Fatal(err)
	}
	var paths []string
	for p := range files {
		if strings.HasPrefix(p, group+"/") {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	if len(paths) == 0 {
		f.Fatalf("no built-in %s files", group)
	}
	for _, p := range paths {
		f.Add(strings.TrimSuffix(filepath.Base(p), ".yaml"), files[p])
	}
	for _, b := range fzBroken {
		f.Add("x", []byte(strings.ReplaceAll(b, "%s", nameKey)))
	}
}

func FuzzParseGranularity(f *testing.F) {
	fzSeeds(f, "quant_granularity", "name")
	f.Fuzz(func(t *testing.T, stem string, data []byte) {
		p := "conf/quant_granularity/" + fzStem(stem) + ".yaml"
		g, err := vocab.ParseGranularity(p, data)
		if !fzAccepted(t, data, err, g != nil, "granularity", func() string { return g.Name }) {
			return
		}
		for _, ov := range []modelopt.Attrs{g.Weights, g.Activations} {
			if ov == nil {
				continue
			}
			if err := modelopt.ValidateOverlay(ov); err != nil {
				t.Fatalf("accepted an overlay that ValidateOverlay refuses: %v", err)
			}
			_ = modelopt.Canonical(ov.Value())
		}
	})
}

func FuzzParseFormat(f *testing.F) {
	fzSeeds(f, "quant_pair", "format_name")
	f.Fuzz(func(t *testing.T, stem string, data []byte) {
		p := "conf/quant_pair/" + fzStem(stem) + ".yaml"
		fm, err := vocab.ParseFormat(p, data)
		fzAccepted(t, data, err, fm != nil, "format", func() string { return fm.Name })
	})
}

// fzAccepted checks what a parser made of data: a refusal (err) comes with
// no value (hasValue false) and a message fzCheckMessage accepts; what is
// accepted has a valid name. It reports whether data was accepted.
func fzAccepted(t *testing.T, data []byte, err error, hasValue bool, what string, name func() string) bool {
	t.Helper()
	if err != nil {
		if hasValue {
			t.Fatalf("error %q with a non-nil %s", err, what)
		}
		fzCheckMessage(t, data, err.Error())
		return false
	}
	if n := name(); !vocab.ValidName(n) {
		t.Fatalf("accepted invalid name %q", n)
	}
	return true
}

// FuzzLoadDir loads the built-ins plus one user granularity file and one user
// format file, then resolves every format × granularity that involves a user
// entry and encodes some of them for both recipe forms: nothing may panic,
// every problem is a clean message (one line per problem), and recipes are
// deterministic YAML.
//
// An iteration takes milliseconds (it loads the whole vocabulary), so the
// default 60 s minimisation of each new input stalls short runs; fuzz it with
//
//	go test -run '^$' -fuzz '^FuzzLoadDir$' -fuzztime 60s -fuzzminimizetime 100x ./vocab/
func FuzzLoadDir(f *testing.F) {
	files, err := vocab.BuiltinFiles()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("name: fz_g\nweights: {block_sizes: {-1: 32, type: static}}\n"), []byte("format_name: fz_f\nbase: int8\nweights: {num_bits: 8, axis: 0}\n"))
	f.Add([]byte("name: fz_g\ncompose: [w_group64, a_per_token_dynamic]\naliases: [fz_alias]\n"), []byte("format_name: fz_f\nweights: {num_bits: 4, block_sizes: {-1: 128, type: static}}\nactivations: {num_bits: 8, axis: null}\nlock: [activations]\n"))
	f.Add([]byte("name: fz_g\nweights: {block_sizes: {-2: 128, -1: 128}}\n"), []byte("format_name: fz_f\nquant_cfg:\n- {quantizer_name: '*', enable: false}\n- quantizer_name: '*weight_quantizer'\n  cfg: [{num_bits: 4, block_sizes: {-1: 128, type: static}}, {num_bits: [4, 3], axis: null}]\n- {quantizer_name: '*input_quantizer', cfg: {num_bits: [4, 3], axis: null}}\nalgorithm: {method: awq_lite}\n"))
	f.Add([]byte("name: fz_g\ncompose: [fz_g]\n"), []byte("format_name: fz_f\nbase: fz_f\n"))
	f.Add([]byte("name: w_group64\ndescription: changed\nweights:\n  block_sizes: {-1: 64, type: static}\n"), files["quant_pair/w4a8_int.yaml"])
	f.Add(files["quant_granularity/recipe_match_channel_token.yaml"], files["quant_pair/nvfp4.yaml"])
	f.Add([]byte("name: fz_g\naliases: [w_group64]\nactivations: {type: dynamic, block_sizes: {-1: 16, type: dynamic}}\n"), []byte("format_name: fz_f\naliases: [int8]\nbase: nvfp4\nactivations: {enable: false}\neffective_bits: 4\n"))
	// One folder per process, holding just the current input's two files:
	// system calls are most of an iteration's cost, so the folders are made
	// once and only a file whose name changed is removed. Inputs run one at
	// a time in a process, in fuzzing mode as for the seeds.
	dir := f.TempDir()
	dirs := vocab.Dirs{
		Granularity: filepath.Join(dir, "quant_granularity"),
		Format:      filepath.Join(dir, "quant_pair"),
	}
	for _, d := range []string{dirs.Granularity, dirs.Format} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			f.Fatal(err)
		}
	}
	var prevG, prevF string
	put := func(t *testing.T, prev *string, path string, data []byte) {
		if *prev != "" && *prev != path {
			if err := os.Remove(*prev); err != nil {
				t.Fatal(err)
			}
		}
		*prev = path
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, gdata, fdata []byte) {
		gname, fname := fzNameIn(gdata, "name", "fz_g"), fzNameIn(fdata, "format_name", "fz_f")
		put(t, &prevG, filepath.Join(dirs.Granularity, gname+".yaml"), gdata)
		put(t, &prevF, filepath.Join(dirs.Format, fname+".yaml"), fdata)
		v, err := vocab.Load(dirs)
		input := append(append([]byte{}, gdata...), fdata...)
		input = append(input, dir...)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				fzCheckMessage(t, input, line)
			}
			return
		}
		// Built-in × built-in pairs are the same in every iteration (and
		// covered by the package's tests): resolve only the pairs with a
		// user entry in them, and encode a few of them (encoding is the
		// slow part), so that an iteration stays fast.
		for _, g := range v.Granularities() {
			if !g.Builtin {
				_ = g.Fingerprint()
			}
		}
		encoded := 0
		for _, fm := range v.Formats() {
			if !fm.Builtin {
				_ = fm.Fingerprint()
			}
			for _, g := range v.Granularities() {
				if fm.Builtin && g.Builtin {
					continue
				}
				r, err := v.Resolve(fm.Name, g.Name)
				if err != nil {
					fzCheckMessage(t, input, err.Error())
					continue
				}
				_ = r.Fingerprint()
				if encoded >= 2 && (fm.Builtin || g.Builtin) {
					continue
				}
				encoded++
				for _, target := range []modelopt.Version{modelopt.V046, modelopt.V043} {
					b1, _, err := r.Recipe(target)
					if err != nil {
						fzCheckMessage(t, input, err.Error())
						continue
					}
					if target == modelopt.V046 {
						if b2, _, _ := r.Recipe(target); string(b1) != string(b2) {
							t.Fatalf("%s × %s recipe for %s is not deterministic", fm.Name, g.Name, target)
						}
					}
					var n yaml.Node
					if err := yaml.Unmarshal(b1, &n); err != nil {
						t.Fatalf("%s × %s recipe for %s is not valid YAML: %v\n%s", fm.Name, g.Name, target, err, b1)
					}
				}
			}
		}
	})
}

// fzNameIn picks the file stem: the name the file declares when it is a
// valid name (so the fuzzer reaches past the stem check), else a default. It
// reads the node tree only: decoding into Go values would expand aliases.
func fzNameIn(data []byte, key, def string) string {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return def
	}
	top := doc.Content[0].Content
	for i := 0; i+1 < len(top); i += 2 {
		if top[i].Value == key && top[i+1].Kind == yaml.ScalarNode && vocab.ValidName(top[i+1].Value) {
			return top[i+1].Value
		}
	}
	return def
}

// TestParseAliasBombFailsFast checks that a "billion laughs" file is refused
// at once instead of being expanded.
func TestParseAliasBombFailsFast(t *testing.T) {
	// Ten levels of ten: 10^10 "lol"s once expanded.
	var anchors strings.Builder
	prev := ""
	for i := 0; i < 10; i++ {
		name := string(rune('a' + i))
		item := "\"lol\""
		if prev != "" {
			item = "*" + prev
		}
		anchors.WriteString("  - &" + name + " [" + strings.Repeat(item+", ", 9) + item + "]\n")
		prev = name
	}
	for _, tc := range []struct {
		name  string
		parse func(data []byte) error
		head  string
	}{
		{"granularity description", func(b []byte) error {
			_, err := vocab.ParseGranularity("conf/quant_granularity/x.yaml", b)
			return err
		}, "name: x\ndescription:\n"},
		{"granularity weights", func(b []byte) error {
			_, err := vocab.ParseGranularity("conf/quant_granularity/x.yaml", b)
			return err
		}, "name: x\nweights:\n  block_sizes:\n"},
		{"format", func(b []byte) error {
			_, err := vocab.ParseFormat("conf/quant_pair/x.yaml", b)
			return err
		}, "format_name: x\nquant_cfg:\n"},
	} {
		data := []byte(tc.head + anchors.String())
		start := time.Now()
		err := tc.parse(data)
		if err == nil {
			t.Fatalf("%s: alias bomb accepted", tc.name)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: alias bomb took %v to refuse", tc.name, d)
		}
		if !strings.Contains(err.Error(), "anchors") && !strings.Contains(err.Error(), "aliases") {
			t.Errorf("%s: refused for another reason than the anchors: %v", tc.name, err)
		}
		fzCheckMessage(t, nil, err.Error())
	}
}
