// Package project finds a qrun project (the folder holding qrun.yaml, found
// by walking up like git) and reads its settings, with embedded defaults
// where there is none so that qrun works on a fresh machine with no set-up.
package project

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxSettings bounds qrun.yaml.
const maxSettings = 64 << 10

// FileName is the project settings file.
const FileName = "qrun.yaml"

// StateDir holds the embedded registry and its lock.
const StateDir = ".qrun"

// Settings are a project's qrun.yaml. Relative paths are relative to the
// project root.
type Settings struct {
	Output     string   `yaml:"output"`     // output root
	Database   string   `yaml:"database"`   // sqlite:PATH, PATH, or postgres://…
	Layout     string   `yaml:"layout"`     // directory template
	Vocabulary VocabDir `yaml:"vocabulary"` // vocabulary folders
	ModelOpt   string   `yaml:"modelopt"`   // target ModelOpt version
	Model      string   `yaml:"model"`      // default model id
	// KVCache is the KV-cache setting a selection without one gets (SPEC
	// §12): qrun init writes fp8_cast, hf_ptq's default; a qrun.yaml
	// without the key, or no qrun.yaml, means none.
	KVCache    string   `yaml:"kv_cache"`
	IgnoreKeys []string `yaml:"ignore_keys"` // Hydra keys recorded but not part of the identity
	Groups     Groups   `yaml:"groups"`      // Hydra config-group names
	// ModelKey is the Hydra key that selects the model in emitted lines
	// (model=Qwen/Qwen3-8B).
	ModelKey string `yaml:"model_key"`
	// HFPTQ is how --emit hf_ptq calls ModelOpt's script.
	HFPTQ HFPTQ `yaml:"hf_ptq"`
	// RequireExport refuses any combination whose checkpoint export is not
	// deployable (SPEC §11.3), as --require-export does.
	RequireExport bool `yaml:"require_export"`
	// Metrics are settings per metric name (qrun report's colour scale).
	Metrics map[string]Metric `yaml:"metrics"`
}

// Metric is what qrun.yaml says of one metric: which direction is better,
// lower (a perplexity, a loss) or higher (an accuracy).
type Metric struct {
	Better string `yaml:"better"`
}

// VocabDir names the folders of the user's vocabulary files.
type VocabDir struct {
	Granularity string `yaml:"granularity"`
	Format      string `yaml:"format"`
	KVCache     string `yaml:"kv_cache"`
}

// Groups are the Hydra config-group names that select a format, a
// granularity and a KV-cache setting (quant_pair=int8
// quant_granularity=w_group64 quant_kv_cache=fp8_cast).
type Groups struct {
	Format      string `yaml:"format"`
	Granularity string `yaml:"granularity"`
	KVCache     string `yaml:"kv_cache"`
}

// HFPTQ is the interpreter and script of ModelOpt's hf_ptq.py, relative to
// where the emitted lines run.
type HFPTQ struct {
	Python string `yaml:"python"`
	Script string `yaml:"script"`
}

// Defaults are the embedded settings.
func Defaults() Settings {
	return Settings{
		Output:     "outputs",
		Database:   filepath.Join(StateDir, "qrun.db"),
		Layout:     "{model}/{format}/{granularity}",
		Vocabulary: VocabDir{Granularity: "conf/quant_granularity", Format: "conf/quant_pair", KVCache: "conf/quant_kv_cache"},
		ModelOpt:   "0.46",
		Model:      "",
		KVCache:    "none",
		IgnoreKeys: []string{},
		Groups:     Groups{Format: "quant_pair", Granularity: "quant_granularity", KVCache: "quant_kv_cache"},
		ModelKey:   "model",
		HFPTQ:      HFPTQ{Python: "python", Script: "examples/hf_ptq/hf_ptq.py"},
	}
}

// Project is a project root and its settings in effect.
type Project struct {
	Root     string // absolute project root
	File     string // the qrun.yaml read, or "" for embedded defaults
	Settings Settings
}

