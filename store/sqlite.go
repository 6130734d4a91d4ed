package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
	"github.com/pressly/goose/v3"

	"github.com/qrun-dev/qrun/migrations"
)

// DefaultLockTimeout is how long an operation waits, by default, for
// another process holding the registry's write lock.
const DefaultLockTimeout = time.Minute

// maxBusyTimeout bounds SQLite's own wait for a lock inside one statement,
// which a cancelled context does not cut short; longer waits are retried
// with backoff by the store, which gives up between attempts once the
// context is cancelled. (qrun cancels it on SIGINT and SIGTERM: a plan
// interrupted that way rolls back, and removes what it wrote, within about
// this long.)
const maxBusyTimeout = time.Second

// gooseTable is goose's version table.
const gooseTable = goose.DefaultTablename

// Options configure OpenSQLite and OpenPostgres.
type Options struct {
	// LockTimeout bounds how long an operation waits for a write lock held
	// by another process (retrying with backoff) before failing with an
	// error wrapping ErrBusy. Zero means DefaultLockTimeout.
	LockTimeout time.Duration
	// ReadOnly opens the registry for reading only, even when the file is
	// writable. A file that isn't writable is always opened read-only.
	ReadOnly bool
	// AllowNetworkFS lets the registry live on a network file system
	// (NFS, Lustre, GPFS, CIFS, …), where SQLite's locking is unreliable.
	AllowNetworkFS bool
	// ConnectTimeout bounds connecting to a PostgreSQL server when its URL
	// has no connect_timeout. Zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// MustExist refuses to create a registry: a missing SQLite file, or a
	// PostgreSQL database without a registry, is an error wrapping
	// fs.ErrNotExist (ReadOnly implies it).
	MustExist bool
	// OutputRoot, absolute, is the output root: run directories under it
	// are recorded relative to it, and come back absolute under it (see
	// Run.Dir). "" records directories as given.
	OutputRoot string
	// WorkDir, absolute, is the folder a relative SQLite path is in (""
	// for the process's working directory); messages name the path as
	// given.
	WorkDir string
}

// realFile is an absolute file path with the symbolic links of its
// longest existing folder resolved (the file and its folder may not exist
// yet): the same for every path that reaches the file.
func realFile(abs string) string {
	dir, rest := filepath.Dir(abs), filepath.Base(abs)
	for {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(real, rest)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return abs
		}
		dir, rest = parent, filepath.Join(filepath.Base(dir), rest)
	}
}

func cleanRoot(root string) string {
	if root == "" || !filepath.IsAbs(root) {
		return ""
	}
	return filepath.Clean(root)
}

// SQLite is the embedded registry: one SQLite database file, in WAL mode,
// safe for many processes at once.
type SQLite struct {
	registry
	path        string // as given, for messages
	lockTimeout time.Duration
}

var (
	_ Store   = (*SQLite)(nil)
	_ dialect = (*SQLite)(nil)
)

