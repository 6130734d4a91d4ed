package compare

import (
	"errors"
	"math"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/qrun-dev/qrun/store"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestMetricsLaterValuesWin(t *testing.T) {
	events := []store.Event{
		{ID: 1, RunID: "r", Kind: store.EventPlan, Payload: `{"model":"m"}`, At: t0},
		{ID: 2, RunID: "r", Kind: store.EventMetric, Payload: `{"acc":0.5,"ppl":9}`, At: t0.Add(time.Second)},
		{ID: 3, RunID: "r", Kind: store.EventStatus, Payload: `{"from":"planned","to":"succeeded"}`, At: t0.Add(2 * time.Second)},
		{ID: 4, RunID: "r", Kind: store.EventMetric, Payload: `{"acc":0.71}`, At: t0.Add(2 * time.Second)},
	}
	m, err := Metrics(events)
	if err != nil {
		t.Fatal(err)
	}
	if m["acc"].Value != 0.71 || m["acc"].Event != 4 || m["ppl"].Value != 9 || len(m) != 2 {
		t.Fatalf("metrics = %+v", m)
	}
	if _, err := Metrics([]store.Event{{ID: 9, RunID: "r", Kind: store.EventMetric, Payload: `{"acc":"high"}`}}); err == nil {
		t.Fatal("a non-number payload was read")
	}
}

func pt(id, model, format, gran string, params map[string]any, v float64, at int) Point {
	return Point{RunID: id, Model: model, Format: format, Granularity: gran, Params: params,
		Metric: Metric{Value: v, At: t0.Add(time.Duration(at) * time.Second), Event: int64(at)}}
}

func seed(n int) map[string]any { return map[string]any{"seed": n} }

func TestBuildPivotAndAggregations(t *testing.T) {
	points := []Point{
		pt("a", "Q", "int8", "w_group128", seed(1), 0.70, 1),
		pt("b", "Q", "int8", "w_group128", seed(2), 0.72, 3),
		pt("c", "Q", "int8", "w_group128", seed(3), 0.71, 2),
		pt("d", "Q", "int8", "w_group64", seed(1), 0.75, 4),
		pt("e", "Q", "fp8", "w_group64", seed(1), 0.80, 5),
	}
	want := map[Agg]float64{AggLast: 0.72, AggMin: 0.70, AggMax: 0.72, AggMean: 0.71}
	for agg, v := range want {
		tb, err := Build(points, Options{Metric: "acc", Rows: DimFormat, Cols: DimGranularity, Agg: agg})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(tb.Rows, []string{"fp8", "int8"}) || !reflect.DeepEqual(tb.Cols, []string{"w_group64", "w_group128"}) {
			t.Fatalf("rows %v cols %v", tb.Rows, tb.Cols)
		}
		c := tb.Cell("int8", "w_group128")
		if c == nil || c.N != 3 || math.Abs(c.Value-v) > 1e-12 {
			t.Errorf("%s: cell = %+v, want %v", agg, c, v)
		}
		if tb.Cell("fp8", "w_group128") != nil {
			t.Error("a cell without runs is filled")
		}
		if !reflect.DeepEqual(tb.Varying, []string{"seed"}) {
			t.Errorf("varying = %v", tb.Varying)
		}
	}
}

func TestBuildByParamAndWhere(t *testing.T) {
	points := []Point{
		pt("a", "Q", "int8", "g", seed(10), 1, 1),
		pt("b", "Q", "int8", "g", seed(2), 2, 2),
		pt("c", "Q", "fp8", "g", nil, 3, 3),
	}
	tb, err := Build(points, Options{Rows: DimFormat, Cols: "seed", Agg: AggLast})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tb.Cols, []string{"2", "10", NoneLabel}) {
		t.Fatalf("cols = %v", tb.Cols)
	}
	tb, err = Build(points, Options{Rows: DimFormat, Cols: DimGranularity, Agg: AggLast, Where: map[string]string{"seed": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.Cells) != 1 || tb.Cell("int8", "g").Value != 2 {
		t.Fatalf("where seed=2: %+v", tb.Cells)
	}
	if _, err := Build(points, Options{Rows: DimFormat, Cols: "sed", Agg: AggLast}); err == nil {
		t.Fatal("a parameter no run has was accepted")
	}
}

func TestBuildRefusesMixedConfigurations(t *testing.T) {
	points := []Point{
		pt("a", "org1/Q", "int8", "g", nil, 1, 1),
		pt("b", "org2/Q", "int8", "g", nil, 2, 2),
	}
	_, err := Build(points, Options{Rows: DimFormat, Cols: DimGranularity, Agg: AggLast})
	var mix *MixError
	if !errors.As(err, &mix) || mix.Dim != DimModel {
		t.Fatalf("err = %v", err)
	}
	if _, err := Build(points, Options{Rows: DimModel, Cols: DimGranularity, Agg: AggLast}); err != nil {
		t.Fatal(err)
	}
	// Rows = model, cols = seed: formats would mix.
	points = append(points, pt("c", "org1/Q", "fp8", "g", nil, 3, 3))
	if _, err := Build(points, Options{Rows: DimModel, Cols: DimGranularity, Agg: AggLast}); !errors.As(err, &mix) || mix.Dim != DimFormat {
		t.Fatalf("err = %v", err)
	}
}

func TestBuildUsage(t *testing.T) {
	if _, err := Build(nil, Options{Rows: DimFormat, Cols: DimFormat, Agg: AggLast}); err == nil {
		t.Error("rows = cols accepted")
	}
	if _, err := Build(nil, Options{Rows: DimFormat, Cols: DimGranularity, Agg: "median"}); err == nil {
		t.Error("unknown aggregation accepted")
	}
	if _, err := Build(nil, Options{Rows: DimFormat, Cols: "a b", Agg: AggLast}); err == nil {
		t.Error("invalid dimension accepted")
	}
}

func TestLessIsNatural(t *testing.T) {
	got := []string{"w_group128", NoneLabel, "default", "w_group64", "w_group32", "10", "9", "a_per_token_dynamic"}
	sort.Slice(got, func(i, j int) bool { return Less(got[i], got[j]) })
	want := []string{"9", "10", "a_per_token_dynamic", "default", "w_group32", "w_group64", "w_group128", NoneLabel}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{
		0.712: "0.712", 0.7123333333333334: "0.712333", 5: "5", 1234567: "1234567", 1e-7: "1e-07", -2.5: "-2.5",
	} {
		if got := FormatValue(v); got != want {
			t.Errorf("FormatValue(%v) = %q, want %q", v, got, want)
		}
	}
}