// Path resolves a setting's path against the project root.
func (p *Project) Path(rel string) string {
	if rel == "" || filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(p.Root, rel)
}

// Find walks up from start to the first folder holding qrun.yaml.
func Find(start string) (string, bool, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", false, fmt.Errorf("find project: %w", err)
	}
	for {
		st, err := os.Stat(filepath.Join(dir, FileName))
		if err == nil && !st.IsDir() {
			return dir, true, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false, nil
		}
		dir = parent
	}
}

// Open finds the project from the working directory, or reads the given
// settings file; without either it uses the working directory and the
// embedded defaults.
func Open(wd, configFile string) (*Project, error) {
	if configFile != "" {
		abs, err := filepath.Abs(configFile)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", configFile, err)
		}
		s, err := Read(abs)
		if err != nil {
			return nil, err
		}
		return &Project{Root: filepath.Dir(abs), File: abs, Settings: s}, nil
	}
	root, found, err := Find(wd)
	if err != nil {
		return nil, err
	}
	if !found {
		abs, err := filepath.Abs(wd)
		if err != nil {
			return nil, fmt.Errorf("project: %w", err)
		}
		return &Project{Root: abs, Settings: Defaults()}, nil
	}
	file := filepath.Join(root, FileName)
	s, err := Read(file)
	if err != nil {
		return nil, err
	}
	return &Project{Root: root, File: file, Settings: s}, nil
}

