package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/qrun-dev/qrun/migrations"
)

// DefaultConnectTimeout bounds connecting to a PostgreSQL server when
// neither Options.ConnectTimeout nor the URL's connect_timeout says
// otherwise.
const DefaultConnectTimeout = 5 * time.Second

// The registry's PostgreSQL advisory locks, each a pair of int4 keys: the
// lock's class and the hash of the schema the registry lives in (so that
// registries in two schemas of one database don't wait for each other).
const (
	pgLockWrite   = 0x71726e01 // held by every whole-registry write transaction
	pgLockMigrate = 0x71726e02 // held while the schema is brought up to date
	pgLockSchema  = `hashtext(coalesce(current_schema(), ''))`
)

// maxReconnects is how many times one operation is tried again after the
// connection to the server was lost under it.
const maxReconnects = 3

// Postgres is the team registry: one PostgreSQL database (or one schema of
// it, through search_path) shared by every node of a cluster, with the
// SQLite registry's semantics exactly.
//
// Writers that check the whole registry before writing (Update, Retire, a
// copy) hold a transaction-scoped advisory lock from their first statement
// to commit or rollback, so they are serialised like SQLite's immediate
// transactions, and Update's function runs with that lock held. Their
// reads run at READ COMMITTED after the lock is granted, so each sees
// everything the previous holder committed. Mark locks its one run row. Unique keys back
// all of it: a run id, a directory and a (kind, name) can be inserted once.
type Postgres struct {
	registry
	loc            string // the URL with its password hidden, for messages
	server         string // host:port or socket, for messages
	user, database string
	lockTimeout    time.Duration
	connectTimeout time.Duration
	mustExist      bool
}

var (
	_ Store   = (*Postgres)(nil)
	_ dialect = (*Postgres)(nil)
)

// IsPostgresURL reports whether loc names a PostgreSQL registry
// (postgres:// or postgresql://).
func IsPostgresURL(loc string) bool {
	return strings.HasPrefix(loc, "postgres://") || strings.HasPrefix(loc, "postgresql://")
}

// OpenPostgres connects to the registry at url (postgres://user:password@
// host:port/database?sslmode=…, or host=/socket/dir for a unix socket) and
// brings its schema up to date under an advisory lock shared by every
// process. Connecting is bounded by Options.ConnectTimeout (or the URL's
// connect_timeout); an unreachable server, a failed authentication or a
// missing database is one line naming the server with the password hidden.
// It refuses a database holding other tables but no registry, and a
// registry written by a newer qrun (ErrSchemaTooNew). With ReadOnly, every
// transaction is read-only; with ReadOnly or MustExist, a database without a
// registry is an error wrapping fs.ErrNotExist.
func OpenPostgres(ctx context.Context, url string, opts Options) (*Postgres, error) {
	p := &Postgres{loc: Redact(url), lockTimeout: opts.LockTimeout, mustExist: opts.MustExist}
	if p.lockTimeout <= 0 {
		p.lockTimeout = DefaultLockTimeout
	}
	p.registry = registry{d: p, readOnly: opts.ReadOnly, root: cleanRoot(opts.OutputRoot)}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("registry %s: not a valid PostgreSQL URL: %s", p.loc, parseReason(err))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = opts.ConnectTimeout
		if cfg.ConnectTimeout <= 0 {
			cfg.ConnectTimeout = DefaultConnectTimeout
		}
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "qrun"
	}
	if opts.ReadOnly {
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
	}
	p.user, p.database, p.connectTimeout = cfg.User, cfg.Database, cfg.ConnectTimeout
	p.server = serverName(cfg.Host, cfg.Port)
	p.id = "postgres:" + p.server + "/" + p.database + "?search_path=" + cfg.RuntimeParams["search_path"]
	p.db = stdlib.OpenDB(*cfg)
	// A qrun process works through one connection at a time (two while it
	// migrates); a small pool keeps a SLURM array of planners within the
	// server's connection slots.
	p.db.SetMaxOpenConns(4)
	p.db.SetMaxIdleConns(4)
	p.db.SetConnMaxIdleTime(time.Minute)
	if err := p.connect(ctx); err != nil {
		p.db.Close()
		return nil, err
	}
	if err := p.upToDate(ctx); err != nil {
		p.db.Close()
		return nil, err
	}
	return p, nil
}

