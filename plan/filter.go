package plan

import (
	"github.com/qrun-dev/qrun/hydra"
	"github.com/qrun-dev/qrun/layout"
	"github.com/qrun-dev/qrun/manifest"
)

// ParamFilter reads a --param filter of qrun runs, key=value in Hydra's
// value syntax, into the "key":value pair the registry's params JSON holds
// for a run with that parameter (ParamJSON): the value keeps its Hydra
// type, so seed=1000 matches the integer only, seed=1000.0 the float only,
// seed='1000' the string.
func ParamFilter(arg string) (string, error) {
	o, err := hydra.Parse(arg)
	if err != nil {
		return "", usagef("--param %v", err)
	}
	if o.Sweep || len(o.Values) != 1 {
		return "", usagef("--param %s: give one value (key=value); repeat --param for more parameters", arg)
	}
	if _, err := layout.NewParam(o.Key, o.Values[0]); err != nil {
		return "", usagef("--param %s: %v", arg, err)
	}
	return ParamJSON(manifest.Param{Key: o.Key, Value: o.Values[0]}), nil
}
