package compare

import (
	"encoding/json"
	"strings"

	"github.com/qrun-dev/qrun/store"
)

// Selection says which runs' values of a metric are compared: the runs
// recording it, with these identity parameter values, of these statuses.
type Selection struct {
	Metric string
	Where  map[string]string // identity parameter values a run must have
	// Statuses are the statuses compared; nil compares every status.
	Statuses []store.Status
}

// Collected is what a selection found among the registry's runs.
type Collected struct {
	Points []Point
	// Recorded are the metrics any of the runs recorded (the metric
	// compared among them or not), for saying what was meant.
	Recorded map[string]bool
	// Excluded counts, per status, the runs with the metric and the
	// parameters that were left out for their status.
	Excluded map[store.Status]int
}

// Collect turns runs with their metric events (store.RunsWithMetrics) into
// the points of a comparison, in the runs' order. A metric event whose
// payload is not a JSON object of numbers is an error.
func Collect(runs []store.RunMetrics, s Selection) (*Collected, error) {
	wanted := map[store.Status]bool{}
	for _, st := range s.Statuses {
		wanted[st] = true
	}
	out := &Collected{Recorded: map[string]bool{}, Excluded: map[store.Status]int{}}
	for _, r := range runs {
		ms, err := Metrics(r.Metrics)
		if err != nil {
			return nil, err
		}
		for k := range ms {
			out.Recorded[k] = true
		}
		m, ok := ms[s.Metric]
		if !ok {
			continue
		}
		p := Point{
			RunID: r.ID, Model: r.Model, Format: r.Format, Granularity: r.Granularity,
			Params: DecodeParams(r.Params), Metric: m,
		}
		if !Matches(p, s.Where) {
			continue
		}
		if s.Statuses != nil && !wanted[r.Status] {
			out.Excluded[r.Status]++
			continue
		}
		out.Points = append(out.Points, p)
	}
	return out, nil
}

// DecodeParams reads the registry's JSON object of typed parameters
// (store.Run.Params): integers as int, other numbers as float64; nothing
// for text that is not such an object.
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
