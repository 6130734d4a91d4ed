package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/qrun-dev/qrun/migrations"
	"github.com/qrun-dev/qrun/namekind"
)

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// oneLine fails when a user-facing message spans lines or speaks Go.
func oneLine(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("message spans lines: %q", msg)
	}
	for _, w := range []string{"sql:", "sqlite3", "goose", "driver", "panic", "database is locked"} {
		if strings.Contains(msg, w) {
			t.Errorf("message %q says %q", msg, w)
		}
	}
}

func TestOpenCreatesFolderAndSchema(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		loc := bk.fresh(t)
		if bk.name == "sqlite" {
			loc = filepath.Join(t.TempDir(), "project", ".qrun", "qrun.db")
		}
		s := bk.open(t, loc)
		if bk.name == "sqlite" {
			if _, err := os.Stat(loc); err != nil {
				t.Fatal(err)
			}
		}
		if v := schemaOf(t, s); v != LatestSchema() || v < 1 {
			t.Fatalf("schema %d; want %d", v, LatestSchema())
		}
		// Reopening a current registry is a no-op.
		s.Close()
		s = bk.open(t, loc)
		if v := schemaOf(t, s); v != LatestSchema() {
			t.Fatalf("schema after reopen %d", v)
		}
	})
}

// Both dialects have the same migrations, by number: the schema version
// means the same thing on SQLite and PostgreSQL.
func TestDialectsHaveTheSameMigrations(t *testing.T) {
	list := func(fsys fs.FS) []string {
		var out []string
		fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				out = append(out, p)
			}
			return err
		})
		return out
	}
	sq, pg := list(migrations.SQLite()), list(migrations.Postgres())
	if !slices.Equal(sq, pg) || len(sq) == 0 {
		t.Fatalf("SQLite migrations %v, PostgreSQL migrations %v: want the same files", sq, pg)
	}
	if v, err := latestIn(migrations.Postgres()); err != nil || v != LatestSchema() {
		t.Fatalf("PostgreSQL's latest schema %d, %v; want %d", v, err, LatestSchema())
	}
}

