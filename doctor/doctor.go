// Package doctor compares the registry with the output root and, when asked,
// repairs what can be repaired without guessing: a lost run file is rewritten
// byte for byte from the registry's copy, a run directory whose registry row
// was lost (a crash before the commit) is adopted, a crashed writer's
// temporary files are removed. A file edited by hand is reported, never
// overwritten.
package doctor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/layout"
	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/namekind"
	"github.com/qrun-dev/qrun/plan"
	"github.com/qrun-dev/qrun/store"
	"github.com/qrun-dev/qrun/vocab"
)

// Kind is what kind of disagreement a problem is.
type Kind string

const (
	MissingDir      Kind = "missing_dir"
	MovedDir        Kind = "moved_dir"
	MissingManifest Kind = "missing_manifest"
	MissingRecipe   Kind = "missing_recipe"
	EditedManifest  Kind = "edited_manifest"
	EditedRecipe    Kind = "edited_recipe"
	ForeignDir      Kind = "foreign_manifest"
	Orphan          Kind = "orphan"
	StrayTemp       Kind = "stray_temp"
	Registry        Kind = "registry"
)

// Problem is one disagreement between registry and disk.
type Problem struct {
	Kind    Kind   `json:"kind"`
	RunID   string `json:"run_id,omitempty"`
	Path    string `json:"path,omitempty"`
	Detail  string `json:"detail"`
	Fixable bool   `json:"fixable"`
	Fixed   bool   `json:"fixed"`
}

// Options say what to compare and whether to repair.
type Options struct {
	Store    store.Store
	Root     string // absolute output root
	Template layout.Template
	Vocab    *vocab.Vocabulary // to adopt orphans whose names are not registered yet
	// Writer is the registry's name on the temporary files written on its
	// behalf (manifest.RegistryWriter of Store.ID()): those are its own
	// to remove, other writers' are reported and left.
	Writer manifest.Writer
	Fix    bool
}

// Run compares registry and disk and, with Fix, repairs what it can.
func Run(ctx context.Context, o Options) ([]Problem, error) {
	var out []Problem
	issues, err := o.Store.Check(ctx)
	if err != nil {
		return nil, err
	}
	for _, i := range issues {
		out = append(out, Problem{Kind: Registry, Detail: i})
	}
	runs, err := o.Store.Runs(ctx, store.RunFilter{})
	if err != nil {
		return nil, err
	}
	registered := make(map[string]store.Run, len(runs))
	for _, r := range runs {
		ps, dir, err := checkRun(ctx, o, r)
		if err != nil {
			return nil, err
		}
		r.Dir = dir // where the run is, moved or not
		registered[r.ID] = r
		out = append(out, ps...)
	}
	ps, err := walkRoot(ctx, o, registered)
	if err != nil {
		return nil, err
	}
	out = append(out, ps...)
	return out, nil
}

