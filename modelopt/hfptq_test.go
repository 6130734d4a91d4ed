package modelopt

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/qrun-dev/qrun/internal/sharedtest"
)

// TestHFPTQQFormatsAreHFPTQs: the --qformat table is the one hf_ptq-0.46.0.md
// gives, computed with presets.py's own code: 34 canonical names, 8 aliases.
func TestHFPTQQFormatsAreHFPTQs(t *testing.T) {
	dir := sharedtest.Dir(t)
	md, err := os.ReadFile(filepath.Join(dir, "modelopt", "hf_ptq-0.46.0.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(md)), " ")
	m := regexp.MustCompile(`The 34 canonical names at 0\.46\.0: ([a-z0-9_, ]+)\.`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("hf_ptq-0.46.0.md: no list of canonical names")
	}
	want := strings.Split(m[1], ", ")
	names, aliases := HFPTQQFormats()
	if !slices.Equal(names, want) {
		t.Errorf("canonical names:\n got %v\nwant %v", names, want)
	}
	for _, a := range regexp.MustCompile(`([a-z0-9_]+)→([a-z0-9_]+)`).FindAllStringSubmatch(text, -1) {
		if aliases[a[1]] != a[2] {
			t.Errorf("alias %s: got %q, want %s", a[1], aliases[a[1]], a[2])
		}
		delete(aliases, a[1])
	}
	if len(aliases) > 0 {
		t.Errorf("aliases not in hf_ptq-0.46.0.md: %v", aliases)
	}
}

func TestQFormatPerTarget(t *testing.T) {
	for _, c := range []struct {
		name   string
		target Version
		want   string
	}{
		{"int8_smoothquant", V046, "int8_smoothquant"},
		{"int8_sq", V046, "int8_smoothquant"},
		{"nvfp4_four_over_six", V046, "nvfp4_four_over_six"},
		{"nvfp4_four_over_six", Version{0, 45}, ""},
		{"mxfp6", Version{0, 45}, "mxfp6"},
		{"int8_smoothquant", V044, "int8_sq"},
		{"nvfp4_w4a4_weight_local_hessian", V043, "nvfp4_local_hessian"},
		{"fp8", V043, "fp8"},
		{"mxfp6", V043, ""},
		{"w4a8_int", V046, ""},
	} {
		if got := QFormat(c.name, c.target); got != c.want {
			t.Errorf("QFormat(%s, %s) = %q, want %q", c.name, c.target, got, c.want)
		}
	}
}
