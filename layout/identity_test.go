package layout

import (
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
)

func qwen(params ...Param) Identity {
	return Identity{Model: "Qwen/Qwen3-8B", Format: "int4_awq", Granularity: "w_group64", Params: params}
}

// TestRunIDPinned pins run ids: they are stored in every registry and
// manifest, so the encoding may never change by accident. The values were
// computed independently (Python hashlib over the documented encoding).
func TestRunIDPinned(t *testing.T) {
	cases := []struct {
		id   Identity
		want string
	}{
		{qwen(), "a3623cf7d096"},
		{qwen(Param{"seed", IntValue(1)}, Param{"calib_size", IntValue(512)}), "3f06d78cd1e0"},
		{qwen(Param{"seed", StringValue("1")}), "9d60b76786b1"},
	}
	for _, c := range cases {
		if got := RunID(c.id); got != c.want {
			t.Errorf("RunID(%+v) = %s, pinned %s", c.id, got, c.want)
		}
	}
}

func TestRunIDDeterministic(t *testing.T) {
	a := qwen(Param{"seed", IntValue(1)}, Param{"calib_size", IntValue(512)}, Param{"lr", FloatValue(0.1)})
	b := qwen(Param{"lr", FloatValue(0.1)}, Param{"seed", IntValue(1)}, Param{"calib_size", IntValue(512)})
	if RunID(a) != RunID(b) {
		t.Fatalf("param order changed the run id")
	}
	if a.Params[0].Key != "seed" {
		t.Fatalf("RunID reordered the caller's params")
	}
	id := RunID(a)
	if len(id) != RunIDLen || strings.Trim(id, "0123456789abcdef") != "" {
		t.Fatalf("run id %q is not %d hex digits", id, RunIDLen)
	}
	for range 100 {
		if RunID(a) != id {
			t.Fatal("RunID is not deterministic")
		}
	}
	c := a
	c.Model = "Qwen/Qwen3-8B/"
	if RunID(c) != id {
		t.Fatalf("a trailing slash on the model id changed the run id")
	}
}

func TestRunIDDistinguishes(t *testing.T) {
	base := Identity{Model: "m", Format: "f", Granularity: "g"}
	ids := []Identity{
		base,
		{Model: "m2", Format: "f", Granularity: "g"},
		{Model: "m", Format: "f2", Granularity: "g"},
		{Model: "m", Format: "f", Granularity: "g2"},
		{Model: "org1/m", Format: "f", Granularity: "g"},
		// Concatenation would make these equal; length prefixes keep them apart.
		{Model: "mf", Format: "", Granularity: "g"},
		{Model: "m", Format: "fg", Granularity: ""},
		{Model: "m\x00", Format: "f", Granularity: "g"},
		{Model: "m", Format: "\x00f", Granularity: "g"},
		{Model: "m", Format: "f", Granularity: "g", Params: []Param{{"a", StringValue("b")}}},
		{Model: "m", Format: "f", Granularity: "g", Params: []Param{{"a", StringValue("b,c=d")}}},
		{Model: "m", Format: "f", Granularity: "g", Params: []Param{{"a", StringValue("b")}, {"c", StringValue("d")}}},
		{Model: "m", Format: "f", Granularity: "g", Params: []Param{{"a=b", StringValue("")}}},
		// Types are part of the identity.
		{Model: "m", Format: "f", Granularity: "g", Params: []Param{{"s", IntValue(1)}}},
		{Model: "m", Format: "f", Granularity: "g", Params: []Param{{"s", StringValue("1")}}},
		{Model: "m", Format: "f", Granularity: "g", Params: []Param{{"s", FloatValue(1)}}},
		{Model: "m", Format: "f", Granularity: "g", Params: []Param{{"s", BoolValue(true)}}},
		{Model: "m", Format: "f", Granularity: "g", Params: []Param{{"s", StringValue("true")}}},
		{Model: "m", Format: "f", Granularity: "g", Params: []Param{{"s", NullValue()}}},
		{Model: "m", Format: "f", Granularity: "g", Params: []Param{{"s", StringValue("")}}},
		{Model: "m", Format: "f", Granularity: "g", Params: []Param{{"s", FloatValue(0)}}},
		{Model: "m", Format: "f", Granularity: "g", Params: []Param{{"s", FloatValue(math.Copysign(0, -1))}}},
	}
	noneShare(t, ids, "run id", RunID)
}

