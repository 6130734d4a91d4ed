package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/qrun-dev/qrun/layout"
	"github.com/qrun-dev/qrun/modelopt"
	"github.com/qrun-dev/qrun/project"
	"github.com/qrun-dev/qrun/store"
	"github.com/qrun-dev/qrun/vocab"
)

// projectFlags are the flags (and environment) that override qrun.yaml.
type projectFlags struct {
	configFile     string // --config
	db             string // --db, QRUN_DB
	root           string // --root, QRUN_ROOT (output root)
	allowNetworkFS bool

	proj *project.Project
}

// project finds the project once per invocation.
func (g *globalOptions) project() (*project.Project, error) {
	if g.pf.proj != nil {
		return g.pf.proj, nil
	}
	if !filepath.IsAbs(g.wd) {
		return nil, errors.New("cannot read the working directory: is it still there?")
	}
	p, err := project.Open(g.wd, g.abs(g.pf.configFile))
	if err != nil {
		return nil, err
	}
	g.pf.proj = p
	return p, nil
}

// outputRoot is the absolute output root: --root, QRUN_ROOT, qrun.yaml.
func (g *globalOptions) outputRoot() (string, error) {
	p, err := g.project()
	if err != nil {
		return "", err
	}
	root := firstNonEmpty(g.pf.root, g.getenv("QRUN_ROOT"))
	if root == "" {
		root = p.Path(p.Settings.Output)
	}
	abs := filepath.Clean(g.abs(root))
	if f := fileInTheWay(abs); f == abs {
		return "", fmt.Errorf("output root %s is a file, not a folder: point --root (or output: in qrun.yaml) at a folder", abs)
	} else if f != "" {
		return "", fmt.Errorf("output root %s cannot be created: %s is a file, not a folder; point --root (or output: in qrun.yaml) at a folder", abs, f)
	}
	return abs, nil
}

// template is the layout template in effect.
func (g *globalOptions) template() (layout.Template, error) {
	p, err := g.project()
	if err != nil {
		return layout.Template{}, err
	}
	t, err := layout.ParseTemplate(p.Settings.Layout)
	if err != nil {
		return t, fmt.Errorf("layout %q in %s: %v", p.Settings.Layout, settingsSource(p), err)
	}
	return t, nil
}

// target is the ModelOpt target: the flag when given, else qrun.yaml.
func (g *globalOptions) target(flag string) (modelopt.Version, error) {
	if flag != "" {
		v, err := modelopt.ParseVersion(flag)
		if err != nil {
			return v, usageErrorf("--modelopt: %v", err)
		}
		return v, nil
	}
	p, err := g.project()
	if err != nil {
		return modelopt.Version{}, err
	}
	v, err := modelopt.ParseVersion(p.Settings.ModelOpt)
	if err != nil {
		return v, fmt.Errorf("modelopt in %s: %v", settingsSource(p), err)
	}
	return v, nil
}

func settingsSource(p *project.Project) string {
	if p.File == "" {
		return "the embedded defaults"
	}
	return p.File
}

// dbLocation is where the registry is: --db, QRUN_DB, qrun.yaml.
func (g *globalOptions) dbLocation() (string, error) {
	p, err := g.project()
	if err != nil {
		return "", err
	}
	loc := firstNonEmpty(g.pf.db, g.getenv("QRUN_DB"))
	if loc == "" {
		loc = p.Settings.Database
		if !strings.Contains(loc, "://") {
			loc = p.Path(strings.TrimPrefix(loc, "sqlite:"))
		}
	}
	if scheme, _, ok := strings.Cut(loc, "://"); ok {
		switch scheme {
		case "postgres", "postgresql", "sqlite":
		default:
			return "", fmt.Errorf("registry %s: unknown scheme %s; give a SQLite path or a postgres:// URL", redact(loc), quoteValue(scheme+"://"))
		}
	}
	return loc, nil
}

// openStore opens the registry. With mustExist, a missing registry is
// reported as (nil, nil) so read commands can say "no runs yet".
func (g *globalOptions) openStore(ctx context.Context, readOnly, mustExist bool) (store.Store, error) {
	loc, err := g.dbLocation()
	if err != nil {
		return nil, err
	}
	if store.IsPostgresURL(loc) {
		return g.openPostgres(ctx, loc, readOnly, mustExist)
	}
	path := store.SQLitePath(loc)
	if mustExist {
		st, err := os.Stat(g.abs(path))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err == nil && st.Mode().IsRegular() && st.Size() == 0 {
			return nil, nil // an empty file is an empty registry: nothing to read yet
		}
	}
	opts := store.Options{ReadOnly: readOnly, AllowNetworkFS: g.pf.allowNetworkFS, WorkDir: g.wd}
	// Run directories are recorded relative to the output root in effect
	// (an unusable root leaves them as given; the commands that need it
	// say why it is unusable).
	opts.OutputRoot, _ = g.outputRoot()
	if v := g.getenv("QRUN_LOCK_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("QRUN_LOCK_TIMEOUT=%q is not a duration such as 30s or 2m", v)
		}
		opts.LockTimeout = d
	}
	s, err := store.OpenSQLite(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// redact hides a password in a connection URL.
func redact(loc string) string {
	if i := strings.Index(loc, "://"); i >= 0 {
		rest := loc[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			cred := rest[:at]
			if c := strings.Index(cred, ":"); c >= 0 {
				return loc[:i+3] + cred[:c] + ":***" + rest[at:]
			}
		}
	}
	return loc
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// loadVocab reads the vocabulary in effect: --conf DIR when given, else the
// folders of qrun.yaml (conf/quant_granularity, conf/quant_pair by default).
func (g *globalOptions) loadVocab() (*vocab.Vocabulary, error) {
	var dirs vocab.Dirs
	if g.confDir != "" {
		explicit := g.confFlags != nil && g.confFlags.Changed("conf")
		if err := checkConfFolder(g.confDir, g.abs(g.confDir), explicit, g.rel); err != nil {
			return nil, err
		}
		dirs = vocab.Dirs{
			Granularity: filepath.Join(g.confDir, "quant_granularity"),
			Format:      filepath.Join(g.confDir, "quant_pair"),
			KVCache:     filepath.Join(g.confDir, "quant_kv_cache"),
		}
	} else {
		p, err := g.project()
		if err != nil {
			return nil, err
		}
		dirs = vocab.Dirs{
			Granularity: g.rel(p.Path(p.Settings.Vocabulary.Granularity)),
			Format:      g.rel(p.Path(p.Settings.Vocabulary.Format)),
			KVCache:     g.rel(p.Path(p.Settings.Vocabulary.KVCache)),
		}
	}
	dirs.Base = g.wd
	if err := checkVocabFolders(dirs); err != nil {
		return nil, err
	}
	v, err := vocab.Load(dirs)
	if err != nil {
		return nil, err
	}
	for _, n := range v.Notices() {
		fmt.Fprintf(g.io.ErrOut, "qrun: note: %s\n", n)
	}
	return v, nil
}
