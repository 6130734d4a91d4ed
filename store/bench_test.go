package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/qrun-dev/qrun/internal/pgtest"
)

// benchStores opens a fresh registry per backend for a benchmark (the
// PostgreSQL one skips where PostgreSQL is not installed).
func benchStores(b *testing.B, f func(b *testing.B, s Store)) {
	for _, name := range []string{"SQLite", "PostgreSQL"} {
		b.Run(name, func(b *testing.B) {
			loc := filepath.Join(b.TempDir(), "qrun.db")
			if name == "PostgreSQL" {
				pgtest.Shared(b)
				loc = pgtest.NewDatabase(b)
			}
			s, err := Open(context.Background(), loc, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			f(b, s)
		})
	}
}

// benchBatch is a plan of n new runs (seeds from first on) with ~1 KiB
// manifests; benchPlan records it in chunks of 256 as qrun plan does.
func benchBatch(first, n int) PlanBatch {
	var seeds []string
	for i := range n / 4 {
		seeds = append(seeds, fmt.Sprintf(`{"seed":%d}`, first+i))
	}
	b := sweep([]string{qwen}, []def{int8F, fp8F}, []def{g64, g128}, seeds...)
	manifest := make([]byte, 1000)
	for i := range b.Runs {
		b.Runs[i].Files = &RunFiles{Manifest: manifest, Recipe: []byte("recipe\n")}
	}
	return b
}

func benchPlan(ctx context.Context, s Store, b PlanBatch) error {
	return planChunks(ctx, s, b, 256, nil, nil)
}

// BenchmarkPlanInsert: a plan of 1,024 new runs (rows, events, files) into
// a registry that grows by as much each iteration.
func BenchmarkPlanInsert(b *testing.B) {
	benchStores(b, func(b *testing.B, s Store) {
		for i := 0; b.Loop(); i++ {
			if err := benchPlan(context.Background(), s, benchBatch(i*256, 1024)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(1024*b.N)/b.Elapsed().Seconds(), "runs/s")
	})
}

// BenchmarkReplan: the same 1,024 runs planned again (all resumed).
func BenchmarkReplan(b *testing.B) {
	benchStores(b, func(b *testing.B, s Store) {
		if err := benchPlan(context.Background(), s, benchBatch(0, 1024)); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := benchPlan(context.Background(), s, benchBatch(0, 1024)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkQueries: the queries of qrun runs on a registry of 20,480 runs.
func BenchmarkQueries(b *testing.B) {
	benchStores(b, func(b *testing.B, s Store) {
		ctx := context.Background()
		for i := range 20 {
			if err := benchPlan(ctx, s, benchBatch(i*256, 1024)); err != nil {
				b.Fatal(err)
			}
		}
		f := RunFilter{Granularity: []string{g64.name}, Limit: 50}
		b.Run("runs-granularity-limit-50", func(b *testing.B) {
			for b.Loop() {
				if rs, err := s.Runs(ctx, f); err != nil || len(rs) != 50 {
					b.Fatal(len(rs), err)
				}
			}
		})
		b.Run("count-granularity", func(b *testing.B) {
			for b.Loop() {
				if n, err := s.CountRuns(ctx, f); err != nil || n != 10240 {
					b.Fatal(n, err)
				}
			}
		})
		b.Run("models", func(b *testing.B) {
			for b.Loop() {
				if ms, err := s.Models(ctx); err != nil || len(ms) != 1 {
					b.Fatal(ms, err)
				}
			}
		})
	})
}
