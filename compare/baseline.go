package compare

import (
	"fmt"
	"sort"
	"strings"
)

// Baseline is the value every cell's delta is taken against: one run's
// value, or the aggregate of one format × granularity's runs.
type Baseline struct {
	Spec  string   // as given: a run id (or a unique prefix of 4+) or FORMAT/GRANULARITY
	Runs  []string // the runs it aggregates
	Value float64
}

// Delta is v minus the baseline's value.
func (b *Baseline) Delta(v float64) float64 { return v - b.Value }

// FindBaseline finds spec among the points compared (after every filter):
// FORMAT/GRANULARITY aggregates, with agg, the points of that format and
// granularity (of one model); anything else names a run by its id or a
// unique prefix of 4 or more characters.
func FindBaseline(points []Point, spec string, agg Agg) (*Baseline, error) {
	if f, g, ok := strings.Cut(spec, "/"); ok {
		c := &Cell{}
		models, kvs := map[string]bool{}, map[string]bool{}
		for _, p := range points {
			if p.Format == f && p.Granularity == g {
				c.Runs = append(c.Runs, p.RunID)
				c.Values = append(c.Values, p.Metric.Value)
				if c.N == 0 || later(p.Metric, c.latest) {
					c.latest = p.Metric
				}
				c.N++
				models[p.Model] = true
				kvs[p.KVCache] = true
			}
		}
		if c.N == 0 {
			return nil, fmt.Errorf("baseline %s: no compared run has format %s and granularity %s", spec, f, g)
		}
		if len(models) > 1 {
			return nil, fmt.Errorf("baseline %s: runs of %d models; keep one with --model, or name one run", spec, len(models))
		}
		if len(kvs) > 1 {
			return nil, fmt.Errorf("baseline %s: runs of %d KV-cache settings; keep one with --kv-cache, or name one run", spec, len(kvs))
		}
		return &Baseline{Spec: spec, Runs: c.Runs, Value: aggregate(c, agg)}, nil
	}
	if len(spec) < 4 {
		return nil, fmt.Errorf("baseline %q: give a run id (4+ characters of it) or FORMAT/GRANULARITY", spec)
	}
	var found []Point
	for _, p := range points {
		if strings.HasPrefix(p.RunID, spec) {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("baseline %s: no compared run has that id (it may lack the metric, or be left out by a filter or --status)", spec)
	case 1:
		return &Baseline{Spec: spec, Runs: []string{found[0].RunID}, Value: found[0].Metric.Value}, nil
	}
	ids := make([]string, len(found))
	for i, p := range found {
		ids[i] = p.RunID
	}
	sort.Strings(ids)
	return nil, fmt.Errorf("baseline %s is the prefix of %d runs (%s): give more of the id", spec, len(ids), strings.Join(ids, ", "))
}

// FormatDelta shows a delta with its sign: +0.12, -3, +0.
func FormatDelta(d float64) string {
	s := FormatValue(d)
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s
}
