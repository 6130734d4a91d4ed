package vocab

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/qrun-dev/qrun/internal/sharedtest"
	"github.com/qrun-dev/qrun/modelopt"
)

// runtimeRow is one row of runtime-0.46.0.yaml: what real ModelOpt 0.46.0
// did on a GPU with a built-in format × granularity.
type runtimeRow struct {
	Format      string `yaml:"format"`
	Granularity string `yaml:"granularity"`
	Qrun        string `yaml:"qrun"` // accepts | refuses (before runtime truth)
	Quantize    string `yaml:"quantize"`
	Forward     string `yaml:"forward"`
	Export      *struct {
		OK         bool   `yaml:"ok"`
		QuantAlgo  string `yaml:"quant_algo"`
		Describes  bool   `yaml:"describes_the_model"`
		WhyNot     string `yaml:"why_not"`
		Error      string `yaml:"error"`
		Tensors    any    `yaml:"layer0_tensors"`
		ExcludeMod any    `yaml:"exclude_modules"`
	} `yaml:"export_hf_checkpoint"`
}

func loadRuntimeRows(t *testing.T) []runtimeRow {
	t.Helper()
	var doc struct {
		ModelOpt string       `yaml:"modelopt"`
		Runs     []runtimeRow `yaml:"runs"`
	}
	if err := yaml.Unmarshal(sharedtest.ReadFile(t, "modelopt/runtime-0.46.0.yaml"), &doc); err != nil {
		t.Fatalf("parse runtime-0.46.0.yaml: %v", err)
	}
	if doc.ModelOpt != "0.46.0" || len(doc.Runs) != 144 {
		t.Fatalf("runtime-0.46.0.yaml: modelopt %s, %d rows; want 0.46.0, 144 (16 formats × 9 granularities)", doc.ModelOpt, len(doc.Runs))
	}
	return doc.Runs
}

// forced is what the GPU ran for a combination qrun refuses: the format's
// preset with the overlay forced on — the role's attributes, then the
// overlay's, axis and block_sizes exclusive; a disabled role switched on
// with default attributes.
func forced(t *testing.T, f *Format, g *Granularity) modelopt.Config {
	t.Helper()
	c := f.Config.Clone()
	for _, role := range g.Touches() {
		ov, _ := g.Overlay(role)
		i := c.RoleIndex(role)
		if i < 0 { // the deny-all alone disables the role: add its entry after the weights'
			i = c.RoleIndex(modelopt.Weights) + 1
			c.Entries = append(c.Entries[:i], append([]modelopt.Entry{{QuantizerName: role.Quantizer()}}, c.Entries[i:]...)...)
		}
		e := &c.Entries[i]
		attrs := modelopt.Attrs{}
		switch {
		case e.Stages != nil:
			attrs = e.Stages[0]
		case e.Cfg != nil:
			attrs = e.Cfg
		}
		_, axis := ov["axis"]
		_, blocks := ov["block_sizes"]
		if axis && !blocks {
			delete(attrs, "block_sizes")
		}
		if blocks && !axis {
			delete(attrs, "axis")
		}
		for k, v := range ov {
			attrs[k] = modelopt.Clone(v)
		}
		if e.Stages == nil {
			e.Cfg = attrs
		}
		e.Enable = nil
	}
	return c
}

// checkRuntimeRow compares qrun's rule with what the GPU did.
func checkRuntimeRow(t *testing.T, row runtimeRow, c modelopt.Config) modelopt.Verdict {
	t.Helper()
	crash := modelopt.Crash(c)
	switch {
	case row.Quantize != "ok":
		if crash == nil || crash.Stage != "calibration" || crash.Raises != row.Quantize {
			t.Errorf("quantize raised %q on the GPU; qrun's rule predicts %+v", row.Quantize, crash)
		}
		return modelopt.Verdict{}
	case row.Forward != "ok":
		if crash == nil || crash.Stage != "forward" || crash.Raises != row.Forward {
			t.Errorf("the forward pass raised %q on the GPU; qrun's rule predicts %+v", row.Forward, crash)
		}
		return modelopt.Verdict{}
	case crash != nil:
		t.Errorf("quantize and forward ran on the GPU; qrun's rule predicts a crash: %v", crash)
		return modelopt.Verdict{}
	}
	v := modelopt.Export(c, modelopt.V046)
	ex := row.Export
	switch {
	case ex == nil:
		t.Fatalf("row has no export_hf_checkpoint")
	case !ex.OK:
		if v.Kind != modelopt.Fails || !globMatch(v.Error, ex.Error) {
			t.Errorf("export raised %q on the GPU; qrun's rule gives %s, error %q", ex.Error, v.Kind, v.Error)
		}
		if v.Why == "" {
			t.Errorf("a failing export has no reason")
		}
	case ex.Describes:
		if v.Kind != modelopt.Deployable || v.QuantAlgo != ex.QuantAlgo {
			t.Errorf("export gave %s and describes the model; qrun's rule gives %s", ex.QuantAlgo, v.Summary())
		}
	default:
		if v.Kind != modelopt.Mislabelled || v.QuantAlgo != ex.QuantAlgo || v.Why != ex.WhyNot {
			t.Errorf("export gave %s, which does not describe the model: %s\nqrun's rule gives %s", ex.QuantAlgo, ex.WhyNot, v.Summary())
		}
	}
	return v
}

