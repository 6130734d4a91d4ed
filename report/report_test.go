package report

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qrun-dev/qrun/compare"
	"github.com/qrun-dev/qrun/internal/goldenfile"
	"github.com/qrun-dev/qrun/store"
)

func TestScaleEndpointsAndMonotonicLightness(t *testing.T) {
	if Scale(0) != viridis[0] || Scale(1) != viridis[len(viridis)-1] {
		t.Errorf("ends %v %v, want %v %v", Scale(0), Scale(1), viridis[0], viridis[len(viridis)-1])
	}
	if Scale(-3) != Scale(0) || Scale(7) != Scale(1) {
		t.Error("out-of-range t is not clamped")
	}
	prev := -1.0
	for i := 0; i <= 200; i++ {
		l := Scale(float64(i) / 200).Luminance()
		if l <= prev {
			t.Fatalf("lightness not increasing at t=%v: %v after %v", float64(i)/200, l, prev)
		}
		prev = l
	}
}

// TestTextReadableOnEveryCell: the text colour chosen for any cell colour
// meets WCAG AA for normal text (4.5:1).
func TestTextReadableOnEveryCell(t *testing.T) {
	for i := 0; i <= 200; i++ {
		bg := Scale(float64(i) / 200)
		if c := Contrast(bg, TextOn(bg)); c < 4.5 {
			t.Errorf("t=%v: %s text on %s has contrast %.2f", float64(i)/200, TextOn(bg).Hex(), bg.Hex(), c)
		}
	}
	if TextOn(Scale(0)) != white || TextOn(Scale(1)) != black {
		t.Error("want white text on the dark end, black on the light end")
	}
}

func TestRelLink(t *testing.T) {
	for _, c := range []struct{ dir, target, want string }{
		{"/p", "/p/outputs/Qwen3-8B/int8/default/manifest.yaml", "./outputs/Qwen3-8B/int8/default/manifest.yaml"},
		{"/p/reports", "/p/outputs/m/int8/w_group64/seed=1/manifest.yaml", "../outputs/m/int8/w_group64/seed=1/manifest.yaml"},
		{"/p", "/p/outputs/m/f/g/calib_size=512,seed=1/manifest.yaml", "./outputs/m/f/g/calib_size=512,seed=1/manifest.yaml"},
		{"/p", "/p/a b/c#d?e%f/manifest.yaml", "./a%20b/c%23d%3Fe%25f/manifest.yaml"},
		{"/p", "/p/javascript:x/manifest.yaml", "./javascript:x/manifest.yaml"},
		{"/p/q/r", "/s/manifest.yaml", "../../../s/manifest.yaml"},
	} {
		got, err := RelLink(c.dir, c.target)
		if err != nil || got != c.want {
			t.Errorf("RelLink(%s, %s) = %q, %v; want %q", c.dir, c.target, got, err, c.want)
		}
	}
}

type fakeRun struct {
	id, model, format, gran, status, verdict string
	params                                   string
	value                                    float64
	has                                      bool
}

// fixture makes gathered runs as compare.Gather does (succeeded compared).
func fixture(runs []fakeRun) *compare.Gathered {
	g := &compare.Gathered{Seen: map[string]bool{}, Excluded: map[store.Status]int{}}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, f := range runs {
		if f.params == "" {
			f.params = "{}"
		}
		r := store.Run{
			ID: f.id, Model: f.model, Format: f.format, Granularity: f.gran, Params: f.params,
			Dir: "/p/outputs/" + f.id, ModelOpt: "0.46", Status: store.Status(f.status),
			Export: store.ExportVerdict{Verdict: f.verdict, Why: "why " + f.id},
		}
		p := compare.Point{RunID: f.id, Model: f.model, Format: f.format, Granularity: f.gran, Params: compare.DecodeParams(f.params)}
		if f.has {
			p.Metric = compare.Metric{Value: f.value, At: at, Event: int64(i)}
		}
		run := compare.Run{Run: r, Point: p, HasMetric: f.has}
		if f.has && r.Status == store.StatusSucceeded {
			run.Compared = true
			g.Points = append(g.Points, p)
		}
		g.Runs = append(g.Runs, run)
	}
	return g
}