// checkRun compares a run's directory with the registry's copy of its
// files; it returns the problems and the directory where the run is.
func checkRun(ctx context.Context, o Options, r store.Run) ([]Problem, string, error) {
	files, err := o.Store.RunFiles(ctx, r.ID)
	if errors.Is(err, store.ErrNotFound) {
		files = store.RunFiles{} // planned before the registry kept files: check presence only
	} else if err != nil {
		return nil, r.Dir, err
	}
	var out []Problem
	if !under(o.Root, r.Dir) {
		// Recorded by absolute path by an older qrun, under an output
		// root that has moved since (or was reached by another path).
		p, dir, err := moved(ctx, o, r, files)
		if err != nil || !p.Fixed {
			return append(out, p), dir, err
		}
		out = append(out, p)
		r.Dir = dir
	}
	st, err := os.Stat(r.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		p := Problem{Kind: MissingDir, RunID: r.ID, Path: r.Dir, Detail: "the run directory is missing", Fixable: files.Manifest != nil}
		if o.Fix && p.Fixable {
			if _, err := layout.CreateConfined(o.Root, r.Dir); err != nil {
				return nil, r.Dir, err
			}
			if _, err := o.Writer.WriteMissing(r.Dir, manifest.Files{Manifest: files.Manifest, Recipe: files.Recipe}); err != nil {
				return nil, r.Dir, err
			}
			p.Fixed = true
		}
		return append(out, p), r.Dir, nil
	}
	if err != nil {
		return nil, r.Dir, fmt.Errorf("check %s: %w", r.Dir, err)
	}
	if !st.IsDir() {
		return append(out, Problem{Kind: ForeignDir, RunID: r.ID, Path: r.Dir, Detail: "the run's directory is a file; move it away, then qrun doctor --fix"}), r.Dir, nil
	}
	for _, f := range []struct {
		name           string
		want           []byte
		sha            string
		missing, edits Kind
	}{
		{manifest.RecipeFile, files.Recipe, files.RecipeSHA256, MissingRecipe, EditedRecipe},
		{manifest.ManifestFile, files.Manifest, files.ManifestSHA256, MissingManifest, EditedManifest},
	} {
		p := filepath.Join(r.Dir, f.name)
		data, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			prob := Problem{Kind: f.missing, RunID: r.ID, Path: p, Detail: f.name + " is missing", Fixable: f.want != nil}
			if o.Fix && prob.Fixable {
				if err := o.Writer.WriteAtomic(p, f.want, 0o644); err != nil {
					return nil, r.Dir, err
				}
				prob.Fixed = true
			}
			out = append(out, prob)
		case err != nil:
			return nil, r.Dir, fmt.Errorf("read %s: %w", p, err)
		case f.sha != "" && sha256Hex(data) != f.sha:
			out = append(out, Problem{Kind: f.edits, RunID: r.ID, Path: p,
				Detail: fmt.Sprintf("%s was changed after planning (sha256 %s, registered %s); qrun never overwrites it: restore it, or move the run away", f.name, short(sha256Hex(data)), short(f.sha))})
		}
	}
	return out, r.Dir, nil
}

