package compare

import (
	"encoding/json"
	"strings"

	"github.com/qrun-dev/qrun/store"
)

// Query says which of the runs Gather is given are compared.
type Query struct {
	Metric string
	// Where keeps only the runs with these parameter values (see
	// Options.Where).
	Where map[string]string
	// Statuses are the statuses compared; nil compares every status.
	Statuses []store.Status
}

// Run is one run the query keeps, with or without the metric.
type Run struct {
	store.Run
	// Point is the run as a point of the pivot; its Metric is zero when
	// the run has no value of the metric (HasMetric false).
	Point     Point
	HasMetric bool
	// Compared: the run has the metric and a status compared, so its
	// value is among Gathered.Points.
	Compared bool
}

// Gathered is what Gather found.
type Gathered struct {
	// Points are the values compared: runs with the metric, matching
	// Where, of a status compared; in the registry's order.
	Points []Point
	// Runs are every run the filter and Where keep, of any status, with
	// or without the metric.
	Runs []Run
	// Seen are the metrics any run of the filter has recorded.
	Seen map[string]bool
	// Excluded counts, by status, the runs with the metric left out by
	// Query.Statuses.
	Excluded map[store.Status]int
}

// Gather turns runs with their metric events (store.RunsWithMetrics, one
// query) into the points qrun compare pivots, and every run kept (for a
// report's cells that have no value), in the runs' order. A metric event
// whose payload is not a JSON object of numbers is an error.
func Gather(runs []store.RunMetrics, q Query) (*Gathered, error) {
	wanted := map[store.Status]bool{}
	for _, s := range q.Statuses {
		wanted[s] = true
	}
	g := &Gathered{Seen: map[string]bool{}, Excluded: map[store.Status]int{}}
	for _, r := range runs {
		ms, err := Metrics(r.Metrics)
		if err != nil {
			return nil, err
		}
		for k := range ms {
			g.Seen[k] = true
		}
		m, ok := ms[q.Metric]
		p := Point{
			RunID: r.ID, Model: r.Model, Format: r.Format, Granularity: r.Granularity, KVCache: r.KVCache,
			Params: DecodeParams(r.Params), Metric: m,
		}
		if !Matches(p, q.Where) {
			continue
		}
		run := Run{Run: r.Run, Point: p, HasMetric: ok}
		if ok {
			if q.Statuses != nil && !wanted[r.Status] {
				g.Excluded[r.Status]++
			} else {
				run.Compared = true
				g.Points = append(g.Points, p)
			}
		}
		g.Runs = append(g.Runs, run)
	}
	return g, nil
}

// DecodeParams reads the registry's JSON object of typed parameters:
// integers as int, other numbers as float64 (seed=1000 and seed=1000.0
// stay apart).
func DecodeParams(s string) map[string]any {
	out := map[string]any{}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return out
	}
	for k, v := range raw {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				v = int(i)
			} else if f, err := n.Float64(); err == nil {
				v = f
			}
		}
		out[k] = v
	}
	return out
}
