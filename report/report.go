// Package report writes qrun report: one self-contained HTML file with a
// heatmap of one metric per model — the cells of qrun compare (package
// compare aggregates them), coloured on a colour-blind-safe scale that says
// which direction is better, each with its delta to a baseline, its export
// verdict and a relative link to its run's manifest; cells without a value
// say why (no run, failed, running, planned, no value recorded).
package report

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/qrun-dev/qrun/compare"
	"github.com/qrun-dev/qrun/store"
)

// Better says which direction of a metric is better.
type Better string

const (
	Lower  Better = "lower"
	Higher Better = "higher"
)

// Input is what a report is made of.
type Input struct {
	Project     string // the project's name (its folder)
	ProjectPath string // the project's root
	Version     string // qrun's version
	Generated   time.Time
	Options     compare.Options // metric, rows, columns, aggregation, filters
	Better      Better
	// Filters describe the selection in words, one per filter
	// ("--format int8,fp8"), for the header.
	Filters []string
	// Baseline is --baseline's value ("" for none).
	Baseline string
	// Gathered are the runs and points (compare.Gather).
	Gathered *compare.Gathered
	// Link is the href of a run's manifest, relative to the HTML file.
	Link func(store.Run) string
	// ExportText is a run's export verdict on one line, for the hover.
	ExportText func(store.ExportVerdict) string
}

// State is what a cell shows.
type State string

const (
	StateValue   State = "value"
	StateMissing State = "missing"  // no run planned
	StateFailed  State = "failed"   // runs, none with a value, one failed
	StateRunning State = "running"  // runs, none with a value, one running
	StatePlanned State = "planned"  // runs, none with a value, planned
	StateNoValue State = "no-value" // succeeded runs without the metric
	StateLeftOut State = "left-out" // runs with the metric, of a status not compared
)

// stateText is how a cell without a value says why.
var stateText = map[State]string{
	StateMissing: "no run",
	StateFailed:  "failed",
	StateRunning: "running",
	StatePlanned: "planned",
	StateNoValue: "no value",
	StateLeftOut: "left out",
}

// Mark is a cell's export verdict as a symbol, with the reason on hover.
type Mark struct {
	Verdict string // deployable, mislabelled, fails, unverified, unknown
	Symbol  string
	Title   string
}

var verdictSymbol = map[string]string{
	"deployable":  "✓",
	"mislabelled": "⚠",
	"fails":       "✗",
	"unverified":  "?",
	"unknown":     "?",
}

// verdictRank orders verdicts worst first: a cell of runs with several
// verdicts shows the worst.
var verdictRank = map[string]int{"fails": 0, "mislabelled": 1, "unverified": 2, "unknown": 3, "deployable": 4}

// RunLink is one run of a cell.
type RunLink struct {
	ID     string
	Href   string
	Status string
}

// Cell is one row × column of a heatmap.
type Cell struct {
	State State
	Text  string // the value, or why there is none
	Delta string // the difference to the baseline, "" for none
	N     int    // runs aggregated into the value
	BG    string // background colour (value cells)
	FG    string // text colour
	Title string // hover text
	Href  string // the manifest of the cell's (first) run, "" for none
	Runs  []RunLink
	Mark  *Mark
}

// Row is a heatmap's row.
type Row struct {
	Label string
	Cells []Cell
}

// Heatmap is one model's table (or the only one, when model is on rows or
// columns).
type Heatmap struct {
	Model    string // "" when model is on rows or columns
	Cols     []string
	Rows     []Row
	Min, Max string // the value range, as shown
	// Worst and Best label the scale's ends.
	Worst, Best string
	Baseline    string // "fp8/default = 10.9 (mean of 2 runs)", "" for none
	Notes       []string
	Values      int // cells with a value
}

// Report is the whole page.
type Report struct {
	Input
	Models    []string
	ModelOpt  []string
	Heatmaps  []Heatmap
	Gradient  string
	Generated string
}