// under reports whether dir is root or below it.
func under(root, dir string) bool {
	rel, err := filepath.Rel(root, dir)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// moved finds, under the output root in effect, the directory of a run
// recorded outside it: the folder whose path below the root is a tail of
// the recorded path and holds this run's manifest (the project moved or
// was copied whole), or else, when the registry keeps its files, the
// folder its identity lays out under the root, when that is a tail of the
// recorded path (to be rewritten there). Either is fixable: --fix records
// the run there (its id unchanged) and, in the second case, writes its
// files. Neither: the run is missing, and only a re-plan under its old
// root would find it.
func moved(ctx context.Context, o Options, r store.Run, files store.RunFiles) (Problem, string, error) {
	dir, exists := "", false
	parts := strings.Split(filepath.Clean(r.Dir), string(filepath.Separator))
	for k := len(parts) - 1; k >= 1 && dir == ""; k-- {
		cand := filepath.Join(append([]string{o.Root}, parts[k:]...)...)
		if id, err := manifest.ReadIdentity(cand); err == nil && id.RunID == r.ID {
			dir, exists = cand, true
		}
	}
	if dir == "" && files.Manifest != nil {
		if want, ok := laidOut(o, files.Manifest, r.ID); ok {
			if rel, err := filepath.Rel(o.Root, want); err == nil && strings.HasSuffix(filepath.Clean(r.Dir), string(filepath.Separator)+rel) {
				dir = want
			}
		}
	}
	if dir == "" {
		return Problem{Kind: MissingDir, RunID: r.ID, Path: r.Dir,
			Detail: fmt.Sprintf("the run directory is missing, and it was recorded outside the output root %s; restore it there, or use the output root it was planned under", o.Root)}, r.Dir, nil
	}
	p := Problem{Kind: MovedDir, RunID: r.ID, Path: dir, Fixable: true,
		Detail: fmt.Sprintf("registered in %s, which is outside the output root; its place under the root is here (the project moved, or was reached by another path)", r.Dir)}
	if !exists {
		p.Detail = fmt.Sprintf("registered in %s, outside the output root, and missing; its place under the root is here, and the registry has its files", r.Dir)
	}
	if !o.Fix {
		return p, dir, nil
	}
	if !exists {
		if _, err := layout.CreateConfined(o.Root, dir); err != nil {
			return p, r.Dir, err
		}
		if _, err := o.Writer.WriteMissing(dir, manifest.Files{Manifest: files.Manifest, Recipe: files.Recipe}); err != nil {
			return p, r.Dir, err
		}
	}
	if err := o.Store.MoveRun(ctx, r.ID, dir); err != nil {
		return p, r.Dir, err
	}
	p.Fixed = true
	return p, dir, nil
}

// laidOut is the directory a manifest's identity lays out under the
// output root, when the manifest is this run's.
func laidOut(o Options, mb []byte, runID string) (string, bool) {
	var m manifestDoc
	if err := yaml.Unmarshal(mb, &m); err != nil || m.RunID != runID {
		return "", false
	}
	id, err := identityOf(m)
	if err != nil || layout.RunID(id) != runID {
		return "", false
	}
	dir, err := layout.Dir(o.Root, o.Template, id)
	return dir, err == nil
}

// identityOf is a manifest's run identity.
func identityOf(m manifestDoc) (layout.Identity, error) {
	params, err := readParams(&m.Params)
	if err != nil {
		return layout.Identity{}, err
	}
	id := layout.Identity{Model: m.Model, Format: m.Format.Name, Granularity: m.Granularity.Name, KVCache: m.kvCache()}
	for _, p := range params {
		lp, err := layout.NewParam(p.Key, p.Value)
		if err != nil {
			return layout.Identity{}, err
		}
		id.Params = append(id.Params, lp)
	}
	return id, nil
}

// kvCache is the manifest's KV-cache setting, none when it has none.
func (m manifestDoc) kvCache() string {
	if m.KVCache == nil {
		return layout.NoKVCache
	}
	return m.KVCache.Name
}

// walkRoot finds orphan run directories and stray temporary files.
func walkRoot(ctx context.Context, o Options, registered map[string]store.Run) ([]Problem, error) {
	var out []Problem
	if _, err := os.Stat(o.Root); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var orphans []string
	err := filepath.WalkDir(o.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil // never follow links out of the root
		}
		if !d.IsDir() {
			if tag, _, ok := manifest.TempOwner(d.Name()); ok {
				prob := Problem{Kind: StrayTemp, Path: p, Detail: "a temporary file left by an interrupted write", Fixable: o.Writer.Owns(d.Name())}
				if !prob.Fixable {
					prob.Detail = fmt.Sprintf("a temporary file of another writer (%s: another registry writing under this output root, or a qrun process); left alone: that registry's qrun doctor --fix removes it, or delete it by hand once no qrun is writing there", tag)
				}
				if o.Fix && prob.Fixable {
					if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
						return fmt.Errorf("remove %s: %w", p, err)
					}
					prob.Fixed = true
				}
				out = append(out, prob)
			}
			return nil
		}
		id, err := manifest.ReadIdentity(p)
		switch {
		case errors.Is(err, manifest.ErrNoManifest):
			return nil
		case err != nil:
			out = append(out, Problem{Kind: ForeignDir, Path: p, Detail: err.Error()})
			return nil
		}
		if r, ok := registered[id.RunID]; ok {
			if filepath.Clean(r.Dir) != filepath.Clean(p) {
				out = append(out, Problem{Kind: ForeignDir, RunID: id.RunID, Path: p, Detail: fmt.Sprintf("holds the manifest of run %s, which is registered in %s: a copy or a move by hand", id.RunID, r.Dir)})
			}
			return nil
		}
		orphans = append(orphans, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", o.Root, err)
	}
	sort.Strings(orphans)
	for _, dir := range orphans {
		prob, err := adopt(ctx, o, dir)
		if err != nil {
			return nil, err
		}
		out = append(out, prob)
	}
	return out, nil
}

// manifestDoc is what adoption reads from a manifest.
type manifestDoc struct {
	RunID  string `yaml:"run_id"`
	Model  string `yaml:"model"`
	Format struct {
		Name        string `yaml:"name"`
		Fingerprint string `yaml:"fingerprint"`
	} `yaml:"format"`
	Granularity struct {
		Name        string `yaml:"name"`
		Fingerprint string `yaml:"fingerprint"`
	} `yaml:"granularity"`
	// KVCache is absent for none (every run from before the axis).
	KVCache *struct {
		Name        string `yaml:"name"`
		Fingerprint string `yaml:"fingerprint"`
	} `yaml:"kv_cache"`
	Params            yaml.Node `yaml:"params"`
	ConfigFingerprint string    `yaml:"config_fingerprint"`
	ModelOpt          struct {
		Target string `yaml:"target"`
	} `yaml:"modelopt"`
	Layout struct {
		Template    string `yaml:"template"`
		Fingerprint string `yaml:"fingerprint"`
	} `yaml:"layout"`
}

