package layout

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// checkUnder fails unless dir lies strictly under root with only usable
// components in between.
func checkUnder(t *testing.T, root, dir string) {
	t.Helper()
	rel, err := filepath.Rel(filepath.Clean(root), dir)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		t.Fatalf("dir %q is not under root %q (rel %q, %v)", dir, root, rel, err)
	}
	if dir != filepath.Clean(dir) {
		t.Fatalf("dir %q is not clean", dir)
	}
	for _, c := range strings.Split(rel, "/") {
		if c == "" || c == "." || c == ".." || strings.ContainsRune(c, 0) {
			t.Fatalf("dir %q has component %q", dir, c)
		}
	}
}

func TestDir(t *testing.T) {
	long := strings.Repeat("x", 200)
	cases := []struct {
		name string
		tpl  string
		id   Identity
		want string
	}{
		{"default", DefaultTemplate, qwen(), "/out/Qwen3-8B/int4_awq/w_group64"},
		{"params", DefaultTemplate, qwen(Param{"seed", IntValue(1)}, Param{"calib_size", IntValue(512)}),
			"/out/Qwen3-8B/int4_awq/w_group64/calib_size=512,seed=1"},
		{"trailing slash", DefaultTemplate, Identity{Model: "Qwen/Qwen3-8B/", Format: "int8", Granularity: "default"},
			"/out/Qwen3-8B/int8/default"},
		{"local path", DefaultTemplate, Identity{Model: "/data/models/qwen3-8b/", Format: "int8", Granularity: "default"},
			"/out/qwen3-8b/int8/default"},
		{"unicode model", DefaultTemplate, Identity{Model: "org/模型", Format: "int8", Granularity: "default"},
			"/out/__" + h("模型") + "/int8/default"},
		{"dotdot model", DefaultTemplate, Identity{Model: "../..", Format: "int8", Granularity: "default"},
			"/out/_." + h("..") + "/int8/default"},
		{"dotdot format", DefaultTemplate, Identity{Model: "m", Format: "..", Granularity: ".."},
			"/out/m/_." + h("..") + "/_." + h("..")},
		{"slash in names", DefaultTemplate, Identity{Model: "m", Format: "../../etc", Granularity: "/"},
			"/out/m/_._.._etc" + h("../../etc") + "/_" + h("/")},
		{"slash in value", DefaultTemplate, qwen(Param{"data", StringValue("../../etc/passwd")}),
			"/out/Qwen3-8B/int4_awq/w_group64/data=.._.._etc_passwd" + hp(Param{"data", StringValue("../../etc/passwd")})},
		{"200-char value", DefaultTemplate, qwen(Param{"p", StringValue(long)}),
			"/out/Qwen3-8B/int4_awq/w_group64/p=" + strings.Repeat("x", 66) + hp(Param{"p", StringValue(long)})},
		{"run id", "{run_id}", qwen(), "/out/" + RunID(qwen())},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Dir("/out/", MustParseTemplate(c.tpl), c.id)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("Dir = %q\nwant  %q", got, c.want)
			}
			checkUnder(t, "/out", got)
		})
	}
	if _, err := Dir("", Template{}, qwen()); err == nil {
		t.Fatal("empty root accepted")
	}
	rel, err := Dir("outputs", Template{}, qwen())
	if err != nil || rel != "outputs/Qwen3-8B/int4_awq/w_group64" {
		t.Fatalf("relative root: %q, %v", rel, err)
	}
}

func TestDirDeterministicAndTyped(t *testing.T) {
	a := qwen(Param{"seed", IntValue(1)}, Param{"lr", FloatValue(0.1)})
	b := qwen(Param{"lr", FloatValue(0.1)}, Param{"seed", IntValue(1)})
	da, _ := Dir("/o", Template{}, a)
	db, _ := Dir("/o", Template{}, b)
	if da != db {
		t.Fatalf("param order changed the dir: %s vs %s", da, db)
	}
	seen := map[string]Value{}
	for _, v := range []Value{IntValue(1), StringValue("1"), FloatValue(1), StringValue("1.0"), BoolValue(true), StringValue("true"), NullValue(), StringValue("null")} {
		d, err := Dir("/o", Template{}, qwen(Param{"seed", v}))
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := seen[d]; ok {
			t.Fatalf("%s %v and %s %v share %s", prev.Kind(), prev, v.Kind(), v, d)
		}
		seen[d] = v
	}
}

