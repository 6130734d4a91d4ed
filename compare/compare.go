// Package compare turns runs and the metrics recorded for them (qrun mark
// --metric) into a pivot table: one metric, rows and columns by format,
// granularity, model or an identity parameter, several runs per cell
// aggregated (last, min, max, mean).
package compare

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/qrun-dev/qrun/hydra"
	"github.com/qrun-dev/qrun/store"
)

// Metric is the latest value of one metric of a run.
type Metric struct {
	Value float64
	At    time.Time
	Event int64 // the event that recorded it (orders values recorded in one instant)
}

// Metrics reads a run's metric events (in log order): later values of a key
// win.
func Metrics(events []store.Event) (map[string]Metric, error) {
	out := map[string]Metric{}
	for _, e := range events {
		if e.Kind != store.EventMetric {
			continue
		}
		vals, err := ParsePayload(e.Payload)
		if err != nil {
			return nil, fmt.Errorf("run %s: metric event %d: %v", e.RunID, e.ID, err)
		}
		for k, v := range vals {
			out[k] = Metric{Value: v, At: e.At, Event: e.ID}
		}
	}
	return out, nil
}

// ParsePayload reads a metric event's payload: a JSON object of numbers.
func ParsePayload(payload string) (map[string]float64, error) {
	var vals map[string]float64
	if err := json.Unmarshal([]byte(payload), &vals); err != nil {
		return nil, errors.New("payload is not a JSON object of numbers")
	}
	return vals, nil
}

// Agg is how several runs' values in one cell become one.
type Agg string

const (
	AggLast Agg = "last" // the value recorded last
	AggMin  Agg = "min"
	AggMax  Agg = "max"
	AggMean Agg = "mean"
)

// Aggs lists the aggregations.
var Aggs = []Agg{AggLast, AggMin, AggMax, AggMean}

// Valid reports whether a is a known aggregation.
func (a Agg) Valid() bool { return slices.Contains(Aggs, a) }

// The identity dimensions; any other dimension is a parameter key.
const (
	DimFormat      = "format"
	DimGranularity = "granularity"
	DimModel       = "model"
	DimKVCache     = "kv_cache"
)

// IdentityDims are the dimensions that tell configurations apart: runs
// differing in one of them never share a cell unnoticed.
var IdentityDims = []string{DimModel, DimFormat, DimGranularity, DimKVCache}

