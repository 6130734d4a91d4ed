package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/qrun-dev/qrun/internal/pgtest"
	"github.com/qrun-dev/qrun/namekind"
)

// The concurrency tests run real processes: the test binary re-executed with
// helperEnv naming what it should do (the standard helper-process trick).
const (
	helperEnv     = "QRUN_STORE_TEST_HELPER"
	helperArgsEnv = "QRUN_STORE_TEST_ARGS"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode))
	}
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// helperArgs is what a helper process is asked to do.
type helperArgs struct {
	DB          string
	Start       time.Time // wait until then, so that the processes collide
	LockTimeout time.Duration
	Batch       PlanBatch
}

// helperResult is what a helper process reports on stdout.
type helperResult struct {
	Created, Resumed int
	Count            int
	ReadOnly         bool
	Err              string
	Blocked          bool
	ErrReadOnly      bool
}

// Exit codes of a helper process, as qrun's.
const (
	exitOK      = 0
	exitError   = 1
	exitBlocked = 3
)

func helperMain(mode string) int {
	var a helperArgs
	if err := json.Unmarshal([]byte(os.Getenv(helperArgsEnv)), &a); err != nil {
		fmt.Fprintln(os.Stderr, "helper: bad arguments:", err)
		return exitError
	}
	time.Sleep(time.Until(a.Start))
	ctx := context.Background()
	var res helperResult
	code := exitOK
	s, err := Open(ctx, a.DB, Options{LockTimeout: a.LockTimeout})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitError
	}
	defer s.Close()
	switch mode {
	case "plan":
		r, err := Plan(ctx, s, a.Batch)
		switch {
		case errors.Is(err, ErrBlocked):
			res.Blocked, res.Err, code = true, err.Error(), exitBlocked
		case err != nil:
			res.Err, code = err.Error(), exitError
		}
		res.Created, res.Resumed = r.Created, r.Resumed
	case "read":
		res.ReadOnly = s.(interface{ ReadOnly() bool }).ReadOnly()
		if res.Count, err = s.CountRuns(ctx, RunFilter{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return exitError
		}
		if _, err := s.Runs(ctx, RunFilter{Limit: 5}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return exitError
		}
		_, err = Plan(ctx, s, a.Batch)
		res.ErrReadOnly = errors.Is(err, ErrReadOnly)
		if err != nil {
			res.Err = err.Error()
		}
	default:
		fmt.Fprintln(os.Stderr, "helper: unknown mode", mode)
		return exitError
	}
	json.NewEncoder(os.Stdout).Encode(res)
	return code
}

// helper prepares a helper process running the binary at bin.
func helper(t *testing.T, bin, mode string, a helperArgs) *exec.Cmd {
	t.Helper()
	args, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	// A race-built process sleeps a second before a clean exit (GORACE
	// atexit_sleep_ms, default 1000): not the helpers.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperArgsEnv+"="+string(args), "GORACE="+gorace)
	return cmd
}

// helperOutcome is a finished helper process.
type helperOutcome struct {
	code   int
	res    helperResult
	stderr string
}

func runHelper(t *testing.T, cmd *exec.Cmd) helperOutcome {
	t.Helper()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := helperOutcome{stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		out.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("helper process: %v", err)
	}
	if stdout.Len() > 0 {
		if err := json.Unmarshal([]byte(stdout.String()), &out.res); err != nil {
			t.Fatalf("helper output %q: %v", stdout.String(), err)
		}
	}
	return out
}

// ---- fixtures ----

func fp(def string) string {
	h := sha256.Sum256([]byte(def))
	return "sha256:" + hex.EncodeToString(h[:])
}

// def is a name with its definition.
type def struct{ name, text string }

func (d def) use(k namekind.Kind, aliases ...string) NameUse {
	return NameUse{Kind: k, Name: d.name, Fingerprint: fp(d.text), Definition: d.text, Aliases: aliases}
}

