package store

import "slices"

// Scope is what the names given to CheckNames are.
type Scope int

const (
	// ScopePlan: the names a plan uses, which it registers when they are
	// new. A retired name can't be planned, and two new names with one
	// definition can't both be registered.
	ScopePlan Scope = iota
	// ScopeVocabulary: every name of the vocabulary in effect (qrun vocab
	// check). A registered name that is neither among them nor an alias of
	// one is missing: deleted or renamed.
	ScopeVocabulary
)

// CheckNames is the rule of name stability (SPEC §6), written once: it
// compares names in effect with registered names and returns the names in
// effect that are not registered yet, and every violation. It reads no
// database: both the plan's transaction and qrun vocab check read the
// registered names, call it, and count the runs of each violation's
// Registered name themselves (Runs is left 0).
//
// inUse holds each (kind, name) once: canonical names, with the aliases
// each declares. registered must hold at least every registered name that
// shares a kind and a name, an alias or a fingerprint with one of inUse
// (with ScopeVocabulary: every registered name); others are ignored.
// Violations come in the order of inUse (a name's own, then its aliases',
// then its twins'), then the missing names in the order of registered.
//
// A name in effect is blocked when
//   - it is registered with another fingerprint, or so is one of its
//     aliases (MeaningChanged; Registered is the alias);
//   - it is not registered, and a registered name of its kind has its
//     fingerprint without being among its aliases (RenameInDisguise: one
//     violation per such twin, Registered naming it);
//   - planning: it is registered and retired (RetiredName);
//   - planning: it is new and has the fingerprint of a new name before it
//     that it does not declare among its aliases (RenameInDisguise,
//     Registered naming the earlier one, which has no runs).
//
// With ScopeVocabulary, a registered name that no name in effect is nor
// declares among its aliases is Missing.
func CheckNames(inUse []NameUse, registered []Name, scope Scope) (fresh []NameUse, violations []*BlockedError) {
	byName := make(map[nameKey]*Name, len(registered))
	byFP := map[nameKey][]*Name{} // (kind, fingerprint) → registered names, in the order given
	for i := range registered {
		n := &registered[i]
		byName[nameKey{n.Kind, n.Name}] = n
		k := nameKey{n.Kind, n.Fingerprint}
		byFP[k] = append(byFP[k], n)
	}
	changed := func(u NameUse, reg *Name) *BlockedError {
		return &BlockedError{Reason: MeaningChanged, Kind: u.Kind, Name: u.Name, Registered: reg.Name,
			OldFingerprint: reg.Fingerprint, OldDefinition: reg.Definition,
			NewFingerprint: u.Fingerprint, NewDefinition: u.Definition, FirstRun: reg.FirstRun}
	}
	inEffect := map[nameKey]bool{}  // names in use and their aliases
	newByFP := map[nameKey]string{} // (kind, fingerprint) → the first new name with it
	for _, u := range inUse {
		inEffect[nameKey{u.Kind, u.Name}] = true
		for _, a := range u.Aliases {
			inEffect[nameKey{u.Kind, a}] = true
		}
		var found []*BlockedError
		reg, isRegistered := byName[nameKey{u.Kind, u.Name}]
		switch {
		case isRegistered && reg.Retired && scope == ScopePlan:
			be := changed(u, reg)
			be.Reason = RetiredName
			found = append(found, be)
		case isRegistered && reg.Fingerprint != u.Fingerprint:
			found = append(found, changed(u, reg))
		}
		for _, a := range u.Aliases {
			if reg, ok := byName[nameKey{u.Kind, a}]; ok && reg.Fingerprint != u.Fingerprint {
				found = append(found, changed(u, reg))
			}
		}
		if !isRegistered {
			for _, twin := range byFP[nameKey{u.Kind, u.Fingerprint}] {
				if !slices.Contains(u.Aliases, twin.Name) {
					be := changed(u, twin)
					be.Reason = RenameInDisguise
					found = append(found, be)
				}
			}
		}
		violations = append(violations, found...)
		if isRegistered || len(found) > 0 {
			continue
		}
		k := nameKey{u.Kind, u.Fingerprint}
		other, seen := newByFP[k]
		if !seen {
			newByFP[k] = u.Name
		}
		if seen && scope == ScopePlan && !slices.Contains(u.Aliases, other) {
			violations = append(violations, &BlockedError{Reason: RenameInDisguise, Kind: u.Kind, Name: u.Name,
				Registered: other, OldFingerprint: u.Fingerprint, NewFingerprint: u.Fingerprint,
				OldDefinition: u.Definition, NewDefinition: u.Definition})
			continue
		}
		fresh = append(fresh, u)
	}
	if scope == ScopeVocabulary {
		for i := range registered {
			n := &registered[i]
			if !inEffect[nameKey{n.Kind, n.Name}] {
				violations = append(violations, &BlockedError{Reason: Missing, Kind: n.Kind, Name: n.Name, Registered: n.Name,
					OldFingerprint: n.Fingerprint, OldDefinition: n.Definition, FirstRun: n.FirstRun})
			}
		}
	}
	return fresh, violations
}
