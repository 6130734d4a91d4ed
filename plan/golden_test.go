package plan

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qrun-dev/qrun/internal/goldenfile"
	"github.com/qrun-dev/qrun/manifest"
)

// TestGoldenRunFiles pins the manifest and recipe a plan writes (with a
// fixed clock and host; the output root is replaced by ROOT).
func TestGoldenRunFiles(t *testing.T) {
	f := newFixture(t)
	res := f.mustPlan([]string{"quant_pair=w4a8_int", "quant_granularity=recipe_match_channel_token", "seed=1", "calib_size=512", "wandb.tags='a b'"}, nil)
	dir := res.Runs[0].Dir
	for _, name := range []string{manifest.ManifestFile, manifest.RecipeFile} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got = bytes.ReplaceAll(got, []byte(f.root), []byte("ROOT"))
		goldenfile.Check(t, name, got)
	}
	if !strings.HasSuffix(dir, filepath.Join("Qwen3-8B", "w4a8_int", "recipe_match_channel_token", "calib_size=512,seed=1")) {
		t.Errorf("dir = %s", dir)
	}
}