var (
	layoutA = Layout{Template: "{model}/{format}/{granularity}", Fingerprint: fp("{model}/{format}/{granularity}")}
	layoutB = Layout{Template: "{format}/{granularity}/{model}", Fingerprint: fp("{format}/{granularity}/{model}")}

	int8F  = def{"int8", "weights: {num_bits: 8, axis: 0}\nactivations: {num_bits: 8, axis: null}\n"}
	fp8F   = def{"fp8", "weights: {num_bits: [4, 3], axis: null}\nactivations: {num_bits: [4, 3], axis: null}\n"}
	nvfp4F = def{"nvfp4", "weights: {num_bits: [2, 1], block_sizes: {-1: 16, type: dynamic}}\n"}
	int4F  = def{"w4a8_int", "weights: {num_bits: 4, block_sizes: {-1: 128}}\n"}

	defaultG = def{"default", "{}\n"}
	g64      = def{"w_group64", "weights: {block_sizes: {-1: 64, type: static}}\n"}
	g128     = def{"w_group128", "weights: {block_sizes: {-1: 128, type: static}}\n"}
	perOut   = def{"w_per_out_channel", "weights: {axis: 0}\n"}
)

// runOf builds the run of one selection, its id derived from its identity
// the way qrun does (12 hex of a sha256).
func runOf(model string, f, g def, params string) Run {
	if params == "" {
		params = "{}"
	}
	ident := strings.Join([]string{model, f.name, g.name, params}, "\x00")
	h := sha256.Sum256([]byte(ident))
	id := hex.EncodeToString(h[:])[:12]
	dir := "/out/" + filepath.Base(model) + "/" + f.name + "/" + g.name
	if params != "{}" {
		dir += "/" + params
	}
	return Run{ID: id, Model: model, Format: f.name, Granularity: g.name, Params: params, Dir: dir,
		FormatFP: fp(f.text), GranularityFP: fp(g.text), ConfigFP: fp(f.text + g.text), ModelOpt: "0.46"}
}

// sweep builds the batch of a models × formats × granularities × params
// sweep under layout A, with every name it uses.
func sweep(models []string, formats, grans []def, params ...string) PlanBatch {
	if len(params) == 0 {
		params = []string{"{}"}
	}
	b := PlanBatch{PlanHead: PlanHead{Layout: layoutA}}
	for _, f := range formats {
		b.Names = append(b.Names, f.use(namekind.Format))
	}
	for _, g := range grans {
		b.Names = append(b.Names, g.use(namekind.Granularity))
	}
	for _, m := range models {
		for _, f := range formats {
			for _, g := range grans {
				for _, p := range params {
					b.Runs = append(b.Runs, runOf(m, f, g, p))
				}
			}
		}
	}
	return b
}

const qwen = "Qwen/Qwen3-8B"

func openTest(t *testing.T, path string) *SQLite {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), ".qrun", "qrun.db")
	}
	s, err := OpenSQLite(context.Background(), path, Options{LockTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustPlan(t *testing.T, s Store, b PlanBatch) PlanResult {
	t.Helper()
	res, err := Plan(context.Background(), s, b)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return res
}

// planChunks records b through Update the way qrun plan does: Check, then
// AddRuns size runs at a time, each chunk's runs as planned handed to each
// (when set) with the index of its first run; then last (when set), inside
// the transaction. An error of either rolls the plan back.
func planChunks(ctx context.Context, s Store, b PlanBatch, size int, each func(start int, planned []PlannedRun) error, last func(PlanTx) error) error {
	return s.Update(ctx, func(tx PlanTx) error {
		if err := tx.Check(b.PlanHead); err != nil {
			return err
		}
		for i := 0; i < len(b.Runs); i += size {
			planned, err := tx.AddRuns(b.Runs[i:min(i+size, len(b.Runs))])
			if err != nil {
				return err
			}
			if each != nil {
				if err := each(i, planned); err != nil {
					return err
				}
			}
		}
		if last != nil {
			return last(tx)
		}
		return nil
	})
}

// snapshot is the whole content of a registry, to prove a refused plan
// wrote nothing.
func snapshot(t *testing.T, s Store) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT ` + runCols + ` FROM runs ORDER BY id`,
		`SELECT ` + nameCols + ` FROM names ORDER BY kind, name`,
		`SELECT fingerprint, template, created_at FROM layouts ORDER BY fingerprint`,
		`SELECT id, run_id, kind, status, payload, at FROM events ORDER BY id`,
	} {
		rows, err := rawDB(s).Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

func runIDs(runs []Run) []string {
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	sort.Strings(ids)
	return ids
}
