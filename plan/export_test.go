package plan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/store"
	"github.com/qrun-dev/qrun/vocab"
)

// TestPlanRecordsExportVerdicts: every run carries its combination's export
// verdict — in the result, the manifest and the registry — and the plan
// counts its runs by verdict.
func TestPlanRecordsExportVerdicts(t *testing.T) {
	f := newFixture(t)
	res := f.mustPlan([]string{"quant_pair=int8,w4a8_int", "quant_granularity=default,w_per_tensor,w_group64", "seed=1,2"}, nil)
	want := map[string]modelopt.VerdictKind{
		"int8/default": modelopt.Deployable, "int8/w_per_tensor": modelopt.Mislabelled, "int8/w_group64": modelopt.Fails,
		"w4a8_int/default": modelopt.Mislabelled, "w4a8_int/w_per_tensor": modelopt.Fails, "w4a8_int/w_group64": modelopt.Mislabelled,
	}
	if len(res.Verdicts) != 6 {
		t.Fatalf("%d verdicts, want one per combination (6): %+v", len(res.Verdicts), res.Verdicts)
	}
	for _, v := range res.Verdicts {
		if k := want[v.Format+"/"+v.Granularity]; v.Export.Kind != k || v.Runs != 2 {
			t.Errorf("%s × %s: %s for %d runs, want %s for 2", v.Format, v.Granularity, v.Export.Kind, v.Runs, k)
		}
	}
	counts := res.VerdictCounts()
	if counts[modelopt.Deployable] != 2 || counts[modelopt.Mislabelled] != 6 || counts[modelopt.Fails] != 4 {
		t.Errorf("counts %v, want 2 deployable, 6 mislabelled, 4 fails", counts)
	}
	ctx := context.Background()
	for _, r := range res.Runs {
		k := want[r.Format+"/"+r.Granularity]
		if r.Export.Kind != k {
			t.Errorf("run %s: %s, want %s", r.ID, r.Export.Kind, k)
		}
		reg, err := f.store.Run(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if reg.Export != (store.ExportVerdict{Verdict: string(k), QuantAlgo: r.Export.QuantAlgo, Why: r.Export.Why}) {
			t.Errorf("run %s registered with %+v, want %s %q", r.ID, reg.Export, k, r.Export.QuantAlgo)
		}
		b, err := os.ReadFile(filepath.Join(r.Dir, manifest.ManifestFile))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "export:\n  verdict: "+string(k)+"\n") || !strings.Contains(string(b), "  modelopt: \"0.46\"\n") {
			t.Errorf("%s: manifest lacks its export block:\n%s", r.Dir, b)
		}
	}
}

// TestPlanRequireExport: with --require-export a combination that is not
// deployable is an invalid selection — all listed together, nothing
// written; --skip-invalid plans the deployable ones and lists the others
// with their verdicts.
func TestPlanRequireExport(t *testing.T) {
	f := newFixture(t)
	args := []string{"quant_pair=int8,fp8", "quant_granularity=default,w_per_tensor,w_group64"}
	_, err := f.plan(args, func(o *Options) { o.RequireExport = true })
	var inv *InvalidError
	if !errors.As(err, &inv) || !errors.Is(err, vocab.ErrInvalidSelection) {
		t.Fatalf("require export: %v, want an invalid selection", err)
	}
	// int8 per tensor is mislabelled, int8 and fp8 groups fail; fp8 per tensor is FP8 itself.
	if len(inv.Invalid) != 3 {
		t.Fatalf("%d combinations refused, want 3: %v", len(inv.Invalid), err)
	}
	for _, i := range inv.Invalid {
		if i.Export.Kind == modelopt.Deployable || !strings.Contains(i.Reason, "not deployable with ModelOpt 0.46 (--require-export)") {
			t.Errorf("refused %s × %s: %s", i.Format, i.Granularity, i.Reason)
		}
	}
	if got := snapshot(t, f.root); len(got) != 0 {
		t.Fatalf("a refused plan wrote %d files", len(got))
	}
	if n, _ := f.store.CountRuns(context.Background(), store.RunFilter{}); n != 0 {
		t.Fatalf("a refused plan registered %d runs", n)
	}
	res := f.mustPlan(args, func(o *Options) { o.RequireExport, o.SkipInvalid = true, true })
	if res.Created != 3 || len(res.Skipped) != 3 {
		t.Fatalf("skip-invalid: %d planned, %d skipped; want 3 and 3", res.Created, len(res.Skipped))
	}
	for _, r := range res.Runs {
		if r.Export.Kind != modelopt.Deployable {
			t.Errorf("planned %s × %s: %s", r.Format, r.Granularity, r.Export.Summary())
		}
	}
}

// TestPlanUnverifiedTarget: a ModelOpt target without ground truth gets
// "unverified" everywhere, and --require-export refuses it all (nothing is
// known to deploy).
func TestPlanUnverifiedTarget(t *testing.T) {
	f := newFixture(t)
	res := f.mustPlan([]string{"quant_pair=fp8"}, func(o *Options) { o.Target = modelopt.V044 })
	if len(res.Runs) != 1 || res.Runs[0].Export.Kind != modelopt.Unverified {
		t.Fatalf("0.44: %+v, want unverified", res.Runs)
	}
	reg, _ := f.store.Run(context.Background(), res.Runs[0].ID)
	if reg.Export.Verdict != "unverified" {
		t.Errorf("registered %+v", reg.Export)
	}
	if _, err := f.plan([]string{"quant_pair=fp8", "seed=2"}, func(o *Options) { o.Target, o.RequireExport = modelopt.V044, true }); !errors.Is(err, vocab.ErrInvalidSelection) {
		t.Errorf("require export on an unverified target: %v", err)
	}
}
