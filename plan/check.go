package plan

import (
	"context"
	"fmt"

	"github.com/qrun-dev/qrun/layout"
	"github.com/qrun-dev/qrun/store"
	"github.com/qrun-dev/qrun/vocab"
)

// Violation is one way the vocabulary in effect breaks what the registry
// holds (SPEC §6).
type Violation struct {
	Reason        store.BlockReason `json:"reason"`
	Kind          string            `json:"kind,omitempty"`
	Name          string            `json:"name"`
	Registered    string            `json:"registered,omitempty"`
	OldDefinition string            `json:"old_definition,omitempty"`
	NewDefinition string            `json:"new_definition,omitempty"`
	Runs          int               `json:"runs"`
	Message       string            `json:"message"`
}

// Missing is the reason for a registered name gone from the vocabulary.
const Missing = store.Missing

// CheckVocabulary compares the vocabulary and layout in effect with the
// registry: meaning changed, rename in disguise, registered names missing
// (deleted or renamed; retiring is the allowed way), layout changed. The
// names are checked by store.CheckNames, the rule plans are checked by.
func CheckVocabulary(ctx context.Context, v *vocab.Vocabulary, st store.Store, tmpl layout.Template) ([]Violation, error) {
	var out []Violation
	registered, err := st.Names(ctx, "")
	if err != nil {
		return nil, err
	}
	var inUse []store.NameUse
	for _, f := range v.Formats() {
		inUse = append(inUse, formatUse(f))
	}
	for _, g := range v.Granularities() {
		inUse = append(inUse, granularityUse(g))
	}
	for _, c := range v.KVCaches() {
		if !c.None() { // none is no registered name: it quantizes nothing
			inUse = append(inUse, kvCacheUse(c))
		}
	}
	_, violations := store.CheckNames(inUse, registered, store.ScopeVocabulary)
	for _, b := range violations {
		count, err := st.RunsUsingName(ctx, b.Kind, b.Registered)
		if err != nil {
			return nil, err
		}
		x := Violation{Reason: b.Reason, Kind: string(b.Kind), Name: b.Name, OldDefinition: b.OldDefinition, NewDefinition: b.NewDefinition, Runs: count}
		switch b.Reason {
		case Missing:
			x.Message = fmt.Sprintf("%s %s is registered (used by %s) but missing from the vocabulary: deleted or renamed. Restore its file, or keep it with retired: true (retired names stay reserved)", b.Kind, b.Name, plural(count, "run"))
		case store.MeaningChanged:
			x.Name = b.Registered // the registered name, or the alias of b.Name that it is now
			where := ""
			if b.Registered != b.Name {
				where = fmt.Sprintf(" (now an alias of %s)", b.Name)
			}
			x.Message = fmt.Sprintf("%s %s%s changed meaning (used by %s): registered %s, now %s. Restore the definition, and give the new one a new name", b.Kind, b.Registered, where, plural(count, "run"), short(b.OldFingerprint), short(b.NewFingerprint))
		case store.RenameInDisguise:
			x.Registered = b.Registered
			x.Message = fmt.Sprintf("%s %s has the same definition as registered %s %s (used by %s): a rename in disguise. Use %s; or, to rename it, list %s under aliases: in %s's file and remove %s's file", b.Kind, b.Name, b.Kind, b.Registered, plural(count, "run"), b.Registered, b.Registered, b.Name, b.Registered)
		default:
			x.Message = b.Error()
		}
		out = append(out, x)
	}
	layouts, err := st.Layouts(ctx)
	if err != nil {
		return nil, err
	}
	for _, l := range layouts {
		if l.Fingerprint == tmpl.Fingerprint() {
			continue
		}
		count, err := st.CountRuns(ctx, store.RunFilter{})
		if err != nil {
			return nil, err
		}
		if count == 0 {
			continue
		}
		out = append(out, Violation{
			Reason: store.LayoutChanged, Name: tmpl.String(), Registered: l.Template, Runs: count,
			Message: fmt.Sprintf("layout %q differs from %q, under which runs were planned: a layout change would move every directory. Restore the layout in qrun.yaml, or start a new registry", tmpl.String(), l.Template),
		})
	}
	return out, nil
}

func short(fp string) string {
	if len(fp) > 12 {
		return fp[:12]
	}
	return fp
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
