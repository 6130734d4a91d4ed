package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/modelopt"
)

// File names in a run directory.
const (
	ManifestFile = "manifest.yaml"
	RecipeFile   = "modelopt_recipe.yaml"
)

// SchemaVersion is the manifest's qrun_manifest value.
const SchemaVersion = 1

// Name is a vocabulary name as the manifest records it.
type Name struct {
	Name        string // canonical
	Typed       string // the alias typed, if any
	Fingerprint string
}

// Param is one parameter: identity parameters make the run's identity,
// recorded ones (qrun.yaml ignore_keys) are kept for the record only.
type Param struct {
	Key   string
	Value any // int, float64, bool, nil or string, as Hydra typed it
}

// Manifest is what a run directory says about its run (SPEC §5).
type Manifest struct {
	RunID       string
	Model       string
	Format      Name
	Granularity Name
	// KVCache is the run's KV-cache setting; nil for none, which leaves the
	// manifest as it was before the KV-cache axis existed.
	KVCache           *Name
	Params            []Param // identity, sorted by key
	Recorded          []Param // not part of the identity, sorted by key
	ConfigFingerprint string
	Weights           any // resolved attributes (plain values), nil when not quantized
	Activations       any
	ModelOpt          string
	Notes             []string
	Export            *Export // the export verdict for the ModelOpt target (SPEC §11.2)
	LayoutTemplate    string
	LayoutFingerprint string
	HydraOverrides    []string // the overrides that launch this run
	QrunVersion       string
	Created           string // UTC, RFC 3339
	Host              string
	GitCommit         string
	GitDirty          bool
}

// Export is what ModelOpt's checkpoint export makes of the run's recipe,
// as qrun predicts it.
type Export struct {
	Verdict   string // deployable, mislabelled, fails, unverified
	QuantAlgo string // the checkpoint's quant_algo label, "" for none
	// KVCacheQuantAlgo is the checkpoint's kv_cache_quant_algo label, ""
	// (and left out) when the KV cache is not quantized.
	KVCacheQuantAlgo string
	Why              string
	ModelOpt         string // the ModelOpt release the verdict is for
}

func (e *Export) node() *yaml.Node {
	n := mapping("verdict", e.Verdict, "quant_algo", e.QuantAlgo)
	if e.KVCacheQuantAlgo != "" {
		n.Content = append(n.Content, scalar("kv_cache_quant_algo"), scalar(e.KVCacheQuantAlgo))
	}
	n.Content = append(n.Content, mapping("why", e.Why, "modelopt", e.ModelOpt).Content...)
	return n
}

// Encode writes the manifest as YAML, keys in a fixed order, resolved
// attributes with integer block_sizes keys.
//
// The common case — every scalar one line of printable ASCII — is written
// directly (fast.go), with the resolved attributes encoded once per config;
// anything else goes through the YAML encoder. Both give the same bytes
// (FuzzFastEncoderMatchesYAML compares them).
func (m *Manifest) Encode() ([]byte, error) {
	if b, ok := m.encodeFast(); ok {
		return b, nil
	}
	return m.encodeYAML()
}

// encodeYAML is the reference encoding through yaml.v3.
func (m *Manifest) encodeYAML() ([]byte, error) {
	doc := mapping(
		"qrun_manifest", SchemaVersion,
		"run_id", m.RunID,
		"model", m.Model,
		"format", nameNode(m.Format),
		"granularity", nameNode(m.Granularity),
	)
	if m.KVCache != nil {
		doc.Content = append(doc.Content, scalar("kv_cache"), nameNode(*m.KVCache))
	}
	doc.Content = append(doc.Content, mapping(
		"params", paramsNode(m.Params),
		"recorded_params", paramsNode(m.Recorded),
		"config_fingerprint", m.ConfigFingerprint,
		"resolved", mapping("weights", modelopt.ToNode(m.Weights), "activations", modelopt.ToNode(m.Activations)),
		"modelopt", mapping("target", m.ModelOpt, "notes", stringsNode(m.Notes), "recipe", RecipeFile),
	).Content...)
	if m.Export != nil {
		doc.Content = append(doc.Content, scalar("export"), m.Export.node())
	}
	doc.Content = append(doc.Content, mapping(
		"layout", mapping("template", m.LayoutTemplate, "fingerprint", m.LayoutFingerprint),
		"hydra", mapping("overrides", stringsNode(m.HydraOverrides)),
		"qrun_version", m.QrunVersion,
		"created", m.Created,
		"host", m.Host,
	).Content...)
	if m.GitCommit != "" {
		doc.Content = append(doc.Content, scalar("git"), mapping("commit", m.GitCommit, "dirty", m.GitDirty))
	}
	return modelopt.Marshal(doc)
}

