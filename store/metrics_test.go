package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestRunsWithMetrics: the runs Runs lists for a filter (order and limit
// too), each with exactly the metric events Events has for it, in order;
// a run without metrics has none.
func TestRunsWithMetrics(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		b1 := sweep([]string{qwen}, []def{int8F, fp8F}, []def{g64, g128})
		b1.At = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		b2 := sweep([]string{"Qwen/Qwen3-4B"}, []def{int8F}, []def{g64}, `{"seed":1}`, `{"seed":2}`)
		b2.At = b1.At.Add(time.Hour)
		mustPlan(t, s, b1)
		mustPlan(t, s, b2)
		marks := []struct {
			id      string
			status  Status
			metrics map[string]float64
		}{
			{b1.Runs[0].ID, StatusSucceeded, map[string]float64{"acc": 0.5}},
			{b1.Runs[0].ID, "", map[string]float64{"acc": 0.6, "ppl": 9.5}},
			{b1.Runs[1].ID, StatusFailed, nil},
			{b2.Runs[1].ID, StatusSucceeded, map[string]float64{"acc": 0.7}},
			{b1.Runs[3].ID, StatusRunning, map[string]float64{"ppl": 11}},
		}
		for _, m := range marks {
			if err := s.Mark(ctx, m.id, m.status, m.metrics, ""); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range []RunFilter{
			{},
			{Format: []string{"int8"}},
			{Model: []string{qwen}, Granularity: []string{"w_group64"}},
			{Status: []string{"succeeded"}},
			{Limit: 3},
			{Granularity: []string{"w_group32"}},
		} {
			name := fmt.Sprintf("%+v", f)
			got, err := s.RunsWithMetrics(ctx, f)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want, err := s.Runs(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var gotRuns []Run
			for _, r := range got {
				gotRuns = append(gotRuns, r.Run)
			}
			if !slices.Equal(runIDs(gotRuns), runIDs(want)) {
				t.Fatalf("%s: runs %v, want %v as Runs lists them", name, runIDs(gotRuns), runIDs(want))
			}
			for i, r := range got {
				if r.Status != want[i].Status || r.Params != want[i].Params || !r.CreatedAt.Equal(want[i].CreatedAt) {
					t.Errorf("%s: run %s = %+v, want %+v", name, r.ID, r.Run, want[i])
				}
				events, err := s.Events(ctx, r.ID)
				if err != nil {
					t.Fatal(err)
				}
				wantMetrics := []Event{}
				for _, e := range events {
					if e.Kind == EventMetric {
						wantMetrics = append(wantMetrics, e)
					}
				}
				if !slices.EqualFunc(r.Metrics, wantMetrics, func(a, b Event) bool {
					return a.ID == b.ID && a.RunID == b.RunID && a.Kind == b.Kind && a.Status == b.Status &&
						a.Payload == b.Payload && a.At.Equal(b.At)
				}) {
					t.Errorf("%s: run %s metrics %+v, want %+v", name, r.ID, r.Metrics, wantMetrics)
				}
			}
		}
		all, _ := s.RunsWithMetrics(ctx, RunFilter{})
		n := map[string]int{}
		for _, r := range all {
			n[r.ID] = len(r.Metrics)
		}
		for id, want := range map[string]int{b1.Runs[0].ID: 2, b1.Runs[1].ID: 0, b1.Runs[3].ID: 1, b2.Runs[1].ID: 1} {
			if n[id] != want {
				t.Errorf("run %s: %d metric events, want %d", id, n[id], want)
			}
		}
		if _, err := s.RunsWithMetrics(ctx, RunFilter{Status: []string{"done"}}); err == nil {
			t.Error("an unknown status was accepted")
		}
	})
}

// BenchmarkCompareQueries: what qrun compare reads for 1,000 runs with a
// metric each, before (Runs, then Events per run: 1,001 queries) and after
// (RunsWithMetrics: one).
func BenchmarkCompareQueries(b *testing.B) {
	benchStores(b, func(b *testing.B, s Store) {
		ctx := context.Background()
		if err := benchPlan(ctx, s, benchBatch(0, 1000)); err != nil {
			b.Fatal(err)
		}
		runs, err := s.Runs(ctx, RunFilter{})
		if err != nil || len(runs) != 1000 {
			b.Fatalf("%d runs, %v", len(runs), err)
		}
		for i, r := range runs {
			if err := s.Mark(ctx, r.ID, StatusSucceeded, map[string]float64{"acc": float64(i)}, ""); err != nil {
				b.Fatal(err)
			}
		}
		b.Run("RunsThenEvents", func(b *testing.B) {
			for b.Loop() {
				runs, err := s.Runs(ctx, RunFilter{})
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range runs {
					if _, err := s.Events(ctx, r.ID); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(1001, "queries/op")
		})
		b.Run("RunsWithMetrics", func(b *testing.B) {
			for b.Loop() {
				if _, err := s.RunsWithMetrics(ctx, RunFilter{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(1, "queries/op")
		})
	})
}
