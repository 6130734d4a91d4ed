// Package pgtest starts a real, throwaway PostgreSQL server for tests: a
// cluster made by initdb in a temporary folder, served by the postgres
// binary on a unix socket in that folder and on a free TCP port of
// 127.0.0.1, with a database per test, and removed afterwards.
//
// Where no PostgreSQL binaries are found, tests that need the server skip
// with one line; with CI=true or QRUN_REQUIRE_POSTGRES=1 that is a failure
// instead. PostgreSQL refuses to run as root, so when the tests run as root
// the cluster belongs to the postgres OS user (nobody where there is none)
// and initdb and postgres run as that user.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// The cluster's superuser. Connections over the unix socket are trusted;
// TCP connections need the password (scram-sha-256), so that tests can
// provoke an authentication failure.
const (
	User     = "qrun"
	Password = "qrun-test-secret"
)

// ErrNoBinaries is returned by Start when initdb or postgres is missing.
var ErrNoBinaries = errors.New("no PostgreSQL binaries")

// Server is a running throwaway cluster.
type Server struct {
	Dir    string // the cluster's folder: data/, the socket, the log
	Bin    string // the folder of initdb and postgres
	Socket string // the unix socket's folder (Dir)
	Port   int    // the TCP port on 127.0.0.1 (the socket has the same number)

	cmd   *exec.Cmd
	done  chan struct{}
	admin *sql.DB
	seq   atomic.Int64
}