func nameNode(n Name) *yaml.Node {
	node := mapping("name", n.Name)
	if n.Typed != "" {
		node.Content = append(node.Content, scalar("typed"), scalar(n.Typed))
	}
	node.Content = append(node.Content, scalar("fingerprint"), scalar(n.Fingerprint))
	return node
}

func paramsNode(ps []Param) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, p := range ps {
		n.Content = append(n.Content, scalar(p.Key), modelopt.ToNode(p.Value))
	}
	if len(ps) == 0 {
		n.Style = yaml.FlowStyle
	}
	return n
}

func stringsNode(ss []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, s := range ss {
		n.Content = append(n.Content, scalar(s))
	}
	if len(ss) == 0 {
		n.Style = yaml.FlowStyle
	}
	return n
}

func scalar(s string) *yaml.Node { return modelopt.ToNode(s) }

// mapping builds a block mapping from key, value pairs; values are nodes or
// plain values.
func mapping(kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(kv); i += 2 {
		var v *yaml.Node
		switch x := kv[i+1].(type) {
		case *yaml.Node:
			v = x
		default:
			v = modelopt.ToNode(x)
		}
		n.Content = append(n.Content, scalar(kv[i].(string)), v)
	}
	return n
}

// Identity is what a manifest on disk says its run is.
type Identity struct {
	SchemaVersion int
	RunID         string
	Model         string
	Format        string
	Granularity   string
}

// ErrNoManifest says a directory holds no manifest.
var ErrNoManifest = errors.New("no manifest")

