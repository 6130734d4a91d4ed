package layout

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

// h is the hash suffix of a raw string segment.
func h(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return "__" + hex.EncodeToString(sum[:])[:10]
}

// hp is the hash suffix of a params segment.
func hp(ps ...Param) string {
	sum := sha256.Sum256(encodeParams(sortedParams(ps)))
	return "__" + hex.EncodeToString(sum[:])[:10]
}

// checkSegment fails unless s is a usable single path component.
func checkSegment(t *testing.T, raw, s string) {
	t.Helper()
	switch {
	case s == "" || s == "." || s == "..":
		t.Fatalf("segment of %q is %q", raw, s)
	case len(s) > MaxSegment:
		t.Fatalf("segment of %q is %d bytes (max %d): %q", raw, len(s), MaxSegment, s)
	case !utf8.ValidString(s):
		t.Fatalf("segment of %q is not valid UTF-8: %q", raw, s)
	case strings.ContainsAny(s, "/\\\x00"):
		t.Fatalf("segment of %q holds a separator or NUL: %q", raw, s)
	case s[0] == '.' || s[0] == '-':
		t.Fatalf("segment of %q starts with %q: %q", raw, s[0], s)
	}
	for i := 0; i < len(s); i++ {
		if !valueByte(s[i]) && s[i] != '=' && s[i] != ',' {
			t.Fatalf("segment of %q holds unsafe byte %q: %q", raw, s[i], s)
		}
	}
}

func TestSegment(t *testing.T) {
	long80 := strings.Repeat("a", 80)
	long200 := strings.Repeat("b", 200)
	cases := []struct {
		name, raw, want string
	}{
		{"format name", "int8", "int8"},
		{"granularity name", "w_group64", "w_group64"},
		{"dots and dashes inside", "Qwen3-8B.v1", "Qwen3-8B.v1"},
		{"slash", "a/b", "a_b" + h("a/b")},
		{"already sanitised stays plain", "a_b", "a_b"},
		{"empty", "", h("")},
		{"dot", ".", "_" + h(".")},
		{"dotdot", "..", "_." + h("..")},
		{"leading dash", "-rf", "_rf" + h("-rf")},
		{"hidden", ".qrun-tmp-x", "_qrun-tmp-x" + h(".qrun-tmp-x")},
		{"NUL", "a\x00b", "a_b" + h("a\x00b")},
		{"space", "a b", "a_b" + h("a b")},
		{"backslash", `a\b`, "a_b" + h(`a\b`)},
		{"unicode", "模型-x", "__-x" + h("模型-x")},
		{"invalid UTF-8", "a\xffb", "a_b" + h("a\xffb")},
		{"80 bytes plain", long80, long80},
		{"81 bytes hashed", long80 + "a", strings.Repeat("a", 68) + h(long80+"a")},
		{"200 bytes", long200, strings.Repeat("b", 68) + h(long200)},
		{"looks hashed", "x__0123456789", "x__0123456789" + h("x__0123456789")},
		{"upper hex does not look hashed", "x__0123456789ABCDEF", "x__0123456789ABCDEF"},
	}
	for _, c := range cases {
		wantSegment(t, c.name, "Segment", Segment, c.raw, c.want)
	}
}

// wantSegment runs one case of a segment function (called fname) as the
// subtest name: fn(raw) is want, a safe segment, and the same when asked
// again.
func wantSegment(t *testing.T, name, fname string, fn func(string) string, raw, want string) {
	t.Run(name, func(t *testing.T) {
		got := fn(raw)
		if got != want {
			t.Fatalf("%s(%q) = %q, want %q", fname, raw, got, want)
		}
		checkSegment(t, raw, got)
		if fn(raw) != got {
			t.Fatalf("%s(%q) is not deterministic", fname, raw)
		}
	})
}

func TestModelSegment(t *testing.T) {
	cases := []struct {
		model, want string
	}{
		{"Qwen/Qwen3-8B", "Qwen3-8B"},
		{"Qwen/Qwen3-8B/", "Qwen3-8B"},
		{"Qwen/Qwen3-8B//", "Qwen3-8B"},
		{"Qwen3-8B", "Qwen3-8B"},
		{"/data/models/qwen3-8b/", "qwen3-8b"},
		{"/data/models/qwen3-8b", "qwen3-8b"},
		{"/data/models/qwen3-8b/.", "qwen3-8b"},
		{"./models/qwen3-8b", "qwen3-8b"},
		{"org/Llama 3 8B", "Llama_3_8B" + h("Llama 3 8B")},
		{"org/模型", "__" + h("模型")},
		{"org/a_b", "a_b"},
		{"org/..", "_." + h("..")},
		{"org/" + strings.Repeat("m", 200), strings.Repeat("m", 68) + h(strings.Repeat("m", 200))},
	}
	for _, c := range cases {
		wantSegment(t, c.model, "ModelSegment", ModelSegment, c.model, c.want)
	}
}