// adopt registers an orphan run directory whose manifest is whole and
// consistent: its run id and directory are what its identity gives.
func adopt(ctx context.Context, o Options, dir string) (Problem, error) {
	prob := Problem{Kind: Orphan, Path: dir, Detail: "a run directory the registry does not know (an interrupted plan)"}
	mb, err := os.ReadFile(filepath.Join(dir, manifest.ManifestFile))
	if err != nil {
		return prob, fmt.Errorf("read %s: %w", dir, err)
	}
	rb, rerr := os.ReadFile(filepath.Join(dir, manifest.RecipeFile))
	var m manifestDoc
	if err := yaml.Unmarshal(mb, &m); err != nil {
		prob.Detail += "; its manifest cannot be read, so it cannot be adopted"
		return prob, nil
	}
	prob.RunID = m.RunID
	params, err := readParams(&m.Params)
	if err != nil {
		prob.Detail += "; " + err.Error()
		return prob, nil
	}
	id, err := identityOf(m)
	if err != nil {
		prob.Detail += "; " + err.Error()
		return prob, nil
	}
	want, derr := layout.Dir(o.Root, o.Template, id)
	switch {
	case rerr != nil:
		prob.Detail += "; its recipe is missing, so it cannot be adopted: re-plan it"
		return prob, nil
	case layout.RunID(id) != m.RunID || derr != nil || filepath.Clean(want) != filepath.Clean(dir):
		prob.Detail += "; its manifest does not match its directory (edited or moved by hand), so it cannot be adopted"
		return prob, nil
	case m.Layout.Fingerprint != o.Template.Fingerprint():
		prob.Detail += "; it was planned under another layout, so it cannot be adopted"
		return prob, nil
	}
	names, ok, why, err := namesFor(ctx, o, m)
	if err != nil {
		return prob, err
	}
	if !ok {
		prob.Detail += "; " + why
		return prob, nil
	}
	// Fixable only if the plan --fix makes would not be blocked.
	if why, err := adoptionBlocked(ctx, o, names); err != nil || why != "" {
		prob.Detail += "; " + why
		return prob, err
	}
	prob.Fixable = true
	if !o.Fix {
		return prob, nil
	}
	run := store.Run{
		ID: m.RunID, Model: m.Model, Format: m.Format.Name, Granularity: m.Granularity.Name, KVCache: m.kvCache(),
		Params: plan.ParamsJSON(params), Dir: dir, FormatFP: m.Format.Fingerprint, GranularityFP: m.Granularity.Fingerprint,
		ConfigFP: m.ConfigFingerprint, LayoutFP: m.Layout.Fingerprint, ModelOpt: m.ModelOpt.Target,
		Files: &store.RunFiles{Manifest: mb, Recipe: rb},
	}
	if m.KVCache != nil {
		run.KVCacheFP = m.KVCache.Fingerprint
	}
	_, err = store.Plan(ctx, o.Store, store.PlanBatch{PlanHead: store.PlanHead{
		Layout: store.Layout{Fingerprint: o.Template.Fingerprint(), Template: o.Template.String()},
		Names:  names}, Runs: []store.Run{run},
	})
	if err != nil {
		if errors.Is(err, store.ErrBlocked) {
			prob.Detail += "; adopting it is blocked: " + err.Error()
			return prob, nil
		}
		return prob, err
	}
	prob.Fixed = true
	return prob, nil
}