// globMatch: pattern's "*" stands for any text; nothing else is special.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(s, p)
		}
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return s == ""
}

// TestRuntimeTruth checks qrun's refusals and export verdicts against every
// row of what ModelOpt 0.46.0 did on a GPU (SPEC §11.4): each combination
// qrun accepts gets the verdict and label the GPU export gave; each one
// that crashed ModelOpt is refused; and for the combinations qrun refuses
// anyway, the rule still predicts what the GPU did with the forced recipe.
// All rows, no skips, no tolerance.
func TestRuntimeTruth(t *testing.T) {
	v := Builtin()
	counts := map[string]int{}
	for _, row := range loadRuntimeRows(t) {
		t.Run(row.Format+"/"+row.Granularity, func(t *testing.T) {
			f, err := v.Format(row.Format)
			if err != nil {
				t.Fatal(err)
			}
			g, err := v.Granularity(row.Granularity)
			if err != nil {
				t.Fatal(err)
			}
			r, err := v.Resolve(row.Format, row.Granularity)
			crashed := row.Quantize != "ok" || row.Forward != "ok"
			switch {
			case row.Qrun == "refuses":
				if err == nil {
					t.Fatalf("qrun refused this before; now it accepts it")
				}
				checkRuntimeRow(t, row, forced(t, f, g))
				counts["refused (locked or not applicable)"]++
			case crashed:
				var ce *CrashError
				if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidSelection) {
					t.Fatalf("ModelOpt crashed (%s %s); qrun must refuse it as an invalid selection, got %v", row.Quantize, row.Forward, err)
				}
				rc, err := v.resolveChecked(row.Format, row.Granularity)
				if err != nil {
					t.Fatal(err)
				}
				checkRuntimeRow(t, row, rc.Config)
				counts["refused: crashes ModelOpt"]++
			case err != nil:
				t.Fatalf("qrun refuses it: %v", err)
			default:
				verdict := checkRuntimeRow(t, row, r.Config)
				counts[string(verdict.Kind)]++
			}
		})
	}
	var lines []string
	for k, n := range counts {
		lines = append(lines, fmt.Sprintf("%-36s %d", k, n))
	}
	sort.Strings(lines)
	t.Logf("runtime truth, 144 rows:\n%s", strings.Join(lines, "\n"))
	want := map[string]int{"deployable": 34, "mislabelled": 20, "fails": 28, "refused: crashes ModelOpt": 4, "refused (locked or not applicable)": 58}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%s: %d rows, want %d", k, counts[k], n)
		}
	}
}

// TestBuiltinPresetFormatsRuntimeTruth: every hf_ptq --qformat format of
// qrun's, at its default granularity, gets the export label and verdict
// ModelOpt 0.46 gave its preset on the GPU (runtime-presets-0.46.0.yaml).
func TestBuiltinPresetFormatsRuntimeTruth(t *testing.T) {
	var doc struct {
		Presets []struct {
			QFormat string `yaml:"qformat"`
			Export  struct {
				OK        bool    `yaml:"ok"`
				QuantAlgo *string `yaml:"quant_algo"`
				Describes *bool   `yaml:"describes_the_model"`
			} `yaml:"export_hf_checkpoint"`
		} `yaml:"presets"`
	}
	if err := yaml.Unmarshal(sharedtest.ReadFile(t, "modelopt/runtime-presets-0.46.0.yaml"), &doc); err != nil {
		t.Fatal(err)
	}
	counts := map[modelopt.VerdictKind]int{}
	for _, row := range doc.Presets {
		r, err := Builtin().Resolve(row.QFormat, "default")
		if err != nil {
			t.Errorf("%s: %v", row.QFormat, err)
			continue
		}
		v := r.Export(modelopt.V046)
		counts[v.Kind]++
		ex := row.Export
		var want modelopt.VerdictKind
		switch {
		case !ex.OK, ex.QuantAlgo == nil:
			want = modelopt.Fails // raises, or quantizes nothing of a dense model
		case ex.Describes != nil && *ex.Describes:
			want = modelopt.Deployable
		default:
			want = modelopt.Mislabelled
		}
		if v.Kind != want || (ex.QuantAlgo != nil && v.QuantAlgo != *ex.QuantAlgo) {
			t.Errorf("%s: qrun gives %s; the GPU gave %s %v", row.QFormat, v.Summary(), want, ex.QuantAlgo)
		}
	}
	t.Logf("the 34 hf_ptq formats at default: %v", counts)
}
