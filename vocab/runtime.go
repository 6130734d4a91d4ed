package vocab

import (
	"errors"
	"strings"

	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/namekind"
)

// Outcome is what one format × granularity comes to at run time: refused
// by qrun (it does not apply, or it crashes ModelOpt), or planned with an
// export verdict.
type Outcome struct {
	Format      string
	Granularity string
	KVCache     string // "none" for none
	// Result is an export verdict (deployable, mislabelled, fails,
	// unverified), or "crashes" (ModelOpt's calibration or first forward
	// fails; qrun refuses it) or "not applicable" (qrun refuses it).
	Result           string
	QuantAlgo        string
	KVCacheQuantAlgo string
	Why              string
}

// Outcome results besides the export verdicts.
const (
	OutcomeCrashes       = "crashes"
	OutcomeNotApplicable = "not applicable"
)

// Outcomes lists what every combination of a name comes to at the target:
// a format with each granularity, a granularity with each format, a
// KV-cache setting with each format at its default granularity (by name;
// retired names left out).
func (v *Vocabulary) Outcomes(k namekind.Kind, name string, target modelopt.Version) []Outcome {
	var out []Outcome
	add := func(f, g, kv string) {
		o := Outcome{Format: f, Granularity: g, KVCache: kv}
		r, err := v.ResolveKV(f, g, kv)
		var ce *CrashError
		switch {
		case errors.As(err, &ce):
			o.Result, o.Why = OutcomeCrashes, ce.Crash.Reason+" ("+ce.Crash.Raises+")"
		case err != nil:
			o.Result, o.Why = OutcomeNotApplicable, notApplicableWhy(err.Error(), f, g)
		default:
			verdict := r.Export(target)
			o.Result, o.QuantAlgo, o.KVCacheQuantAlgo, o.Why = string(verdict.Kind), verdict.QuantAlgo, verdict.KVCacheQuantAlgo, verdict.Why
		}
		out = append(out, o)
	}
	switch k {
	case namekind.Format:
		for _, g := range v.Granularities() {
			if !g.Retired {
				add(name, g.Name, NoKVCache)
			}
		}
	case namekind.Granularity:
		for _, f := range v.Formats() {
			if !f.Retired {
				add(f.Name, name, NoKVCache)
			}
		}
	case namekind.KVCache:
		for _, f := range v.Formats() {
			if !f.Retired {
				add(f.Name, "default", name)
			}
		}
	}
	return out
}

// notApplicableWhy drops the "granularity G does not apply to format F: F"
// head of a resolution error: the table already names both.
func notApplicableWhy(msg, f, g string) string {
	head := "granularity " + g + " does not apply to format " + f + ": "
	msg = strings.TrimPrefix(msg, head)
	return strings.TrimPrefix(msg, f+" ")
}