// paramKeyRE is what a parameter key looks like.
var paramKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-]*$`)

// ValidDim reports whether d can name a dimension: format, granularity,
// model, or a parameter key.
func ValidDim(d string) bool { return paramKeyRE.MatchString(d) }

// Point is one run's value of the metric being compared.
type Point struct {
	RunID       string
	Model       string
	Format      string
	Granularity string
	KVCache     string // "none" for none
	Params      map[string]any
	Metric      Metric
}

// Label is the point's coordinate on dimension d, and whether it has one
// (a run may lack a parameter).
func (p Point) Label(d string) (string, bool) {
	switch d {
	case DimFormat:
		return p.Format, true
	case DimGranularity:
		return p.Granularity, true
	case DimModel:
		return p.Model, true
	case DimKVCache:
		return p.KVCache, true
	}
	v, ok := p.Params[d]
	if !ok {
		return "", false
	}
	return hydra.Quote(v), true
}

// Options say how to pivot.
type Options struct {
	Metric string
	Rows   string // a dimension
	Cols   string // a dimension
	Agg    Agg
	// Where keeps only the points whose label on each key's dimension is
	// the value (a parameter value as Hydra writes it: seed=1).
	Where map[string]string
}

// Cell is one row × column of the table.
type Cell struct {
	Row    string
	Col    string
	Value  float64 // the aggregate
	N      int     // runs contributing
	Runs   []string
	Values []float64 // each run's value, in Runs order
	latest Metric
}

// Table is the pivot.
type Table struct {
	Options
	Rows  []string // row labels, in display order
	Cols  []string // column labels, in display order
	Cells map[[2]string]*Cell
	// Varying are the parameter keys whose values differ among runs that
	// share a cell (aggregated together), sorted.
	Varying []string
}

// Cell returns the cell at row × col, or nil when no run has a value there.
func (t *Table) Cell(row, col string) *Cell { return t.Cells[[2]string{row, col}] }

// NoneLabel is the label of runs that lack a parameter used as a
// dimension.
const NoneLabel = "(none)"

// MixError is a pivot refused because runs of different configurations
// (models, formats or granularities) would share cells.
type MixError struct {
	Dim    string
	Values []string
}

func (e *MixError) Error() string {
	plural := map[string]string{DimModel: "models", DimFormat: "formats", DimGranularity: "granularities", DimKVCache: "KV-cache settings"}[e.Dim]
	return fmt.Sprintf("runs of %d %s (%s) would share cells: keep one with --%s, or put %s on --rows or --cols",
		len(e.Values), plural, strings.Join(e.Values, ", "), strings.ReplaceAll(e.Dim, "_", "-"), e.Dim)
}

// Build pivots points. Every identity dimension (model, format,
// granularity) that is neither rows nor columns must have one value among
// the points (else a *MixError): a cell never silently mixes
// configurations. Runs differing only in parameters are aggregated, and
// reported in Table.Varying.
func Build(points []Point, o Options) (*Table, error) {
	if !o.Agg.Valid() {
		return nil, fmt.Errorf("unknown aggregation %q: use last, min, max or mean", o.Agg)
	}
	for _, d := range []string{o.Rows, o.Cols} {
		if !ValidDim(d) {
			return nil, fmt.Errorf("%q is not a dimension: use format, granularity, model or a parameter key", d)
		}
	}
	if o.Rows == o.Cols {
		return nil, fmt.Errorf("rows and columns are both %s: choose two different dimensions", o.Rows)
	}
	var kept []Point
	for _, p := range points {
		if matches(p, o.Where) {
			kept = append(kept, p)
		}
	}
	for _, d := range []string{o.Rows, o.Cols} {
		if isIdentity(d) || len(kept) == 0 {
			continue
		}
		found := false
		for _, p := range kept {
			if _, ok := p.Params[d]; ok {
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("no run has a parameter %q%s", d, paramHint(kept))
		}
	}
	for _, d := range IdentityDims {
		if d == o.Rows || d == o.Cols {
			continue
		}
		seen := map[string]bool{}
		var vals []string
		for _, p := range kept {
			l, _ := p.Label(d)
			if !seen[l] {
				seen[l] = true
				vals = append(vals, l)
			}
		}
		if len(vals) > 1 {
			sort.Strings(vals)
			return nil, &MixError{Dim: d, Values: vals}
		}
	}
	t := &Table{Options: o, Cells: map[[2]string]*Cell{}}
	rowSeen, colSeen := map[string]bool{}, map[string]bool{}
	cellParams := map[[2]string]map[string]string{} // a cell's first run's params, as labels
	varying := map[string]bool{}
	for _, p := range kept {
		r, c := label(p, o.Rows), label(p, o.Cols)
		if !rowSeen[r] {
			rowSeen[r] = true
			t.Rows = append(t.Rows, r)
		}
		if !colSeen[c] {
			colSeen[c] = true
			t.Cols = append(t.Cols, c)
		}
		k := [2]string{r, c}
		cell := t.Cells[k]
		if cell == nil {
			cell = &Cell{Row: r, Col: c}
			t.Cells[k] = cell
			cellParams[k] = paramLabels(p)
		} else {
			for _, key := range differing(cellParams[k], paramLabels(p)) {
				varying[key] = true
			}
		}
		cell.Runs = append(cell.Runs, p.RunID)
		cell.Values = append(cell.Values, p.Metric.Value)
		if cell.N == 0 || later(p.Metric, cell.latest) {
			cell.latest = p.Metric
		}
		cell.N++
	}
	for _, cell := range t.Cells {
		cell.Value = aggregate(cell, o.Agg)
	}
	sort.Slice(t.Rows, func(i, j int) bool { return Less(t.Rows[i], t.Rows[j]) })
	sort.Slice(t.Cols, func(i, j int) bool { return Less(t.Cols[i], t.Cols[j]) })
	for k := range varying {
		if k != o.Rows && k != o.Cols {
			t.Varying = append(t.Varying, k)
		}
	}
	sort.Strings(t.Varying)
	return t, nil
}

func isIdentity(d string) bool { return slices.Contains(IdentityDims, d) }

func label(p Point, d string) string {
	if l, ok := p.Label(d); ok {
		return l
	}
	return NoneLabel
}

// Matches reports whether p has, on each dimension of where, the value
// given (see Options.Where).
func Matches(p Point, where map[string]string) bool { return matches(p, where) }

func matches(p Point, where map[string]string) bool {
	for d, want := range where {
		if l, ok := p.Label(d); !ok || l != want {
			return false
		}
	}
	return true
}

func paramLabels(p Point) map[string]string {
	out := make(map[string]string, len(p.Params))
	for k, v := range p.Params {
		out[k] = hydra.Quote(v)
	}
	return out
}

func differing(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

func paramHint(points []Point) string {
	keys := map[string]bool{}
	for _, p := range points {
		for k := range p.Params {
			keys[k] = true
		}
	}
	if len(keys) == 0 {
		return "; the runs have no parameters: use format, granularity or model"
	}
	var list []string
	for k := range keys {
		list = append(list, k)
	}
	sort.Strings(list)
	return "; use format, granularity, model or one of the parameters: " + strings.Join(list, ", ")
}

func later(a, b Metric) bool {
	if !a.At.Equal(b.At) {
		return a.At.After(b.At)
	}
	return a.Event > b.Event
}

func aggregate(c *Cell, a Agg) float64 {
	switch a {
	case AggMin:
		m := math.Inf(1)
		for _, v := range c.Values {
			m = math.Min(m, v)
		}
		return m
	case AggMax:
		m := math.Inf(-1)
		for _, v := range c.Values {
			m = math.Max(m, v)
		}
		return m
	case AggMean:
		// Summed in sorted order: the same runs give the same mean whatever
		// order the registry lists them in.
		vals := append([]float64(nil), c.Values...)
		sort.Float64s(vals)
		s := 0.0
		for _, v := range vals {
			s += v
		}
		return s / float64(len(vals))
	}
	return c.latest.Value
}

// Less orders labels naturally: runs of digits compare as numbers
// (w_group64 before w_group128, seed 2 before seed 10), "(none)" last.
func Less(a, b string) bool {
	if (a == NoneLabel) != (b == NoneLabel) {
		return b == NoneLabel
	}
	if fa, ea := parseNumber(a); ea {
		if fb, eb := parseNumber(b); eb && fa != fb {
			return fa < fb
		}
	}
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		if isDigit(ca) && isDigit(cb) {
			si := i
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			sj := j
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na := strings.TrimLeft(a[si:i], "0")
			nb := strings.TrimLeft(b[sj:j], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			continue
		}
		if ca != cb {
			return ca < cb
		}
		i++
		j++
	}
	if len(a)-i != len(b)-j {
		return len(a)-i < len(b)-j
	}
	return a < b
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// FormatValue shows a value for people: up to 6 significant digits,
// without an exponent for ordinary magnitudes.
func FormatValue(v float64) string {
	s := fmt.Sprintf("%.6g", v)
	if strings.ContainsAny(s, "e") {
		abs := math.Abs(v)
		if abs >= 1e-4 && abs < 1e15 {
			s = fmt.Sprintf("%.6f", v)
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
	}
	return s
}
