package main

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/qrun-dev/qrun/internal/sharedtest"
)

// hfPTQFlag is one flag of hf_ptq.py's parse_args at ModelOpt 0.46.0, as
// modelopt/hf_ptq-0.46.0.md lists them: its name, aliases, and the type
// argparse converts its value to.
type hfPTQFlag struct {
	name    string
	aliases []string
	typ     string // str, int, float
}

// hfPTQFlags are the flags of hf_ptq-0.46.0.md's table (hf_ptq.py:1374-1724).
var hfPTQFlags = []hfPTQFlag{
	{"pyt_ckpt_path", []string{"model"}, "str"},
	{"recipe", nil, "str"},
	{"qformat", nil, "str"},
	{"kv_cache_qformat", nil, "str"},
	{"export_path", nil, "str"},
	{"calib_size", nil, "str"},
	{"batch_size", nil, "int"},
	{"calib_seq", nil, "int"},
	{"dataset", nil, "str"},
	{"awq_block_size", nil, "int"},
	{"moe_calib_experts_ratio", nil, "float"},
	{"export_fmt", nil, "str"},
}

// hfPTQKVChoices are --kv_cache_qformat's argparse choices (hf_ptq.py:1461-1475).
var hfPTQKVChoices = []string{"none", "fp8", "fp8_affine", "fp8_cast", "nvfp4", "nvfp4_affine", "nvfp4_cast", "nvfp4_rotate"}

// hfPTQStub is a stand-in for `python hf_ptq.py`: argv[1] is the script,
// the rest is parsed as argparse parses hf_ptq's flags (--flag VALUE or
// --flag=VALUE; an unknown flag, a missing value or a value of the wrong
// type is exit 2, as argparse does). It prints script=… and each flag given,
// flag=value, one per line, in the order given: what hf_ptq would read.
func hfPTQStub(args []string) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "hf_ptq.py: error: "+format+"\n", a...)
		return 2
	}
	if len(args) == 0 {
		return fail("no script")
	}
	fmt.Printf("script=%s\n", args[0])
	seen := map[string]bool{}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			return fail("unrecognized arguments: %s", a)
		}
		name, val, hasVal := strings.Cut(a[2:], "=")
		var flag *hfPTQFlag
		for j := range hfPTQFlags {
			if hfPTQFlags[j].name == name || slices.Contains(hfPTQFlags[j].aliases, name) {
				flag = &hfPTQFlags[j]
			}
		}
		if flag == nil {
			return fail("unrecognized arguments: %s", a)
		}
		if !hasVal {
			if i+1 >= len(args) || strings.HasPrefix(args[i+1], "--") {
				return fail("argument --%s: expected one argument", name)
			}
			i++
			val = args[i]
		}
		switch flag.typ {
		case "int":
			if _, err := strconv.Atoi(val); err != nil {
				return fail("argument --%s: invalid int value: '%s'", name, val)
			}
		case "float":
			if _, err := strconv.ParseFloat(val, 64); err != nil {
				return fail("argument --%s: invalid float value: '%s'", name, val)
			}
		}
		if flag.name == "kv_cache_qformat" && !slices.Contains(hfPTQKVChoices, val) {
			return fail("argument --kv_cache_qformat: invalid choice: '%s'", val)
		}
		if seen[flag.name] {
			return fail("argument --%s given twice", flag.name)
		}
		seen[flag.name] = true
		fmt.Printf("%s=%s\n", flag.name, val)
	}
	if !seen["pyt_ckpt_path"] {
		return fail("the following arguments are required: --pyt_ckpt_path/--model")
	}
	return 0
}

// TestHFPTQStubFlagsAreHFPTQs: the stub declares exactly the flags of
// hf_ptq-0.46.0.md's table, and every param qrun passes as a flag is one.
func TestHFPTQStubFlagsAreHFPTQs(t *testing.T) {
	md := string(sharedtest.ReadFile(t, "modelopt/hf_ptq-0.46.0.md"))
	var want []string
	for _, m := range regexp.MustCompile("(?m)^\\| `--([a-z_]+)`( \\(alias `--([a-z_]+)`\\))? \\|").FindAllStringSubmatch(md, -1) {
		want = append(want, m[1])
		if m[3] != "" {
			want = append(want, m[3])
		}
	}
	var got []string
	for _, f := range hfPTQFlags {
		got = append(got, f.name)
		got = append(got, f.aliases...)
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("stub flags %v, hf_ptq-0.46.0.md's table %v", got, want)
	}
	if !strings.Contains(strings.Join(strings.Fields(md), " "), "fp8, fp8_affine, fp8_cast, nvfp4, nvfp4_affine, nvfp4_cast, nvfp4_rotate") {
		t.Error("hf_ptq-0.46.0.md no longer lists the KV presets the stub accepts")
	}
}
