package vocab

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The corpus: every recipe of llm-compressor's examples and tests and of
// compressed-tensors' examples, transcribed into testdata/llmc/llm-compressor
// and testdata/llmc/compressed-tensors (see testdata/llmc/README.md), with the
// answer each must get in testdata/llmc/expected.tsv, and every preset of
// compressed-tensors 0.18 in testdata/llmc/presets.tsv. An answer is
// "match" with each group's first selection (format/granularity) and the
// kv_cache, "refuse" with the kinds of reason given, or "error" for a file
// llm-compressor itself would not run as a quantization recipe.

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/llmc/expected.tsv and presets.tsv from the current answers")

// reasonKinds sorts reasons into kinds, so the expected table says which
// true reason a refusal gives without pinning its wording.
var reasonKinds = []struct{ kind, substr string }{
	{"asymmetric", "asymmetric zero points"},
	{"actorder-group", "actorder: group"},
	{"attn-head", "attn_head"},
	{"output-activations", "output_activations"},
	{"embedding", "targets Embedding"},
	{"other-class", "a module class other than Linear"},
	{"attention-module", "an attention module"},
	{"pruning", "no sparsity axis"},
	{"rotation", "rotates weights and activations"},
	{"unquantized", "quantizes nothing"},
	{"weights-unquantized", "weights: not quantized"},
	{"no-linear", "quantizes no Linear layer"},
	{"nvfp4-dynamic", "dynamic-local"},
	{"mx-static", "MX groups with dynamic: false"},
	{"kv-dynamic", "FP8 KV-cache scales are static"},
	{"kv-int", "KV-cache presets are FP8 or NVFP4"},
	{"kv-strategy", "KV-cache presets use one scale per tensor"},
	{"kv-vocabulary", "no kv_cache value in the vocabulary"},
	{"vocabulary", "no format × granularity in the vocabulary"},
	{"not-a-modifier", "not a quantization modifier qrun reads"},
}

func reasonKind(r string) string {
	for _, k := range reasonKinds {
		if strings.Contains(r, k.substr) {
			return k.kind
		}
	}
	return "other:" + r
}

// answer is a recipe's outcome in the expected table's terms.
func answer(data []byte) string {
	r, err := ParseRecipe(data)
	if err != nil {
		return "error\t" + err.Error()
	}
	m, _ := Builtin().MatchRecipe(r)
	if m.Full() {
		var sel []string
		for _, g := range m.Groups {
			sel = append(sel, fmt.Sprintf("%s=%s/%s", g.Group, g.Matches[0].Format, g.Matches[0].Granularity))
		}
		return fmt.Sprintf("match\t%s kv_cache=%s", strings.Join(sel, " "), m.KVCacheValue())
	}
	kinds := map[string]bool{}
	for _, u := range parts(m, false) {
		kinds[reasonKind(u)] = true
	}
	var ks []string
	for k := range kinds {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return "refuse\t" + strings.Join(ks, ",")
}

func readTable(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%s: line %q has no tab", path, line)
		}
		out[k] = v
	}
	return out
}

func writeTable(t *testing.T, path, header string, rows map[string]string) {
	t.Helper()
	var keys []string
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(header)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s\t%s\n", k, rows[k])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func checkTable(t *testing.T, path, header string, got map[string]string) {
	t.Helper()
	if *updateCorpus {
		writeTable(t, path, header, got)
		return
	}
	want := readTable(t, path)
	for k, g := range got {
		w, ok := want[k]
		switch {
		case !ok:
			t.Errorf("%s: %s has no expected answer (got %q)", path, k, g)
		case w != g:
			t.Errorf("%s:\n  got  %s\n  want %s", k, g, w)
		}
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("%s: %s is expected but not in the corpus", path, k)
		}
	}
}

// TestMatchCorpusLLMCompressor: every recipe of llm-compressor's examples
// and tests (transcribed) is matched to the selection of the same meaning or
// refused with its true reasons.
func TestMatchCorpusLLMCompressor(t *testing.T) {
	root := filepath.Join("testdata", "llmc")
	got := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") || filepath.Dir(p) == root {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		got[filepath.ToSlash(rel)] = answer(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 150 {
		t.Fatalf("corpus has %d recipes, want every transcribed one", len(got))
	}
	checkTable(t, filepath.Join("testdata", "llmc", "expected.tsv"),
		"# recipe (under testdata/llmc/)\tanswer\tfirst selection per group and kv_cache, or the kinds of reason (vocab/corpus_test.go)\n", got)
}

// TestMatchCorpusPresets: every preset of compressed-tensors 0.18, as the
// scheme of a QuantizationModifier on Linear with lm_head ignored.
func TestMatchCorpusPresets(t *testing.T) {
	got := map[string]string{}
	for _, p := range PresetNames() {
		got[p] = answer([]byte("quant_stage:\n  quant_modifiers:\n    QuantizationModifier:\n      targets: [Linear]\n      ignore: [lm_head]\n      scheme: " + p + "\n"))
	}
	if len(got) != 30 {
		t.Fatalf("%d presets, compressed-tensors 0.18 has 30", len(got))
	}
	checkTable(t, filepath.Join("testdata", "llmc", "presets.tsv"),
		"# compressed-tensors 0.18 preset\tanswer\tselection or kinds of reason (vocab/corpus_test.go)\n", got)
}