// Read parses a qrun.yaml: unknown keys are errors; missing keys take the
// embedded defaults.
func Read(path string) (Settings, error) {
	reason := func(err error) error {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return Settings{}, fmt.Errorf("cannot read %s: %v", path, reason(err))
	}
	if !st.Mode().IsRegular() {
		return Settings{}, fmt.Errorf("%s is not a regular file; the settings are a plain YAML file", path)
	}
	if st.Size() > maxSettings {
		return Settings{}, fmt.Errorf("%s is larger than %d KiB; qrun.yaml holds a few settings", path, maxSettings>>10)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Settings{}, fmt.Errorf("cannot read %s: %v", path, reason(err))
	}
	s := Defaults()
	if len(bytes.TrimSpace(data)) == 0 {
		return s, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); errors.Is(err, io.EOF) {
		return Defaults(), nil // only comments
	} else if err != nil {
		return Settings{}, fmt.Errorf("%s: %s", path, tidyYAMLError(err))
	}
	if err := s.validate(); err != nil {
		return Settings{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

var (
	inType     = regexp.MustCompile(` in type [A-Za-z0-9_.\[\]]+`)
	unmarshal  = regexp.MustCompile("cannot unmarshal !!(\\w+)( `[^`]*`)? into [A-Za-z0-9_.\\[\\]]+")
	fieldNotFd = regexp.MustCompile(`field (\S+) not found`)
)

// tidyYAMLError rewrites yaml.v3's decoding errors without Go type names.
func tidyYAMLError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	msg = inType.ReplaceAllString(msg, "")
	msg = unmarshal.ReplaceAllString(msg, "wrong type: a $1 value$2 where a plain value was expected")
	msg = fieldNotFd.ReplaceAllString(msg, "unknown key $1")
	return strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", "; ")), " ")
}

func (s Settings) validate() error {
	keys := []struct{ key, v string }{
		{"groups.format", s.Groups.Format}, {"groups.granularity", s.Groups.Granularity},
		{"groups.kv_cache", s.Groups.KVCache}, {"model_key", s.ModelKey},
	}
	for i, k := range keys {
		if !hydraKey(k.v) {
			return fmt.Errorf("%s %q is not a Hydra key (letters, digits, _ and -, starting with a letter)", k.key, k.v)
		}
		if k.v == "hydra" {
			return fmt.Errorf("%s %q is taken: hydra.* keys are Hydra's own", k.key, k.v)
		}
		for _, other := range keys[:i] {
			if other.v == k.v {
				return fmt.Errorf("%s and %s are both %q; each selects its own axis", other.key, k.key, k.v)
			}
		}
	}
	for name, m := range s.Metrics {
		if m.Better != "lower" && m.Better != "higher" {
			return fmt.Errorf("metrics.%s.better %q: use lower or higher", name, m.Better)
		}
	}
	for key, v := range map[string]string{
		"output": s.Output, "database": s.Database, "layout": s.Layout, "modelopt": s.ModelOpt,
		"vocabulary.granularity": s.Vocabulary.Granularity, "vocabulary.format": s.Vocabulary.Format,
		"vocabulary.kv_cache": s.Vocabulary.KVCache, "kv_cache": s.KVCache,
		"hf_ptq.python": s.HFPTQ.Python, "hf_ptq.script": s.HFPTQ.Script,
	} {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("%s is empty; remove the key to use the default", key)
		}
		if strings.ContainsAny(v, "\x00\n") {
			return fmt.Errorf("%s contains a NUL or newline", key)
		}
	}
	return nil
}

// InitKVCache is the KV-cache setting qrun init writes: hf_ptq's default
// (--kv_cache_qformat fp8_cast), so that a new project quantizes what a
// user of hf_ptq expects.
const InitKVCache = "fp8_cast"

// Template is the qrun.yaml that `qrun init` writes.
func Template() []byte {
	d := Defaults()
	return []byte(fmt.Sprintf(`# qrun project settings. Paths are relative to this file's folder.
output: %s                 # output root: run directories go under it
database: %s           # the registry: a SQLite file, or postgres://… for a team
layout: "%s"   # run directory template; {params} and {run_id} are available
vocabulary:
  granularity: %s   # quant_granularity.name definitions, one file per name
  format: %s               # quant_pair.format_name definitions
  kv_cache: %s         # quant_kv_cache definitions (KV-cache settings)
modelopt: "%s"                   # target ModelOpt version: 0.44-0.46 list form, 0.43 legacy
model: ""                          # default model id (--model overrides)
kv_cache: %s                   # KV-cache setting when none is selected: hf_ptq's default (none: KV cache unquantized)
ignore_keys: []                    # Hydra keys recorded in the manifest but not in the run's identity
require_export: false              # true: refuse (exit 4) combinations whose checkpoint export is not deployable
model_key: %s                   # Hydra key of the model in emitted lines (model=Qwen/Qwen3-8B)
groups:                            # Hydra config-group names used in emitted overrides
  format: %s
  granularity: %s
  kv_cache: %s
hf_ptq:                            # qrun plan --emit hf_ptq: ModelOpt's script and its interpreter
  python: %s
  script: %s
`, d.Output, d.Database, d.Layout, d.Vocabulary.Granularity, d.Vocabulary.Format, d.Vocabulary.KVCache, d.ModelOpt,
		InitKVCache, d.ModelKey, d.Groups.Format, d.Groups.Granularity, d.Groups.KVCache, d.HFPTQ.Python, d.HFPTQ.Script))
}

// ErrExists says init found a project already there.
var ErrExists = errors.New("already exists")

// Init writes qrun.yaml and .qrun/ in dir; it never overwrites.
func Init(dir string) (string, error) {
	file := filepath.Join(dir, FileName)
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return file, fmt.Errorf("%s %w; qrun init never overwrites: edit it, or remove it to start over", file, ErrExists)
	}
	if err != nil {
		return file, fmt.Errorf("cannot create %s: %w", file, err)
	}
	if _, err := f.Write(Template()); err != nil {
		f.Close()
		return file, fmt.Errorf("write %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return file, fmt.Errorf("write %s: %w", file, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, StateDir), 0o755); err != nil {
		return file, fmt.Errorf("create %s: %w", StateDir, err)
	}
	return file, nil
}

func hydraKey(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