func TestConfine(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "real")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	link(outside, "escape")                   // absolute, leads outside
	link("../outside", "escape_rel")          // relative, leads outside
	link("real", "inside")                    // stays inside
	link(filepath.Join(base, "gone"), "dead") // dangling
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rootLink := filepath.Join(base, "rootlink")
	if err := os.Symlink(root, rootLink); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, root, dir string
		outside         bool   // want ErrOutsideRoot
		want            string // else a substring of the error, "" for no error
	}{
		{"new dir", root, filepath.Join(root, "m/f/g"), false, ""},
		{"root itself", root, root, false, ""},
		{"through an inside link", root, filepath.Join(root, "inside/m/f"), false, ""},
		{"root is a link", rootLink, filepath.Join(rootLink, "m/f/g"), false, ""},
		{"through a link outside", root, filepath.Join(root, "escape/m/f"), true, ""},
		{"the link outside itself", root, filepath.Join(root, "escape"), true, ""},
		{"through a relative link outside", root, filepath.Join(root, "escape_rel/m"), true, ""},
		{"lexical dotdot", root, filepath.Join(root, "../outside"), true, ""},
		{"sibling with root as prefix", root, root + "x/m", true, ""},
		{"dangling link", root, filepath.Join(root, "dead/m"), false, "missing target"},
		{"file in the way", root, filepath.Join(root, "file/m"), false, "is not a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Confine(c.root, c.dir)
			switch {
			case c.outside:
				if !errors.Is(err, ErrOutsideRoot) {
					t.Fatalf("Confine = %v, want ErrOutsideRoot", err)
				}
			case c.want == "":
				if err != nil {
					t.Fatalf("Confine = %v", err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("Confine = %v, want %q", err, c.want)
				}
			}
		})
	}
}

// TestNeverEscapesRoot plants a link under the root at the exact place a
// run directory would go, and checks that no hostile identity gets a
// directory outside the root, even through it.
func TestNeverEscapesRoot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	os.MkdirAll(root, 0o755)
	os.MkdirAll(outside, 0o755)
	if err := os.Symlink(outside, filepath.Join(root, "Qwen3-8B")); err != nil {
		t.Fatal(err)
	}
	hostile := []string{"..", "../..", "/", "/etc", "a/../../b", "\\..\\..", ".", "", "-rf", strings.Repeat("../", 50), "é/../..", "x\x00y"}
	for _, s := range hostile {
		for _, id := range []Identity{
			{Model: s, Format: "int8", Granularity: "default"},
			{Model: "m", Format: s, Granularity: "default"},
			{Model: "m", Format: "int8", Granularity: s},
			{Model: "m", Format: "int8", Granularity: "default", Params: []Param{{"p", StringValue(s)}}},
		} {
			for _, tpl := range []string{DefaultTemplate, "{run_id}", "a/{params}/{model}/{format}/{granularity}"} {
				d, err := Dir(root, MustParseTemplate(tpl), id)
				if err != nil {
					if !errors.Is(err, ErrInvalidIdentity) {
						t.Fatalf("Dir(%+v): %v", id, err)
					}
					continue
				}
				checkUnder(t, root, d)
				if _, err := CreateConfined(root, d); err != nil {
					t.Fatalf("CreateConfined(%q): %v", d, err)
				}
			}
		}
	}
	// The planted link is refused, and nothing was written outside.
	d, err := Dir(root, Template{}, qwen())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateConfined(root, d); !errors.Is(err, ErrOutsideRoot) {
		t.Fatalf("CreateConfined through a planted link: %v, want ErrOutsideRoot", err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("something was written outside the root: %v", ents)
	}
}

