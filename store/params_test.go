package store

import (
	"testing"
)

// TestTypedParamsFilterAndRefresh: a filter's "key":value pairs match the
// params JSON with its type (1000 is not 1000.0, nor "1000"), and a run
// registered before params kept their type ({"seed":1000} for a float)
// gets its typed JSON when it is re-planned, its id unchanged; on both
// backends.
func TestTypedParamsFilterAndRefresh(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		b := sweep([]string{qwen}, []def{int8F}, []def{g64}, `{"a":1,"seed":1000}`, `{"seed":1000.0}`, `{"seed":"1000"}`, `{"seed":10000}`)
		mustPlan(t, s, b)
		for pair, want := range map[string]int{`"seed":1000`: 1, `"seed":1000.0`: 1, `"seed":"1000"`: 1, `"a":1`: 1, `"seed":1`: 0} {
			n, err := s.CountRuns(ctx, RunFilter{Params: []string{pair}})
			if err != nil || n != want {
				t.Errorf("runs with %s: %d, %v; want %d", pair, n, err, want)
			}
		}
		if n, _ := s.CountRuns(ctx, RunFilter{Params: []string{`"a":1`, `"seed":1000`}}); n != 1 {
			t.Errorf("runs with a=1 and seed=1000: %d, want 1", n)
		}

		// A float's row as an older qrun wrote it, re-planned typed.
		old := sweep([]string{qwen}, []def{int8F}, []def{g128}, `{"seed":2000}`)
		mustPlan(t, s, old)
		again := old
		again.Runs = []Run{old.Runs[0]}
		again.Runs[0].Params = `{"seed":2000.0}`
		if res := mustPlan(t, s, again); res.Created != 0 {
			t.Fatalf("re-plan: %+v, want the run resumed", res)
		}
		r, err := s.Run(ctx, old.Runs[0].ID)
		if err != nil || r.Params != `{"seed":2000.0}` {
			t.Fatalf("re-planned run: params %s, %v; want {\"seed\":2000.0}", r.Params, err)
		}
	})
}
