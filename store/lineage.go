package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// RecordedName is the name the runs of u are recorded under: the name
// that a run's id, directory and registry row carry. It is u's own name,
// unless the registry already holds u's definition under a name that u
// declares among its names — the name itself or an alias, registered with
// u's fingerprint and not retired —, in which case it is the earliest of
// those registered (ties: the smaller name). So a declared rename (w_new
// with aliases: [w_old], the same definition) goes on recording runs under
// w_old, the name the definition was first registered under: every run
// planned before keeps its id and its directory, and the same selection
// finds the same run, whichever of the two names is typed.
//
// registered must hold every registered name of u's kind among u's name
// and aliases (more are ignored).
func RecordedName(u NameUse, registered []Name) string {
	var best *Name
	for i := range registered {
		n := &registered[i]
		if n.Kind != u.Kind || n.Fingerprint != u.Fingerprint || n.Retired {
			continue
		}
		if n.Name != u.Name && !slices.Contains(u.Aliases, n.Name) {
			continue
		}
		if best == nil || n.CreatedAt.Before(best.CreatedAt) || n.CreatedAt.Equal(best.CreatedAt) && n.Name < best.Name {
			best = n
		}
	}
	if best == nil {
		return u.Name
	}
	return best.Name
}

// RecordedAs is the name u's runs are recorded under: Recorded, or Name
// when Recorded is empty.
func (u NameUse) RecordedAs() string {
	if u.Recorded != "" {
		return u.Recorded
	}
	return u.Name
}

// FillRecorded sets each use's Recorded (see RecordedName) from the
// registry s; with no registry (s nil) every name is recorded as itself.
// A plan calls it before laying out its runs; its transaction's Check
// confirms it under the registry's lock.
func FillRecorded(ctx context.Context, s Store, uses []NameUse) error {
	for i := range uses {
		u := &uses[i]
		u.Recorded = u.Name
		if s == nil {
			continue
		}
		var registered []Name
		for _, n := range append([]string{u.Name}, u.Aliases...) {
			reg, err := s.Name(ctx, u.Kind, n)
			switch {
			case errors.Is(err, ErrNotFound):
				continue
			case err != nil:
				return err
			}
			registered = append(registered, reg)
		}
		u.Recorded = RecordedName(*u, registered)
	}
	return nil
}

// checkRecorded confirms, in a plan's transaction, the names its runs are
// recorded under, where the plan gave them (Recorded set): another plan
// may have registered one of a name's aliases since the plan looked.
func checkRecorded(uses []NameUse, registered []Name) error {
	for _, u := range uses {
		if u.Recorded == "" {
			continue
		}
		if want := RecordedName(u, registered); want != u.RecordedAs() {
			return fmt.Errorf("%w: %s %s is now recorded under %s in the registry (another plan registered it meanwhile), not %s: plan again",
				ErrConflict, u.Kind, u.Name, want, u.RecordedAs())
		}
	}
	return nil
}
