package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
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

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for regsnap
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/qrun-dev/qrun/internal/pgtest"
)

// TestMain runs this test binary as qrun when it is started under that
// name (a script's "exec qrun …", qrunExe): main with its own arguments,
// streams and exit code. A script's plain "qrun …" runs in-process instead
// (runQrun). "exec lsr DIR…" lists files, so scripts can check that nothing
// else was written. The package's throwaway PostgreSQL server
// (pgtest.Shared, started by the first test that needs it) is stopped at
// the end.
// updateScripts rewrites the scripts' cmp files from what qrun printed
// (go test ./cmd/qrun -run TestScripts -update-scripts), for a change of
// output that is intended; read the diff before committing it.
var updateScripts = flag.Bool("update-scripts", false, "rewrite the scripts' golden files from the output")

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "qrun" {
		code := runMain()
		if f := os.Getenv("QRUN_TEST_PEAK_RSS_FILE"); f != "" {
			writePeakRSS(f)
		}
		os.Exit(code)
	}
	testscript.Main(stopSharedAfter{m}, map[string]func(){
		"signalled": func() { os.Exit(signalledMain()) },
		"lsr":       func() { os.Exit(lsr(os.Args[1:])) },
		"hf_ptq":    func() { os.Exit(hfPTQStub(os.Args[1:])) },
	})
}

// stopSharedAfter runs the tests, with this binary on $PATH as qrun (for
// scripts' "exec qrun"), then stops the shared PostgreSQL server.
type stopSharedAfter struct{ m *testing.M }

func (s stopSharedAfter) Run() int {
	defer pgtest.StopShared()
	parallelByDefault()
	bin, err := os.MkdirTemp("", "qrun-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(bin)
	exe, err := os.Executable()
	if err == nil {
		err = os.Symlink(exe, filepath.Join(bin, "qrun"))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return s.m.Run()
}

// parallelByDefault runs twice as many parallel tests as there are CPUs
// unless -test.parallel says otherwise: a script or a real-process test
// spends about half its time waiting (on PostgreSQL, on its processes, on
// a lock timeout it provokes), so go test's default of one per CPU leaves
// the CPUs idle that long.
func parallelByDefault() {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", strconv.Itoa(2*runtime.GOMAXPROCS(0)))
	}
}

// TestScripts runs the end-to-end CLI scenarios in testdata/script twice,
// once per registry backend:
//
//   - sqlite: the default registry, .qrun/qrun.db in the project (QRUN_DB
//     unset);
//   - postgres: QRUN_DB set to a schema of the script's own
//     (?search_path=NAME), created empty before the script and dropped
//     after it, in a database of the pass's own on the package's throwaway
//     PostgreSQL server (internal/pgtest): a schema costs the server a few
//     catalog rows where a database is some 300 files, which took most of
//     a short script's time. Databases of their own, and the errors about
//     them, are testdata/postgres's (TestPostgres). This pass is skipped with one
//     line where PostgreSQL isn't installed (a failure with CI=true or
//     QRUN_REQUIRE_POSTGRES=1).
//
// $TESTDB is the pass's QRUN_DB (empty on sqlite): a script that points
// QRUN_DB elsewhere restores it with env QRUN_DB=$TESTDB.
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
//	registry save FILE
//	registry same FILE
//	    save the registry in effect to FILE; require that it still equals
//	    FILE: the bytes of .qrun/qrun.db on sqlite, a dump of every
//	    table's rows on postgres. How a script checks, on both backends,
//	    that nothing was written to the registry.
//	[!] registry exists [DIR]
//	    a registry is there: DIR/.qrun/qrun.db (DIR defaults to the
//	    working directory) on sqlite, tables in the database on postgres.
//	registry new VAR
//	    set VAR to a new, empty registry for env QRUN_DB=$VAR: on postgres
//	    the URL of another schema (dropped after the script), on sqlite
//	    empty (the project's own .qrun/qrun.db): another project's registry.
//
// On postgres, the registry in effect is $QRUN_DB when it is a postgres://
// URL, else $TESTDB.
//
// Conditions: [sqlite] and [postgres] hold in their backend's pass, for
// the few lines that are about one backend only (a SQLite file opened,
// corrupted or locked, --db pointing at a SQLite path on purpose); [root]
// holds when the tests run as root, where file permissions don't bind:
// read-only cases are guarded with [!root].
func TestScripts(t *testing.T) {
	t.Parallel() // beside the real-process tests, which wait on their processes most of the time
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			testscript.Run(t, scriptParams(t, "testdata/script", backend))
		})
	}
}