// OpenSQLite opens the registry at path, creating it and its folder when
// missing, and brings its schema up to date under a lock shared by every
// process. A file that isn't writable is opened read-only (reads work, Update
// and Mark fail with ErrReadOnly). It refuses a file that isn't a SQLite
// database, another program's database, a registry written by a newer qrun
// (ErrSchemaTooNew), and a network file system unless allowed.
func OpenSQLite(ctx context.Context, path string, opts Options) (*SQLite, error) {
	if path == "" {
		return nil, errors.New("registry path is empty")
	}
	abs := path
	if opts.WorkDir != "" && !filepath.IsAbs(path) {
		abs = filepath.Join(opts.WorkDir, path)
	}
	abs, err := filepath.Abs(abs)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", path, err)
	}
	s := &SQLite{path: path, lockTimeout: opts.LockTimeout}
	s.registry = registry{d: s, readOnly: opts.ReadOnly, root: cleanRoot(opts.OutputRoot), id: "sqlite:" + realFile(abs)}
	if s.lockTimeout <= 0 {
		s.lockTimeout = DefaultLockTimeout
	}
	dir := filepath.Dir(abs)
	exists, err := examine(path, abs)
	if err != nil {
		return nil, err
	}
	if !exists {
		if opts.ReadOnly || opts.MustExist {
			return nil, errorf(fs.ErrNotExist, "registry %s does not exist", path)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create the registry's folder %s: %w", dir, unwrapPath(err))
		}
	}
	if !opts.AllowNetworkFS {
		probe := dir
		if exists {
			probe = abs
		}
		if kind := networkFS(probe); kind != "" {
			return nil, errorf(ErrNetworkFS, "registry %s is on a network file system (%s), where SQLite's locking is unreliable: use a PostgreSQL registry (--db postgres://…), or override with --allow-network-fs", path, kind)
		}
	}
	if exists && !(writable(abs) && writable(dir)) {
		s.readOnly = true
	}
	busy := min(s.lockTimeout, maxBusyTimeout)
	latest := LatestSchema()
	current := int64(0)
	if exists {
		// Look before touching: a read-only connection checks what the
		// file holds before the read-write one switches it to WAL, so that
		// another program's database or a newer registry is left as it was.
		ro, err := s.openReadOnly(ctx, abs, busy)
		if err != nil {
			return nil, err
		}
		if current, err = s.schema(ctx, ro); err == nil && current > latest {
			err = s.tooNew(current, latest)
		}
		if err == nil && s.readOnly && current < latest {
			err = errorf(ErrReadOnly, "registry %s has schema %d and needs upgrading to %d, but it is read-only: run qrun once with write access to it", s.path, current, latest)
		}
		if err != nil || s.readOnly {
			if err != nil {
				ro.Close()
				return nil, err
			}
			s.db = ro
			return s, nil
		}
		ro.Close()
	}
	db, err := sql.Open("sqlite3", sqliteDSN(abs, false, busy, false))
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", path, err)
	}
	s.db = db
	if current < latest {
		if err := s.migrate(ctx, abs, latest); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

// openReadOnly opens the registry read-only. SQLite can't open a WAL
// database read-only when its shared-memory file is missing and can't be
// created (a registry in a folder this process can't write); then, when no
// write-ahead log is pending, the file itself is consistent and is opened as
// immutable.
func (s *SQLite) openReadOnly(ctx context.Context, abs string, busy time.Duration) (*sql.DB, error) {
	db, err := sql.Open("sqlite3", sqliteDSN(abs, true, busy, false))
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", s.path, err)
	}
	err = s.retryRaw(ctx, func() error {
		return db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(new(int))
	})
	var se sqlite3.Error
	if err == nil || !errors.As(err, &se) || (se.Code != sqlite3.ErrReadonly && se.Code != sqlite3.ErrCantOpen) {
		if err != nil {
			db.Close()
			return nil, s.explain(err)
		}
		return db, nil
	}
	db.Close()
	if fi, err := os.Stat(abs + "-wal"); err == nil && fi.Size() > 0 {
		return nil, errorf(ErrReadOnly, "registry %s can't be read by this user: its folder isn't writable and it holds changes not yet merged into the file (any qrun command run by its owner merges them)", s.path)
	}
	db, err = sql.Open("sqlite3", sqliteDSN(abs, true, busy, true))
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", s.path, err)
	}
	return db, nil
}

// examine reports whether the registry file exists, refusing anything but
// a regular file that is empty or starts with SQLite's header.
func examine(path, abs string) (bool, error) {
	fi, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("registry %s: %w", path, unwrapPath(err))
	}
	if fi.IsDir() {
		return false, errorf(ErrNotRegistry, "registry %s is a folder, not a database file", path)
	}
	if !fi.Mode().IsRegular() {
		return false, errorf(ErrNotRegistry, "registry %s is not a regular file", path)
	}
	if fi.Size() == 0 {
		return true, nil // SQLite treats an empty file as an empty database
	}
	f, err := os.Open(abs)
	if err != nil {
		return false, fmt.Errorf("registry %s: %w", path, unwrapPath(err))
	}
	defer f.Close()
	const magic = "SQLite format 3\x00"
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(f, head); err != nil || string(head) != magic {
		return false, errorf(ErrNotRegistry, "registry %s is not a SQLite database: point --db at a qrun registry, or move the file away", path)
	}
	return true, nil
}

