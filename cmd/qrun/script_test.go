package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

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
//	exitcode [-within DURATION] [-maxrss SIZE] N prog [args...]
//	    run prog (like exec) and require exit code N exactly
//	    (qrun: 0 ok, 1 error, 2 usage, 3 blocked, 4 invalid selection);
//	    stdout and stderr are then checked with stdout/stderr as usual.
//	    -within: prog must end within DURATION (wall clock, e.g. 1s);
//	    -maxrss: its peak resident memory must stay under SIZE (e.g.
//	    64M; measured from the exit status, so only for N > 0).
//	nointernals
//	    the last command's stdout and stderr hold no Go-internal words
//	    and no stack trace (SPEC §7).
//	genfile NAME SIZE TEXT
//	    write file NAME (and its folders) of exactly SIZE bytes (suffix K
//	    or M: KiB, MiB) made of TEXT repeated, for files too big to keep
//	    in a script.
//	    TEXT in double quotes is a Go string literal: '"name: g\x00\n"'.
//	repeat VAR N TEXT
//	    set environment variable VAR to TEXT repeated N times, for huge
//	    arguments: exec qrun plan --format $VAR (testscript has no
//	    command substitution). TEXT in double quotes is a Go string
//	    literal, for arguments holding a newline: repeat NL 1 '"a\nb"'.
//
// Condition [root] holds when the tests run as root, where file
// permissions don't bind: read-only cases are guarded with [!root].
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("QRUN_FORCE_TTY", "")
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "root" {
				return os.Geteuid() == 0, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":    cmdExitcode,
			"nointernals": cmdNoInternals,
			"genfile":     cmdGenfile,
			"repeat":      cmdRepeat,
		},
	})
}

func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode; give the expected code")
	}
	var within time.Duration
	var maxRSS int64
	for len(args) >= 2 && strings.HasPrefix(args[0], "-") {
		var err error
		switch args[0] {
		case "-within":
			within, err = time.ParseDuration(args[1])
		case "-maxrss":
			maxRSS, err = parseSize(args[1])
		default:
			ts.Fatalf("exitcode: unknown option %s", args[0])
		}
		if err != nil {
			ts.Fatalf("exitcode %s: %v", args[0], err)
		}
		args = args[2:]
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode [-within DURATION] [-maxrss SIZE] N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil || want < 0 {
		ts.Fatalf("exitcode: %q is not an exit code", args[0])
	}
	got := 0
	start := time.Now()
	err = ts.Exec(args[1], args[2:]...)
	took := time.Since(start)
	var ee *exec.ExitError
	if err != nil {
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit code %d, want %d", got, want)
	}
	if within > 0 && took > within {
		ts.Fatalf("took %v, want at most %v", took.Round(time.Millisecond), within)
	}
	if maxRSS > 0 {
		if ee == nil {
			ts.Fatalf("exitcode -maxrss: measured only for a command that fails")
		}
		if rss, ok := peakRSS(ee.ProcessState); !ok {
			ts.Logf("exitcode -maxrss: peak memory not measured on %s", runtime.GOOS)
		} else if rss > maxRSS {
			ts.Fatalf("peak memory %d MiB, want at most %d MiB", rss>>20, maxRSS>>20)
		}
	}
}

// parseSize reads a byte count with an optional K or M suffix (KiB, MiB).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size such as 300, 64K or 100M", s)
	}
	return n * mult, nil
}

func cmdGenfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 || args[2] == "" {
		ts.Fatalf("usage: genfile NAME SIZE TEXT")
	}
	size, err := parseSize(args[1])
	if err != nil {
		ts.Fatalf("genfile: %v", err)
	}
	text := goLiteral(ts, args[2])
	if text == "" {
		ts.Fatalf("genfile: TEXT is empty")
	}
	block := strings.Repeat(text, 1+(64<<10)/len(text)) // whole repeats, ≥ 64 KiB
	name := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(name), 0o777))
	f, err := os.Create(name)
	ts.Check(err)
	w := bufio.NewWriter(f)
	for size > 0 {
		chunk := block
		if int64(len(chunk)) > size {
			chunk = chunk[:size]
		}
		_, err := w.WriteString(chunk)
		ts.Check(err)
		size -= int64(len(chunk))
	}
	ts.Check(w.Flush())
	ts.Check(f.Close())
}

func cmdRepeat(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: repeat VAR N TEXT")
	}
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 0 {
		ts.Fatalf("repeat: %q is not a count", args[1])
	}
	ts.Setenv(args[0], strings.Repeat(goLiteral(ts, args[2]), n))
}

// goLiteral reads TEXT in double quotes as a Go string literal; other TEXT
// is taken as it is.
func goLiteral(ts *testscript.TestScript, text string) string {
	if !strings.HasPrefix(text, `"`) {
		return text
	}
	s, err := strconv.Unquote(text)
	if err != nil {
		ts.Fatalf("%s is not a Go string literal: %v", text, err)
	}
	return s
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
// ($WORK/.tmp, testscript's TMPDIR) is left out, and so are SQLite's
// -wal and -shm files, which come and go with readers of a registry.
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
			if strings.HasSuffix(p, "-wal") || strings.HasSuffix(p, "-shm") {
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
