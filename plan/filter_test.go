package plan

import (
	"errors"
	"math"
	"testing"

	"github.com/qrun-dev/qrun/manifest"
)

// TestParamJSONKeepsTheHydraType: the registry's params JSON writes a
// float with a fraction or an exponent, so the int 1000, the float 1000.0
// and the string "1000" are three values there as they are three runs;
// ParamFilter reads runs --param the same way.
func TestParamJSONKeepsTheHydraType(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{int64(1000), `"seed":1000`}, {1000.0, `"seed":1000.0`}, {"1000", `"seed":"1000"`},
		{0.5, `"seed":0.5`}, {1e21, `"seed":1e+21`}, {math.Copysign(0, -1), `"seed":-0.0`}, {true, `"seed":true`}, {nil, `"seed":null`},
	} {
		if got := ParamJSON(manifest.Param{Key: "seed", Value: c.v}); got != c.want {
			t.Errorf("ParamJSON(%#v) = %s, want %s", c.v, got, c.want)
		}
	}
	if got := ParamsJSON([]manifest.Param{{Key: "a", Value: int64(1)}, {Key: "seed", Value: 1000.0}}); got != `{"a":1,"seed":1000.0}` {
		t.Errorf("ParamsJSON = %s", got)
	}
	for arg, want := range map[string]string{"seed=1000": `"seed":1000`, "seed=1000.0": `"seed":1000.0`, "seed='1000'": `"seed":"1000"`, "seed=1e3": `"seed":1000.0`} {
		if got, err := ParamFilter(arg); err != nil || got != want {
			t.Errorf("ParamFilter(%s) = %s, %v; want %s", arg, got, err, want)
		}
	}
	for _, arg := range []string{"seed=1,2", "seed"} {
		if _, err := ParamFilter(arg); !errors.Is(err, ErrUsage) {
			t.Errorf("ParamFilter(%s) = %v, want a usage error", arg, err)
		}
	}
}