// connect opens the first connection, each try bounded by the connect
// timeout as a whole (pgx's own bound applies to each address it tries). A
// server starting up or out of connection slots is waited for, within the
// lock timeout; anything else fails at once with one line.
func (p *Postgres) connect(ctx context.Context) error {
	b := newBackoff(20*time.Millisecond, time.Second, p.lockTimeout)
	return b.retry(ctx, func() (bool, error) {
		cctx, cancel := context.WithTimeout(ctx, p.connectTimeout)
		err := p.db.PingContext(cctx)
		cancel()
		switch {
		case err == nil:
			return false, nil
		case ctx.Err() != nil:
			return false, ctx.Err()
		case pgCode(err) != "53300" && pgCode(err) != "57P03" || b.expired():
			return false, p.connectError(err)
		}
		return true, nil
	})
}

// upToDate checks the schema and migrates it when it is behind.
func (p *Postgres) upToDate(ctx context.Context) error {
	latest := LatestSchema()
	current, err := p.schema(ctx)
	if err != nil {
		return err
	}
	switch {
	case current > latest:
		return p.tooNew(current, latest)
	case current == latest:
		return nil
	case (p.readOnly || p.mustExist) && current == 0:
		return errorf(fs.ErrNotExist, "registry %s holds no qrun registry yet: the first qrun plan with write access creates it", p.loc)
	case p.readOnly:
		return errorf(ErrReadOnly, "registry %s has schema %d and needs upgrading to %d, but it is opened read-only: run qrun once with write access to it", p.loc, current, latest)
	}
	return p.migrate(ctx, latest)
}

// schema returns the registry's schema version: 0 for a database (schema)
// without one. Other tables and no registry: another program's database,
// refused.
func (p *Postgres) schema(ctx context.Context) (int64, error) {
	var v int64
	err := p.retry(ctx, func() error {
		var schema sql.NullString
		var hasGoose bool
		var others int
		err := p.db.QueryRowContext(ctx, `
			SELECT current_schema(),
			       EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1),
			       (SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename <> $1)`,
			gooseTable).Scan(&schema, &hasGoose, &others)
		if err != nil {
			return err
		}
		if !schema.Valid {
			return fmt.Errorf("registry %s: none of the schemas of its search_path exists: create the schema, or fix search_path in the URL", p.loc)
		}
		if !hasGoose {
			if others > 0 {
				return errorf(ErrNotRegistry, "registry %s: database %s (schema %s) holds tables of its own but no qrun registry: create a database for qrun (createdb), or name an empty schema with ?search_path=…", p.loc, p.database, schema.String)
			}
			v = 0
			return nil
		}
		var nv sql.NullInt64
		if err := p.db.QueryRowContext(ctx, `SELECT max(version_id) FROM `+gooseTable).Scan(&nv); err != nil {
			return err
		}
		v = nv.Int64
		return nil
	})
	return v, err
}

func (p *Postgres) tooNew(current, latest int64) error {
	return errorf(ErrSchemaTooNew, "registry %s was written by a newer qrun (schema %d, this binary knows %d): upgrade qrun", p.loc, current, latest)
}

