// Package launch writes the command that launches a planned run, for
// launchers other than Hydra (SPEC §13): ModelOpt's own hf_ptq script, or a
// Go text/template of the user's for anything else. Every line is
// shell-ready: each argument quoted for a POSIX shell, so that `xargs -L1`,
// `eval` in a SLURM array script or Python's shlex.split hand the program
// exactly the value the run needs.
//
// The package knows nothing of the vocabulary or the registry: the caller
// passes a run's identity, its directory and the hf_ptq --qformat name that
// matches its recipe.
package launch

import (
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/qrun-dev/qrun/hydra"
	"github.com/qrun-dev/qrun/manifest"
)

// Run is what a launch line needs of one planned run.
type Run struct {
	RunID       string
	Dir         string // absolute
	Model       string
	Format      string
	Granularity string
	KVCache     string // "none" for none
	// QFormat is the hf_ptq --qformat name whose preset the recipe starts
	// from, "" when the format has none.
	QFormat string
	Params  []manifest.Param // identity parameters, sorted by key
	// Hydra is the run's Hydra override line (for templates).
	Hydra string
}

// Recipe is the path of the run's recipe.
func (r Run) Recipe() string { return filepath.Join(r.Dir, manifest.RecipeFile) }

// HFPTQ is how a line calls ModelOpt's examples/hf_ptq/hf_ptq.py.
type HFPTQ struct {
	Python string // interpreter, e.g. python
	Script string // path of hf_ptq.py, relative to where the lines run
}

// HFPTQFlags are the parameter keys that hf_ptq 0.46.0 reads as flags of
// the same name (hf_ptq.py:1404-1435): a param with one of these keys
// becomes --KEY VALUE.
var HFPTQFlags = []string{"batch_size", "calib_seq", "calib_size", "dataset"}

// HFPTQLine is the hf_ptq command for the run:
//
//	python <script> --pyt_ckpt_path <model> --recipe <dir>/modelopt_recipe.yaml
//	  --export_path <dir>/export [--qformat <name>] [--calib_size N …]
//
// --qformat goes with the recipe because hf_ptq still reads it under
// --recipe (export format, batch-size probe memory, the
// --cast_mxfp4_to_nvfp4 gate). The params that are no hf_ptq flag are
// returned in ignored: recorded in the run, not passed.
func HFPTQLine(h HFPTQ, r Run) (line string, ignored []string, err error) {
	args := []string{h.Python, h.Script,
		"--pyt_ckpt_path", r.Model,
		"--recipe", r.Recipe(),
		"--export_path", filepath.Join(r.Dir, "export"),
	}
	if r.QFormat != "" {
		args = append(args, "--qformat", r.QFormat)
	}
	for _, p := range r.Params {
		if !isHFPTQFlag(p.Key) {
			ignored = append(ignored, p.Key)
			continue
		}
		v, err := flagValue(p.Value)
		if err != nil {
			return "", nil, fmt.Errorf("param %s: %w", p.Key, err)
		}
		args = append(args, "--"+p.Key, v)
	}
	return hydra.Line(args), ignored, nil
}

func isHFPTQFlag(key string) bool {
	i := sort.SearchStrings(HFPTQFlags, key)
	return i < len(HFPTQFlags) && HFPTQFlags[i] == key
}

// flagValue is a param's value as an argparse flag takes it: a list is
// comma-joined, as --calib_size 512,1024 and --dataset a,b are.
func flagValue(v any) (string, error) {
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := flagValue(e)
			if err != nil {
				return "", err
			}
			if strings.Contains(s, ",") {
				return "", fmt.Errorf("list element %q holds a comma, which hf_ptq would split", s)
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	case string:
		return x, nil
	case int:
		return strconv.Itoa(x), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case nil:
		return "", fmt.Errorf("null has no hf_ptq flag value")
	}
	return fmt.Sprint(v), nil
}

// Template is a user's launch-line template: Go text/template over a run's
// fields (.RunID, .Dir, .Recipe, .Model, .Format, .Granularity, .KVCache,
// .QFormat, .Params, .Hydra), with quote (POSIX shell quoting of one
// argument) and join.
type Template struct{ t *template.Template }

// templateRun is what a template sees of a run.
type templateRun struct {
	RunID, Dir, Recipe, Model, Format, Granularity, KVCache, QFormat, Hydra string
	Params                                                                  map[string]any
}

// ParseTemplate parses a launch-line template.
func ParseTemplate(text string) (*Template, error) {
	t, err := template.New("launch").Option("missingkey=error").Funcs(template.FuncMap{
		"quote": func(v any) string { return hydra.Shell(fmt.Sprint(v)) },
		"join": func(sep string, vs []any) string {
			s := make([]string, len(vs))
			for i, v := range vs {
				s[i] = fmt.Sprint(v)
			}
			return strings.Join(s, sep)
		},
	}).Parse(text)
	if err != nil {
		return nil, tidy(err)
	}
	// A field that no run has (.Dri) is refused now, before any run is
	// planned; a param that only some runs have is refused on the run.
	if err := t.Execute(io.Discard, templateRun{}); err != nil && !strings.Contains(err.Error(), "map has no entry for key") {
		return nil, tidy(err)
	}
	return &Template{t}, nil
}

// Line is the template applied to the run.
func (t *Template) Line(r Run) (string, error) {
	params := make(map[string]any, len(r.Params))
	for _, p := range r.Params {
		params[p.Key] = p.Value
	}
	var b strings.Builder
	err := t.t.Execute(&b, templateRun{RunID: r.RunID, Dir: r.Dir, Recipe: r.Recipe(), Model: r.Model, Format: r.Format,
		Granularity: r.Granularity, KVCache: r.KVCache, QFormat: r.QFormat, Hydra: r.Hydra, Params: params})
	if err != nil {
		return "", tidy(err)
	}
	return b.String(), nil
}

// fields are what a template may use of a run.
const fields = ".RunID, .Dir, .Recipe, .Model, .Format, .Granularity, .KVCache, .QFormat, .Params, .Hydra"

// cantEvaluate is text/template's message for a field a run lacks.
var cantEvaluate = regexp.MustCompile(`can't evaluate field (\w+) in type \S+`)

// tidy says a template's error in a run's terms: without text/template's
// own template name, and with the fields a run has for a field it lacks.
func tidy(err error) error {
	msg := strings.TrimPrefix(err.Error(), "template: ")
	msg = strings.TrimPrefix(msg, "launch:")
	msg = strings.ReplaceAll(msg, ` "launch"`, "")
	msg = cantEvaluate.ReplaceAllString(msg, "a run has no field $1; it has "+fields)
	return fmt.Errorf("template: %s", msg)
}
