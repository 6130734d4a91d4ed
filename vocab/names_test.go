package vocab

import (
	"slices"
	"testing"

	"github.com/qrun-dev/qrun/namekind"
)

// TestRecordedNames: a typed name or alias stands for every name its runs
// may be recorded under (the canonical name and its declared aliases, the
// old names of an allowed rename); a name the vocabulary does not have is
// kept as typed, and a nil vocabulary keeps every name.
func TestRecordedNames(t *testing.T) {
	v, err := project(t, map[string]string{
		"quant_granularity/w_group32.yaml": "name: w_group32\nweights:\n  block_sizes: {-1: 32, type: static}\naliases: [g32, group32_old]\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		v     *Vocabulary
		kind  namekind.Kind
		names []string
		want  []string
	}{
		{"canonical", v, namekind.Granularity, []string{"w_group32"}, []string{"w_group32", "g32", "group32_old"}},
		{"alias", v, namekind.Granularity, []string{"g32"}, []string{"g32", "w_group32", "group32_old"}},
		{"trimmed, each once", v, namekind.Granularity, []string{" g32 ", "w_group32"}, []string{"g32", "w_group32", "group32_old"}},
		{"unknown kept", v, namekind.Granularity, []string{"w_group7", "g32"}, []string{"w_group7", "g32", "w_group32", "group32_old"}},
		{"format alias", v, namekind.Format, []string{"int8_sq"}, []string{"int8_sq", "int8_smoothquant"}},
		{"format without aliases", v, namekind.Format, []string{"int8"}, []string{"int8"}},
		{"kinds apart", v, namekind.Format, []string{"g32"}, []string{"g32"}},
		{"nil vocabulary", nil, namekind.Granularity, []string{" g32", "w_group32"}, []string{"g32", "w_group32"}},
		{"none", v, namekind.Format, nil, []string{}},
	}
	for _, c := range cases {
		if got := c.v.RecordedNames(c.kind, c.names); !slices.Equal(got, c.want) {
			t.Errorf("%s: RecordedNames(%s, %q) = %q, want %q", c.name, c.kind, c.names, got, c.want)
		}
	}
}