// sqliteDSN spells the connection settings in the DSN so that every
// connection of the pool gets them, not just the first:
//
//   - journal_mode=WAL: readers never block the writer nor each other;
//   - busy_timeout: SQLite waits for a lock instead of failing at once;
//   - txlock=immediate: BEGIN IMMEDIATE takes the write lock up front, so a
//     check-then-insert transaction can't fail half way on a lock upgrade,
//     and racing planners are serialised;
//   - foreign_keys=on: SQLite leaves them off otherwise;
//   - synchronous=FULL: in WAL mode NORMAL may lose the last commits on a
//     power cut or kernel crash. qrun commits once per invocation, so FULL
//     costs one fsync per plan, and buys that a plan whose directories were
//     printed (and jobs launched) is never forgotten, nor a name
//     registration that another definition could then take.
//
// A read-only registry is opened with mode=ro and no journal change, and
// immutable=1 where SQLite needs it (see openReadOnly).
func sqliteDSN(abs string, readOnly bool, busy time.Duration, immutable bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(busy.Milliseconds(), 10))
	q.Set("_foreign_keys", "on")
	// 40 MiB of page cache: a 10,000-run plan (about 29 MB of pages) stays in
	// memory until its commit; a larger one spills to the WAL, so a sweep of
	// any size stays within about 100 MB.
	q.Set("_cache_size", "-40960")
	if readOnly {
		q.Set("mode", "ro")
		if immutable {
			q.Set("immutable", "1")
		}
	} else {
		q.Set("mode", "rwc")
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", "FULL")
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}
	return u.String()
}

// LatestSchema is the highest schema version this binary knows.
func LatestSchema() int64 {
	v, err := latestSchema()
	if err != nil {
		panic("store: embedded migrations are invalid: " + err.Error())
	}
	return v
}

func latestSchema() (int64, error) {
	sq, err := latestIn(migrations.SQLite())
	if err != nil {
		return 0, err
	}
	pg, err := latestIn(migrations.Postgres())
	if err != nil {
		return 0, err
	}
	if sq != pg {
		return 0, fmt.Errorf("the SQLite migrations end at %d, the PostgreSQL ones at %d", sq, pg)
	}
	return sq, nil
}

// latestIn is the highest migration number in fsys.
func latestIn(fsys fs.FS) (int64, error) {
	var latest int64
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		v, err := goose.NumericComponent(p)
		if err != nil {
			return err
		}
		latest = max(latest, v)
		return nil
	})
	return latest, err
}

// migrate brings the schema up to latest under an exclusive lock on
// <registry>.lock, held by one process at a time, which re-reads the
// version once it holds the lock (another process may have migrated
// meanwhile).
func (s *SQLite) migrate(ctx context.Context, abs string, latest int64) error {
	unlock, err := lockFile(ctx, abs+".lock", s.lockTimeout)
	if err != nil {
		if errors.Is(err, errLockTimeout) {
			return errorf(ErrBusy, "registry %s is being upgraded by another process that has held its lock for more than %s; try again", s.path, seconds(s.lockTimeout))
		}
		return fmt.Errorf("lock registry %s for its upgrade: %w", s.path, unwrapPath(err))
	}
	defer unlock()
	current, err := s.schema(ctx, s.db)
	if err != nil {
		return err
	}
	if current > latest {
		return s.tooNew(current, latest)
	}
	if current == latest {
		return nil
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.db, migrations.SQLite(),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("registry migrations: %w", err)
	}
	err = s.retry(ctx, func() error {
		_, err := p.Up(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("upgrade registry %s to schema %d: %w", s.path, latest, err)
	}
	return nil
}

func (s *SQLite) tooNew(current, latest int64) error {
	return errorf(ErrSchemaTooNew, "registry %s was written by a newer qrun (schema %d, this binary knows %d): upgrade qrun", s.path, current, latest)
}

// schema returns the registry's schema version: 0 for a new database. A
// database holding tables but no qrun schema is another program's and is
// refused.
func (s *SQLite) schema(ctx context.Context, db *sql.DB) (int64, error) {
	var v int64
	err := s.retry(ctx, func() error {
		var hasGoose, others int
		err := db.QueryRowContext(ctx, `
			SELECT count(*) FILTER (WHERE name = ?),
			       count(*) FILTER (WHERE name <> ? AND name NOT LIKE 'sqlite\_%' ESCAPE '\')
			FROM sqlite_schema WHERE type = 'table'`, gooseTable, gooseTable).Scan(&hasGoose, &others)
		if err != nil {
			return err
		}
		if hasGoose == 0 {
			if others > 0 {
				return errorf(ErrNotRegistry, "registry %s is a SQLite database but not a qrun registry (it has tables of its own): point --db at another file", s.path)
			}
			v = 0
			return nil
		}
		var nv sql.NullInt64
		if err := db.QueryRowContext(ctx, `SELECT max(version_id) FROM `+gooseTable).Scan(&nv); err != nil {
			return err
		}
		v = nv.Int64
		return nil
	})
	return v, err
}

// rebind leaves ? placeholders as they are: SQLite's own.
func (s *SQLite) rebind(query string) string { return query }

// beginWrite starts an immediate transaction (_txlock in the DSN): it holds
// SQLite's one write lock from BEGIN, whole or not.
func (s *SQLite) beginWrite(ctx context.Context, whole bool) (*sql.Tx, error) {
	return s.db.BeginTx(context.WithoutCancel(ctx), nil)
}

// lockRow is empty: every write transaction already holds the write lock.
func (s *SQLite) lockRow() string { return "" }

func (s *SQLite) readOnlyErr() error {
	return errorf(ErrReadOnly, "registry %s is open read-only: writing to it needs write access to the file and its folder", s.path)
}

// Path returns the registry's path as it was given to OpenSQLite.
func (s *SQLite) Path() string { return s.path }

// ReadOnly reports whether the registry was opened read-only.
func (s *SQLite) ReadOnly() bool { return s.readOnly }

// Close closes the database.
func (s *SQLite) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close registry %s: %w", s.path, err)
	}
	return nil
}

