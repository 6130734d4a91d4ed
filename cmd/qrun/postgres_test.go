package main

// The CLI against a real PostgreSQL registry: the package's throwaway server
// (internal/pgtest, shared with TestScripts' postgres pass), the
// PostgreSQL-only scenarios of testdata/postgres, and real qrun processes
// planning at once from several project folders.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/qrun-dev/qrun/internal/pgtest"
	"github.com/qrun-dev/qrun/namekind"
)

func TestPostgres(t *testing.T) {
	t.Parallel() // beside the scripts: its own databases and folders
	srv := pgtest.Shared(t)
	t.Run("scripts", func(t *testing.T) { testPostgresScripts(t, srv) })
	t.Run("planners", func(t *testing.T) { testPostgresPlanners(t, srv) })
	t.Run("definition-race", func(t *testing.T) { testPostgresDefinitionRace(t, srv) })
}

// newDatabase creates a database for one test on srv and returns its URL.
func newDatabase(t *testing.T, srv *pgtest.Server) string {
	t.Helper()
	name, err := srv.CreateDatabase(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.DropDatabase(name) })
	return srv.URL(name)
}

// testPostgresScripts runs testdata/postgres, each script with a database
// of its own in $PGURL, and $PGDEAD, $PGBADPW, $PGNODB for the failures.
func testPostgresScripts(t *testing.T, srv *pgtest.Server) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	dir, err := filepath.Abs("testdata/postgres") // see scriptParams
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("QRUN_FORCE_TTY", "")
			name, err := srv.CreateDatabase(filepath.Base(env.WorkDir))
			if err != nil {
				return err
			}
			env.Defer(func() { srv.DropDatabase(name) })
			env.Setenv("PGURL", srv.URL(name))
			env.Setenv("PGDEAD", "postgres://qrun:hunter2@"+dead+"/qrun")
			env.Setenv("PGBADPW", srv.TCPURL(name, pgtest.User, "hunter2"))
			env.Setenv("PGNODB", srv.TCPURL("no_such_db", pgtest.User, pgtest.Password))
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
		},
	})
}

// testPostgresPlanners: 16 planners from 4 separate project folders share
// one PostgreSQL registry and one output root — selected by database: in
// qrun.yaml, QRUN_DB and --db — and start at once on a fresh database
// (migration race included): all exit 0, the registry holds exactly the
// union, every directory its two whole files, doctor is clean.
func testPostgresPlanners(t *testing.T, srv *pgtest.Server) {
	exe := qrunExe(t)
	url := newDatabase(t, srv)
	base := t.TempDir()
	root := filepath.Join(base, "outputs")
	var cmds []*exec.Cmd
	const projects, perProject = 4, 4
	for p := range projects {
		dir := filepath.Join(base, fmt.Sprintf("project-%d", p))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if r := runCmd(qrunCmd(exe, dir, nil, "init")); r.code != 0 {
			t.Fatal(r.stderr)
		}
		var env, pre []string
		switch p {
		case 0, 1: // database: in qrun.yaml
			settings := fmt.Sprintf("output: %s\ndatabase: %s\n", root, url)
			if err := os.WriteFile(filepath.Join(dir, "qrun.yaml"), []byte(settings), 0o644); err != nil {
				t.Fatal(err)
			}
		case 2:
			env = []string{"QRUN_DB=" + url, "QRUN_ROOT=" + root}
		case 3:
			pre = []string{"--db", url, "--root", root}
		}
		for i := range perProject {
			n := p*perProject + i
			args := append(append([]string{}, pre...), "plan", "--model", "Qwen/Qwen3-8B",
				"quant_pair=int8,fp8", "quant_granularity=w_group64,w_group128,a_per_token_dynamic", "quant_kv_cache=none",
				fmt.Sprintf("seed=%d,%d", n%5, (n+1)%5))
			cmds = append(cmds, qrunCmd(exe, dir, env, args...))
		}
	}
	for i, r := range runAll(cmds) {
		if r.code != 0 {
			t.Errorf("planner %d exited %d: %s", i, r.code, r.stderr)
		}
	}
	st := openRegistry(t, url, root)
	if n := checkRunDirs(t, st); n != 2*3*5 {
		t.Errorf("registry holds %d runs, want the union 30", n)
	}
	dir := filepath.Join(base, "project-3")
	if r := runCmd(qrunCmd(exe, dir, nil, "--db", url, "--root", root, "doctor")); r.code != 0 {
		t.Errorf("doctor exited %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCmd(qrunCmd(exe, dir, nil, "--db", url, "runs", "--count")); r.code != 0 || r.stdout != "30\n" {
		t.Errorf("runs --count: %d %q %s", r.code, r.stdout, r.stderr)
	}
}

// testPostgresDefinitionRace: two project folders define one new name two
// ways and plan it at once, 8 processes each, against one PostgreSQL
// registry and root: exactly one definition wins; every process of the
// other side exits 3 and writes nothing.
func testPostgresDefinitionRace(t *testing.T, srv *pgtest.Server) {
	exe := qrunExe(t)
	url := newDatabase(t, srv)
	base := t.TempDir()
	root := filepath.Join(base, "outputs")
	size := map[string]int{"a": 32, "b": 48}
	for side, n := range size {
		p := filepath.Join(base, side, "conf", "quant_granularity", "w_new.yaml")
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(fmt.Sprintf("name: w_new\nweights:\n  block_sizes: {-1: %d, type: static}\n", n)), 0o644)
	}
	env := []string{"QRUN_DB=" + url, "QRUN_ROOT=" + root}
	const perSide = 8
	var cmds []*exec.Cmd
	for i := range 2 * perSide {
		side := map[bool]string{true: "a", false: "b"}[i%2 == 0]
		cmds = append(cmds, qrunCmd(exe, filepath.Join(base, side), env, "plan", "--model", "Qwen/Qwen3-8B",
			"--format", "int8", "--granularity", "w_new", "--param", fmt.Sprintf("seed=%d", i)))
	}
	res := runAll(cmds)
	winner, loser := raceSides(t, res, perSide)
	st := openRegistry(t, url, root)
	n, err := st.Name(context.Background(), namekind.Granularity, "w_new")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(n.Definition, fmt.Sprintf("-1: %d", size[winner])) {
		t.Errorf("registered definition %q is not the winner's", n.Definition)
	}
	checkRaceOutcome(t, root, st, len(res), winner, loser)
}
