package layout

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseTemplate(t *testing.T) {
	id := Identity{Model: "Qwen/Qwen3-8B", Format: "int8", Granularity: "w_group64"}
	withParams := id
	withParams.Params = []Param{{"seed", IntValue(1)}, {"calib_size", IntValue(512)}}
	rid := RunID(id)
	cases := []struct {
		text string
		id   Identity
		want []string
	}{
		{DefaultTemplate, id, []string{"Qwen3-8B", "int8", "w_group64"}},
		{DefaultTemplate, withParams, []string{"Qwen3-8B", "int8", "w_group64", "calib_size=512,seed=1"}},
		{"{model}/{format}/{granularity}/{params}", id, []string{"Qwen3-8B", "int8", "w_group64"}},
		{"{model}/{params}/{format}/{granularity}", withParams, []string{"Qwen3-8B", "calib_size=512,seed=1", "int8", "w_group64"}},
		{"{granularity}/{format}/{model}", id, []string{"w_group64", "int8", "Qwen3-8B"}},
		{"runs/{model}/{format}/{granularity}", id, []string{"runs", "Qwen3-8B", "int8", "w_group64"}},
		{"{run_id}", id, []string{rid}},
		{"{model}/{run_id}", withParams, []string{"Qwen3-8B", RunID(withParams), "calib_size=512,seed=1"}},
		{"{model}/{format}/{granularity}/{run_id}", id, []string{"Qwen3-8B", "int8", "w_group64", rid}},
	}
	for _, c := range cases {
		t.Run(c.text, func(t *testing.T) {
			tpl, err := ParseTemplate(c.text)
			if err != nil {
				t.Fatal(err)
			}
			if tpl.String() != c.text {
				t.Fatalf("String() = %q", tpl.String())
			}
			if got := tpl.Segments(c.id); !slices.Equal(got, c.want) {
				t.Fatalf("Segments = %q, want %q", got, c.want)
			}
		})
	}
}

func TestParseTemplateErrors(t *testing.T) {
	cases := []struct {
		text, want string
	}{
		{"", "is empty"},
		{"/{model}/{format}/{granularity}", "absolute"},
		{"{model}//{format}/{granularity}", "segment 2 is empty"},
		{"{model}/{format}/{granularity}/", "segment 4 is empty"},
		{"../{model}/{format}/{granularity}", `".." is not allowed`},
		{"./{model}/{format}/{granularity}", `"." is not allowed`},
		{"{model}/{format}/{grain}", "unknown placeholder {grain}"},
		{"{model}/{format}/{Granularity}", "unknown placeholder {Granularity}"},
		{"{model}/{format}/{granularity}/{model}", "{model} appears twice"},
		{"{model}/{format}_{granularity}", "mixes text and placeholders"},
		{"{model}/{format}/{{granularity}}", "mixes text and placeholders"},
		{"{model}/{format}/{granularity", "mixes text and placeholders"},
		{"{model}/{format}", "would share a directory"},
		{"{params}", "would share a directory"},
		{"out put/{run_id}", "plain text segments"},
		{`a\b/{run_id}`, "plain text segments"},
		{".hidden/{run_id}", "plain text segments"},
		{"-x/{run_id}", "plain text segments"},
		{strings.Repeat("a", 81) + "/{run_id}", "plain text segments"},
		{"a\x00b/{run_id}", "control character"},
		{"a\nb/{run_id}", "control character"},
		{"\xff/{run_id}", "invalid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.text, func(t *testing.T) {
			_, err := ParseTemplate(c.text)
			if err == nil {
				t.Fatalf("ParseTemplate(%q) = nil error", c.text)
			}
			if !errors.Is(err, ErrInvalidTemplate) {
				t.Fatalf("error does not wrap ErrInvalidTemplate: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
			if strings.ContainsAny(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

func TestTemplateFingerprint(t *testing.T) {
	def := MustParseTemplate(DefaultTemplate)
	var zero Template
	if zero.String() != DefaultTemplate || zero.Fingerprint() != def.Fingerprint() {
		t.Fatalf("the zero Template is not the default")
	}
	other := MustParseTemplate("{model}/{granularity}/{format}")
	if def.Fingerprint() == other.Fingerprint() {
		t.Fatalf("different templates share a fingerprint")
	}
	if len(def.Fingerprint()) != 64 {
		t.Fatalf("fingerprint %q is not a hex sha256", def.Fingerprint())
	}
	// Pinned: a change means every registry sees a layout change. Bump
	// layoutVersion deliberately, never by accident.
	const want = "21f245c2bf98f09f58c3d1ccec779e2dfd20ea25878cdf20e01940a4b93f9af6"
	if got := def.Fingerprint(); got != want {
		t.Errorf("default template fingerprint = %s, pinned %s", got, want)
	}
}

func TestMustParseTemplatePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	MustParseTemplate("{nope}")
}
