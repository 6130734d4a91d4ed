package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/qrun-dev/qrun/internal/pgtest"
	"github.com/qrun-dev/qrun/namekind"
)

// pgDatabase is the database a PostgreSQL URL names.
func pgDatabase(t *testing.T, loc string) string {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// withParam adds a query parameter to a URL.
func withParam(loc, key, value string) string {
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	return loc + sep + url.QueryEscape(key) + "=" + url.QueryEscape(value)
}

// noInternals fails when a connection message speaks Go or the driver, or
// shows a password.
func noInternals(t *testing.T, err error, secrets ...string) {
	t.Helper()
	oneLine(t, err)
	msg := err.Error()
	for _, w := range append([]string{"dial ", "pgconn", "pgx", "failed to connect", "tcp ", "unix ", "strconv", "ParseUint", "context deadline", "SafeToRetry"}, secrets...) {
		if strings.Contains(msg, w) {
			t.Errorf("message %q says %q", msg, w)
		}
	}
}

// A server that can't be reached, a wrong password, a missing database:
// one clear line each, naming the server with the password hidden, within
// the connect timeout.
func TestPostgresConnectFailures(t *testing.T) {
	srv := pgtest.Shared(t)
	db := pgDatabase(t, postgresBackend.fresh(t))

	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	// A server that accepts connections and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		silent.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()

	cases := []struct {
		name, url string
		want      []string
	}{
		{"refused", "postgres://qrun:hunter2@" + deadAddr + "/qrun",
			[]string{"registry postgres://qrun:***@" + deadAddr + "/qrun: ", "cannot connect to the PostgreSQL server at " + deadAddr, "connection refused"}},
		{"wrong password", srv.TCPURL(db, pgtest.User, "hunter2"),
			[]string{"authentication failed for user qrun", "qrun:***@", "check the password"}},
		{"missing database", srv.TCPURL("no_such_db", pgtest.User, pgtest.Password),
			[]string{"database no_such_db does not exist", "createdb no_such_db"}},
		{"missing database, socket", strings.Replace(srv.URL(db), "/"+db, "/no_such_db", 1),
			[]string{"database no_such_db does not exist", ".s.PGSQL."}},
		{"no server socket", "postgres:///qrun?host=" + url.QueryEscape(t.TempDir()) + "&password=hunter2",
			[]string{"password=***", "no server socket there"}},
		{"silent server", "postgres://qrun:hunter2@" + silent.Addr().String() + "/qrun",
			[]string{"no answer from the PostgreSQL server at " + silent.Addr().String() + " within 1s (the connect timeout)"}},
		{"bad port", "postgres://qrun:hunter2@127.0.0.1:notaport/qrun",
			[]string{"not a valid PostgreSQL URL"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := OpenPostgres(context.Background(), c.url, Options{ConnectTimeout: time.Second, LockTimeout: 3 * time.Second})
			if err == nil {
				t.Fatal("opened")
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("failed after %v, want within the connect timeout", d)
			}
			t.Log(err)
			if !containsAll(err.Error(), c.want...) {
				t.Errorf("message %q, want %q", err, c.want)
			}
			noInternals(t, err, "hunter2", pgtest.Password)
		})
	}

	// The default connect timeout bounds a silent server too.
	start := time.Now()
	_, err = OpenPostgres(context.Background(), "postgres://qrun@"+silent.Addr().String()+"/qrun", Options{})
	if err == nil || !strings.Contains(err.Error(), "no answer") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d < DefaultConnectTimeout-time.Second || d > DefaultConnectTimeout+2*time.Second {
		t.Fatalf("gave up after %v, want about %v", d, DefaultConnectTimeout)
	}
}

// killPlanner terminates, from another connection, the backend holding the
// registry's write lock (a plan inside its Update), and waits until it is
// gone.
func killPlanner(t *testing.T, killer *sql.DB) {
	var killed bool
	err := killer.QueryRow(`
		SELECT pg_terminate_backend(pid, 10000) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND classid = $1::oid AND objsubid = 2
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		pgLockWrite).Scan(&killed)
	if err != nil || !killed {
		t.Errorf("terminate the planner: %v, %v", killed, err)
	}
}

// A connection dropped inside a plan, after its rows are written and before
// its commit: the server rolls the whole plan back, and Update runs the
// function again on a new connection. When the connection keeps dropping,
// Update fails with one line and nothing of the plan is recorded. A
// connection dropped before the runs go in is retried alike, whatever the
// function makes of the error AddRuns gave it.
func TestPostgresConnectionDroppedMidPlan(t *testing.T) {
	ctx := context.Background()
	loc := postgresBackend.fresh(t)
	s := postgresBackend.open(t, loc)
	mustPlan(t, s, sweep([]string{qwen}, []def{int8F}, []def{g64}))
	before := snapshot(t, s)
	killer, err := sql.Open("pgx", loc)
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close()

	// Killed every time: never half-recorded.
	var calls atomic.Int32
	b := sweep([]string{qwen, "Qwen/Qwen3-4B"}, []def{int8F, fp8F}, []def{g64, g128, perOut})
	err = planChunks(ctx, s, b, 4, nil, func(PlanTx) error {
		calls.Add(1)
		killPlanner(t, killer)
		return nil
	})
	if err == nil {
		t.Fatal("plan succeeded on a connection killed at every try")
	}
	noInternals(t, err)
	if !strings.Contains(err.Error(), "connection") || !strings.Contains(err.Error(), "run it again") {
		t.Errorf("message %q", err)
	}
	if n := calls.Load(); n != maxReconnects+1 {
		t.Errorf("the function ran %d times, want %d (one try and %d more)", n, maxReconnects+1, maxReconnects)
	}
	if after := snapshot(t, s); after != before {
		t.Fatalf("a plan whose connection was killed changed the registry:\n%s\nwant\n%s", after, before)
	}

	// Killed once, before the runs go in: the function's own wrapping of
	// AddRuns's error does not hide it; the plan is retried.
	calls.Store(0)
	err = s.Update(ctx, func(tx PlanTx) error {
		if err := tx.Check(b.PlanHead); err != nil {
			return err
		}
		if calls.Add(1) == 1 {
			killPlanner(t, killer)
		}
		if _, err := tx.AddRuns(b.Runs[:4]); err != nil {
			return fmt.Errorf("my own words: %w", err)
		}
		return errors.New("stop here")
	})
	if calls.Load() != 2 || err == nil || err.Error() != "stop here" {
		t.Fatalf("calls %d, err %v; want 2 and the second attempt's own error", calls.Load(), err)
	}

	// Killed once, before the commit: the plan is retried and recorded
	// exactly once.
	calls.Store(0)
	var created, resumed int
	err = planChunks(ctx, s, b, 4, func(start int, planned []PlannedRun) error {
		if start == 0 {
			created, resumed = 0, 0 // a new attempt
		}
		for _, p := range planned {
			if p.Resumed {
				resumed++
			} else {
				created++
			}
		}
		return nil
	}, func(PlanTx) error {
		if calls.Add(1) == 1 {
			killPlanner(t, killer)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("plan after one dropped connection: %v", err)
	}
	if calls.Load() != 2 || created != len(b.Runs)-1 || resumed != 1 {
		t.Fatalf("calls %d, created %d, resumed %d; want 2, %d, 1", calls.Load(), created, resumed, len(b.Runs)-1)
	}
	var runs, events int
	rawDB(s).QueryRow(`SELECT count(*), (SELECT count(*) FROM events) FROM runs`).Scan(&runs, &events)
	if runs != len(b.Runs) || events != len(b.Runs) {
		t.Fatalf("%d runs and %d events, want %d of each", runs, events, len(b.Runs))
	}
}

// A database holding another program's tables is not taken over.
func TestPostgresForeignDatabaseIsRefused(t *testing.T) {
	srv := pgtest.Shared(t)
	loc := postgresBackend.fresh(t)
	if err := srv.Exec(pgDatabase(t, loc), `CREATE TABLE photos (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	_, err := OpenPostgres(context.Background(), loc, Options{})
	if !errors.Is(err, ErrNotRegistry) || !strings.Contains(err.Error(), "holds tables of its own but no qrun registry") {
		t.Fatalf("err = %v, want ErrNotRegistry", err)
	}
	noInternals(t, err)
	db, _ := sql.Open("pgx", loc)
	defer db.Close()
	var n int
	db.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n)
	if n != 1 {
		t.Fatalf("%d tables after the refusal, want photos alone", n)
	}
}

// Registries in two schemas of one database (search_path) are independent:
// each has its own tables, names, layout and lock.
func TestPostgresSchemasAreSeparateRegistries(t *testing.T) {
	srv := pgtest.Shared(t)
	ctx := context.Background()
	loc := postgresBackend.fresh(t)
	if err := srv.Exec(pgDatabase(t, loc), `CREATE SCHEMA team_a`, `CREATE SCHEMA team_b`); err != nil {
		t.Fatal(err)
	}
	a := postgresBackend.open(t, withParam(loc, "search_path", "team_a"))
	bs := postgresBackend.open(t, withParam(loc, "search_path", "team_b"))
	mustPlan(t, a, sweep([]string{qwen}, []def{int8F}, []def{g64}))
	other := sweep([]string{qwen}, []def{int8F}, []def{{g64.name, "weights: {axis: 1}\n"}})
	other.Layout = layoutB
	mustPlan(t, bs, other) // another definition and layout: no conflict across registries
	// Team A's write lock doesn't hold team B up.
	tx := holdWriteLock(t, postgresBackend, withParam(loc, "search_path", "team_a"))
	defer tx.Rollback()
	short, err := Open(ctx, withParam(loc, "search_path", "team_b"), Options{LockTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	more := sweep([]string{"Qwen/Qwen3-4B"}, []def{int8F}, []def{{g64.name, "weights: {axis: 1}\n"}})
	more.Layout = layoutB
	mustPlan(t, short, more)
	for _, s := range []Store{a, bs} {
		if n, _ := s.CountRuns(ctx, RunFilter{}); n == 0 {
			t.Fatal("no runs")
		}
	}
	var tables int
	rawDB(a).QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname IN ('team_a', 'team_b') AND tablename = 'runs'`).Scan(&tables)
	if tables != 2 {
		t.Fatalf("%d runs tables, want one per schema", tables)
	}
	_, err = OpenPostgres(ctx, withParam(loc, "search_path", "team_c"), Options{})
	if err == nil || !strings.Contains(err.Error(), "search_path") {
		t.Fatalf("missing schema: %v", err)
	}
	noInternals(t, err)
}

// A user who may only read the registry reads it; its writes are refused
// with ErrReadOnly, in one line.
func TestPostgresReadOnlyUser(t *testing.T) {
	srv := pgtest.Shared(t)
	ctx := context.Background()
	loc := postgresBackend.fresh(t)
	s := postgresBackend.open(t, loc)
	b := sweep([]string{qwen}, []def{int8F}, []def{g64, g128})
	mustPlan(t, s, b)
	before := snapshot(t, s)
	db := pgDatabase(t, loc)
	reader := "reader_" + db
	if err := srv.Exec(db, `CREATE ROLE `+reader+` LOGIN`, `GRANT SELECT ON ALL TABLES IN SCHEMA public TO `+reader); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Exec(db, `DROP OWNED BY `+reader)
		srv.DropDatabase(db)
		srv.Exec("postgres", `DROP ROLE IF EXISTS `+reader)
	})
	ro := postgresBackend.open(t, strings.Replace(loc, "user="+pgtest.User, "user="+reader, 1))
	if n, err := ro.CountRuns(ctx, RunFilter{}); err != nil || n != 2 {
		t.Fatalf("count = %d, %v", n, err)
	}
	_, err := Plan(ctx, ro, sweep([]string{qwen}, []def{fp8F}, []def{g64}))
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "user "+reader+" is not allowed") {
		t.Fatalf("plan: %v, want ErrReadOnly", err)
	}
	noInternals(t, err)
	if err := ro.Mark(ctx, b.Runs[0].ID, StatusRunning, nil, ""); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("mark: %v, want ErrReadOnly", err)
	}
	if snapshot(t, s) != before {
		t.Fatal("the registry changed")
	}
}

// holdMigrationLock takes the schema migration's advisory lock on a
// session of its own, as another qrun migrating loc would: the pool and
// the session it holds the lock on (both closed when the test ends).
func holdMigrationLock(t *testing.T, loc string) (*sql.DB, *sql.Conn) {
	t.Helper()
	hold, err := sql.Open("pgx", loc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hold.Close() })
	conn, err := hold.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_lock($1, `+pgLockSchema+`)`, pgLockMigrate); err != nil {
		t.Fatal(err)
	}
	return hold, conn
}

// The schema is migrated under an advisory lock: a process holding it
// past the lock timeout makes the others fail with ErrBusy, not wait
// forever nor migrate concurrently.
func TestPostgresMigrationLock(t *testing.T) {
	loc := postgresBackend.fresh(t)
	hold, conn := holdMigrationLock(t, loc)
	start := time.Now()
	_, err := OpenPostgres(context.Background(), loc, Options{LockTimeout: 500 * time.Millisecond})
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "being upgraded by another process") {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 3*time.Second {
		t.Fatalf("gave up after %v", d)
	}
	noInternals(t, err)
	if want := "registry " + Redact(loc) + " is being upgraded by another process that has held its lock for more than 0.5s; try again"; err.Error() != want {
		t.Fatalf("err = %q, want %q", err, want)
	}
	conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock_all()`)
	s := postgresBackend.open(t, loc)
	if v := schemaOf(t, s); v != LatestSchema() {
		t.Fatalf("schema %d", v)
	}
	// The migration released its lock: no session of the pool holds it.
	var held int
	if err := hold.QueryRow(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::oid AND objsubid = 2`, pgLockMigrate).Scan(&held); err != nil || held != 0 {
		t.Fatalf("%d migration locks held after the migration (%v)", held, err)
	}
}

// The queries of qrun runs and of the checks are served by the indexes, in
// index order (no sort).
func TestPostgresIndexesServeTheQueries(t *testing.T) {
	s := postgresBackend.new(t)
	db := rawDB(s).DB
	checkIndexesServe(t, map[string]string{
		`SELECT layout_fp FROM runs WHERE layout_fp <> 'x' LIMIT 1`: "runs_layout",
	}, "Sort", func(q string) []string {
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		tx.Exec(`SET LOCAL enable_seqscan = off`)
		return column[string](t, tx, `EXPLAIN `+q)
	})
}

func TestDollarPlaceholders(t *testing.T) {
	for in, want := range map[string]string{
		`SELECT 1`:                              `SELECT 1`,
		`WHERE a = ? AND b IN (?, ?)`:           `WHERE a = $1 AND b IN ($2, $3)`,
		`WHERE a = '?' AND b = ?`:               `WHERE a = '?' AND b = $1`,
		`WHERE "we?ird" = ? -- why?` + "\n?":    `WHERE "we?ird" = $1 -- why?` + "\n$2",
		`WHERE a = 'it''s ?' AND b = ? LIMIT ?`: `WHERE a = 'it''s ?' AND b = $1 LIMIT $2`,
	} {
		if got := dollarPlaceholders(in); got != want {
			t.Errorf("dollarPlaceholders(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://qrun:s3cret@db.example:5432/qrun?sslmode=require": "postgres://qrun:***@db.example:5432/qrun?sslmode=require",
		"postgresql://qrun:p@ss:w@rd@host/db":                         "postgresql://qrun:***@host/db",
		"postgres://qrun@host/db?password=s3cret&sslmode=disable":     "postgres://qrun@host/db?password=***&sslmode=disable",
		"postgres://host/db":     "postgres://host/db",
		"/home/me/.qrun/qrun.db": "/home/me/.qrun/qrun.db",
		"sqlite:/tmp/x.db":       "sqlite:/tmp/x.db",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	if got := fmt.Sprint(SQLitePath("sqlite:/a/b.db"), " ", SQLitePath("sqlite:///a/b.db"), " ", SQLitePath("b.db")); got != "/a/b.db /a/b.db b.db" {
		t.Errorf("SQLitePath: %s", got)
	}
	if !IsPostgresURL("postgresql://h/d") || IsPostgresURL("sqlite:x") || IsPostgresURL("/x/postgres://") {
		t.Error("IsPostgresURL")
	}
}

// Lists come out in bytewise order on both backends, whatever the
// database's collation (the test cluster's default is ICU's en-US, which
// would put "a_lower" before "W_upper").
func TestListsAreInBytewiseOrder(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		models := []string{"meta-llama/Llama-3-8B", "Qwen/Qwen3-8B", "ab/Zeta", "Zz/model"}
		grans := []def{{"w_group", "weights: {axis: 0}\n"}, {"W_upper", "weights: {axis: 1}\n"}, {"a_lower", "weights: {axis: null}\n"}}
		mustPlan(t, s, sweep(models, []def{int8F}, grans))
		got, err := s.Models(ctx)
		if err != nil || !slices.Equal(got, slices.Sorted(slices.Values(models))) {
			t.Fatalf("models %v, %v; want bytewise order", got, err)
		}
		names, err := s.Names(ctx, namekind.Granularity)
		if err != nil {
			t.Fatal(err)
		}
		var gotNames []string
		for _, n := range names {
			gotNames = append(gotNames, n.Name)
		}
		if want := []string{"W_upper", "a_lower", "w_group"}; !slices.Equal(gotNames, want) {
			t.Fatalf("names %v, want %v", gotNames, want)
		}
	})
}

// A lost connection is retried, at most maxReconnects times; a commit
// whose outcome is unknown and must not be repeated is not.
func TestPostgresRetryOnLostConnections(t *testing.T) {
	p := &Postgres{loc: "postgres://h/db", server: "h:5432", lockTimeout: 5 * time.Second}
	calls := 0
	err := p.retry(context.Background(), func() error {
		calls++
		if calls < 3 {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err %v after %d calls, want success at the third", err, calls)
	}
	calls = 0
	err = p.retry(context.Background(), func() error { calls++; return io.EOF })
	if err == nil || calls != maxReconnects+1 || !strings.Contains(err.Error(), "lost the connection to the PostgreSQL server at h:5432") {
		t.Fatalf("err %v after %d calls", err, calls)
	}
	noInternals(t, err)
	calls = 0
	err = p.retry(context.Background(), func() error { calls++; return uncertainCommit{io.EOF} })
	if err == nil || calls != 1 || !strings.Contains(err.Error(), "while committing") || !strings.Contains(err.Error(), "may or may not be recorded") {
		t.Fatalf("err %v after %d calls, want one call and an uncertain outcome", err, calls)
	}
	noInternals(t, err)
}

// A process waiting for the migration lock while a newer qrun migrates the
// registry further finds, once it holds the lock, a schema it doesn't know:
// ErrSchemaTooNew, not a half-understood registry.
func TestPostgresNewerSchemaAfterTheMigrationLock(t *testing.T) {
	loc := postgresBackend.fresh(t)
	s := postgresBackend.open(t, loc)
	db := rawDB(s)
	latest := LatestSchema()
	if _, err := db.Exec(`DELETE FROM goose_db_version WHERE version_id = ?`, latest); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, conn := holdMigrationLock(t, loc)
	done := make(chan error, 1)
	go func() {
		_, err := OpenPostgres(context.Background(), loc, Options{LockTimeout: 10 * time.Second})
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // the opener waits for the lock
	if _, err := conn.ExecContext(context.Background(), `INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true), ($2, true)`, latest, latest+1); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock_all()`); err != nil {
		t.Fatal(err)
	}
	err := <-done
	want := fmt.Sprintf("registry %s was written by a newer qrun (schema %d, this binary knows %d): upgrade qrun", Redact(loc), latest+1, latest)
	if !errors.Is(err, ErrSchemaTooNew) || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}
