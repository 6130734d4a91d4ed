package plan

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/qrun-dev/qrun/layout"
	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/store"
	"github.com/qrun-dev/qrun/vocab"
)

// BenchmarkPlanSweep plans the 10,016-run sweep (4 formats × 8
// granularities × 313 seeds) into a fresh root and registry each time. Set
// QRUN_BENCH_DIR to measure on another file system (e.g. /dev/shm).
func BenchmarkPlanSweep(b *testing.B) {
	base := os.Getenv("QRUN_BENCH_DIR")
	if base == "" {
		base = b.TempDir()
	}
	sel, err := ParseSelection(Flags{Models: []string{"Qwen/Qwen3-8B"}}, []string{
		"quant_pair=int8,fp8_per_channel_per_token,fp8,w4a8_int",
		"quant_granularity=default,w_per_tensor,w_per_out_channel,w_per_in_channel,w_group64,w_group128,a_per_token_dynamic,a_per_tensor_static",
		"seed=range(0,313)"}, groups, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir, err := os.MkdirTemp(base, "plan")
		if err != nil {
			b.Fatal(err)
		}
		st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "qrun.db"), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := Plan(context.Background(), Options{
			Vocab: vocab.Builtin(), Store: st, OutputRoot: filepath.Join(dir, "outputs"),
			Template: layout.MustParseTemplate(layout.DefaultTemplate), Target: modelopt.DefaultTarget,
			Groups: groups, Now: time.Now,
		}, sel)
		if err != nil || len(res.Runs) != 10016 {
			b.Fatalf("%v (%d runs)", err, len(res.Runs))
		}
		b.StopTimer()
		st.Close()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}