// Build makes the report's heatmaps: per model unless model is on rows or
// columns; in each, the cells compare.Build aggregates from the points,
// and the axes and cells of every run the filters keep (so runs without a
// value show as such).
func Build(in Input) (*Report, error) {
	if in.Gathered == nil || len(in.Gathered.Points) == 0 {
		return nil, errors.New("no value to report")
	}
	if in.Better != Lower && in.Better != Higher {
		return nil, fmt.Errorf("direction %q: use lower or higher", in.Better)
	}
	if in.Link == nil {
		in.Link = func(store.Run) string { return "" }
	}
	if in.ExportText == nil {
		in.ExportText = func(e store.ExportVerdict) string { return e.Verdict }
	}
	r := &Report{Input: in, Gradient: Gradient(), Generated: in.Generated.UTC().Format(time.RFC3339)}
	models, targets := map[string]bool{}, map[string]bool{}
	for _, run := range in.Gathered.Runs {
		models[run.Model] = true
		targets[run.ModelOpt] = true
	}
	r.Models, r.ModelOpt = sortedKeys(models), sortedKeys(targets)
	o := in.Options
	perModel := o.Rows != compare.DimModel && o.Cols != compare.DimModel
	groups := []string{""}
	if perModel {
		groups = r.Models
	}
	var base *compare.Baseline
	if in.Baseline != "" && (!strings.Contains(in.Baseline, "/") || !perModel) {
		// A run is the baseline of every heatmap.
		b, err := compare.FindBaseline(in.Gathered.Points, in.Baseline, o.Agg)
		if err != nil {
			return nil, err
		}
		base = b
	}
	found := base != nil
	var everyRun []compare.Point
	for _, run := range in.Gathered.Runs {
		everyRun = append(everyRun, run.Point)
	}
	// A parameter dimension no run has: compare's own refusal, naming the
	// parameters the runs do have.
	for _, d := range []string{o.Rows, o.Cols} {
		if d == compare.DimModel || d == compare.DimFormat || d == compare.DimGranularity || hasParam(everyRun, d) {
			continue
		}
		probe := compare.Options{Metric: o.Metric, Rows: compare.DimModel, Cols: d, Agg: o.Agg, Where: o.Where}
		var mix *compare.MixError
		if _, err := compare.Build(everyRun, probe); err != nil && !errors.As(err, &mix) {
			return nil, err
		}
	}
	var firstErr error
	for _, m := range groups {
		var runs []compare.Run
		var points []compare.Point
		for _, run := range in.Gathered.Runs {
			if m == "" || run.Model == m {
				runs = append(runs, run)
			}
		}
		for _, p := range in.Gathered.Points {
			if m == "" || p.Model == m {
				points = append(points, p)
			}
		}
		b := base
		var note string
		if in.Baseline != "" && b == nil {
			var err error
			if b, err = compare.FindBaseline(points, in.Baseline, o.Agg); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				note = "no baseline: " + err.Error()
			} else {
				found = true
			}
		}
		var lacks []string
		for _, d := range []string{o.Rows, o.Cols} {
			if d != compare.DimModel && d != compare.DimFormat && d != compare.DimGranularity && !hasParam(pointsOf(runs), d) {
				lacks = append(lacks, d)
			}
		}
		if len(lacks) > 0 {
			r.Heatmaps = append(r.Heatmaps, Heatmap{Model: m, Notes: []string{fmt.Sprintf("no run of this model has a parameter %s", strings.Join(lacks, " or "))}})
			continue
		}
		h, err := heatmap(in, m, runs, points, b)
		if err != nil {
			return nil, err
		}
		if note != "" {
			h.Notes = append(h.Notes, note)
		}
		r.Heatmaps = append(r.Heatmaps, h)
	}
	if in.Baseline != "" && !found {
		return nil, firstErr
	}
	return r, nil
}

func heatmap(in Input, model string, runs []compare.Run, points []compare.Point, base *compare.Baseline) (Heatmap, error) {
	o := in.Options
	h := Heatmap{Model: model}
	all := make([]compare.Point, len(runs))
	byID := map[string]compare.Run{}
	for i, run := range runs {
		all[i] = run.Point
		byID[run.ID] = run
	}
	// Every run, as compare would pivot it: the axes, the cells' runs, and
	// compare's refusal to mix configurations.
	axes, err := compare.Build(all, o)
	if err != nil {
		return h, err
	}
	vals, err := compare.Build(points, o)
	if err != nil {
		return h, err
	}
	h.Cols = axes.Cols
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range vals.Cells {
		lo, hi = math.Min(lo, c.Value), math.Max(hi, c.Value)
	}
	if len(vals.Cells) > 0 {
		h.Min, h.Max = compare.FormatValue(lo), compare.FormatValue(hi)
		h.Worst, h.Best = h.Max, h.Min
		if in.Better == Higher {
			h.Worst, h.Best = h.Min, h.Max
		}
	}
	if base != nil {
		over := "run " + base.Runs[0]
		if len(base.Runs) > 1 {
			over = fmt.Sprintf("%s of %d runs", o.Agg, len(base.Runs))
		}
		h.Baseline = fmt.Sprintf("%s = %s (%s)", base.Spec, compare.FormatValue(base.Value), over)
	}
	if len(vals.Varying) > 0 {
		h.Notes = append(h.Notes, fmt.Sprintf("cells with n>1 aggregate (%s) runs differing in %s", o.Agg, strings.Join(vals.Varying, ", ")))
	}
	for _, rl := range axes.Rows {
		row := Row{Label: rl}
		for _, cl := range axes.Cols {
			row.Cells = append(row.Cells, cell(in, axes.Cell(rl, cl), vals.Cell(rl, cl), byID, lo, hi, base))
			if vals.Cell(rl, cl) != nil {
				h.Values++
			}
		}
		h.Rows = append(h.Rows, row)
	}
	return h, nil
}

