package hydra

import (
	"math"
	"testing"
)

// TestCountAgreesWithParse: Count gives the number of values Parse would
// give, without building them, for ranges beyond MaxSweep too (T22).
func TestCountAgreesWithParse(t *testing.T) {
	for _, arg := range []string{"seed=1", "seed=1,2,3", "a=range(0,5)", "a=range(0,5),7,'x'", "a=range(10,0,-3)", "a=range(0,10,3),range(3)"} {
		o, err := Parse(arg)
		if err != nil {
			t.Fatal(err)
		}
		c, n, err := Count(arg)
		if err != nil || n != uint64(len(o.Values)) || c.Key != o.Key || c.Values != nil || c.Sweep != o.Sweep {
			t.Errorf("Count(%s) = %+v, %d, %v; Parse gives %d values", arg, c, n, err, len(o.Values))
		}
	}
	for arg, want := range map[string]uint64{
		"a=range(0,1000000000)":                             1e9,
		"a=range(-9000000000000000000,9000000000000000000)": 18e18,
		"a=range(0,9000000000000000000),range(0,9000000000000000000),range(0,9000000000000000000)": math.MaxUint64,
	} {
		if _, n, err := Count(arg); err != nil || n != want {
			t.Errorf("Count(%s) = %d, %v; want %d", arg, n, err, want)
		}
	}
	if _, _, err := Count("a=range(0,"); err == nil {
		t.Error("Count of a malformed range: no error")
	}
}