// adoptionBlocked says why registering an orphan under names would be
// refused by name stability or by a layout change, or "" when it would not:
// the checks of the plan --fix makes, made without writing (the registry
// may be open read-only).
func adoptionBlocked(ctx context.Context, o Options, names []store.NameUse) (string, error) {
	layouts, err := o.Store.Layouts(ctx)
	if err != nil {
		return "", err
	}
	for _, l := range layouts {
		if l.Fingerprint != o.Template.Fingerprint() {
			return fmt.Sprintf("the registry holds runs under another layout (%s), so it cannot be adopted", l.Template), nil
		}
	}
	var registered []store.Name
	for _, k := range []namekind.Kind{namekind.Format, namekind.Granularity, namekind.KVCache} {
		ns, err := o.Store.Names(ctx, k)
		if err != nil {
			return "", err
		}
		registered = append(registered, ns...)
	}
	if _, violations := store.CheckNames(names, registered, store.ScopePlan); len(violations) > 0 {
		return "adopting it is blocked: " + violations[0].Error(), nil
	}
	return "", nil
}

// namesFor finds the definitions of an orphan's format and granularity: the
// registry's when registered with the same fingerprint, else the vocabulary's
// when its definition has that fingerprint.
func namesFor(ctx context.Context, o Options, m manifestDoc) ([]store.NameUse, bool, string, error) {
	var uses []store.NameUse
	type nameFP struct {
		kind     namekind.Kind
		name, fp string
	}
	names := []nameFP{{namekind.Format, m.Format.Name, m.Format.Fingerprint}, {namekind.Granularity, m.Granularity.Name, m.Granularity.Fingerprint}}
	if m.KVCache != nil {
		names = append(names, nameFP{namekind.KVCache, m.KVCache.Name, m.KVCache.Fingerprint})
	}
	for _, n := range names {
		reg, err := o.Store.Name(ctx, n.kind, n.name)
		if err == nil {
			if reg.Fingerprint != n.fp {
				return nil, false, fmt.Sprintf("%s %s is registered with another definition, so it cannot be adopted", n.kind, n.name), nil
			}
			uses = append(uses, store.NameUse{Kind: n.kind, Name: n.name, Fingerprint: n.fp, Definition: reg.Definition})
			continue
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, false, "", err
		}
		// The manifest's name may be an alias now (a declared rename): the
		// run is registered under the name it was recorded under, which
		// later plans of the new name then record their runs under too.
		fp, def, aliases := "", "", []string(nil)
		if o.Vocab != nil {
			var e *vocab.Entry
			switch n.kind {
			case namekind.Format:
				if f, err := o.Vocab.Format(n.name); err == nil {
					e, fp, def = &f.Entry, f.Fingerprint(), vocab.Definition(f.Meaning())
				}
			case namekind.Granularity:
				if g, err := o.Vocab.Granularity(n.name); err == nil {
					e, fp, def = &g.Entry, g.Fingerprint(), vocab.Definition(g.Meaning())
				}
			case namekind.KVCache:
				if c, err := o.Vocab.KVCache(n.name); err == nil {
					e, fp, def = &c.Entry, c.Fingerprint(), vocab.Definition(c.Meaning())
				}
			}
			if e != nil && e.Name == n.name {
				aliases = e.Aliases
			}
		}
		if fp != n.fp {
			return nil, false, fmt.Sprintf("the vocabulary no longer defines %s %s as it was, so it cannot be adopted", n.kind, n.name), nil
		}
		uses = append(uses, store.NameUse{Kind: n.kind, Name: n.name, Fingerprint: fp, Definition: def, Aliases: aliases})
	}
	return uses, true, "", nil
}

func readParams(n *yaml.Node) ([]manifest.Param, error) {
	if n.Kind == 0 {
		return nil, nil
	}
	v, err := modelopt.FromNode(n)
	if err != nil {
		return nil, fmt.Errorf("its params cannot be read: %v", err)
	}
	m, ok := v.(map[any]any)
	if !ok && v != nil {
		return nil, errors.New("its params are not a mapping")
	}
	var out []manifest.Param
	for _, k := range modelopt.SortedKeys(m) {
		ks, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("param key %v is not a name", k)
		}
		out = append(out, manifest.Param{Key: ks, Value: m[k]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// Unfixed counts the problems left after a run (all of them without Fix).
func Unfixed(ps []Problem) int {
	n := 0
	for _, p := range ps {
		if !p.Fixed {
			n++
		}
	}
	return n
}