// scriptParams are the testscript parameters of a script folder run on one
// backend: "sqlite" or "postgres" (which needs the shared server, and skips
// or fails as pgtest.Shared does without one).
func scriptParams(t *testing.T, dir, backend string) testscript.Params {
	var schemas *pgtest.Schemas
	if backend == "postgres" {
		var err error
		if schemas, err = pgtest.Shared(t).NewSchemas(t.Name()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { schemas.Close() })
	}
	// Absolute: qrun run in-process changes the process's working
	// directory while other scripts are being read (see runQrun).
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return testscript.Params{
		Dir:                 abs,
		RequireExplicitExec: true,
		UpdateScripts:       *updateScripts,
		Setup: func(env *testscript.Env) error {
			env.Setenv("QRUN_FORCE_TTY", "")
			// Under -race, a process ending with exit code 0 sleeps a
			// second first (GORACE atexit_sleep_ms, default 1000): with
			// thousands of qrun processes, most of the scripts' time.
			env.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
			env.Setenv("QRUN_DB", "")
			env.Setenv("TESTDB", "")
			if schemas == nil {
				return nil
			}
			name, dsn, err := schemas.Create(filepath.Base(env.WorkDir))
			if err != nil {
				return err
			}
			env.Defer(func() { schemas.Drop(name) })
			env.Setenv("QRUN_DB", dsn)
			env.Setenv("TESTDB", dsn)
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				return os.Geteuid() == 0, nil
			case "sqlite", "postgres":
				return cond == backend, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"qrun":        cmdQrun,
			"exitcode":    cmdExitcode,
			"nointernals": cmdNoInternals,
			"genfile":     cmdGenfile,
			"repeat":      cmdRepeat,
			"registry":    func(ts *testscript.TestScript, neg bool, args []string) { cmdRegistry(ts, neg, args, schemas) },
		},
	}
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
	var ee *exec.ExitError
	if args[1] == "qrun" && maxRSS == 0 {
		got = runQrun(ts, args[2:])
	} else if err := execMeasured(ts, maxRSS > 0, args[1], args[2:]...); err != nil {
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	took := time.Since(start)
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
		rss, ok := reportedPeakRSS(ts)
		if !ok {
			rss, ok = peakRSS(ee.ProcessState)
		}
		switch {
		case !ok:
			ts.Logf("exitcode -maxrss: peak memory not measured on %s", runtime.GOOS)
		case rss > maxRSS:
			ts.Fatalf("peak memory %d MiB, want at most %d MiB", rss>>20, maxRSS>>20)
		}
	}
}

// cmdQrun is the scripts' "[!] qrun args...": qrun run in-process (see
// runQrun), failing the script when its exit code is not 0 (with !, when it
// is 0), as exec does for a program.
func cmdQrun(ts *testscript.TestScript, neg bool, args []string) {
	code := runQrun(ts, args)
	switch {
	case neg && code == 0:
		ts.Fatalf("unexpected qrun success")
	case !neg && code != 0:
		ts.Fatalf("qrun: exit code %d", code)
	}
}

// runQrun runs the qrun command line args in-process, as main does for a
// process, concurrently with other scripts' commands: in the script's working directory and environment, standard
// input empty, output to the script's stdout and stderr (not a terminal,
// unless QRUN_FORCE_TTY=1). It returns the exit code. A script that feeds
// qrun standard input, runs it in the background or signals it uses
// "exec qrun", a real process.
func runQrun(ts *testscript.TestScript, args []string) int {
	io := &IOStreams{In: strings.NewReader(""), Out: ts.Stdout(), ErrOut: ts.Stderr()}
	if ts.Getenv("QRUN_FORCE_TTY") == "1" {
		io.IsTTY, io.ErrIsTTY = true, true
	}
	// Commands take every relative path from WorkDir, never from the
	// process's working directory: scripts run their qrun commands at once.
	return run(context.Background(), args, &Factory{IO: io, Getenv: ts.Getenv, WorkDir: ts.MkAbs(".")})
}

// execMeasured runs prog like ts.Exec; with measure, a qrun process (this
// test binary, see TestMain) writes its own peak resident memory to a
// file in the script's temp folder for reportedPeakRSS. The exit status's
// figure is no good here: a process the Go runtime starts shares the test
// process's memory until its exec, and Linux counts that peak as the
// child's — and this test process, which runs qrun in-process, is big.
func execMeasured(ts *testscript.TestScript, measure bool, prog string, args ...string) error {
	if !measure {
		return ts.Exec(prog, args...)
	}
	f := peakRSSFile(ts)
	_ = os.Remove(f)
	ts.Setenv("QRUN_TEST_PEAK_RSS_FILE", f)
	defer ts.Setenv("QRUN_TEST_PEAK_RSS_FILE", "")
	return ts.Exec(prog, args...)
}

