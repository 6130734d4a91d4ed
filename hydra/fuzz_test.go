package hydra

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzParse: the override parser never panics, says every problem on one
// line, and whatever it accepts, Quote writes back so that it parses to the
// same typed values.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"seed=1", "seed=1,2,3", "seed=range(0,5)", "x='a,b'", `x="q\"q"`, `x='\\'`, "x=a b",
		"quant_granularity.name=w_group64", "x=${y}", "x=[1]", "+x=1", "x=choice(1)", "x=1e5", "x=.5", "x=007", "x=null", "x=True"} {
		f.Add(s)
	}
	f.Add("A=" + strings.Repeat("A", MaxLength-3) + "\x10") // the longest arg, which quoting lengthens
	f.Fuzz(func(t *testing.T, arg string) {
		o, err := Parse(arg)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error for %q: %q", arg, err)
			}
			return
		}
		if len(o.Values) == 0 {
			t.Fatalf("accepted %q with no values", arg)
		}
		for _, v := range o.Values {
			if len(Arg(o.Key, v)) > MaxLength {
				continue // quoting made it longer than an override may be: refused, rightly
			}
			back, err := Parse(Arg(o.Key, v))
			if err != nil {
				t.Fatalf("Arg(%q, %#v) = %q does not parse: %v", o.Key, v, Arg(o.Key, v), err)
			}
			if len(back.Values) != 1 || !reflect.DeepEqual(back.Values[0], v) {
				t.Fatalf("value %#v from %q round-trips to %#v", v, arg, back.Values)
			}
		}
	})
}