func TestCreateLeaf(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "m", "f", "g")
	created, err := CreateLeaf(dir)
	if err != nil || !created {
		t.Fatalf("first CreateLeaf = %v, %v", created, err)
	}
	created, err = CreateLeaf(dir)
	if err != nil || created {
		t.Fatalf("second CreateLeaf = %v, %v; want false, nil (resume or refuse, the caller decides)", created, err)
	}
	file := filepath.Join(root, "m", "f", "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := CreateLeaf(file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("CreateLeaf on a file: %v", err)
	}
	link := filepath.Join(root, "m", "f", "link")
	os.Symlink(dir, link)
	if _, err := CreateLeaf(link); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("CreateLeaf on a link: %v", err)
	}
	if _, err := CreateLeaf(filepath.Join(file, "x")); err == nil {
		t.Fatal("CreateLeaf under a file succeeded")
	}
}

// TestT10DeterministicDirsNoTimestampCollision guards trap T10: array jobs
// starting in the same second get timestamp directories that collide. Here
// many identities are planned at once from separate goroutines, each
// identity several times: distinct identities never share a directory, the
// same identity always gets the same one, and exactly one creator of each
// directory is told it created it.
func TestT10DeterministicDirsNoTimestampCollision(t *testing.T) {
	root := t.TempDir()
	const identities, racers = 200, 4
	models := []string{"Qwen/Qwen3-8B", "Qwen/Qwen3-0.6B"}
	formats := []string{"int8", "fp8", "w4a8_int", "int4_awq"}
	grans := []string{"default", "w_group64", "w_group128", "a_per_token_dynamic", "w_per_out_channel"}
	// 2 × 4 × 5 = 20 selections (lcm of the moduli), times 10 seeds: 200
	// distinct identities.
	ident := func(i int, reversed bool) Identity {
		ps := []Param{{"seed", IntValue(int64(i / 20))}, {"calib_size", IntValue(512)}}
		if reversed {
			ps[0], ps[1] = ps[1], ps[0]
		}
		return Identity{Model: models[i%2], Format: formats[i%4], Granularity: grans[i%5], Params: ps}
	}
	type result struct {
		i       int
		dir     string
		created bool
		err     error
	}
	results := make(chan result, identities*racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for r := range racers {
		for i := range identities {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start // all at once: "the same second"
				// Each racer builds its own identity, params in its own order.
				d, err := Dir(root, Template{}, ident(i, r%2 == 1))
				if err != nil {
					results <- result{i, "", false, err}
					return
				}
				created, err := CreateConfined(root, d)
				results <- result{i, d, created, err}
			}()
		}
	}
	close(start)
	wg.Wait()
	close(results)

	dirOf := map[int]string{}
	idOf := map[string]int{}
	creators := map[string]int{}
	for res := range results {
		if res.err != nil {
			t.Fatalf("identity %d: %v", res.i, res.err)
		}
		if d, ok := dirOf[res.i]; ok && d != res.dir {
			t.Fatalf("identity %d got two dirs: %s and %s", res.i, d, res.dir)
		}
		dirOf[res.i] = res.dir
		if j, ok := idOf[res.dir]; ok && j != res.i {
			t.Fatalf("identities %d and %d collide in %s", j, res.i, res.dir)
		}
		idOf[res.dir] = res.i
		if res.created {
			creators[res.dir]++
		}
	}
	if len(idOf) != identities {
		t.Fatalf("%d distinct identities got %d directories", identities, len(idOf))
	}
	for d := range idOf {
		if creators[d] != 1 {
			t.Fatalf("%s was created %d times, want exactly once", d, creators[d])
		}
	}
	// Re-planning later gives the same directories, already there.
	for i := range identities {
		d, _ := Dir(root, Template{}, ident(i, false))
		if d != dirOf[i] {
			t.Fatalf("identity %d: %s now, %s before", i, d, dirOf[i])
		}
		if created, err := CreateLeaf(d); err != nil || created {
			t.Fatalf("re-plan of %s: created=%v err=%v", d, created, err)
		}
	}
}

