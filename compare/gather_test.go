package compare

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/qrun-dev/qrun/store"
)

func runWith(id string, status store.Status, params string, payloads ...string) store.RunMetrics {
	r := store.RunMetrics{Run: store.Run{ID: id, Model: "m", Format: "int8", Granularity: "default", Params: params, Status: status}}
	for i, p := range payloads {
		r.Metrics = append(r.Metrics, store.Event{ID: int64(i + 1), RunID: id, Kind: store.EventMetric, Payload: p, At: t0.Add(time.Duration(i) * time.Second)})
	}
	return r
}

// TestCollect: the runs with the metric and the parameters become points
// in order; metrics any run recorded are noted; runs of a status not
// compared are counted, not compared.
func TestGather(t *testing.T) {
	runs := []store.RunMetrics{
		runWith("a", store.StatusSucceeded, `{"seed":1}`, `{"acc":0.5}`, `{"acc":0.6}`),
		runWith("b", store.StatusFailed, `{"seed":1}`, `{"acc":0.1}`),
		runWith("c", store.StatusSucceeded, `{"seed":2}`, `{"acc":0.7,"ppl":9}`),
		runWith("d", store.StatusSucceeded, `{}`, `{"bleu":30}`),
		runWith("e", store.StatusPlanned, `{}`),
	}
	succeeded := []store.Status{store.StatusSucceeded}
	cases := []struct {
		name     string
		sel      Query
		points   []string
		excluded map[store.Status]int
		runs     []string
	}{
		{"succeeded", Query{Metric: "acc", Statuses: succeeded}, []string{"a", "c"}, map[store.Status]int{store.StatusFailed: 1}, []string{"a", "b", "c", "d", "e"}},
		{"every status", Query{Metric: "acc"}, []string{"a", "b", "c"}, map[store.Status]int{}, []string{"a", "b", "c", "d", "e"}},
		{"where", Query{Metric: "acc", Where: map[string]string{"seed": "1"}, Statuses: succeeded}, []string{"a"}, map[store.Status]int{store.StatusFailed: 1}, []string{"a", "b"}},
		{"where excludes before status", Query{Metric: "acc", Where: map[string]string{"seed": "2"}, Statuses: succeeded}, []string{"c"}, map[store.Status]int{}, []string{"c"}},
		{"unknown metric", Query{Metric: "acc_typo", Statuses: succeeded}, nil, map[store.Status]int{}, []string{"a", "b", "c", "d", "e"}},
	}
	for _, c := range cases {
		got, err := Gather(runs, c.sel)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var ids []string
		for _, p := range got.Points {
			ids = append(ids, p.RunID)
		}
		if !slices.Equal(ids, c.points) {
			t.Errorf("%s: points %v, want %v", c.name, ids, c.points)
		}
		var runIDs []string
		for _, r := range got.Runs {
			runIDs = append(runIDs, r.ID)
		}
		if !slices.Equal(runIDs, c.runs) {
			t.Errorf("%s: runs %v, want %v", c.name, runIDs, c.runs)
		}
		if !maps.Equal(got.Excluded, c.excluded) {
			t.Errorf("%s: excluded %v, want %v", c.name, got.Excluded, c.excluded)
		}
		if want := map[string]bool{"acc": true, "ppl": true, "bleu": true}; !maps.Equal(got.Seen, want) {
			t.Errorf("%s: recorded %v, want %v", c.name, got.Seen, want)
		}
	}
	got, _ := Gather(runs, Query{Metric: "acc"})
	if p := got.Points[0]; p.Metric.Value != 0.6 || !reflect.DeepEqual(p.Params, map[string]any{"seed": 1}) || p.Format != "int8" {
		t.Errorf("point a = %+v, want the later value 0.6 and seed 1", p)
	}
	if _, err := Gather([]store.RunMetrics{runWith("x", store.StatusSucceeded, `{}`, `{"acc":"high"}`)}, Query{Metric: "acc"}); err == nil {
		t.Error("a metric payload of text was read")
	}
}

// TestDecodeParams: integers come back as int and other numbers as
// float64 (what labels and --param compare); text that is no object gives
// no parameters.
func TestDecodeParams(t *testing.T) {
	for in, want := range map[string]map[string]any{
		`{}`:                            {},
		`{"seed":1,"lr":0.5,"tag":"x"}`: {"seed": 1, "lr": 0.5, "tag": "x"},
		`{"m":-2,"e":1e3,"flag":true}`:  {"m": -2, "e": 1000.0, "flag": true},
		`{"big":1e400}`:                 {"big": json.Number("1e400")},
		`not json`:                      {},
		`[1]`:                           {},
	} {
		if got := DecodeParams(in); !reflect.DeepEqual(got, want) {
			t.Errorf("DecodeParams(%s) = %#v, want %#v", in, got, want)
		}
	}
}