// Binaries finds the folder holding initdb, pg_ctl and postgres:
// $QRUN_PG_BIN, else where PATH has initdb (its link resolved), else the
// newest /usr/lib/postgresql/*/bin.
func Binaries() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv("QRUN_PG_BIN"); dir != "" {
		if has(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("%w in QRUN_PG_BIN=%s", ErrNoBinaries, dir)
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && has(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if has(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: initdb and postgres are neither on PATH nor in /usr/lib/postgresql/*/bin (install postgresql-15, or set QRUN_PG_BIN)", ErrNoBinaries)
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Start makes and starts a cluster. Stop it with Stop.
func Start() (*Server, error) {
	bin, err := Binaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(tempBase(), "qrun-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, Bin: bin, Socket: dir}
	cred, err := s.owner()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.initdb(cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		err = s.start(cred)
		if err == nil || attempt == 2 || !strings.Contains(err.Error(), "in use") {
			break
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// tempBase is where the cluster's folder goes: the temporary folder, or
// /tmp when that one's path is too long for a unix socket (at most 107
// bytes) or, as root, not open to the postgres user.
func tempBase() string {
	base := os.TempDir()
	if len(base) > 60 {
		return "/tmp"
	}
	if os.Geteuid() == 0 {
		if fi, err := os.Stat(base); err != nil || fi.Mode().Perm()&0o001 == 0 {
			return "/tmp"
		}
	}
	return base
}

// owner returns the credential to run PostgreSQL with (nil: as this
// process), handing the folder to that user.
func (s *Server) owner() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	uid, gid := 65534, 65534
	if u, err := user.Lookup("postgres"); err == nil {
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	if err := os.Chown(s.Dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func (s *Server) command(cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.Bin, name), args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "TZ=UTC")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT}
	return cmd
}

func (s *Server) initdb(cred *syscall.Credential) error {
	pw := filepath.Join(s.Dir, "pwfile")
	if err := os.WriteFile(pw, []byte(Password+"\n"), 0o600); err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(pw, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	base := []string{"-D", filepath.Join(s.Dir, "data"), "-U", User, "--pwfile", pw,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync", "--no-instructions"}
	// The databases' default collation is ICU's en-US where PostgreSQL has
	// ICU, so that an ORDER BY relying on the database's collation rather
	// than a bytewise one shows in the tests.
	var out []byte
	var err error
	for _, extra := range [][]string{
		{"--locale=C.UTF-8", "--locale-provider=icu", "--icu-locale=en-US"},
		{"--locale=C.UTF-8"},
		{"--locale=C"},
	} {
		os.RemoveAll(filepath.Join(s.Dir, "data"))
		out, err = s.command(cred, "initdb", append(slices.Clone(base), extra...)...).CombinedOutput()
		if err == nil {
			break
		}
	}
	os.Remove(pw)
	if err != nil {
		return fmt.Errorf("initdb: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (s *Server) start(cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.Port = port
	logPath := filepath.Join(s.Dir, "postgres.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := s.command(cred, "postgres", "-D", filepath.Join(s.Dir, "data"),
		"-k", s.Socket, "-p", strconv.Itoa(port), "-c", "listen_addresses=127.0.0.1",
		// A throwaway cluster: durability off, room for 64 planners at once.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=400", "-c", "shared_buffers=64MB",
		"-c", "unix_socket_permissions=0777", "-c", "log_min_messages=warning",
		"-c", "log_min_error_statement=panic", "-c", "TimeZone=UTC")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func() { cmd.Wait(); close(s.done) }()

	admin, err := sql.Open("pgx", s.URL("postgres"))
	if err != nil {
		s.kill()
		return err
	}
	s.admin = admin
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = admin.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(logPath)
			s.admin.Close()
			return fmt.Errorf("postgres exited at start: %s", strings.TrimSpace(string(log)))
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			s.kill()
			return fmt.Errorf("postgres did not accept connections within 60s: %v: %s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) kill() {
	if s.admin != nil {
		s.admin.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
}

// Stop shuts the server down and removes its folder.
func (s *Server) Stop() error {
	s.kill()
	return os.RemoveAll(s.Dir)
}

// URL is the URL of a database over the unix socket, as the superuser.
func (s *Server) URL(db string) string { return s.urlWith(db, nil) }

// urlWith is URL with more parameters.
func (s *Server) urlWith(db string, q url.Values) string {
	if q == nil {
		q = url.Values{}
	}
	q.Set("host", s.Socket)
	q.Set("port", strconv.Itoa(s.Port))
	q.Set("user", User)
	return (&url.URL{Scheme: "postgres", Path: "/" + db, RawQuery: q.Encode()}).String()
}

// TCPURL is the URL of a database over TCP on 127.0.0.1, with a user and
// password.
func (s *Server) TCPURL(db, user, password string) string {
	u := &url.URL{Scheme: "postgres", Host: "127.0.0.1:" + strconv.Itoa(s.Port), Path: "/" + db}
	if password != "" {
		u.User = url.UserPassword(user, password)
	} else {
		u.User = url.User(user)
	}
	return u.String()
}

// Admin is a connection pool to the postgres database, as the superuser.
func (s *Server) Admin() *sql.DB { return s.admin }

// Exec runs statements on a database as the superuser.
func (s *Server) Exec(db string, stmts ...string) error {
	c, err := sql.Open("pgx", s.URL(db))
	if err != nil {
		return err
	}
	defer c.Close()
	for _, q := range stmts {
		if _, err := c.Exec(q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

// uniqueName is a new name made of hint: lower-case letters, digits and
// underscores, numbered so that no two calls give the same.
func (s *Server) uniqueName(hint string) string {
	name := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(hint), "_"), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t%d_%s", s.seq.Add(1), name)
}

// CreateDatabase creates a new empty database named after hint and returns
// its name.
func (s *Server) CreateDatabase(hint string) (string, error) {
	name := s.uniqueName(hint)
	// FILE_COPY copies the template's files, a quarter of the time of
	// PostgreSQL 15's default (WAL_LOG, which writes every page through
	// the WAL) for a small template; servers before 15 know only that
	// way and refuse the option.
	_, err := s.admin.Exec(`CREATE DATABASE "` + name + `" STRATEGY = FILE_COPY`)
	if err != nil && strings.Contains(err.Error(), "strategy") {
		_, err = s.admin.Exec(`CREATE DATABASE "` + name + `"`)
	}
	if err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return name, nil
}

// DropDatabase drops a database, ending its sessions.
func (s *Server) DropDatabase(name string) error {
	_, err := s.admin.Exec(`DROP DATABASE IF EXISTS "` + name + `" WITH (FORCE)`)
	return err
}

// Schemas is a database of the server holding many empty schemas, each a
// registry of its own (qrun reaches one with ?search_path=NAME). A schema
// costs a few catalog rows where a database costs some 300 files copied
// and removed, most of a short test's time on PostgreSQL.
type Schemas struct {
	srv *Server
	db  string
	c   *sql.DB
}

// NewSchemas creates a database named after hint for schemas; Close drops
// it.
func (s *Server) NewSchemas(hint string) (*Schemas, error) {
	db, err := s.CreateDatabase(hint)
	if err != nil {
		return nil, err
	}
	c, err := sql.Open("pgx", s.URL(db))
	if err != nil {
		s.DropDatabase(db)
		return nil, err
	}
	return &Schemas{srv: s, db: db, c: c}, nil
}

// Create creates a new empty schema named after hint and returns its name
// and the URL of a connection with it as the search_path.
func (sc *Schemas) Create(hint string) (name, dsn string, err error) {
	name = sc.srv.uniqueName(hint)
	if _, err := sc.c.Exec(`CREATE SCHEMA "` + name + `"`); err != nil {
		return "", "", fmt.Errorf("create schema %s: %w", name, err)
	}
	return name, sc.srv.urlWith(sc.db, url.Values{"search_path": {name}}), nil
}

// Drop drops a schema and everything in it.
func (sc *Schemas) Drop(name string) error {
	_, err := sc.c.Exec(`DROP SCHEMA IF EXISTS "` + name + `" CASCADE`)
	return err
}

// Close drops the database and every schema in it.
func (sc *Schemas) Close() error {
	sc.c.Close()
	return sc.srv.DropDatabase(sc.db)
}

// Required reports whether PostgreSQL tests must run rather than skip:
// CI=true or QRUN_REQUIRE_POSTGRES=1.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("QRUN_REQUIRE_POSTGRES") == "1"
}

var shared struct {
	sync.Mutex
	srv *Server
	err error
}

// Shared returns the package's server, started on first use: a test that
// needs PostgreSQL calls it, and is skipped (or failed, see Required) when
// there is none. Stop it with StopShared from TestMain.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = Start()
	}
	if shared.err != nil {
		skipOrFail(t, shared.err)
	}
	return shared.srv
}

// StartT starts a server of the test's own, stopped and removed when the
// test ends; skipped or failed like Shared when there is none.
func StartT(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// skipOrFail ends a test that could not get a server: skipped with one line
// where PostgreSQL isn't installed (unless Required), failed otherwise.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	switch {
	case errors.Is(err, ErrNoBinaries) && !Required():
		t.Skipf("skipping PostgreSQL test: %v", err)
	case errors.Is(err, ErrNoBinaries):
		t.Fatalf("PostgreSQL is required here (CI=true or QRUN_REQUIRE_POSTGRES=1): %v", err)
	default:
		t.Fatalf("start a throwaway PostgreSQL: %v", err)
	}
}

// StopShared stops the package's server, if one was started.
func StopShared() {
	shared.Lock()
	defer shared.Unlock()
	if shared.srv != nil {
		shared.srv.Stop()
		shared.srv = nil
	}
}

// NewDatabase creates a database for this test on the shared server and
// returns its URL (unix socket); it is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	s := Shared(t)
	name, err := s.CreateDatabase(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.DropDatabase(name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return s.URL(name)
}