func BenchmarkDir(b *testing.B) {
	id := qwen(Param{"seed", IntValue(1)}, Param{"calib_size", IntValue(512)}, Param{"lr", FloatValue(1e-4)})
	tpl := MustParseTemplate(DefaultTemplate)
	for b.Loop() {
		if _, err := Dir("/outputs", tpl, id); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleDir() {
	id := Identity{
		Model:       "Qwen/Qwen3-8B",
		Format:      "w4a8_int",
		Granularity: "recipe_match_channel_token",
		Params:      []Param{{"seed", IntValue(1)}, {"calib_size", IntValue(512)}},
	}
	dir, _ := Dir("outputs", Template{}, id)
	fmt.Println(dir)
	fmt.Println(RunID(id))
	// Output:
	// outputs/Qwen3-8B/w4a8_int/recipe_match_channel_token/calib_size=512,seed=1
	// c50f304bfe5d
}

func TestMaker(t *testing.T) {
	root := filepath.Join(t.TempDir(), "outputs")
	m, err := NewMaker(root)
	if err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(root, "Qwen3-8B", "int8", "w_group64", "seed=1")
	if created, err := m.Create(d); err != nil || !created {
		t.Fatalf("first create: %v %v", created, err)
	}
	if created, err := m.Create(d); err != nil || created {
		t.Fatalf("second create: %v %v", created, err)
	}
	if created, err := m.Create(filepath.Join(root, "Qwen3-8B", "int8", "w_group64", "seed=2")); err != nil || !created {
		t.Fatalf("sibling: %v %v", created, err)
	}
	os.MkdirAll(filepath.Join(root, "Qwen3-8B", "fp8"), 0o755) // someone else's
	if created, err := m.Create(filepath.Join(root, "Qwen3-8B", "fp8", "w_group64", "seed=1")); err != nil || !created {
		t.Fatalf("another format: %v %v", created, err)
	}
	want := []string{filepath.Join(root, "Qwen3-8B"), filepath.Join(root, "Qwen3-8B", "int8"),
		filepath.Join(root, "Qwen3-8B", "int8", "w_group64"), filepath.Join(root, "Qwen3-8B", "fp8", "w_group64")}
	if got := m.Made(); !slices.Equal(got, want) {
		t.Errorf("made %v, want the parents it created, in order: %v", got, want)
	}
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "Link")); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMaker(root); err != nil {
		t.Fatal(err)
	}
	m2, _ := NewMaker(root)
	if _, err := m2.Create(filepath.Join(root, "Link", "int8", "x")); !errors.Is(err, ErrOutsideRoot) {
		t.Errorf("through a link below the root: %v", err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Error("something was written through the link")
	}
	os.WriteFile(filepath.Join(root, "file"), nil, 0o644)
	if _, err := m2.Create(filepath.Join(root, "file", "x")); err == nil {
		t.Error("a file in the way was accepted")
	}
	for _, bad := range []string{root, filepath.Dir(root), filepath.Join(root, "..", "x")} {
		if _, err := m2.Create(bad); !errors.Is(err, ErrOutsideRoot) {
			t.Errorf("Create(%s): %v", bad, err)
		}
	}
}

// TestCheckerLook: a Checker says whether a run directory exists, and
// refuses a link or a file on the way and a directory outside the root.
func TestCheckerLook(t *testing.T) {
	root := t.TempDir()
	c, err := NewChecker(root)
	if err != nil {
		t.Fatal(err)
	}
	a := filepath.Join(root, "m", "f", "g", "seed=1")
	if ok, err := c.Look(a); ok || err != nil {
		t.Fatalf("missing run directory: %v %v", ok, err)
	}
	if err := os.MkdirAll(a, 0o755); err != nil {
		t.Fatal(err)
	}
	c, _ = NewChecker(root)
	if ok, err := c.Look(a); !ok || err != nil {
		t.Fatalf("existing run directory: %v %v", ok, err)
	}
	if ok, err := c.Look(filepath.Join(root, "m", "f", "g", "seed=2")); ok || err != nil {
		t.Fatalf("sibling missing: %v %v", ok, err)
	}
	if err := os.WriteFile(filepath.Join(root, "m", "f", "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Look(filepath.Join(root, "m", "f", "file", "seed=1")); err == nil || !strings.Contains(err.Error(), "is a file where a run directory goes") {
		t.Fatalf("a file on the way: %v", err)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(root, "m", "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Look(filepath.Join(root, "m", "link", "g", "seed=1")); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("a link on the way: %v", err)
	}
	if _, err := c.Look(filepath.Join(t.TempDir(), "x")); err == nil {
		t.Fatal("a directory outside the root was accepted")
	}
}
