package plan

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qrun-dev/qrun/manifest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGoldenRunFiles pins the manifest and recipe a plan writes (with a
// fixed clock and host; the output root is replaced by ROOT).
func TestGoldenRunFiles(t *testing.T) {
	f := newFixture(t)
	res, err := f.plan([]string{"quant_pair=w4a8_int", "quant_granularity=recipe_match_channel_token", "seed=1", "calib_size=512", "wandb.tags='a b'"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := res.Runs[0].Dir
	for _, name := range []string{manifest.ManifestFile, manifest.RecipeFile} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got = bytes.ReplaceAll(got, []byte(f.root), []byte("ROOT"))
		p := filepath.Join("testdata", "golden", name)
		if *update {
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%v (run go test ./plan/ -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (go test ./plan/ -update if intended):\n%s", name, p, got)
		}
	}
	if !strings.HasSuffix(dir, filepath.Join("Qwen3-8B", "w4a8_int", "recipe_match_channel_token", "calib_size=512,seed=1")) {
		t.Errorf("dir = %s", dir)
	}
}