func TestParamsSegment(t *testing.T) {
	i := func(k string, n int64) Param { return Param{k, IntValue(n)} }
	s := func(k, v string) Param { return Param{k, StringValue(v)} }
	f := func(k string, x float64) Param { return Param{k, FloatValue(x)} }
	long := strings.Repeat("v", 200)
	cases := []struct {
		name   string
		params []Param
		want   string
	}{
		{"none", nil, ""},
		{"int", []Param{i("seed", 1)}, "seed=1"},
		{"sorted by key", []Param{i("seed", 1), i("calib_size", 512)}, "calib_size=512,seed=1"},
		{"negative int", []Param{i("offset", -3)}, "offset=-3"},
		{"dotted key", []Param{f("optim.lr", 0.0001)}, "optim.lr=0.0001"},
		{"float", []Param{f("lr", 1)}, "lr=1.0"},
		{"float exponent", []Param{f("lr", 1e-5)}, "lr=1e-05"},
		{"float big", []Param{f("n", 1e21)}, "n=1e+21"},
		{"float -0", []Param{f("z", math.Copysign(0, -1))}, "z=-0.0"},
		{"float inf", []Param{f("z", math.Inf(1))}, "z=+Inf"},
		{"float NaN", []Param{f("z", math.NaN())}, "z=NaN"},
		{"bool", []Param{{"flag", BoolValue(true)}}, "flag=true"},
		{"null", []Param{{"x", NullValue()}}, "x=null"},
		{"string", []Param{s("dataset", "cnn_dailymail")}, "dataset=cnn_dailymail"},
		{"empty string", []Param{s("tag", "")}, "tag="},
		{"string that reads as an int", []Param{s("seed", "1")}, "seed=1" + hp(s("seed", "1"))},
		{"string that reads as a float", []Param{s("lr", "1.0")}, "lr=1.0" + hp(s("lr", "1.0"))},
		{"string that reads as a bool", []Param{s("flag", "true")}, "flag=true" + hp(s("flag", "true"))},
		{"string that reads as null", []Param{s("x", "null")}, "x=null" + hp(s("x", "null"))},
		{"string that reads as inf", []Param{s("x", "inf")}, "x=inf" + hp(s("x", "inf"))},
		{"slash in value", []Param{s("data", "a/b")}, "data=a_b" + hp(s("data", "a/b"))},
		{"comma and equals in value", []Param{s("k", "seed=1,x=2")}, "k=seed_1_x_2" + hp(s("k", "seed=1,x=2"))},
		{"dotdot value", []Param{s("p", "..")}, "p=.."},
		{"unicode value", []Param{s("p", "é")}, "p=_" + hp(s("p", "é"))},
		{"NUL value", []Param{s("p", "\x00")}, "p=_" + hp(s("p", "\x00"))},
		{"200-char value", []Param{s("p", long)}, "p=" + strings.Repeat("v", 66) + hp(s("p", long))},
		{"leading dash key", []Param{i("-x", 1)}, "_x=1" + hp(i("-x", 1))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ParamsSegment(c.params)
			if got != c.want {
				t.Fatalf("ParamsSegment(%v) = %q, want %q", c.params, got, c.want)
			}
			if got != "" {
				checkSegment(t, "params", got)
			}
		})
	}
}

// TestSegmentInjective covers the pairs that sanitising alone would merge.
func TestSegmentInjective(t *testing.T) {
	pairs := [][2]string{
		{"a/b", "a_b"}, {"a b", "a_b"}, {"a/b", "a b"}, {"", "_"}, {".", "_"},
		{"..", "_."}, {"-x", "_x"}, {"é", "_"}, {"é", "__"}, {"\x00", "_"},
		{strings.Repeat("a", 81), strings.Repeat("a", 82)},
		{"x", "x" + h("x")},
	}
	for _, p := range pairs {
		if a, b := Segment(p[0]), Segment(p[1]); a == b {
			t.Errorf("Segment(%q) == Segment(%q) == %q", p[0], p[1], a)
		}
		if a, b := ModelSegment("org/"+p[0]), ModelSegment("org/"+p[1]); p[0] != "" && p[1] != "" && a == b {
			t.Errorf("ModelSegment of %q and %q are both %q", p[0], p[1], a)
		}
	}
	typed := [][]Param{
		{{"seed", IntValue(1)}},
		{{"seed", StringValue("1")}},
		{{"seed", FloatValue(1)}},
		{{"seed", StringValue("1.0")}},
		{{"seed", BoolValue(true)}},
		{{"seed", StringValue("true")}},
		{{"seed", NullValue()}},
		{{"seed", StringValue("null")}},
		{{"seed", StringValue("")}},
		{{"seed", IntValue(1)}, {"x", IntValue(2)}},
		{{"seed", StringValue("1,x=2")}},
		{{"seed", StringValue("1_x=2")}},
		{{"seed", StringValue("1_x_2")}},
		{{"a", StringValue("b")}},
		{{"a", StringValue("b/")}},
	}
	noneShare(t, typed, "segment", ParamsSegment)
}

// TestT12ModelBasenameCollision guards trap T12: two organisations' models
// with one last path component map to one {model} segment, so the caller
// must refuse the second (it compares ModelSegment), while their run ids
// differ.
func TestT12ModelBasenameCollision(t *testing.T) {
	a := Identity{Model: "org1/X", Format: "int8", Granularity: "default"}
	b := Identity{Model: "org2/X", Format: "int8", Granularity: "default"}
	if sa, sb := ModelSegment(a.Model), ModelSegment(b.Model); sa != sb || sa != "X" {
		t.Fatalf("ModelSegment(org1/X) = %q, ModelSegment(org2/X) = %q; want both X (a collision for the caller to refuse)", sa, sb)
	}
	if RunID(a) == RunID(b) {
		t.Fatalf("org1/X and org2/X share run id %s", RunID(a))
	}
	da, _ := Dir("/o", Template{}, a)
	db, _ := Dir("/o", Template{}, b)
	if da != db {
		t.Fatalf("the dirs differ (%s, %s): the collision this test documents is gone; update the caller's check", da, db)
	}
	// The same model spelt with a trailing slash is not a collision: it is
	// the same run.
	c := a
	c.Model = "org1/X/"
	if RunID(a) != RunID(c) {
		t.Fatalf("org1/X and org1/X/ have different run ids")
	}
}
