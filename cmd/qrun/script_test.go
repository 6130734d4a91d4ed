package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run qrun in-process as a real command: each
// script's "exec qrun …" runs main with its own arguments, streams and exit
// code. "exec lsr DIR…" lists files, so scripts can check that nothing else
// was written.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"qrun": func() { os.Exit(run(os.Args[1:], defaultIO())) },
		"lsr":  func() { os.Exit(lsr(os.Args[1:])) },
	})
}

// TestScripts runs the end-to-end CLI scenarios in testdata/script.
//
// Besides testscript's own commands, scripts have:
//
//	exitcode N prog [args...]
//	    run prog (like exec) and require exit code N exactly
//	    (qrun: 0 ok, 1 error, 2 usage, 3 blocked, 4 invalid selection);
//	    stdout and stderr are then checked with stdout/stderr as usual.
//	nointernals
//	    the last command's stdout and stderr hold no Go-internal words
//	    and no stack trace (SPEC §7).
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("QRUN_FORCE_TTY", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":    cmdExitcode,
			"nointernals": cmdNoInternals,
		},
	})
}

func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode; give the expected code")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil || want < 0 {
		ts.Fatalf("exitcode: %q is not an exit code", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit code %d, want %d", got, want)
	}
}

// goInternals are words a user should never see from qrun: stack traces,
// runtime panics, Go type and package names, fmt's bad-verb markers,
// cobra's generic argument wording.
var goInternals = regexp.MustCompile(strings.Join([]string{
	`goroutine \d`, `panic`, `runtime[./]`, `\.go:\d`, `\bstrconv\.`, `\bos\.`, `\bfs\.`,
	`syscall`, `%!`, `map\[`, `\[\]interface`, `interface ?\{\}`, `<nil>`, `\*yaml\.`,
	`yaml: unmarshal`, `!!(str|int|map|seq|bool|float|null)\b`, `reflect`, `cobra`, `pflag`,
	`arg\(s\)`, `\.qrun-tmp-`,
	// os.PathError's "op path: reason", e.g. "open conf/x.yaml: permission denied"
	`\b(open|stat|lstat|mkdir|rename|readdirent|remove|unlinkat|fsync|sync) \S+: `,
	`\bnil pointer`, `\bindex out of range`, `\berrors\.`,
}, "|"))

func cmdNoInternals(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 0 {
		ts.Fatalf("usage: nointernals")
	}
	for _, stream := range []string{"stdout", "stderr"} {
		text := ts.ReadFile(stream)
		if m := goInternals.FindString(text); m != "" {
			ts.Fatalf("%s shows a Go-internal word or trace: %q", stream, m)
		}
	}
}

// lsr prints every file and folder under each argument, one per line,
// sorted, folders with a trailing "/". The script's own temp folder
// ($WORK/.tmp, testscript's TMPDIR) is left out.
func lsr(args []string) int {
	tmp, _ := filepath.Abs(os.Getenv("TMPDIR"))
	var out []string
	for _, root := range args {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if abs, _ := filepath.Abs(p); abs == tmp {
				return filepath.SkipDir
			}
			if p == root && d.IsDir() {
				return nil
			}
			p = filepath.ToSlash(p)
			if d.IsDir() {
				p += "/"
			}
			out = append(out, p)
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	sort.Strings(out)
	for _, p := range out {
		fmt.Println(p)
	}
	return 0
}
