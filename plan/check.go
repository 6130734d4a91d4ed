package plan

import (
	"context"
	"fmt"
	"sort"

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
const Missing store.BlockReason = "missing"

// CheckVocabulary compares the vocabulary and layout in effect with the
// registry: meaning changed, rename in disguise, registered names missing
// (deleted or renamed; retiring is the allowed way), layout changed.
func CheckVocabulary(ctx context.Context, v *vocab.Vocabulary, st store.Store, tmpl layout.Template) ([]Violation, error) {
	var out []Violation
	names, err := st.Names(ctx, "")
	if err != nil {
		return nil, err
	}
	byFP := map[string][]store.Name{}
	registered := map[string]bool{}
	for _, n := range names {
		byFP[string(n.Kind)+"\x00"+n.Fingerprint] = append(byFP[string(n.Kind)+"\x00"+n.Fingerprint], n)
		registered[string(n.Kind)+"\x00"+n.Name] = true
	}
	runsUsing := func(k store.Kind, name string) (int, error) { return st.RunsUsingName(ctx, k, name) }
	for _, n := range names {
		canonical, viaAlias, ok := v.Canonical(vocab.Kind(n.Kind), n.Name)
		if !ok {
			count, err := runsUsing(n.Kind, n.Name)
			if err != nil {
				return nil, err
			}
			out = append(out, Violation{
				Reason: Missing, Kind: string(n.Kind), Name: n.Name, OldDefinition: n.Definition, Runs: count,
				Message: fmt.Sprintf("%s %s is registered (used by %s) but missing from the vocabulary: deleted or renamed. Restore its file, or keep it with retired: true (retired names stay reserved)", n.Kind, n.Name, plural(count, "run")),
			})
			continue
		}
		fp, def := currentDefinition(v, vocab.Kind(n.Kind), canonical)
		if fp != n.Fingerprint {
			count, err := runsUsing(n.Kind, n.Name)
			if err != nil {
				return nil, err
			}
			where := ""
			if viaAlias {
				where = fmt.Sprintf(" (now an alias of %s)", canonical)
			}
			out = append(out, Violation{
				Reason: store.MeaningChanged, Kind: string(n.Kind), Name: n.Name, OldDefinition: n.Definition, NewDefinition: def, Runs: count,
				Message: fmt.Sprintf("%s %s%s changed meaning (used by %s): registered %s, now %s. Restore the definition, and give the new one a new name", n.Kind, n.Name, where, plural(count, "run"), short(n.Fingerprint), short(fp)),
			})
		}
	}
	// Renames in disguise: an unregistered name defined like a registered one.
	for _, k := range []vocab.Kind{vocab.KindGranularity, vocab.KindFormat} {
		for _, name := range entryNames(v, k) {
			if registered[string(k)+"\x00"+name] {
				continue
			}
			fp, def := currentDefinition(v, k, name)
			for _, reg := range byFP[string(k)+"\x00"+fp] {
				if isAliasOf(v, k, name, reg.Name) {
					continue
				}
				count, err := runsUsing(reg.Kind, reg.Name)
				if err != nil {
					return nil, err
				}
				out = append(out, Violation{
					Reason: store.RenameInDisguise, Kind: string(k), Name: name, Registered: reg.Name, OldDefinition: reg.Definition, NewDefinition: def, Runs: count,
					Message: fmt.Sprintf("%s %s has the same definition as registered %s %s (used by %s): a rename in disguise. Use %s; or, to rename it, list %s under aliases: in %s's file and remove %s's file", k, name, k, reg.Name, plural(count, "run"), reg.Name, reg.Name, name, reg.Name),
				})
			}
		}
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

func currentDefinition(v *vocab.Vocabulary, k vocab.Kind, name string) (string, string) {
	if k == vocab.KindFormat {
		f, err := v.Format(name)
		if err != nil {
			return "", ""
		}
		return f.Fingerprint(), vocab.Definition(f.Meaning())
	}
	g, err := v.Granularity(name)
	if err != nil {
		return "", ""
	}
	return g.Fingerprint(), vocab.Definition(g.Meaning())
}

func entryNames(v *vocab.Vocabulary, k vocab.Kind) []string {
	var out []string
	if k == vocab.KindFormat {
		for _, f := range v.Formats() {
			out = append(out, f.Name)
		}
	} else {
		for _, g := range v.Granularities() {
			out = append(out, g.Name)
		}
	}
	sort.Strings(out)
	return out
}

// isAliasOf reports whether name and registered are the same entry: name
// lists registered among its aliases, or registered is name's alias.
func isAliasOf(v *vocab.Vocabulary, k vocab.Kind, name, registered string) bool {
	c, _, ok := v.Canonical(k, registered)
	return ok && c == name
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