func input(g *compare.Gathered) Input {
	return Input{
		Project: "sweep", ProjectPath: "/p", Version: "v1.2.3",
		Generated: time.Unix(1767323045, 0),
		Options:   compare.Options{Metric: "wikitext_ppl", Rows: compare.DimFormat, Cols: compare.DimGranularity, Agg: compare.AggMean},
		Better:    Lower, Gathered: g,
		Link: func(r store.Run) string {
			l, _ := RelLink("/p", r.Dir+"/manifest.yaml")
			return l
		},
		ExportText: func(e store.ExportVerdict) string { return e.Verdict + ": " + e.Why },
	}
}

var sweep = []fakeRun{
	{id: "aaaa00000001", model: "Qwen/Qwen3-8B", format: "fp8", gran: "default", status: "succeeded", verdict: "deployable", value: 10.5, has: true},
	{id: "aaaa00000002", model: "Qwen/Qwen3-8B", format: "int8", gran: "default", status: "succeeded", verdict: "mislabelled", value: 11, has: true},
	{id: "aaaa00000003", model: "Qwen/Qwen3-8B", format: "int8", gran: "w_group64", status: "failed", verdict: "fails"},
	{id: "aaaa00000004", model: "Qwen/Qwen3-8B", format: "nvfp4", gran: "w_group64", status: "running", verdict: "deployable"},
	{id: "aaaa00000005", model: "Qwen/Qwen3-8B", format: "nvfp4", gran: "default", status: "planned", verdict: "unverified"},
	{id: "aaaa00000006", model: "Qwen/Qwen3-8B", format: "fp8", gran: "w_group128", status: "succeeded", verdict: "deployable"},
	{id: "aaaa00000007", model: "Qwen/Qwen3-8B", format: "fp8", gran: "w_group64", status: "failed", verdict: "deployable", value: 99, has: true},
	{id: "bbbb00000001", model: "Qwen/Qwen3-4B", format: "fp8", gran: "default", status: "succeeded", verdict: "deployable", value: 12, has: true},
	{id: "bbbb00000002", model: "Qwen/Qwen3-4B", format: "int8", gran: "default", status: "succeeded", verdict: "deployable", value: 13, has: true},
}

func cellAt(t *testing.T, h Heatmap, row, col string) Cell {
	t.Helper()
	ci := -1
	for i, c := range h.Cols {
		if c == col {
			ci = i
		}
	}
	for _, r := range h.Rows {
		if r.Label == row && ci >= 0 {
			return r.Cells[ci]
		}
	}
	t.Fatalf("no cell %s × %s in %v × %v", row, col, h.Rows, h.Cols)
	return Cell{}
}

func TestCellStatesAndMarks(t *testing.T) {
	in := input(fixture(sweep))
	in.Baseline = "fp8/default"
	r, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Heatmaps) != 2 || r.Heatmaps[0].Model != "Qwen/Qwen3-4B" || r.Heatmaps[1].Model != "Qwen/Qwen3-8B" {
		t.Fatalf("heatmaps %+v, want one per model, in natural order", r.Heatmaps)
	}
	h := r.Heatmaps[1]
	for _, c := range []struct {
		row, col string
		state    State
		text     string
		symbol   string
	}{
		{"fp8", "default", StateValue, "10.5", "✓"},
		{"int8", "default", StateValue, "11", "⚠"},
		{"int8", "w_group64", StateFailed, "failed", "✗"},
		{"nvfp4", "w_group64", StateRunning, "running", "✓"},
		{"nvfp4", "default", StatePlanned, "planned", "?"},
		{"fp8", "w_group128", StateNoValue, "no value", "✓"},
		{"fp8", "w_group64", StateLeftOut, "left out", "✓"},
		{"int8", "w_group128", StateMissing, "no run", ""},
	} {
		got := cellAt(t, h, c.row, c.col)
		if got.State != c.state || got.Text != c.text {
			t.Errorf("%s × %s: %s %q, want %s %q", c.row, c.col, got.State, got.Text, c.state, c.text)
		}
		sym := ""
		if got.Mark != nil {
			sym = got.Mark.Symbol
		}
		if sym != c.symbol {
			t.Errorf("%s × %s: mark %q, want %q", c.row, c.col, sym, c.symbol)
		}
		if c.state != StateMissing && !strings.HasPrefix(got.Href, "./outputs/aaaa") {
			t.Errorf("%s × %s: href %q", c.row, c.col, got.Href)
		}
	}
	best, worst := cellAt(t, h, "fp8", "default"), cellAt(t, h, "int8", "default")
	if best.BG != Scale(1).Hex() || worst.BG != Scale(0).Hex() {
		t.Errorf("lower is better: best %s worst %s, want %s and %s", best.BG, worst.BG, Scale(1).Hex(), Scale(0).Hex())
	}
	if best.Delta != "+0" || worst.Delta != "+0.5" {
		t.Errorf("deltas %q %q", best.Delta, worst.Delta)
	}
	if !strings.Contains(worst.Mark.Title, "mislabelled: why aaaa00000002") {
		t.Errorf("mark title %q", worst.Mark.Title)
	}
	// The 4B model has its own baseline.
	if !strings.HasPrefix(r.Heatmaps[0].Baseline, "fp8/default = 12 ") {
		t.Errorf("4B baseline %q", r.Heatmaps[0].Baseline)
	}

	in.Better = Higher
	r, err = Build(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := cellAt(t, r.Heatmaps[1], "fp8", "default").BG; got != Scale(0).Hex() {
		t.Errorf("higher is better: the lowest value is %s, want %s", got, Scale(0).Hex())
	}
}