// migrate brings the schema up to latest with goose, which holds the
// migration lock (pgMigrationLock) while it reads the version and applies
// what is missing: one process at a time, and the one that gets the lock
// finds what another may have migrated meanwhile.
func (p *Postgres) migrate(ctx context.Context, latest int64) error {
	gp, err := goose.NewProvider(goose.DialectPostgres, p.db, migrations.Postgres(),
		goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(pgMigrationLock{p}))
	if err != nil {
		return fmt.Errorf("registry migrations: %w", err)
	}
	applied, err := gp.Up(ctx)
	var ke *kindError
	switch {
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &ke):
		return ke // the lock's own message, without goose's words
	case err != nil:
		return fmt.Errorf("upgrade registry %s to schema %d: %w", p.loc, latest, p.explain(err))
	case len(applied) == 0:
		// Another process migrated meanwhile: perhaps a newer qrun, further.
		current, err := p.schema(ctx)
		if err != nil {
			return err
		}
		if current > latest {
			return p.tooNew(current, latest)
		}
	}
	return nil
}

// pgMigrationLock is goose's session locker for the registry: the session
// advisory lock pgLockMigrate of the registry's schema, tried again with
// backoff for at most the lock timeout. (goose's own Postgres locker takes
// a lock of one bigint key, which an older qrun's migration would not wait
// for, and waits in whole seconds.)
type pgMigrationLock struct{ p *Postgres }

var _ lock.SessionLocker = pgMigrationLock{}

func (l pgMigrationLock) SessionLock(ctx context.Context, conn *sql.Conn) error {
	b := newBackoff(5*time.Millisecond, 500*time.Millisecond, l.p.lockTimeout)
	return b.retry(ctx, func() (bool, error) {
		var ok bool
		err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1, `+pgLockSchema+`)`, pgLockMigrate).Scan(&ok)
		switch {
		case err != nil || ok:
			return false, err
		case b.expired():
			return false, errorf(ErrBusy, "registry %s is being upgraded by another process that has held its lock for more than %s; try again", l.p.loc, seconds(l.p.lockTimeout))
		}
		return true, nil
	})
}

// SessionUnlock releases the lock. When it can't, it closes the session
// underneath (which releases the lock too), so that the pool never gets
// back a connection that may still hold it; the migration's outcome stands.
func (pgMigrationLock) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1, `+pgLockSchema+`)`, pgLockMigrate); err != nil {
		conn.Raw(func(dc any) error {
			if c, ok := dc.(*stdlib.Conn); ok {
				c.Close()
			}
			return nil
		})
	}
	return nil
}

// rebind turns ? placeholders into $1, $2, ….
func (p *Postgres) rebind(query string) string { return dollarPlaceholders(query) }

// beginWrite starts a READ COMMITTED transaction with the lock timeout in
// force for every lock it waits for; whole takes the registry's write lock
// first, so that every later statement sees what the previous holder
// committed.
func (p *Postgres) beginWrite(ctx context.Context, whole bool) (*sql.Tx, error) {
	tx, err := p.db.BeginTx(context.WithoutCancel(ctx), &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return nil, err
	}
	ms := max(p.lockTimeout.Milliseconds(), 1)
	if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = `+strconv.FormatInt(ms, 10)); err != nil {
		tx.Rollback()
		return nil, err
	}
	if whole {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, `+pgLockSchema+`)`, pgLockWrite); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return tx, nil
}

// lockRow locks the rows a SELECT reads until the transaction ends.
func (p *Postgres) lockRow() string { return " FOR UPDATE" }

func (p *Postgres) readOnlyErr() error {
	return errorf(ErrReadOnly, "registry %s is open read-only", p.loc)
}

// Location returns the registry's URL with its password hidden.
func (p *Postgres) Location() string { return p.loc }

// ReadOnly reports whether the registry was opened read-only.
func (p *Postgres) ReadOnly() bool { return p.readOnly }

// Close closes the connections.
func (p *Postgres) Close() error {
	if err := p.db.Close(); err != nil {
		return fmt.Errorf("close registry %s: %w", p.loc, err)
	}
	return nil
}