// Check runs SQLite's integrity and foreign key checks.
func (s *SQLite) Check(ctx context.Context) ([]string, error) {
	integrity, err := s.readStrings(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return nil, err
	}
	problems := slices.DeleteFunc(integrity, func(msg string) bool { return msg == "ok" })
	keys, err := readAll(ctx, &s.registry, `PRAGMA foreign_key_check`, nil, func(rows *sql.Rows) (string, error) {
		var table, parent string
		var rowid sql.NullInt64
		var fkid int64
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s row %d refers to a missing %s row", table, rowid.Int64, parent), nil
	})
	if err != nil {
		return nil, err
	}
	return append(problems, keys...), nil
}

// retry runs op, again with growing, jittered pauses while the database is
// busy, for at most the lock timeout; then it fails with ErrBusy. Other
// errors are returned at once, with SQLite's codes turned into messages.
func (s *SQLite) retry(ctx context.Context, op func() error) error {
	return s.explain(s.retryRaw(ctx, op))
}

// retryRaw is retry without the messages: SQLite's errors come back as
// they are.
func (s *SQLite) retryRaw(ctx context.Context, op func() error) error {
	b := newBackoff(5*time.Millisecond, time.Second, s.lockTimeout)
	return b.retry(ctx, func() (bool, error) {
		err := op()
		if !isBusy(err) {
			return false, err
		}
		if b.expired() {
			return false, errorf(ErrBusy, "registry %s is busy: another process has held it for more than %s; try again", s.path, seconds(s.lockTimeout))
		}
		return true, nil
	})
}

func isBusy(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked
	}
	return false
}

// explain turns SQLite's result codes into messages a user can act on.
func (s *SQLite) explain(err error) error {
	var se sqlite3.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	switch se.Code {
	case sqlite3.ErrNotADB:
		return errorf(ErrNotRegistry, "registry %s is not a SQLite database: point --db at a qrun registry, or move the file away", s.path)
	case sqlite3.ErrCorrupt:
		return errorf(ErrNotRegistry, "registry %s is damaged (%s): restore it from a backup", s.path, se.Error())
	case sqlite3.ErrReadonly:
		return errorf(ErrReadOnly, "registry %s is read-only: writing to it needs write access to the file and its folder", s.path)
	case sqlite3.ErrCantOpen:
		return fmt.Errorf("cannot open registry %s: check that its folder exists and is accessible", s.path)
	case sqlite3.ErrPerm, sqlite3.ErrAuth:
		return fmt.Errorf("registry %s: permission denied", s.path)
	case sqlite3.ErrFull:
		return fmt.Errorf("registry %s: the disk is full", s.path)
	case sqlite3.ErrIoErr:
		return fmt.Errorf("registry %s: input/output error (%s)", s.path, se.Error())
	}
	return fmt.Errorf("registry %s: %w", s.path, err)
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
