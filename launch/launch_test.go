package launch

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/qrun-dev/qrun/manifest"
)

var run = Run{
	RunID: "0123456789ab", Dir: "/o/it's here/Qwen3-8B/int8_smoothquant/default", Model: "Qwen/Qwen3-8B",
	Format: "int8_smoothquant", Granularity: "default", KVCache: "fp8_cast", QFormat: "int8_smoothquant",
	Params: []manifest.Param{{Key: "calib_size", Value: []any{256, 512}}, {Key: "dataset", Value: "cnn_dailymail"}, {Key: "seed", Value: 1}},
	Hydra:  "model=Qwen/Qwen3-8B",
}

func TestHFPTQLine(t *testing.T) {
	h := HFPTQ{Python: "python3", Script: "examples/hf_ptq/hf_ptq.py"}
	line, ignored, err := HFPTQLine(h, run)
	if err != nil {
		t.Fatal(err)
	}
	want := `python3 examples/hf_ptq/hf_ptq.py --pyt_ckpt_path Qwen/Qwen3-8B --recipe "/o/it's here/Qwen3-8B/int8_smoothquant/default/modelopt_recipe.yaml" --export_path "/o/it's here/Qwen3-8B/int8_smoothquant/default/export" --qformat int8_smoothquant --calib_size 256,512 --dataset cnn_dailymail`
	if line != want {
		t.Errorf("line:\n got %s\nwant %s", line, want)
	}
	if strings.Join(ignored, ",") != "seed" {
		t.Errorf("ignored = %v, want [seed]", ignored)
	}
	// The line is what a POSIX shell hands the program.
	out, err := exec.Command("sh", "-c", `eval "set -- $0"; printf '%s\n' "$@"`, line).Output()
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if args[5] != "/o/it's here/Qwen3-8B/int8_smoothquant/default/modelopt_recipe.yaml" || len(args) != 14 {
		t.Errorf("shell split: %q", args)
	}

	// No preset, no --qformat.
	r := run
	r.QFormat, r.Params = "", nil
	line, _, _ = HFPTQLine(h, r)
	if strings.Contains(line, "--qformat") {
		t.Errorf("a format without a preset got --qformat: %s", line)
	}
}

func TestHFPTQLineRefusesValuesHFPTQWouldMisread(t *testing.T) {
	h := HFPTQ{Python: "python", Script: "hf_ptq.py"}
	for _, c := range []struct {
		p    manifest.Param
		want string
	}{
		{manifest.Param{Key: "batch_size", Value: nil}, "param batch_size: null has no hf_ptq flag value"},
		{manifest.Param{Key: "dataset", Value: []any{"a,b", "c"}}, `param dataset: list element "a,b" holds a comma, which hf_ptq would split`},
	} {
		r := run
		r.Params = []manifest.Param{c.p}
		if _, _, err := HFPTQLine(h, r); err == nil || err.Error() != c.want {
			t.Errorf("%v: err = %v, want %s", c.p, err, c.want)
		}
	}
	r := run
	r.Params = []manifest.Param{{Key: "calib_seq", Value: 1024}, {Key: "batch_size", Value: 8.0}}
	line, _, err := HFPTQLine(h, r)
	if err != nil || !strings.HasSuffix(line, "--calib_seq 1024 --batch_size 8") {
		t.Errorf("line = %s, err = %v", line, err)
	}
}

func TestTemplate(t *testing.T) {
	for _, c := range []struct{ tmpl, want string }{
		{`sbatch run.sh {{quote .Model}} {{quote .Recipe}}`, `sbatch run.sh Qwen/Qwen3-8B "/o/it's here/Qwen3-8B/int8_smoothquant/default/modelopt_recipe.yaml"`},
		{`{{.RunID}} {{.Format}} {{.Granularity}} {{.KVCache}} {{.QFormat}} {{.Params.seed}} {{join "," .Params.calib_size}}`, `0123456789ab int8_smoothquant default fp8_cast int8_smoothquant 1 256,512`},
		{`{{.Hydra}} {{quote .Dir}}`, `model=Qwen/Qwen3-8B "/o/it's here/Qwen3-8B/int8_smoothquant/default"`},
	} {
		tm, err := ParseTemplate(c.tmpl)
		if err != nil {
			t.Fatalf("%s: %v", c.tmpl, err)
		}
		got, err := tm.Line(run)
		if err != nil || got != c.want {
			t.Errorf("%s:\n got %q (%v)\nwant %q", c.tmpl, got, err, c.want)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	for _, c := range []struct{ tmpl, want string }{
		{`{{.Dri}}`, "template: 1:2: executing at <.Dri>: a run has no field Dri; it has " + fields},
		{`{{.Dir`, "template: 1: unclosed action"},
		{`{{nope .Dir}}`, `template: 1: function "nope" not defined`},
	} {
		if _, err := ParseTemplate(c.tmpl); err == nil || err.Error() != c.want {
			t.Errorf("%s: err = %v, want %s", c.tmpl, err, c.want)
		}
	}
	// A param only some runs have is refused on the run that lacks it.
	tm, err := ParseTemplate(`{{.Params.tag}}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.Line(run); err == nil || !strings.Contains(err.Error(), `map has no entry for key "tag"`) {
		t.Errorf("err = %v", err)
	}
}