// Check looks for rows referring to missing rows and files whose recorded
// checksum isn't their content's. (The server enforces the foreign keys, so
// only a damaged database or a hand edit with triggers disabled shows any.)
func (p *Postgres) Check(ctx context.Context) ([]string, error) {
	return p.readStrings(ctx, `
		SELECT 'runs row ' || r.id || ' refers to a missing layouts row' FROM runs r
		  WHERE NOT EXISTS (SELECT 1 FROM layouts l WHERE l.fingerprint = r.layout_fp)
		UNION ALL
		SELECT 'names row ' || n.kind || ' ' || n.name || ' refers to a missing runs row' FROM names n
		  WHERE n.first_run IS NOT NULL AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = n.first_run)
		UNION ALL
		SELECT 'events row ' || e.id || ' refers to a missing runs row' FROM events e
		  WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = e.run_id)
		UNION ALL
		SELECT 'run_files row ' || f.run_id || ' refers to a missing runs or recipes row' FROM run_files f
		  WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = f.run_id)
		     OR NOT EXISTS (SELECT 1 FROM recipes c WHERE c.sha256 = f.recipe_sha256)
		UNION ALL
		SELECT 'run_files row ' || f.run_id || ': the manifest does not match its sha256' FROM run_files f
		  WHERE encode(sha256(f.manifest), 'hex') <> f.manifest_sha256
		UNION ALL
		SELECT 'recipes row ' || c.sha256 || ': the recipe does not match its sha256' FROM recipes c
		  WHERE encode(sha256(c.body), 'hex') <> c.sha256`)
}

// retry runs op, again with growing, jittered pauses after a serialisation
// failure or deadlock, or while the server has no free connection slot (for
// at most the lock timeout, then ErrBusy), or after a lost connection (at
// most maxReconnects times: the server rolled the transaction back, and op
// runs whole again on a new connection). A connection lost during COMMIT
// leaves the outcome unknown: Update and Import run again, as they are
// idempotent (a plan that did commit is then found registered); Mark, which
// is not, marks its commit with uncertainCommit and is not retried. Other
// errors come back at once, the server's turned into messages.
func (p *Postgres) retry(ctx context.Context, op func() error) error {
	deadline := time.Now().Add(p.lockTimeout)
	b := &backoff{pause: 5 * time.Millisecond, most: time.Second} // a reconnection pauses past the deadline too
	lost := 0
	return b.retry(ctx, func() (bool, error) {
		err := op()
		if err == nil {
			return false, nil
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		var uc uncertainCommit
		if errors.As(err, &uc) && connectionLost(err) {
			return false, fmt.Errorf("registry %s: lost the connection to the PostgreSQL server at %s while committing (%s): the change may or may not be recorded; check before running it again", p.loc, p.server, netReason(err))
		}
		switch code := pgCode(err); {
		case code == "40001" || code == "40P01" || code == "53300" || code == "57P03":
			// A serialisation failure, a deadlock, no free connection slot,
			// a server starting up: all pass.
			if time.Now().After(deadline) {
				if code == "53300" || code == "57P03" {
					return false, p.explain(err)
				}
				return false, errorf(ErrBusy, "registry %s is busy: its transactions kept colliding for more than %s; try again", p.loc, seconds(p.lockTimeout))
			}
		case connectionLost(err) && lost < maxReconnects:
			lost++
			b.pause = max(b.pause, 100*time.Millisecond)
		default:
			return false, p.explain(err)
		}
		return true, nil
	})
}

// explain turns the server's and the driver's errors into messages a user
// can act on, naming the registry with its password hidden.
func (p *Postgres) explain(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) && !pgconn.Timeout(err) {
		return err
	}
	var ke *kindError
	var be *BlockedError
	if errors.As(err, &ke) || errors.As(err, &be) {
		return err
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return p.connectError(err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "55P03":
			return errorf(ErrBusy, "registry %s is busy: another process has held it for more than %s; try again", p.loc, seconds(p.lockTimeout))
		case pe.Code == "42501":
			return errorf(ErrReadOnly, "registry %s: user %s is not allowed to do this (%s): ask the database's owner for access", p.loc, p.user, pe.Message)
		case pe.Code == "25006":
			return errorf(ErrReadOnly, "registry %s is read-only here (%s)", p.loc, pe.Message)
		case pe.Code == "57P01" || pe.Code == "57P02" || strings.HasPrefix(pe.Code, "08"):
			return fmt.Errorf("registry %s: the server ended the connection (%s); nothing of this command was recorded unless it said so: run it again", p.loc, pe.Message)
		case pe.Code == "53100":
			return fmt.Errorf("registry %s: the server's disk is full", p.loc)
		case pe.Code == "22021" || pe.Code == "22P05":
			return fmt.Errorf("registry %s: PostgreSQL can't store this text (%s): it holds a NUL byte or is not UTF-8", p.loc, pe.Message)
		}
		return fmt.Errorf("registry %s: %s (SQLSTATE %s)", p.loc, pe.Message, pe.Code)
	}
	if connectionLost(err) {
		return fmt.Errorf("registry %s: lost the connection to the PostgreSQL server at %s (%s); nothing of this command was recorded unless it said so: run it again", p.loc, p.server, netReason(err))
	}
	return fmt.Errorf("registry %s: %w", p.loc, err)
}