func cell(in Input, every, val *compare.Cell, byID map[string]compare.Run, lo, hi float64, base *compare.Baseline) Cell {
	if every == nil {
		return Cell{State: StateMissing, Text: stateText[StateMissing], Title: "no run planned here"}
	}
	var c Cell
	var runs []compare.Run
	for _, id := range every.Runs {
		runs = append(runs, byID[id])
	}
	counts := map[store.Status]int{}
	for _, r := range runs {
		counts[r.Status]++
	}
	var title []string
	if val != nil {
		c.State, c.N = StateValue, val.N
		c.Text = compare.FormatValue(val.Value)
		t := 0.5
		if hi > lo {
			t = (val.Value - lo) / (hi - lo)
			if in.Better == Lower {
				t = 1 - t
			}
		}
		bg := Scale(t)
		c.BG, c.FG = bg.Hex(), TextOn(bg).Hex()
		line := fmt.Sprintf("%s = %s", in.Options.Metric, c.Text)
		if val.N > 1 {
			parts := make([]string, len(val.Runs))
			for i, id := range val.Runs {
				parts[i] = id + " " + compare.FormatValue(val.Values[i])
			}
			line += fmt.Sprintf(", %s of %d runs (%s)", in.Options.Agg, val.N, strings.Join(parts, ", "))
		} else {
			line += " (run " + val.Runs[0] + ")"
		}
		title = append(title, line)
		if base != nil {
			c.Delta = compare.FormatDelta(base.Delta(val.Value))
			title = append(title, fmt.Sprintf("%s vs baseline %s", c.Delta, base.Spec))
		}
		if left := len(runs) - val.N; left > 0 {
			title = append(title, fmt.Sprintf("%s not in the value (%s)", plural(left, "run"), statusCounts(counts, val, byID)))
		}
		c.Href = in.Link(byID[val.Runs[0]].Run)
	} else {
		c.State = noValueState(runs)
		c.Text = stateText[c.State]
		title = append(title, fmt.Sprintf("no value of %s: %s", in.Options.Metric, statusCounts(counts, nil, byID)))
		if c.State == StateLeftOut {
			title = append(title, "the runs have a value, of a status not compared (see --status)")
		}
		c.Href = in.Link(runs[0].Run)
	}
	if len(runs) > 1 {
		for _, r := range runs {
			c.Runs = append(c.Runs, RunLink{ID: r.ID, Href: in.Link(r.Run), Status: string(r.Status)})
		}
	}
	c.Mark = mark(in, runs)
	title = append(title, "export: "+c.Mark.Title)
	c.Title = strings.Join(title, "\n")
	return c
}

func noValueState(runs []compare.Run) State {
	has := map[store.Status]bool{}
	left := false
	for _, r := range runs {
		has[r.Status] = true
		if r.HasMetric {
			left = true
		}
	}
	switch {
	case left:
		return StateLeftOut
	case has[store.StatusFailed]:
		return StateFailed
	case has[store.StatusRunning]:
		return StateRunning
	case has[store.StatusPlanned]:
		return StatePlanned
	}
	return StateNoValue
}

// statusCounts says how many runs of each status a cell holds, besides
// the ones its value aggregates.
func statusCounts(counts map[store.Status]int, val *compare.Cell, byID map[string]compare.Run) string {
	c := map[store.Status]int{}
	for s, n := range counts {
		c[s] = n
	}
	if val != nil {
		for _, id := range val.Runs {
			c[byID[id].Status]--
		}
	}
	var parts []string
	for _, s := range store.Statuses {
		if c[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

func mark(in Input, runs []compare.Run) *Mark {
	texts := map[string]bool{}
	worst := ""
	for _, r := range runs {
		v := r.Export.Verdict
		if _, ok := verdictRank[v]; !ok {
			v = store.ExportUnknown
		}
		if worst == "" || verdictRank[v] < verdictRank[worst] {
			worst = v
		}
		texts[in.ExportText(r.Export)] = true
	}
	return &Mark{Verdict: worst, Symbol: verdictSymbol[worst], Title: strings.Join(sortedKeys(texts), "; ")}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return compare.Less(out[i], out[j]) })
	return out
}

// RelLink is the href of target (an absolute path) from the folder dir
// (absolute): relative, with slashes, each segment escaped, and starting
// with ./ or ../ so that no segment reads as a URL scheme.
func RelLink(dir, target string) (string, error) {
	rel, err := filepath.Rel(dir, target)
	if err != nil {
		return "", fmt.Errorf("link to %s from %s: %w", target, dir, err)
	}
	segs := strings.Split(filepath.ToSlash(rel), "/")
	for i, s := range segs {
		segs[i] = escapeSegment(s)
	}
	out := strings.Join(segs, "/")
	if !strings.HasPrefix(out, "../") {
		out = "./" + out
	}
	return out, nil
}

// escapeSegment percent-encodes what a path segment of a relative URL
// cannot hold as is.
func escapeSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~=,+@!$&'()*;:", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func hasParam(points []compare.Point, d string) bool {
	for _, p := range points {
		if _, ok := p.Params[d]; ok {
			return true
		}
	}
	return false
}

func pointsOf(runs []compare.Run) []compare.Point {
	out := make([]compare.Point, len(runs))
	for i, r := range runs {
		out[i] = r.Point
	}
	return out
}