// ReadIdentity reads the identity of the run a directory holds.
func ReadIdentity(dir string) (Identity, error) {
	p := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Identity{}, ErrNoManifest
	}
	if err != nil {
		return Identity{}, fmt.Errorf("read %s: %w", p, err)
	}
	var raw struct {
		Version int    `yaml:"qrun_manifest"`
		RunID   string `yaml:"run_id"`
		Model   string `yaml:"model"`
		Format  struct {
			Name string `yaml:"name"`
		} `yaml:"format"`
		Granularity struct {
			Name string `yaml:"name"`
		} `yaml:"granularity"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil || raw.Version == 0 || raw.RunID == "" {
		return Identity{}, fmt.Errorf("%s is not a qrun manifest", p)
	}
	if raw.Version > SchemaVersion {
		return Identity{}, fmt.Errorf("%s has manifest schema %d, newer than this qrun's %d: upgrade qrun", p, raw.Version, SchemaVersion)
	}
	return Identity{raw.Version, raw.RunID, raw.Model, raw.Format.Name, raw.Granularity.Name}, nil
}

// Uncommitted reports whether a directory holds nothing but what an
// interrupted write leaves before the manifest — qrun's temporary files and
// the recipe (written first). Such a directory holds no run yet.
func Uncommitted(dir string) (bool, error) {
	return onlyFiles(dir, func(name string) bool {
		return name == RecipeFile || strings.HasPrefix(name, TempPrefix)
	})
}

// OnlyRunFiles reports whether a directory holds nothing but qrun's files:
// the manifest, the recipe and temporary files.
func OnlyRunFiles(dir string) (bool, error) {
	return onlyFiles(dir, func(name string) bool {
		return name == RecipeFile || name == ManifestFile || strings.HasPrefix(name, TempPrefix)
	})
}

// onlyFiles reports whether every file directly in dir is one that allowed
// accepts by name. Subdirectories do not count: a nested run directory (a
// run with params sits inside the one without) is not this run's.
func onlyFiles(dir string, allowed func(name string) bool) (bool, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range ents {
		if !e.IsDir() && !allowed(e.Name()) {
			return false, nil
		}
	}
	return true, nil
}

// Torn reports whether dir holds nothing but qrun's files and a manifest
// that is empty or a cut-short qrun manifest (what a power loss can leave
// of a write that was never synced) — never a file someone else wrote.
func Torn(dir string) bool {
	if only, err := OnlyRunFiles(dir); err != nil || !only {
		return false
	}
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return false
	}
	head := "qrun_manifest: "
	if len(b) < len(head) {
		return strings.HasPrefix(head, string(b))
	}
	return strings.HasPrefix(string(b), head)
}

// Reset empties an uncommitted directory (see Uncommitted) so that its run
// can be written afresh: this process's temporary files, legacy ones (see
// Writer.Reset) and the recipe.
func Reset(dir string) error { return Writer("").Reset(dir) }

// Files are the two files of a run directory.
type Files struct {
	Manifest []byte
	Recipe   []byte
}

// WriteMissing writes the run's files that are absent, each atomically and
// durably, the recipe first so that a manifest on disk always has its recipe
// beside it; files already there are left byte for byte as they are
// (re-planning never rewrites a run). It reports how many files it wrote.
func WriteMissing(dir string, f Files) (int, error) { return Writer("").WriteMissing(dir, f) }

// WriteAll writes both files atomically and durably, replacing what is
// there: the recipe first, then the manifest.
func WriteAll(dir string, f Files) error {
	b := &Batch{sync: true}
	if err := b.WriteAll(dir, f); err != nil {
		return err
	}
	return SyncDir(dir)
}

// Batch writes the files of many runs, each atomically (temporary file,
// rename), but durably only all together: Sync makes every file written so
// far durable with one syncfs of the output root's file system, instead of
// two fsyncs per file.
//
// Why crash safety holds: a reader never sees a torn file under its final
// name, because every file appears by rename, and a killed process leaves
// the page cache intact. After a power loss, a file renamed but not yet
// synced may come back empty; but the caller syncs the batch before it
// commits the registry, so such a file belongs to a run no registry commit
// covers, and the next plan writes every unregistered run's files afresh
// (see plan). A run the registry holds has durable files.
type Batch struct {
	sync    bool // fsync each file (the unbatched functions above)
	writer  Writer
	written int
}

// NewBatch starts a batch of unsynced writes, its temporary files w's.
func NewBatch(w Writer) *Batch { return &Batch{writer: w} }

// WriteMissing is WriteMissing above without per-file syncs.
func (b *Batch) WriteMissing(dir string, f Files) (int, error) {
	n := 0
	for _, x := range []struct {
		name string
		data []byte
	}{{RecipeFile, f.Recipe}, {ManifestFile, f.Manifest}} {
		p := filepath.Join(dir, x.name)
		if _, err := os.Lstat(p); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("check %s: %w", p, err)
		}
		if err := writeRenamed(b.writer, p, x.data, 0o644, b.sync); err != nil {
			return n, err
		}
		n++
		b.written++
	}
	return n, nil
}

// WriteNew writes both files into a directory this process has just
// created, so neither can exist yet.
func (b *Batch) WriteNew(dir string, f Files) error { return b.WriteAll(dir, f) }

// WriteAll is WriteAll above without per-file syncs.
func (b *Batch) WriteAll(dir string, f Files) error {
	if err := writeRenamed(b.writer, filepath.Join(dir, RecipeFile), f.Recipe, 0o644, b.sync); err != nil {
		return err
	}
	if err := writeRenamed(b.writer, filepath.Join(dir, ManifestFile), f.Manifest, 0o644, b.sync); err != nil {
		return err
	}
	b.written += 2
	return nil
}

// Written counts the files the batch wrote.
func (b *Batch) Written() int { return b.written }

// Sync makes every file of the batch durable: one syncfs of the file
// system holding root (where the platform has it; else a sync of
// everything).
func (b *Batch) Sync(root string) error {
	if b.written == 0 {
		return nil
	}
	return syncFS(root)
}

// RemoveStrays deletes this process's temporary files and legacy ones
// left in dir (see Writer.RemoveStrays).
func RemoveStrays(dir string) error { return Writer("").RemoveStrays(dir) }