// noneShare fails for every two of items with one key (what names it).
func noneShare[T any](t *testing.T, items []T, what string, key func(T) string) {
	t.Helper()
	seen := map[string]int{}
	for i, it := range items {
		k := key(it)
		if j, ok := seen[k]; ok {
			t.Errorf("%+v and %+v share %s %q", items[j], it, what, k)
		}
		seen[k] = i
	}
}

func TestValueOf(t *testing.T) {
	cases := []struct {
		in   any
		kind Kind
		text string
	}{
		{nil, KindNull, "null"},
		{true, KindBool, "true"},
		{"x", KindString, "x"},
		{7, KindInt, "7"},
		{int8(-7), KindInt, "-7"},
		{int16(-7), KindInt, "-7"},
		{int32(-7), KindInt, "-7"},
		{int64(math.MinInt64), KindInt, "-9223372036854775808"},
		{uint(7), KindInt, "7"},
		{uint8(7), KindInt, "7"},
		{uint16(7), KindInt, "7"},
		{uint32(7), KindInt, "7"},
		{uint64(math.MaxInt64), KindInt, "9223372036854775807"},
		{0.5, KindFloat, "0.5"},
		{2.0, KindFloat, "2.0"},
		{float32(0.1), KindFloat, "0.1"},
		{IntValue(3), KindInt, "3"},
	}
	for _, c := range cases {
		v, err := ValueOf(c.in)
		if err != nil {
			t.Fatalf("ValueOf(%#v): %v", c.in, err)
		}
		if v.Kind() != c.kind || v.String() != c.text {
			t.Errorf("ValueOf(%#v) = %s %q, want %s %q", c.in, v.Kind(), v.String(), c.kind, c.text)
		}
	}
	for _, bad := range []any{uint64(math.MaxUint64), []int{1}, map[string]int{}, struct{}{}} {
		if _, err := ValueOf(bad); !errors.Is(err, ErrInvalidIdentity) {
			t.Errorf("ValueOf(%#v) = %v, want ErrInvalidIdentity", bad, err)
		}
	}
	p, err := NewParam("seed", 1)
	if err != nil || p.String() != "seed=1" || p.Value.Any() != int64(1) {
		t.Fatalf("NewParam = %v, %v", p, err)
	}
	for _, v := range []Value{NullValue(), IntValue(1), FloatValue(1.5), BoolValue(false), StringValue("s")} {
		back, err := ValueOf(v.Any())
		if err != nil || back != v {
			t.Errorf("ValueOf(%v.Any()) = %v, %v", v, back, err)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := qwen(Param{"seed", IntValue(1)}, Param{"calib.size", IntValue(512)}, Param{"tag", StringValue("a/b,c=d é")})
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid identity refused: %v", err)
	}
	cases := []struct {
		name string
		id   Identity
		want string
	}{
		{"empty model", Identity{Format: "f", Granularity: "g"}, "model id is empty"},
		{"model slash", Identity{Model: "/", Format: "f", Granularity: "g"}, "has no name"},
		{"model dot", Identity{Model: "./", Format: "f", Granularity: "g"}, "has no name"},
		{"model NUL", Identity{Model: "a\x00b", Format: "f", Granularity: "g"}, "control character"},
		{"model newline", Identity{Model: "a\nb", Format: "f", Granularity: "g"}, "control character"},
		{"model UTF-8", Identity{Model: "a\xffb", Format: "f", Granularity: "g"}, "not valid UTF-8"},
		{"empty format", Identity{Model: "m", Granularity: "g"}, "format is empty"},
		{"empty granularity", Identity{Model: "m", Format: "f"}, "granularity is empty"},
		{"empty key", qwen(Param{"", IntValue(1)}), "is not a Hydra key"},
		{"slash key", qwen(Param{"a/b", IntValue(1)}), "is not a Hydra key"},
		{"dotdot key", qwen(Param{"..", IntValue(1)}), "is not a Hydra key"},
		{"equals key", qwen(Param{"a=b", IntValue(1)}), "is not a Hydra key"},
		{"long key", qwen(Param{strings.Repeat("k", 129), IntValue(1)}), "is not a Hydra key"},
		{"duplicate key", qwen(Param{"seed", IntValue(1)}, Param{"seed", IntValue(2)}), `param "seed" is given twice`},
		{"NUL value", qwen(Param{"p", StringValue("a\x00")}), "control character"},
		{"newline value", qwen(Param{"p", StringValue("a\n")}), "control character"},
		{"UTF-8 value", qwen(Param{"p", StringValue("\xff")}), "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.id.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalidIdentity) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q: want ErrInvalidIdentity and %q", err, c.want)
			}
			if _, derr := Dir("/o", Template{}, c.id); derr == nil {
				t.Fatal("Dir accepted an invalid identity")
			}
		})
	}
}

