package compare

import (
	"strings"
	"testing"
	"time"
)

func TestFindBaseline(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pt := func(id, model, f, g string, v float64, n int) Point {
		return Point{RunID: id, Model: model, Format: f, Granularity: g, Metric: Metric{Value: v, At: at.Add(time.Duration(n) * time.Second)}}
	}
	points := []Point{
		pt("aaaa11110000", "m", "fp8", "default", 10, 1),
		pt("aaaa22220000", "m", "fp8", "default", 12, 2),
		pt("bbbb00000000", "m", "int8", "w_group64", 15, 3),
		pt("cccc00000000", "other", "int8", "w_group64", 16, 4),
	}
	for _, c := range []struct {
		spec  string
		agg   Agg
		value float64
		runs  int
		err   string
	}{
		{"fp8/default", AggMean, 11, 2, ""},
		{"fp8/default", AggLast, 12, 2, ""},
		{"fp8/default", AggMin, 10, 2, ""},
		{"bbbb", AggLast, 15, 1, ""},
		{"aaaa11110000", AggLast, 10, 1, ""},
		{"aaaa", AggLast, 0, 0, "baseline aaaa is the prefix of 2 runs (aaaa11110000, aaaa22220000): give more of the id"},
		{"abc", AggLast, 0, 0, `baseline "abc": give a run id (4+ characters of it) or FORMAT/GRANULARITY`},
		{"dddd", AggLast, 0, 0, "baseline dddd: no compared run has that id"},
		{"nvfp4/default", AggLast, 0, 0, "baseline nvfp4/default: no compared run has format nvfp4 and granularity default"},
		{"int8/w_group64", AggLast, 0, 0, "baseline int8/w_group64: runs of 2 models; keep one with --model"},
	} {
		b, err := FindBaseline(points, c.spec, c.agg)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.spec, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		if b.Value != c.value || len(b.Runs) != c.runs {
			t.Errorf("%s (%s): value %v over %d runs, want %v over %d", c.spec, c.agg, b.Value, len(b.Runs), c.value, c.runs)
		}
	}
	for d, want := range map[float64]string{0.125: "+0.125", -3: "-3", 0: "+0"} {
		if got := FormatDelta(d); got != want {
			t.Errorf("FormatDelta(%v) = %q, want %q", d, got, want)
		}
	}
}
