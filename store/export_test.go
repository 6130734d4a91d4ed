package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/qrun-dev/qrun/migrations"
)

// withVerdicts gives the batch's runs export verdicts, in turn.
func withVerdicts(b PlanBatch, vs ...ExportVerdict) PlanBatch {
	for i := range b.Runs {
		b.Runs[i].Export = vs[i%len(vs)]
	}
	return b
}

var (
	deployable  = ExportVerdict{Verdict: "deployable", QuantAlgo: "FP8"}
	mislabelled = ExportVerdict{Verdict: "mislabelled", QuantAlgo: "W4A16_AWQ", Why: "activations are int8 per_tensor_static but W4A16_AWQ means none"}
	fails       = ExportVerdict{Verdict: "fails", Why: "weights are int8 group64: …"}
)

func TestExportVerdictsAreStoredAndFiltered(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		b := withVerdicts(sweep([]string{qwen}, []def{int8F, fp8F}, []def{defaultG, g64, g128}), deployable, mislabelled, fails)
		mustPlan(t, s, b)
		for _, want := range b.Runs {
			got, err := s.Run(ctx, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Export != want.Export {
				t.Errorf("run %s: export %+v, want %+v", want.ID, got.Export, want.Export)
			}
		}
		for verdict, want := range map[string]int{"deployable": 2, "mislabelled": 2, "fails": 2, "unknown": 0} {
			runs, err := s.Runs(ctx, RunFilter{Export: []string{verdict}})
			if err != nil {
				t.Fatal(err)
			}
			n, err := s.CountRuns(ctx, RunFilter{Export: []string{verdict}})
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != want || n != want {
				t.Errorf("--export %s: %d runs, count %d; want %d", verdict, len(runs), n, want)
			}
			for _, r := range runs {
				if r.Export.Verdict != verdict {
					t.Errorf("--export %s listed a %s run", verdict, r.Export.Verdict)
				}
			}
		}
		if n, _ := s.CountRuns(ctx, RunFilter{Export: []string{"deployable", "fails"}, Format: []string{int8F.name}}); n != 2 {
			t.Errorf("deployable or failing int8 runs: %d, want 2", n)
		}
		if _, err := s.Runs(ctx, RunFilter{Export: []string{"deployble"}}); err == nil || !strings.Contains(err.Error(), `unknown export verdict "deployble"`) {
			t.Errorf("unknown verdict filter: %v", err)
		}
		bad := withVerdicts(sweep([]string{qwen}, []def{int8F}, []def{perOut}), ExportVerdict{Verdict: "maybe"})
		if _, err := Plan(ctx, s, bad); err == nil || !strings.Contains(err.Error(), `unknown export verdict "maybe"`) {
			t.Errorf("a run with an unknown verdict: %v", err)
		}
	})
}

// TestUnknownVerdictIsFilledByARePlan: a run registered before verdicts is
// "unknown"; re-planning it with the same config for the same ModelOpt
// target fills the verdict in, and nothing else ever changes a registered
// verdict.
func TestUnknownVerdictIsFilledByARePlan(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		b := sweep([]string{qwen}, []def{int8F}, []def{defaultG, g64})
		mustPlan(t, s, b) // no verdicts given: unknown
		for _, r := range b.Runs {
			if got, _ := s.Run(ctx, r.ID); got.Export.Verdict != ExportUnknown {
				t.Fatalf("a run planned without a verdict: %+v, want unknown", got.Export)
			}
		}
		// Another ModelOpt target's verdict is not this run's.
		other := withVerdicts(sweep([]string{qwen}, []def{int8F}, []def{defaultG, g64}), deployable)
		for i := range other.Runs {
			other.Runs[i].ModelOpt = "0.45"
		}
		mustPlan(t, s, other)
		if got, _ := s.Run(ctx, b.Runs[0].ID); got.Export.Verdict != ExportUnknown {
			t.Fatalf("a re-plan for another target filled the verdict: %+v", got.Export)
		}
		res := mustPlan(t, s, withVerdicts(sweep([]string{qwen}, []def{int8F}, []def{defaultG, g64}), deployable, fails))
		if res.Runs[0].Export != deployable || res.Runs[1].Export != fails {
			t.Errorf("re-plan result: %+v, %+v", res.Runs[0].Export, res.Runs[1].Export)
		}
		if got, _ := s.Run(ctx, b.Runs[1].ID); got.Export != fails {
			t.Fatalf("after the re-plan: %+v, want %+v", got.Export, fails)
		}
		before := snapshot(t, s)
		mustPlan(t, s, withVerdicts(sweep([]string{qwen}, []def{int8F}, []def{defaultG, g64}), mislabelled))
		if snapshot(t, s) != before {
			t.Fatalf("a re-plan changed a registered verdict")
		}
	})
}

// TestExportUpgradeGivesUnknown: runs of a registry from before verdicts
// (schema 3) come out of the upgrade "unknown", never with a guessed
// verdict; their ids and everything else stay.
func TestExportUpgradeGivesUnknown(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "qrun.db")
	s := openTest(t, path)
	b := withVerdicts(sweep([]string{qwen}, []def{int8F, fp8F}, []def{g64}), deployable)
	mustPlan(t, s, b)
	migrateDownTo(t, goose.DialectSQLite3, s.db, migrations.SQLite(), 3)
	s.Close()
	s = openTest(t, path) // upgrades again
	for _, want := range b.Runs {
		got, err := s.Run(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		want.Export, want.LayoutFP = ExportVerdict{Verdict: ExportUnknown}, layoutA.Fingerprint
		want.KVCache = NoKVCache // the schema-5 column's default for runs planned before it
		got.CreatedAt, got.UpdatedAt, got.Status = want.CreatedAt, want.UpdatedAt, want.Status
		if got != want {
			t.Errorf("after the upgrade: %+v, want %+v", got, want)
		}
	}
}
