package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// registry is the SQL both backends share: the queries are written once,
// with ? placeholders, and a dialect supplies what differs between SQLite
// and PostgreSQL (placeholders, how a write transaction takes the
// registry's write lock, which errors are worth retrying, messages).
type registry struct {
	db       *sql.DB
	d        dialect
	readOnly bool
	root     string // the output root run directories are recorded under (see dirs.go); "" for none
	id       string // see ID
}

// ID names the registry (see Store.ID).
func (r *registry) ID() string { return r.id }

// dialect is what a backend supplies to the shared SQL.
type dialect interface {
	// rebind rewrites a query written with ? placeholders for the driver.
	rebind(query string) string
	// retry runs op, again while the database asks to (busy, serialisation
	// failure, lost connection), within the backend's bounds, and turns
	// driver errors into messages.
	retry(ctx context.Context, op func() error) error
	// beginWrite starts a write transaction. With whole, it holds the
	// registry's write lock, which serialises it with every other such
	// transaction until commit or rollback (Update, Retire, Import: they check
	// the whole registry before writing). Without, it only needs the rows
	// it reads with lockRow (Mark: one run) — SQLite takes its one write
	// lock either way. ctx bounds the wait for the lock and every
	// statement, but not the transaction: a cancelled ctx fails the next
	// statement, and a transaction whose work is done still commits
	// (database/sql would roll it back on its own as ctx ends, between the
	// last statement and the commit).
	beginWrite(ctx context.Context, whole bool) (*sql.Tx, error)
	// lockRow is the suffix of a SELECT that locks the rows it reads until
	// the transaction ends ("" where every write transaction is serialised).
	lockRow() string
	// readOnlyErr is the error of a write on a read-only registry.
	readOnlyErr() error
}

// wtx is a transaction whose queries are rewritten for the driver.
type wtx struct {
	*sql.Tx
	d dialect
}

func (t wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, t.d.rebind(query), args...)
}

func (t wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, t.d.rebind(query), args...)
}

func (t wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, t.d.rebind(query), args...)
}

func (t wtx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return t.Tx.PrepareContext(ctx, t.d.rebind(query))
}

// begin starts a write transaction (see dialect.beginWrite).
func (r *registry) begin(ctx context.Context, whole bool) (wtx, error) {
	tx, err := r.d.beginWrite(ctx, whole)
	if err != nil {
		return wtx{}, err
	}
	return wtx{tx, r.d}, nil
}

// dollarPlaceholders rewrites ? placeholders as PostgreSQL's $1, $2, …,
// leaving quoted text ('…', "…") and comments alone.
func dollarPlaceholders(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(query[i+1:], c)
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+2])
			i += j + 1
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+1])
			i += j
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// flag reads a boolean column: SQLite's 0/1 integer or PostgreSQL's
// boolean.
type flag bool

func (f *flag) Scan(src any) error {
	switch v := src.(type) {
	case bool:
		*f = flag(v)
	case int64:
		*f = v != 0
	case nil:
		*f = false
	default:
		return fmt.Errorf("flag: unexpected %T", src)
	}
	return nil
}

// rdb reads outside a transaction, with queries rewritten for the driver.
type rdb struct {
	db *sql.DB
	d  dialect
}

func (r rdb) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return r.db.QueryRowContext(ctx, r.d.rebind(query), args...)
}

func (r rdb) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return r.db.QueryContext(ctx, r.d.rebind(query), args...)
}

// read is the registry's connection pool for reads.
func (r *registry) read() rdb { return rdb{r.db, r.d} }
