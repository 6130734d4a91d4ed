package store

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/qrun-dev/qrun/namekind"
)

// The rule of name stability, table-driven: CheckNames is the one place it
// is written, for plans and for qrun vocab check alike. (The store's plan
// tests and cmd/qrun's scripts check the wiring: what the registry reads
// for it, the counts of runs, the messages.)
func TestCheckNames(t *testing.T) {
	g := func(name, def string, aliases ...string) NameUse {
		return NameUse{Kind: namekind.Granularity, Name: name, Fingerprint: fp(def), Definition: def, Aliases: aliases}
	}
	f := func(name, def string, aliases ...string) NameUse {
		u := g(name, def, aliases...)
		u.Kind = namekind.Format
		return u
	}
	reg := func(u NameUse, firstRun string) Name {
		return Name{Kind: u.Kind, Name: u.Name, Fingerprint: u.Fingerprint, Definition: u.Definition, FirstRun: firstRun}
	}
	retired := func(n Name) Name { n.Retired = true; return n }
	const d64, d32, d128 = "block: 64\n", "block: 32\n", "block: 128\n"

	cases := []struct {
		name       string
		scope      Scope
		inUse      []NameUse
		registered []Name
		fresh      []string // names
		violations []string // "reason kind name registered"
	}{
		{name: "new name, empty registry", inUse: []NameUse{g("w_group64", d64)}, fresh: []string{"w_group64"}},
		{name: "registered, same meaning", inUse: []NameUse{g("w_group64", d64)},
			registered: []Name{reg(g("w_group64", d64), "r1")}},
		{name: "registered, meaning changed", inUse: []NameUse{g("w_group64", d32)},
			registered: []Name{reg(g("w_group64", d64), "r1")},
			violations: []string{"meaning changed granularity w_group64 w_group64"}},
		{name: "another kind's name is another name", inUse: []NameUse{g("int8", d32)},
			registered: []Name{reg(f("int8", d64), "r1")}, fresh: []string{"int8"}},
		{name: "retired, planned", inUse: []NameUse{g("w_group64", d64)},
			registered: []Name{retired(reg(g("w_group64", d64), "r1"))},
			violations: []string{"retired granularity w_group64 w_group64"}},
		{name: "retired and changed, planned: retired", inUse: []NameUse{g("w_group64", d32)},
			registered: []Name{retired(reg(g("w_group64", d64), "r1"))},
			violations: []string{"retired granularity w_group64 w_group64"}},
		{name: "retired, in the vocabulary", scope: ScopeVocabulary, inUse: []NameUse{g("w_group64", d64)},
			registered: []Name{retired(reg(g("w_group64", d64), "r1"))}},
		{name: "rename in disguise", inUse: []NameUse{g("w_g64", d64)},
			registered: []Name{reg(g("w_group64", d64), "r1")},
			violations: []string{"rename in disguise granularity w_g64 w_group64"}},
		{name: "rename in disguise, in the vocabulary", scope: ScopeVocabulary,
			inUse:      []NameUse{g("w_g64", d64), g("w_group64", d64)},
			registered: []Name{reg(g("w_group64", d64), "r1")},
			violations: []string{"rename in disguise granularity w_g64 w_group64"}},
		{name: "the same definition under another kind is no rename", inUse: []NameUse{f("w_group64_fmt", d64)},
			registered: []Name{reg(g("w_group64", d64), "r1")}, fresh: []string{"w_group64_fmt"}},
		{name: "declared rename", inUse: []NameUse{g("w_g64", d64, "w_group64")},
			registered: []Name{reg(g("w_group64", d64), "r1")}, fresh: []string{"w_g64"}},
		{name: "every twin is reported", inUse: []NameUse{g("w_grp64", d64)},
			registered: []Name{reg(g("w_g64", d64), "r2"), reg(g("w_group64", d64), "r1")},
			violations: []string{"rename in disguise granularity w_grp64 w_g64", "rename in disguise granularity w_grp64 w_group64"}},
		{name: "a twin declared, another not", inUse: []NameUse{g("w_grp64", d64, "w_group64")},
			registered: []Name{reg(g("w_g64", d64), "r2"), reg(g("w_group64", d64), "r1")},
			violations: []string{"rename in disguise granularity w_grp64 w_g64"}},
		{name: "an alias whose meaning changed", inUse: []NameUse{g("w_g64", d32, "w_group64")},
			registered: []Name{reg(g("w_group64", d64), "r1")},
			violations: []string{"meaning changed granularity w_g64 w_group64"}},
		{name: "an alias whose meaning changed, in the vocabulary", scope: ScopeVocabulary,
			inUse:      []NameUse{g("w_g64", d32, "w_group64")},
			registered: []Name{reg(g("w_group64", d64), "r1")},
			violations: []string{"meaning changed granularity w_g64 w_group64"}},
		{name: "a registered name and its alias, both changed", inUse: []NameUse{g("w_g64", d32, "w_group64")},
			registered: []Name{reg(g("w_g64", d64), "r2"), reg(g("w_group64", d64), "r1")},
			violations: []string{"meaning changed granularity w_g64 w_g64", "meaning changed granularity w_g64 w_group64"}},
		{name: "two new names with one definition", inUse: []NameUse{g("w_group64", d64), g("w_g64", d64)},
			fresh: []string{"w_group64"}, violations: []string{"rename in disguise granularity w_g64 w_group64"}},
		{name: "two new names with one definition, declared", inUse: []NameUse{g("w_group64", d64), g("w_g64", d64, "w_group64")},
			fresh: []string{"w_group64", "w_g64"}},
		{name: "two new names with one definition, in the vocabulary", scope: ScopeVocabulary,
			inUse: []NameUse{g("w_group64", d64), g("w_g64", d64)}, fresh: []string{"w_group64", "w_g64"}},
		{name: "a blocked name does not count as new", inUse: []NameUse{g("w_g64", d64), g("w_grp64", d64)},
			registered: []Name{reg(g("w_group64", d64), "r1")},
			violations: []string{"rename in disguise granularity w_g64 w_group64", "rename in disguise granularity w_grp64 w_group64"}},
		{name: "missing from the vocabulary", scope: ScopeVocabulary, inUse: []NameUse{g("w_group64", d64)},
			registered: []Name{reg(g("w_group128", d128), "r2"), reg(g("w_group64", d64), "r1")},
			violations: []string{"missing granularity w_group128 w_group128"}},
		{name: "an alias now: not missing", scope: ScopeVocabulary, inUse: []NameUse{g("w_g128", d128, "w_group128")},
			registered: []Name{reg(g("w_group128", d128), "r2")}, fresh: []string{"w_g128"}},
		{name: "not in the plan: not missing", inUse: []NameUse{g("w_group64", d64)},
			registered: []Name{reg(g("w_group128", d128), "r2"), reg(g("w_group64", d64), "r1")}},
		{name: "in order: names in use, then the missing", scope: ScopeVocabulary,
			inUse:      []NameUse{f("fp8", d32), g("w_g64", d64), g("w_group128", d32)},
			registered: []Name{reg(f("fp8", d64), "r1"), reg(g("w_gone", d128), "r3"), reg(g("w_group128", d128), "r2"), reg(g("w_group64", d64), "r1")},
			fresh:      []string{},
			violations: []string{"meaning changed format fp8 fp8", "rename in disguise granularity w_g64 w_group64",
				"meaning changed granularity w_group128 w_group128", "missing granularity w_gone w_gone", "missing granularity w_group64 w_group64"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fresh, violations := CheckNames(c.inUse, c.registered, c.scope)
			var gotFresh, got []string
			for _, u := range fresh {
				gotFresh = append(gotFresh, u.Name)
			}
			for _, v := range violations {
				got = append(got, fmt.Sprintf("%s %s %s %s", v.Reason, v.Kind, v.Name, v.Registered))
			}
			if !slices.Equal(gotFresh, c.fresh) && !(len(gotFresh) == 0 && len(c.fresh) == 0) {
				t.Errorf("fresh = %v, want %v", gotFresh, c.fresh)
			}
			if !slices.Equal(got, c.violations) {
				t.Errorf("violations:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(c.violations, "\n  "))
			}
		})
	}
}

// Each violation carries both definitions and the registered name's first
// run; Runs is the caller's to count.
func TestCheckNamesViolationFields(t *testing.T) {
	old := Name{Kind: namekind.Granularity, Name: "w_group64", Fingerprint: fp(g64.text), Definition: g64.text, FirstRun: "0123456789ab"}
	for _, c := range []struct {
		use  NameUse
		want BlockedError
	}{
		{def{"w_group64", "weights: {axis: 1}\n"}.use(namekind.Granularity), BlockedError{Reason: MeaningChanged, Kind: namekind.Granularity,
			Name: "w_group64", Registered: "w_group64", OldFingerprint: fp(g64.text), OldDefinition: g64.text,
			NewFingerprint: fp("weights: {axis: 1}\n"), NewDefinition: "weights: {axis: 1}\n", FirstRun: "0123456789ab"}},
		{def{"w_g64", g64.text}.use(namekind.Granularity), BlockedError{Reason: RenameInDisguise, Kind: namekind.Granularity,
			Name: "w_g64", Registered: "w_group64", OldFingerprint: fp(g64.text), OldDefinition: g64.text,
			NewFingerprint: fp(g64.text), NewDefinition: g64.text, FirstRun: "0123456789ab"}},
	} {
		_, vs := CheckNames([]NameUse{c.use}, []Name{old}, ScopePlan)
		if len(vs) != 1 || *vs[0] != c.want {
			t.Errorf("%s: violations %+v\nwant %+v", c.use.Name, vs, c.want)
		}
	}
	_, vs := CheckNames(nil, []Name{old}, ScopeVocabulary)
	want := BlockedError{Reason: Missing, Kind: namekind.Granularity, Name: "w_group64", Registered: "w_group64",
		OldFingerprint: fp(g64.text), OldDefinition: g64.text, FirstRun: "0123456789ab"}
	if len(vs) != 1 || *vs[0] != want {
		t.Errorf("missing: %+v\nwant %+v", vs, want)
	}
}
