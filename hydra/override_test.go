package hydra

import (
	"encoding/json"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		arg   string
		key   string
		vals  []Value
		sweep bool
	}{
		{"seed=1", "seed", []Value{1}, false},
		{"seed='1'", "seed", []Value{"1"}, false},
		{"seed=1,2,3", "seed", []Value{1, 2, 3}, true},
		{"seed=range(0,3)", "seed", []Value{0, 1, 2}, true},
		{"seed=range(3)", "seed", []Value{0, 1, 2}, true},
		{"seed=range(10,0,-4)", "seed", []Value{10, 6, 2}, true},
		{"seed=range(0,2),7", "seed", []Value{0, 1, 7}, true},
		{"lr=1e-3", "lr", []Value{0.001}, false},
		{"lr=.5", "lr", []Value{0.5}, false},
		{"flag=True", "flag", []Value{true}, false},
		{"x=null", "x", []Value{nil}, false},
		{"x=007", "x", []Value{"007"}, false},
		{"x=1_000", "x", []Value{1000}, false},
		{"quant_pair=int4_awq", "quant_pair", []Value{"int4_awq"}, false},
		{"quant_granularity.name=w_group64,w_group128", "quant_granularity.name", []Value{"w_group64", "w_group128"}, true},
		{"model=Qwen/Qwen3-8B", "model", []Value{"Qwen/Qwen3-8B"}, false},
		{"note='a=b,c'", "note", []Value{"a=b,c"}, false},
		{`note='it\'s'`, "note", []Value{"it's"}, false},
		{`note="say \"hi\""`, "note", []Value{`say "hi"`}, false},
		{`p='C:\dir\''`, "p", []Value{`C:\dir'`}, false},
		{`p='C:\dir\\'`, "p", []Value{`C:\dir\`}, false},
		{"x=a b", "x", []Value{"a b"}, false},
		{"x= 1 , 2 ", "x", []Value{1, 2}, true},
	}
	for _, c := range cases {
		o, err := Parse(c.arg)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.arg, err)
			continue
		}
		if o.Key != c.key || !reflect.DeepEqual(o.Values, c.vals) || o.Sweep != c.sweep {
			t.Errorf("Parse(%q) = %q %#v sweep=%v, want %q %#v sweep=%v", c.arg, o.Key, o.Values, o.Sweep, c.key, c.vals, c.sweep)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	cases := map[string]string{
		"seed":                           "is not key=value",
		"=1":                             "has no key",
		"seed=":                          "empty value",
		"seed=1,,2":                      "empty element",
		"+seed=1":                        "prefixes",
		"~seed":                          "prefixes",
		"-m":                             "looks like a flag",
		"seed=choice(1,2)":               "choice(…) is Hydra sweeper syntax",
		"seed=interval(0,1)":             "interval(…) is Hydra sweeper syntax",
		"x=[1,2]":                        "lists and dicts",
		"x={a:1}":                        "lists and dicts",
		"x=${y}":                         "interpolations",
		"x=a=b":                          `unquoted '='`,
		"x='open":                        "unterminated",
		"seed=range(5,1)":                "is empty",
		"seed=range(0,10,0)":             "step must not be zero",
		"seed=range(a,b)":                "must be integers",
		"seed=range(0,100000000)":        "more than",
		"x=1\n2":                         "control character",
		"x=nan":                          "not a usable value",
		"bad key=1":                      "not a Hydra config key",
		"a..b=1":                         "empty path component",
		"x=" + strings.Repeat("a", 5000): "bytes long",
	}
	for arg, want := range cases {
		_, err := Parse(arg)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error %v, want %q", arg, err, want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q): error spans lines: %q", arg, err)
		}
	}
}

// TestQuoteRoundTrip: what Quote writes, Parse reads back as the same typed
// value — the property that makes emitted lines select what was planned.
func TestQuoteRoundTrip(t *testing.T) {
	values := []Value{1, -3, 0, 2.5, 1e-7, true, false, nil, "int8", "1", "true", "null", "007", "1_0", "inf",
		"a b", "a=b", "a,b", "it's", `back\slash`, `ends\`, `\'`, "/o/Qwen3-8B/int8/w_group64/seed=1", "~x", "#x", "x!", "a&b", "a;b", `q"q`, "[x]", "{x}", "(x)", "$HOME", "ü", "-1x", "+x", "${x}", `a\${x}`, `/tmp/e${x}/y`}
	for _, v := range values {
		arg := Arg("k", v)
		o, err := Parse(arg)
		if err != nil {
			t.Errorf("Parse(Arg(%#v)) = Parse(%q): %v", v, arg, err)
			continue
		}
		if len(o.Values) != 1 || !reflect.DeepEqual(o.Values[0], v) {
			t.Errorf("Arg(%#v) = %q reads back as %#v", v, arg, o.Values)
		}
	}
}

// TestShellLayer runs emitted lines through a real POSIX shell (eval, as in
// a SLURM array script), xargs and Python's shlex, and checks each hands
// over exactly the Hydra arguments.
func TestShellLayer(t *testing.T) {
	args := []string{
		"quant_pair=int8",
		"quant_granularity=w_group64",
		"seed=1",
		Arg("note", "it's a \"test\" $HOME `x` !"),
		Arg("hydra.run.dir", "/o/Qwen3-8B/int8/w_group64/seed=1,tag=a b"),
	}
	line := Line(args)
	if !strings.Contains(line, `"hydra.run.dir='/o/Qwen3-8B/int8/w_group64/seed=1,tag=a b'"`) {
		t.Errorf("hydra.run.dir not double-quoted around Hydra's single quotes: %s", line)
	}
	want, _ := json.Marshal(args)
	check := func(name string, cmd *exec.Cmd) {
		t.Helper()
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		g, _ := json.Marshal(got)
		if string(g) != string(want) {
			t.Errorf("%s split the line differently:\n got: %s\nwant: %s", name, g, want)
		}
	}
	check("sh eval", func() *exec.Cmd {
		c := exec.Command("sh", "-c", `eval "printf '%s\n' $LINE"`)
		c.Env = append(c.Environ(), "LINE="+line)
		return c
	}())
	x := exec.Command("xargs", "-L1", "printf", `%s\n`)
	x.Stdin = strings.NewReader(line + "\n")
	check("xargs -L1", x)
	if _, err := exec.LookPath("python3"); err == nil {
		p := exec.Command("python3", "-c", "import shlex,sys\nfor a in shlex.split(sys.stdin.read()): print(a)")
		p.Stdin = strings.NewReader(line)
		check("python shlex", p)
	}
}
