package store

import (
	"context"
	"strings"
	"testing"

	"github.com/qrun-dev/qrun/namekind"
)

var fp8Cast = def{"fp8_cast", "quant_cfg: [{quantizer_name: '*[kv]_bmm_quantizer', cfg: {num_bits: [4, 3], use_constant_amax: true}}]\n"}

// withKV gives every run of b the KV-cache setting kv (with its name in the
// batch), its id changed as qrun's would be.
func withKV(b PlanBatch, kv def) PlanBatch {
	b.Names = append(b.Names, kv.use(namekind.KVCache))
	for i := range b.Runs {
		r := &b.Runs[i]
		r.ID = r.ID[:6] + "ffff" + r.ID[10:]
		r.KVCache, r.KVCacheFP = kv.name, fp(kv.text)
		r.Dir += "/" + kv.name
	}
	return b
}

// TestKVCacheIsStoredAndFiltered: a run's KV-cache setting and its
// fingerprint are stored, read back and filtered on; a run without one reads
// back as none; the name is under the same stability rule as the others.
func TestKVCacheIsStoredAndFiltered(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		plain := sweep([]string{qwen}, []def{fp8F}, []def{defaultG, g64})
		kv := withKV(sweep([]string{qwen}, []def{fp8F}, []def{defaultG, g64}), fp8Cast)
		mustPlan(t, s, plain)
		mustPlan(t, s, kv)
		for _, want := range append(plain.Runs, kv.Runs...) {
			got, err := s.Run(ctx, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantKV := want.KVCache
			if wantKV == "" {
				wantKV = NoKVCache
			}
			if got.KVCache != wantKV || got.KVCacheFP != want.KVCacheFP {
				t.Errorf("run %s: kv_cache %q %q, want %q %q", want.ID, got.KVCache, got.KVCacheFP, wantKV, want.KVCacheFP)
			}
		}
		for name, want := range map[string]int{"none": 2, "fp8_cast": 2, "nvfp4": 0} {
			n, err := s.CountRuns(ctx, RunFilter{KVCache: []string{name}})
			if err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Errorf("--kv-cache %s: %d runs, want %d", name, n, want)
			}
		}
		changed := withKV(sweep([]string{qwen}, []def{fp8F}, []def{g128}), def{fp8Cast.name, fp8Cast.text + "# other\n"})
		if _, err := Plan(ctx, s, changed); err == nil || !strings.Contains(err.Error(), "fp8_cast") {
			t.Errorf("a changed KV-cache definition under a used name: %v", err)
		}
	})
}

// TestKVCacheNoneHasNoFingerprint: none and a fingerprint go together only
// for a real setting.
func TestKVCacheNoneHasNoFingerprint(t *testing.T) {
	s := openTest(t, "")
	b := sweep([]string{qwen}, []def{fp8F}, []def{defaultG})
	b.Runs[0].KVCacheFP = fp("x")
	if _, err := Plan(context.Background(), s, b); err == nil {
		t.Error("a run with kv_cache none and a fingerprint was accepted")
	}
	b = sweep([]string{qwen}, []def{fp8F}, []def{defaultG})
	b.Runs[0].KVCache = "fp8_cast"
	if _, err := Plan(context.Background(), s, b); err == nil {
		t.Error("a run with kv_cache fp8_cast and no fingerprint was accepted")
	}
}
