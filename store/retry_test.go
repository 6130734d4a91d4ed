package store

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	sqlite3 "github.com/mattn/go-sqlite3"
)

// The pauses grow up to the longest, none runs past the deadline, and a
// cancelled context ends the wait with its own error.
func TestBackoffPacesTheTries(t *testing.T) {
	b := newBackoff(10*time.Millisecond, 40*time.Millisecond, 300*time.Millisecond)
	var at []time.Time
	err := b.retry(context.Background(), func() (bool, error) {
		at = append(at, time.Now())
		if b.expired() {
			return false, errLockTimeout
		}
		return true, nil
	})
	if !errors.Is(err, errLockTimeout) {
		t.Fatalf("err = %v", err)
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap > 60*time.Millisecond {
			t.Fatalf("pause %d lasted %v, longer than the longest (40ms)", i, gap)
		}
	}
	if len(at) < 300/40 || len(at) > 300/5+2 {
		t.Fatalf("%d tries in 300ms", len(at))
	}

	// The second pause (400ms to 800ms) is cut short at the deadline.
	b = newBackoff(400*time.Millisecond, 2*time.Second, 500*time.Millisecond)
	start := time.Now()
	b.retry(context.Background(), func() (bool, error) { return !b.expired(), nil })
	if d := time.Since(start); d < 500*time.Millisecond || d > 580*time.Millisecond {
		t.Fatalf("gave up after %v, want just after 500ms", d)
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("a signal"))
	calls := 0
	err = newBackoff(time.Second, time.Second, time.Minute).retry(ctx, func() (bool, error) { calls++; return true, nil })
	if err != context.Canceled || calls != 1 {
		t.Fatalf("err %v after %d calls, want context.Canceled after the first", err, calls)
	}
}

// A registry that stays busy past the lock timeout fails with ErrBusy and
// one line saying so; other errors come back after one try.
func TestSQLiteRetryGivesUpWithOneLine(t *testing.T) {
	s := &SQLite{path: "reg/qrun.db", lockTimeout: 200 * time.Millisecond}
	calls := 0
	start := time.Now()
	err := s.retry(context.Background(), func() error { calls++; return sqlite3.Error{Code: sqlite3.ErrBusy} })
	if d := time.Since(start); d < 200*time.Millisecond || d > time.Second {
		t.Fatalf("gave up after %v", d)
	}
	if !errors.Is(err, ErrBusy) || calls < 2 || err.Error() != "registry reg/qrun.db is busy: another process has held it for more than 0.2s; try again" {
		t.Fatalf("err %q after %d calls", err, calls)
	}
	calls = 0
	err = s.retry(context.Background(), func() error { calls++; return sqlite3.Error{Code: sqlite3.ErrFull} })
	if calls != 1 || err == nil || err.Error() != "registry reg/qrun.db: the disk is full" {
		t.Fatalf("err %q after %d calls", err, calls)
	}
}

// Transactions that keep colliding past the lock timeout fail with ErrBusy;
// a server without a free slot past it says so; a lost connection is tried
// again, pausing, even once the lock timeout has passed.
func TestPostgresRetryGivesUpWithOneLine(t *testing.T) {
	p := &Postgres{loc: "postgres://h/db", server: "h:5432", lockTimeout: 200 * time.Millisecond}
	calls := 0
	start := time.Now()
	err := p.retry(context.Background(), func() error { calls++; return &pgconn.PgError{Code: "40001", Message: "could not serialize access"} })
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Fatalf("gave up after %v", d)
	}
	if !errors.Is(err, ErrBusy) || calls < 2 || err.Error() != "registry postgres://h/db is busy: its transactions kept colliding for more than 0.2s; try again" {
		t.Fatalf("err %q after %d calls", err, calls)
	}
	calls = 0
	err = p.retry(context.Background(), func() error { calls++; return &pgconn.PgError{Code: "53300", Message: "too many clients"} })
	if calls < 2 || err == nil || err.Error() != "registry postgres://h/db: too many clients (SQLSTATE 53300)" {
		t.Fatalf("err %q after %d calls", err, calls)
	}
	p.lockTimeout = time.Nanosecond
	calls = 0
	start = time.Now()
	err = p.retry(context.Background(), func() error { calls++; return io.EOF })
	if calls != maxReconnects+1 || err == nil {
		t.Fatalf("err %v after %d calls", err, calls)
	}
	if d := time.Since(start); d < maxReconnects*50*time.Millisecond {
		t.Fatalf("%d reconnections in %v: they should pause at least 50ms each", maxReconnects, d)
	}
}

// A migration lock held past the lock timeout fails the opening of a
// SQLite registry with ErrBusy and one line.
func TestSQLiteMigrationLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qrun.db")
	unlock, err := lockFile(context.Background(), path+".lock", time.Second)
	if err != nil {
		t.Skipf("no file lock here: %v", err)
	}
	defer unlock()
	start := time.Now()
	_, err = OpenSQLite(context.Background(), path, Options{LockTimeout: 300 * time.Millisecond})
	if d := time.Since(start); d < 300*time.Millisecond || d > 2*time.Second {
		t.Fatalf("gave up after %v", d)
	}
	want := "registry " + path + " is being upgraded by another process that has held its lock for more than 0.3s; try again"
	if !errors.Is(err, ErrBusy) || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	unlock()
	s, err := OpenSQLite(context.Background(), path, Options{LockTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