func TestBuildRefusals(t *testing.T) {
	in := input(fixture(sweep))
	in.Options.Rows = compare.DimModel
	in.Options.Cols = "seed"
	if _, err := Build(in); err == nil || !strings.Contains(err.Error(), `no run has a parameter "seed"`) {
		t.Errorf("a parameter no run has: %v", err)
	}
	in = input(fixture(sweep))
	in.Options.Cols = compare.DimModel
	if _, err := Build(in); err == nil || !strings.Contains(err.Error(), "would share cells") {
		t.Errorf("granularities mixed in one cell: %v", err)
	}
	in = input(fixture(sweep))
	in.Baseline = "nvfp4/default"
	if _, err := Build(in); err == nil || !strings.Contains(err.Error(), "no compared run has format nvfp4") {
		t.Errorf("a baseline no model has: %v", err)
	}
	in = input(fixture(sweep))
	in.Better = "up"
	if _, err := Build(in); err == nil {
		t.Error("direction up accepted")
	}
}

var (
	networkRE = regexp.MustCompile(`(?i)https?://|(src|href)\s*=\s*"?//|<script|<link|@import|url\(`)
	hostile   = []fakeRun{
		{id: "cccc00000001", model: `evil/<script>alert("m")</script>`, format: "fp8", gran: "default", status: "succeeded", verdict: "deployable", params: `{"tag":"\"><img src=x onerror=alert(1)>"}`, value: 1, has: true},
		{id: "cccc00000002", model: `evil/<script>alert("m")</script>`, format: "fp8", gran: "w_group64", status: "succeeded", verdict: "fails", params: `{"tag":"</td><td>"}`, value: 2, has: true},
	}
)

// offlinePage builds in's report and renders its page, which must refer to
// nothing on the network.
func offlinePage(t *testing.T, in Input) []byte {
	t.Helper()
	r, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	page, err := r.HTML()
	if err != nil {
		t.Fatal(err)
	}
	if m := networkRE.FindString(string(page)); m != "" {
		t.Errorf("output refers to the network: %q", m)
	}
	return page
}

func TestHostileNamesAreEscaped(t *testing.T) {
	in := input(fixture(hostile))
	in.Options.Cols = "tag"
	in.Options.Rows = compare.DimGranularity
	in.Project = `<b>proj</b>`
	in.Filters = []string{`--param tag="><script>`}
	s := string(offlinePage(t, in))
	for _, bad := range []string{"<script", "<img", "<b>proj", "</td><td>"} {
		if strings.Contains(s, bad) {
			t.Errorf("output holds %q unescaped", bad)
		}
	}
	if !strings.Contains(s, "&lt;script&gt;alert(&#34;m&#34;)&lt;/script&gt;") {
		t.Error("the model name is not shown escaped")
	}
}

// TestGolden pins the whole page for a small sweep (go test ./report/
// -update rewrites it).
func TestGolden(t *testing.T) {
	in := input(fixture(sweep))
	in.Baseline = "fp8/default"
	in.Filters = []string{"--model Qwen/Qwen3-8B,Qwen/Qwen3-4B"}
	goldenfile.Check(t, "report.html", offlinePage(t, in))
}