func TestCleanModelID(t *testing.T) {
	cases := map[string]string{
		"Qwen/Qwen3-8B":     "Qwen/Qwen3-8B",
		"Qwen/Qwen3-8B/":    "Qwen/Qwen3-8B",
		"Qwen/Qwen3-8B//./": "Qwen/Qwen3-8B",
		"/data/m/":          "/data/m",
		"/":                 "/",
		"/.":                "/.",
		"./":                ".",
		"hf://org/x":        "hf://org/x",
	}
	for in, want := range cases {
		if got := CleanModelID(in); got != want {
			t.Errorf("CleanModelID(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkRunID(b *testing.B) {
	id := qwen(Param{"seed", IntValue(1)}, Param{"calib_size", IntValue(512)}, Param{"lr", FloatValue(1e-4)})
	for b.Loop() {
		RunID(id)
	}
}

// TestValidKeyMatchesTheGrammar: the hand-written key check accepts exactly
// what ^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$ does.
func TestValidKeyMatchesTheGrammar(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$`)
	cases := []string{"", "a", "_", "-", "1a", "a1", "a-b", "a.b", "a..b", "a.", ".a", "a.1", "a._b", "calib.size",
		"A_b-9.c", "é", "a b", "a.b.c.d", "_.-", "a.-", "x\x00"}
	alphabet := "a_-.1Z"
	for _, x := range alphabet {
		for _, y := range alphabet {
			for _, z := range alphabet {
				cases = append(cases, string([]rune{x, y, z}))
			}
		}
	}
	for _, c := range cases {
		if got, want := validKey(c), re.MatchString(c); got != want {
			t.Errorf("validKey(%q) = %v, the grammar says %v", c, got, want)
		}
	}
}

// TestKVCacheIdentity: kv_cache none (or unset) leaves the run id and the
// directory exactly as before the axis existed; another setting is part of
// the id and goes to {kv_cache}, else into the params segment; no user
// param may be called kv_cache (SPEC §12).
func TestKVCacheIdentity(t *testing.T) {
	base := Identity{Model: "Qwen/Qwen3-8B", Format: "fp8", Granularity: "default"}
	seed := base
	seed.Params = []Param{{Key: "seed", Value: IntValue(1)}}
	none := base
	none.KVCache = NoKVCache
	if RunID(none) != RunID(base) {
		t.Errorf("kv_cache none changed the run id")
	}
	// The id of an identity from before the axis, pinned.
	if got := RunID(base); got != "13c1c72557eb" { // computed by qrun before the axis existed
		t.Errorf("run id of Qwen/Qwen3-8B × fp8 × default = %s; ids of existing runs never change", got)
	}
	cast := base
	cast.KVCache = "fp8_cast"
	if RunID(cast) == RunID(base) {
		t.Errorf("kv_cache fp8_cast has the id of none")
	}
	def := MustParseTemplate(DefaultTemplate)
	for _, c := range []struct {
		tmpl Template
		id   Identity
		want string
	}{
		{def, base, "Qwen3-8B/fp8/default"},
		{def, none, "Qwen3-8B/fp8/default"},
		{def, cast, "Qwen3-8B/fp8/default/kv_cache=fp8_cast"},
		{def, Identity{Model: "m/x", Format: "fp8", Granularity: "default", KVCache: "fp8_cast", Params: []Param{{Key: "seed", Value: IntValue(1)}, {Key: "calib_size", Value: IntValue(512)}}}, "x/fp8/default/calib_size=512,kv_cache=fp8_cast,seed=1"},
		{MustParseTemplate("{model}/{format}/{granularity}/{kv_cache}"), cast, "Qwen3-8B/fp8/default/fp8_cast"},
		{MustParseTemplate("{model}/{format}/{granularity}/{kv_cache}"), base, "Qwen3-8B/fp8/default/none"},
		{MustParseTemplate("{model}/{kv_cache}/{format}/{granularity}"), seed, "Qwen3-8B/none/fp8/default/seed=1"},
	} {
		if got := strings.Join(c.tmpl.Segments(c.id), "/"); got != c.want {
			t.Errorf("%s with %+v: %s, want %s", c.tmpl, c.id, got, c.want)
		}
	}
	bad := base
	bad.Params = []Param{{Key: "kv_cache", Value: StringValue("fp8")}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "is the KV-cache axis") {
		t.Errorf("a param called kv_cache: %v", err)
	}
}
