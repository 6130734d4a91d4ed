package store

import (
	"errors"
	"testing"
	"time"

	"github.com/qrun-dev/qrun/namekind"
)

// TestT20RecordedName: a declared rename records runs under the name the
// registry first recorded its definition under, never under a name with
// another definition, a retired one, or one it does not declare.
func TestT20RecordedName(t *testing.T) {
	t0 := time.Unix(1000, 0)
	reg := func(name, text string, at int, retired bool) Name {
		return Name{Kind: namekind.Granularity, Name: name, Fingerprint: fp(text), CreatedAt: t0.Add(time.Duration(at) * time.Second), Retired: retired}
	}
	newG := def{"w_new32", g64.text}
	for _, c := range []struct {
		what       string
		use        NameUse
		registered []Name
		want       string
	}{
		{"nothing registered", newG.use(namekind.Granularity, "w_old"), nil, "w_new32"},
		{"declared rename", newG.use(namekind.Granularity, "w_old"), []Name{reg("w_old", g64.text, 0, false)}, "w_old"},
		{"both registered: the first", newG.use(namekind.Granularity, "w_old"), []Name{reg("w_new32", g64.text, 5, false), reg("w_old", g64.text, 1, false)}, "w_old"},
		{"same time: the smaller name", newG.use(namekind.Granularity, "w_old"), []Name{reg("w_new32", g64.text, 1, false), reg("w_old", g64.text, 1, false)}, "w_new32"},
		{"an alias with another definition", newG.use(namekind.Granularity, "w_old"), []Name{reg("w_old", g128.text, 0, false)}, "w_new32"},
		{"a retired alias", newG.use(namekind.Granularity, "w_old"), []Name{reg("w_old", g64.text, 0, true)}, "w_new32"},
		{"an undeclared twin", newG.use(namekind.Granularity), []Name{reg("w_old", g64.text, 0, false)}, "w_new32"},
		{"another kind", newG.use(namekind.Format, "w_old"), []Name{reg("w_old", g64.text, 0, false)}, "w_new32"},
	} {
		if got := RecordedName(c.use, c.registered); got != c.want {
			t.Errorf("%s: RecordedName = %s, want %s", c.what, got, c.want)
		}
	}
}

// TestT20RecordedNameFromTheRegistry: FillRecorded reads the lineage from
// the registry, and a plan's Check refuses a recorded name the registry no
// longer agrees with (a conflict: plan again), on both backends.
func TestT20RecordedNameFromTheRegistry(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		uses := []NameUse{def{"w_new", g64.text}.use(namekind.Granularity, g64.name)}
		if err := FillRecorded(ctx, s, uses); err != nil || uses[0].Recorded != "w_new" {
			t.Fatalf("empty registry: Recorded = %q, %v; want w_new", uses[0].Recorded, err)
		}
		stale := uses[0]
		mustPlan(t, s, sweep([]string{qwen}, []def{int8F}, []def{g64}))
		if err := FillRecorded(ctx, s, uses); err != nil || uses[0].Recorded != g64.name {
			t.Fatalf("after a plan of %s: Recorded = %q, %v; want %s", g64.name, uses[0].Recorded, err, g64.name)
		}
		err := s.Update(ctx, func(tx PlanTx) error {
			return tx.Check(PlanHead{Layout: layoutA, Names: []NameUse{int8F.use(namekind.Format), stale}})
		})
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("Check with a stale recorded name = %v, want a conflict", err)
		}
		b := sweep([]string{qwen}, []def{int8F}, []def{g64})
		b.Names[1] = uses[0]
		b.Names[1].Name = "w_new"
		if res := mustPlan(t, s, b); res.Created != 0 {
			t.Fatalf("re-plan under the recorded name: %+v, want the run resumed", res)
		}
	})
}