// connectError is the one line for a failed connection.
func (p *Postgres) connectError(err error) error {
	at := "PostgreSQL server at " + p.server
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01":
			return fmt.Errorf("registry %s: authentication failed for user %s on the %s: check the password (in the URL, PGPASSWORD or ~/.pgpass)", p.loc, p.user, at)
		case "28000":
			return fmt.Errorf("registry %s: the %s refuses user %s for database %s (%s): ask its administrator to allow it in pg_hba.conf", p.loc, at, p.user, p.database, pe.Message)
		case "3D000":
			return fmt.Errorf("registry %s: database %s does not exist on the %s: create it first (createdb %s), then run qrun again", p.loc, p.database, at, p.database)
		case "53300":
			return errorf(ErrBusy, "registry %s: the %s has no free connection slot (too many clients); try again, or raise max_connections", p.loc, at)
		case "57P03":
			return fmt.Errorf("registry %s: the %s is starting up or shutting down; try again", p.loc, at)
		}
		return fmt.Errorf("registry %s: cannot connect to the %s: %s (SQLSTATE %s)", p.loc, at, pe.Message, pe.Code)
	}
	if pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("registry %s: no answer from the %s within %s (the connect timeout): check the address, the network and that the server runs", p.loc, at, seconds(p.connectTimeout))
	}
	return fmt.Errorf("registry %s: cannot connect to the %s: %s", p.loc, at, netReason(err))
}

// netReason is the short cause of a network error, without Go's words.
func netReason(err error) string {
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		if dns.IsNotFound {
			return "unknown host " + dns.Name
		}
		return "cannot resolve host " + dns.Name
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: is the server running and listening there?"
	case errors.Is(err, syscall.ENOENT):
		return "no server socket there: is the server running?"
	case errors.Is(err, syscall.EACCES):
		return "permission denied on the server socket"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "network unreachable"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection was closed"
	case pgconn.Timeout(err):
		return "timed out"
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) {
		return "the connection failed"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// connectionLost reports whether err means the connection to the server
// broke (the server rolls back an open transaction then).
func connectionLost(err error) bool {
	if code := pgCode(err); code != "" {
		return code == "57P01" || code == "57P02" || code == "57P03" || strings.HasPrefix(code, "08")
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &ne) || strings.Contains(err.Error(), "conn closed")
}

// pgCode is the SQLSTATE of a server error in err, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// parseReason is pgx's reason for refusing a connection string, without the
// string itself.
func parseReason(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "`: "); i >= 0 {
		msg = msg[i+3:]
	}
	return msg
}

// serverName spells where a server is for messages.
func serverName(host string, port uint16) string {
	if strings.HasPrefix(host, "/") {
		return fmt.Sprintf("%s/.s.PGSQL.%d", host, port)
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}