// The pragmas are in the DSN, so every pooled connection has them, not
// just the first.
func TestEveryConnectionHasThePragmas(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	var conns []*sql.Conn
	for range 3 {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var journal string
		var fk, sync, busy int
		for q, dst := range map[string]any{
			"PRAGMA journal_mode": &journal, "PRAGMA foreign_keys": &fk,
			"PRAGMA synchronous": &sync, "PRAGMA busy_timeout": &busy,
		} {
			if err := c.QueryRowContext(ctx, q).Scan(dst); err != nil {
				t.Fatal(err)
			}
		}
		if journal != "wal" || fk != 1 || sync != 2 || busy != int(maxBusyTimeout/time.Millisecond) {
			t.Errorf("connection %d: journal %s, foreign_keys %d, synchronous %d, busy_timeout %d", i, journal, fk, sync, busy)
		}
		c.Close()
	}
	// _txlock=immediate: a transaction holds the write lock from BEGIN.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	other, err := sql.Open("sqlite3", "file:"+s.path+"?_busy_timeout=0&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Begin(); err == nil || !isBusy(err) {
		t.Fatalf("second BEGIN: %v, want busy", err)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		path := bk.fresh(t)
		s := bk.open(t, path)
		mustPlan(t, s, sweep([]string{qwen}, []def{int8F}, []def{g64}))
		newer := LatestSchema() + 1
		if _, err := rawDB(s).Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, ?)`, newer, true); err != nil {
			t.Fatal(err)
		}
		s.Close()
		for _, opts := range []Options{{}, {ReadOnly: true}} {
			_, err := Open(context.Background(), path, opts)
			if !errors.Is(err, ErrSchemaTooNew) {
				t.Fatalf("err = %v, want ErrSchemaTooNew", err)
			}
			want := fmt.Sprintf("registry %s was written by a newer qrun (schema %d, this binary knows %d): upgrade qrun", Redact(path), newer, LatestSchema())
			if !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("message %q, want %q", err, want)
			}
			oneLine(t, err)
		}
	})
}

func TestNotARegistryIsRefused(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.db")
	os.WriteFile(text, []byte("these are my notes, not a database\n"), 0o644)
	short := filepath.Join(dir, "short.db")
	os.WriteFile(short, []byte("SQLite"), 0o644)
	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, append([]byte("SQLite format 3\x00"), make([]byte, 4096)...), 0o644)
	folder := filepath.Join(dir, "folder.db")
	os.Mkdir(folder, 0o755)
	foreign := filepath.Join(dir, "foreign.db")
	db, err := sql.Open("sqlite3", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE photos (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	for path, want := range map[string]string{
		text:    "is not a SQLite database",
		short:   "is not a SQLite database",
		garbage: "is not a SQLite database",
		folder:  "is a folder, not a database file",
		foreign: "is a SQLite database but not a qrun registry",
	} {
		before, _ := os.ReadFile(path)
		_, err := OpenSQLite(context.Background(), path, Options{})
		if !errors.Is(err, ErrNotRegistry) || !containsAll(err.Error(), "registry "+path, want) {
			t.Errorf("%s: err = %v, want %q", filepath.Base(path), err, want)
			continue
		}
		oneLine(t, err)
		if after, _ := os.ReadFile(path); string(after) != string(before) {
			t.Errorf("%s: the file was changed", filepath.Base(path))
		}
	}
}

func TestEmptyFileBecomesARegistry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qrun.db")
	os.WriteFile(path, nil, 0o644)
	s := openTest(t, path)
	mustPlan(t, s, sweep([]string{qwen}, []def{int8F}, []def{g64}))
}

func TestReadOnlyOptionAllowsReads(t *testing.T) {
	forEachBackend(t, testReadOnlyOptionAllowsReads)
}

func testReadOnlyOptionAllowsReads(t *testing.T, bk backend) {
	ctx := context.Background()
	path := bk.fresh(t)
	s := bk.open(t, path)
	b := sweep([]string{qwen}, []def{int8F, fp8F}, []def{g64})
	mustPlan(t, s, b)
	s.Close()

	ro, err := Open(ctx, path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if !ro.(interface{ ReadOnly() bool }).ReadOnly() {
		t.Fatal("not read-only")
	}
	if n, err := ro.CountRuns(ctx, RunFilter{}); err != nil || n != 2 {
		t.Fatalf("count = %d, %v", n, err)
	}
	if names, err := ro.Names(ctx, ""); err != nil || len(names) != 3 {
		t.Fatalf("names = %v, %v", names, err)
	}
	_, err = Plan(ctx, ro, sweep([]string{qwen}, []def{nvfp4F}, []def{g64}))
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("plan on read-only: %v", err)
	}
	oneLine(t, err)
	if err := ro.Mark(ctx, b.Runs[0].ID, StatusRunning, nil, ""); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("mark on read-only: %v", err)
	}
	if err := ro.Retire(ctx, namekind.Granularity, g64.name); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("retire on read-only: %v", err)
	}
	// Even bypassing the store's own check, the database refuses the write.
	if _, err := rawDB(ro).Exec(`UPDATE runs SET status = 'failed'`); err == nil {
		t.Fatal("write through a read-only connection")
	}

	missing := filepath.Join(t.TempDir(), "missing.db")
	if bk.name == "postgres" {
		missing = bk.fresh(t) // a database without a registry
	}
	_, err = Open(ctx, missing, Options{ReadOnly: true})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read-only open of a missing registry: %v", err)
	}
	oneLine(t, err)
	// MustExist: the same refusal for a writer, and nothing is created.
	if _, err := Open(ctx, missing, Options{MustExist: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open of a missing registry with MustExist: %v", err)
	}
	if bk.name == "sqlite" {
		if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("MustExist created %s", missing)
		}
	} else {
		db, err := sql.Open("pgx", missing)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("MustExist created %d tables (%v)", n, err)
		}
	}
}

// A registry that is read-only on disk (file and folder), opened by a
// process that can't write it: reads work, writes are refused with a clear
// error. Run as another user when the tests run as root, whom permissions
// don't stop.
func TestReadOnlyFileAllowsReads(t *testing.T) {
	base, err := os.MkdirTemp("", "qrun-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filepath.Walk(base, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
		os.RemoveAll(base)
	})
	os.Chmod(base, 0o755)
	dir := filepath.Join(base, ".qrun")
	path := filepath.Join(dir, "qrun.db")
	s := openTest(t, path)
	mustPlan(t, s, sweep([]string{qwen}, []def{int8F, fp8F}, []def{g64, g128}))
	s.Close()
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(path + suffix); err == nil {
			t.Fatalf("%s left after close", suffix) // the last close checkpoints and removes them
		}
	}
	os.Chmod(path, 0o444)
	os.Chmod(dir, 0o555)

	cmd := helper(t, os.Args[0], "read", helperArgs{DB: path, LockTimeout: 2 * time.Second,
		Batch: sweep([]string{qwen}, []def{nvfp4F}, []def{g64})})
	if os.Geteuid() == 0 {
		asNobody(t, base, cmd)
	}
	out := runHelper(t, cmd)
	if out.code != exitOK {
		t.Fatalf("read-only helper exit %d: %s", out.code, out.stderr)
	}
	if !out.res.ReadOnly || out.res.Count != 4 || !out.res.ErrReadOnly {
		t.Fatalf("helper result %+v", out.res)
	}
	if strings.Contains(out.res.Err, "\n") || !strings.Contains(out.res.Err, "read-only") {
		t.Fatalf("plan error %q", out.res.Err)
	}
}

// holdWriteLock takes the registry's write lock from another connection,
// as another process's plan would, until the returned transaction ends.
func holdWriteLock(t *testing.T, bk backend, loc string) *sql.Tx {
	t.Helper()
	var hold *sql.DB
	var err error
	if bk.name == "sqlite" {
		hold, err = sql.Open("sqlite3", "file:"+loc+"?_txlock=immediate")
	} else {
		hold, err = sql.Open("pgx", loc)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hold.Close() })
	tx, err := hold.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if bk.name == "postgres" {
		if _, err := tx.Exec(`SELECT pg_advisory_xact_lock($1, `+pgLockSchema+`)`, pgLockWrite); err != nil {
			t.Fatal(err)
		}
	}
	return tx
}

func TestBusyRegistryWaitsThenFailsClearly(t *testing.T) {
	forEachBackend(t, testBusyRegistry)
}

func testBusyRegistry(t *testing.T, bk backend) {
	ctx := context.Background()
	path := bk.fresh(t)
	s := bk.open(t, path)

	// A lock held briefly is waited for.
	tx := holdWriteLock(t, bk, path)
	go func() {
		time.Sleep(300 * time.Millisecond)
		tx.Rollback()
	}()
	start := time.Now()
	mustPlan(t, s, sweep([]string{qwen}, []def{int8F}, []def{g64}))
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("plan done after %v, while the lock was held for 300ms", d)
	}

	// A lock held past the timeout fails with ErrBusy, not "database is locked".
	tx = holdWriteLock(t, bk, path)
	defer tx.Rollback()
	short, err := Open(ctx, path, Options{LockTimeout: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	start = time.Now()
	_, err = Plan(ctx, short, sweep([]string{qwen}, []def{fp8F}, []def{g64}))
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "is busy") {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
	oneLine(t, err)
	if d := time.Since(start); d < 400*time.Millisecond || d > 5*time.Second {
		t.Fatalf("gave up after %v", d)
	}
	// Reads are not blocked by a writer (WAL; MVCC), nor is a mark.
	if n, err := short.CountRuns(ctx, RunFilter{}); err != nil || n != 1 {
		t.Fatalf("count during a write = %d, %v", n, err)
	}
	if bk.name == "postgres" {
		if err := short.Mark(ctx, runOf(qwen, int8F, g64, "").ID, StatusRunning, nil, ""); err != nil {
			t.Fatalf("mark during a plan: %v", err)
		}
	}
	// A cancelled context stops the wait.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := Plan(cctx, s, sweep([]string{qwen}, []def{fp8F}, []def{g64})); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("plan with a cancelled context: %v", err)
	}
	if d := time.Since(start); d > maxBusyTimeout+time.Second {
		t.Fatalf("cancellation noticed after %v", d)
	}
}

// migrateDownTo migrates db down to schema version with the migrations in
// fsys: the provider, for migrating up again.
func migrateDownTo(t *testing.T, dialect goose.Dialect, db *sql.DB, fsys fs.FS, version int64) *goose.Provider {
	t.Helper()
	p, err := goose.NewProvider(dialect, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(context.Background(), version); err != nil {
		t.Fatalf("down to schema %d: %v", version, err)
	}
	return p
}

func TestMigrationsGoDownAndUp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, bk backend) {
		ctx := context.Background()
		s := bk.new(t)
		dialect, fsys := goose.DialectSQLite3, migrations.SQLite()
		tables := `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name <> 'goose_db_version' AND name NOT LIKE 'sqlite%'`
		if bk.name == "postgres" {
			dialect, fsys = goose.DialectPostgres, migrations.Postgres()
			tables = `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'goose_db_version'`
		}
		p := migrateDownTo(t, dialect, rawDB(s).DB, fsys, 0)
		var n int
		rawDB(s).QueryRow(tables).Scan(&n)
		if n != 0 {
			t.Fatalf("%d tables left after down", n)
		}
		if _, err := p.Up(ctx); err != nil {
			t.Fatalf("up: %v", err)
		}
		if n := rawDB(s).QueryRow(tables).Scan(&n); n != nil {
			t.Fatal(n)
		}
		mustPlan(t, s, sweep([]string{qwen}, []def{int8F}, []def{g64}))
	})
}

// indexedQueries are the queries of qrun runs and of the checks, each with
// the index that must serve it in index order (no sort), on either backend.
var indexedQueries = map[string]string{
	`SELECT id FROM runs WHERE granularity = 'x' ORDER BY created_at DESC, id LIMIT 50`:    "runs_granularity_created",
	`SELECT id FROM runs WHERE format = 'x' ORDER BY created_at DESC, id LIMIT 50`:         "runs_format_created",
	`SELECT id FROM runs WHERE model = 'x' ORDER BY created_at DESC, id LIMIT 50`:          "runs_model_created",
	`SELECT id FROM runs WHERE status = 'x' ORDER BY created_at DESC, id LIMIT 50`:         "runs_status_created",
	`SELECT id FROM runs WHERE export_verdict = 'x' ORDER BY created_at DESC, id LIMIT 50`: "runs_export_created",
	`SELECT id FROM runs ORDER BY created_at DESC, id LIMIT 50`:                            "runs_created",
	`SELECT name FROM names WHERE kind = 'granularity' AND fingerprint = 'x'`:              "names_kind_fingerprint",
}

// checkIndexesServe wants each of indexedQueries and of extra (the
// backend's own) served by its index without a sort: explain returns the
// lines of a query's plan, sortStep is how the backend's plan names a sort.
func checkIndexesServe(t *testing.T, extra map[string]string, sortStep string, explain func(q string) []string) {
	t.Helper()
	queries := maps.Clone(indexedQueries)
	maps.Copy(queries, extra)
	for q, index := range queries {
		all := strings.Join(explain(q), "; ")
		if !strings.Contains(all, index) || strings.Contains(all, sortStep) {
			t.Errorf("%s:\n  plan %q, want %s without a sort", q, all, index)
		}
	}
}

func TestSchemaIndexesServeTheQueries(t *testing.T) {
	s := openTest(t, "")
	checkIndexesServe(t, map[string]string{
		`SELECT max(layout_fp) FROM runs`:               "runs_layout",
		`SELECT min(model) FROM runs WHERE model > 'x'`: "runs_model_created",
	}, "TEMP B-TREE", func(q string) []string {
		rows, err := s.db.Query(`EXPLAIN QUERY PLAN ` + q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			plan = append(plan, detail)
		}
		return plan
	})
}

func TestNetworkFileSystemNames(t *testing.T) {
	for magic, want := range map[uint32]string{
		0x6969: "NFS", 0xff534d42: "CIFS", 0xfe534d42: "SMB2", 0x0bd00bd0: "Lustre", 0x47504653: "GPFS",
		0xef53: "", 0x58465342: "", 0x01021994: "", // ext4, xfs, tmpfs
	} {
		if got := netFSName(magic); got != want {
			t.Errorf("netFSName(%#x) = %q, want %q", magic, got, want)
		}
	}
	// The test's own temporary folder is local.
	if kind := networkFS(t.TempDir()); kind != "" {
		t.Skipf("temporary folder is on %s", kind)
	}
}

// TestRunFilesUpgradeKeepsManifestsWhole: schema 3 makes run_files an
// ordinary table, so a manifest of about a kilobyte stays in its row's page
// instead of an overflow page of its own; a registry of schema 2 is
// upgraded with every file kept byte for byte.
func TestRunFilesUpgradeKeepsManifestsWhole(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "qrun.db")
	s := openTest(t, path)
	var seeds []string
	for i := range 30 {
		seeds = append(seeds, fmt.Sprintf(`{"seed":%d}`, i))
	}
	b := sweep([]string{qwen}, []def{int8F, fp8F}, []def{g64}, seeds...)
	manifest := []byte(strings.Repeat("manifest line of about forty characters\n", 26)) // ~1 KiB
	for i := range b.Runs {
		m := append([]byte(b.Runs[i].ID+"\n"), manifest...)
		b.Runs[i].Files = &RunFiles{Manifest: m, Recipe: []byte("recipe\n")}
	}
	mustPlan(t, s, b)
	migrateDownTo(t, goose.DialectSQLite3, s.db, migrations.SQLite(), 2)
	withoutRowid := func(s *SQLite) bool {
		var sqlText string
		if err := s.db.QueryRow(`SELECT sql FROM sqlite_schema WHERE name = 'run_files'`).Scan(&sqlText); err != nil {
			t.Fatal(err)
		}
		return strings.Contains(sqlText, "WITHOUT ROWID")
	}
	if !withoutRowid(s) {
		t.Fatal("schema 2's run_files should be WITHOUT ROWID")
	}
	pages := func(s *SQLite) int {
		var n int
		if _, err := s.db.Exec(`VACUUM`); err != nil {
			t.Fatal(err)
		}
		if err := s.db.QueryRow(`PRAGMA page_count`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := pages(s)
	s.Close()

	s = openTest(t, path) // upgrades to the latest schema
	if withoutRowid(s) {
		t.Fatal("run_files is still WITHOUT ROWID after the upgrade")
	}
	for _, r := range b.Runs {
		f, err := s.RunFiles(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := append([]byte(r.ID+"\n"), manifest...); !bytes.Equal(f.Manifest, want) || string(f.Recipe) != "recipe\n" {
			t.Fatalf("run %s: files changed by the upgrade", r.ID)
		}
	}
	// Four manifests now share a 4 KiB page where each had an overflow
	// page of its own.
	after := pages(s)
	t.Logf("pages: %d before the upgrade, %d after", before, after)
	if before-after < len(b.Runs)/2 {
		t.Errorf("%d pages before the upgrade, %d after: want at least %d fewer for %d manifests of ~1 KiB", before, after, len(b.Runs)/2, len(b.Runs))
	}
}
