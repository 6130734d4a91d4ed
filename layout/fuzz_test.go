package layout

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Fuzz targets for the segment builder and Dir. Run one with e.g.
//
//	go test -run '^$' -fuzz '^FuzzSegment$' -fuzztime 20s ./layout/
//
// Without -fuzz, `go test` runs every seed (f.Add and testdata/fuzz/<Name>/)
// as an ordinary test.

var fuzzSeeds = []string{
	"", ".", "..", "/", "//", "a/b", "a_b", "a b", "-x", ".x", "x\x00y", "a\nb",
	"Qwen/Qwen3-8B", "Qwen/Qwen3-8B/", "/data/models/qwen3-8b/", "org1/X", "org2/X",
	"模型", "é", "\xff\xfe", "1", "1.0", "true", "null", "inf", "NaN", "-0", "1e+21",
	"seed=1,x=2", "a=b", "a,b", "x__0123456789", strings.Repeat("a", 80), strings.Repeat("a", 81),
	strings.Repeat("z", 200), "../../etc/passwd", `..\..\x`, "evil", "org/evil",
}

// FuzzSegment checks the segment builders on arbitrary raw values: every
// segment is a usable single path component, deterministic, and different
// raw values give different segments.
func FuzzSegment(f *testing.F) {
	for i, a := range fuzzSeeds {
		f.Add(a, fuzzSeeds[(i+1)%len(fuzzSeeds)])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		sa, sb := Segment(a), Segment(b)
		checkSegment(t, a, sa)
		checkSegment(t, b, sb)
		if Segment(a) != sa {
			t.Fatalf("Segment(%q) is not deterministic", a)
		}
		if a != b && sa == sb {
			t.Fatalf("Segment(%q) == Segment(%q) == %q", a, b, sa)
		}

		ma, mb := ModelSegment(a), ModelSegment(b)
		checkSegment(t, a, ma)
		if modelBase(a) != modelBase(b) && ma == mb {
			t.Fatalf("models %q and %q (different names) share segment %q", a, b, ma)
		}

		// Params: different typed param lists never share a segment.
		lists := [][]Param{
			{{"k", StringValue(a)}},
			{{"k", StringValue(b)}},
			{{"k", readValue(a)}},
			{{"k", StringValue(a)}, {"z", StringValue(b)}},
			{{"k", StringValue(a + ",z=" + b)}},
			{{"k", StringValue(a + "_z_" + b)}},
			{{"k", IntValue(int64(len(a)))}, {"z", readValue(b)}},
		}
		seen := map[string][]byte{}
		for _, ps := range lists {
			s := ParamsSegment(ps)
			checkSegment(t, "params", s)
			if ParamsSegment(ps) != s {
				t.Fatalf("ParamsSegment(%v) is not deterministic", ps)
			}
			raw := encodeParams(sortedParams(ps))
			if prev, ok := seen[s]; ok && !bytes.Equal(prev, raw) {
				t.Fatalf("different params share segment %q", s)
			}
			seen[s] = raw
		}
	})
}

var fuzzTemplates = []Template{
	{},
	MustParseTemplate("{run_id}"),
	MustParseTemplate("{model}/{params}/{format}/{granularity}"),
	MustParseTemplate("runs/{granularity}/{format}/{model}/{run_id}"),
}

// FuzzDir checks Dir on arbitrary identities: a directory is always
// strictly under the root with usable components, deterministic, confined
// on disk (a link planted under the root, "evil", leads outside and must be
// caught), and identities with different run ids but the same model get
// different directories.
func FuzzDir(f *testing.F) {
	for i, s := range fuzzSeeds {
		n := len(fuzzSeeds)
		f.Add(s, fuzzSeeds[(i+1)%n], fuzzSeeds[(i+2)%n], "seed", fuzzSeeds[(i+3)%n], uint8(i), uint8(i), fuzzSeeds[(i+4)%n])
	}
	f.Add("org/evil", "int8", "default", "seed", "1", uint8(1), uint8(0), "1")
	f.Add("Qwen/Qwen3-8B", "int8", "default", "seed", "1", uint8(0), uint8(0), "1")

	base := f.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(root, 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.MkdirAll(outside, 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "evil")); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, model, format, gran, key, val string, kind, tpl uint8, val2 string) {
		var v Value
		switch kind % 4 {
		case 0:
			v = StringValue(val)
		case 1:
			v = readValue(val)
		case 2:
			v = NullValue()
		default:
			v = IntValue(int64(len(val)))
		}
		tp := fuzzTemplates[int(tpl)%len(fuzzTemplates)]
		id := Identity{Model: model, Format: format, Granularity: gran, Params: []Param{{key, v}}}
		if kind&4 != 0 {
			id.Params = nil
		}
		dir, err := Dir(root, tp, id)
		if err != nil {
			if !errors.Is(err, ErrInvalidIdentity) {
				t.Fatalf("Dir(%+v): unexpected error %v", id, err)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		checkUnder(t, root, dir)
		if again, _ := Dir(root, tp, id); again != dir {
			t.Fatalf("Dir is not deterministic: %s then %s", dir, again)
		}
		rel, _ := filepath.Rel(root, dir)
		cerr := Confine(root, dir)
		if strings.SplitN(rel, string(filepath.Separator), 2)[0] == "evil" {
			if !errors.Is(cerr, ErrOutsideRoot) {
				t.Fatalf("Confine(%s) through the planted link = %v, want ErrOutsideRoot", dir, cerr)
			}
		} else if cerr != nil {
			t.Fatalf("Confine(%s) = %v", dir, cerr)
		}

		// Injectivity: change one field; a different identity (run id) of
		// the same model never shares the directory.
		others := []Identity{
			{Model: model, Format: format, Granularity: gran, Params: []Param{{key, StringValue(val2)}}},
			{Model: model, Format: format, Granularity: val2, Params: id.Params},
			{Model: model, Format: val2, Granularity: gran, Params: id.Params},
			{Model: model, Format: format, Granularity: gran, Params: []Param{{key, readValue(val2)}}},
		}
		for _, o := range others {
			od, err := Dir(root, tp, o)
			if err != nil {
				continue
			}
			if RunID(o) != RunID(id) && od == dir {
				t.Fatalf("%+v and %+v share %s", id, o, dir)
			}
			if RunID(o) == RunID(id) && od != dir {
				t.Fatalf("one identity, two dirs: %s and %s", dir, od)
			}
		}
	})
}