func peakRSSFile(ts *testscript.TestScript) string {
	return filepath.Join(ts.Getenv("TMPDIR"), "qrun-peak-rss")
}

// writePeakRSS writes this process's peak resident memory (VmHWM of
// /proc/self/status, in kB) to file f; where there is no /proc, nothing.
func writePeakRSS(f string) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			_ = os.WriteFile(f, []byte(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))), 0o644)
			return
		}
	}
}

// reportedPeakRSS reads what writePeakRSS wrote, in bytes.
func reportedPeakRSS(ts *testscript.TestScript) (int64, bool) {
	b, err := os.ReadFile(peakRSSFile(ts))
	if err != nil {
		return 0, false
	}
	kb, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		ts.Fatalf("exitcode -maxrss: the peak memory written by qrun is %q", b)
	}
	return kb << 10, true
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

// cmdRegistry checks the registry in effect (see TestScripts): on sqlite
// the file .qrun/qrun.db (of the working directory, or of DIR), on postgres
// the database in $QRUN_DB, or in $TESTDB when $QRUN_DB is not a
// postgres:// URL.
func cmdRegistry(ts *testscript.TestScript, neg bool, args []string, schemas *pgtest.Schemas) {
	usage := func() {
		ts.Fatalf("usage: registry save FILE | registry same FILE | [!] registry exists [DIR] | registry new VAR")
	}
	if len(args) == 0 || neg && args[0] != "exists" {
		usage()
	}
	url := ts.Getenv("TESTDB")
	if u := ts.Getenv("QRUN_DB"); url != "" && strings.HasPrefix(u, "postgres://") {
		url = u
	}
	switch args[0] {
	case "save", "same":
		if len(args) != 2 {
			usage()
		}
		snap := registrySnapshot(ts, url, ".")
		file := ts.MkAbs(args[1])
		if args[0] == "save" {
			ts.Check(os.WriteFile(file, snap, 0o666))
			return
		}
		want, err := os.ReadFile(file)
		ts.Check(err)
		if !bytes.Equal(snap, want) {
			if url != "" {
				ts.Logf("registry now:\n%s", snap)
			}
			ts.Fatalf("the registry changed since registry save %s", args[1])
		}
	case "exists":
		if len(args) > 2 {
			usage()
		}
		dir := "."
		if len(args) == 2 {
			dir = args[1]
		}
		var exists bool
		var where string
		if url != "" {
			tables, err := pgTables(url)
			ts.Check(err)
			exists, where = len(tables) > 0, "tables in "+url
		} else {
			where = filepath.Join(dir, ".qrun", "qrun.db")
			_, err := os.Stat(ts.MkAbs(where))
			exists = err == nil
		}
		if exists && neg {
			ts.Fatalf("a registry exists (%s)", where)
		}
		if !exists && !neg {
			ts.Fatalf("no registry (no %s)", where)
		}
	case "new":
		if len(args) != 2 {
			usage()
		}
		if schemas == nil {
			ts.Setenv(args[1], "")
			return
		}
		name, dsn, err := schemas.Create(args[1])
		ts.Check(err)
		ts.Defer(func() { schemas.Drop(name) })
		ts.Setenv(args[1], dsn)
	default:
		usage()
	}
}

// registrySnapshot is the content of a registry: the bytes of
// DIR/.qrun/qrun.db, or with a PostgreSQL URL a dump of its rows.
func registrySnapshot(ts *testscript.TestScript, url, dir string) []byte {
	if url == "" {
		b, err := os.ReadFile(ts.MkAbs(filepath.Join(dir, ".qrun", "qrun.db")))
		ts.Check(err)
		return b
	}
	s, err := pgDump(url)
	ts.Check(err)
	return []byte(s)
}

// pgTables are the tables of a PostgreSQL registry: those of its schema
// (the URL's search_path, public by default).
func pgTables(url string) ([]string, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return tableNames(db)
}

func tableNames(db *sql.DB) ([]string, error) {
	rows, err := db.Query(`SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name COLLATE "C"`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		tables = append(tables, t)
	}
	return tables, rows.Err()
}

// pgDump is every row of every table in the schema of a PostgreSQL
// database, as text, tables by name and rows in text order. A database
// without tables is empty text.
func pgDump(url string) (string, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return "", err
	}
	defer db.Close()
	tables, err := tableNames(db)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, t := range tables {
		fmt.Fprintf(&b, "-- %s\n", t)
		q := `SELECT r::text FROM "` + t + `" r ORDER BY r::text COLLATE "C"`
		rows, err := db.Query(q)
		if err != nil {
			return "", err
		}
		for rows.Next() {
			var r string
			if err := rows.Scan(&r); err != nil {
				rows.Close()
				return "", err
			}
			b.WriteString(r + "\n")
		}
		if err := rows.Err(); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}
