package pgtest

import (
	"database/sql"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// The helper's own test: a server starts, a database per test is created
// and reachable over the socket and over TCP with the password, and a wrong
// password is refused.
func TestServer(t *testing.T) {
	s := Shared(t)
	u := NewDatabase(t)
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name, version string
	if err := db.QueryRow(`SELECT current_database(), current_setting('server_version_num')`).Scan(&name, &version); err != nil {
		t.Fatal(err)
	}
	if version < "150000" {
		t.Errorf("server version %s", version)
	}
	tcp, _ := sql.Open("pgx", s.TCPURL(name, User, Password))
	defer tcp.Close()
	if err := tcp.Ping(); err != nil {
		t.Fatalf("TCP with the password: %v", err)
	}
	bad, _ := sql.Open("pgx", s.TCPURL(name, User, "wrong"))
	defer bad.Close()
	if err := bad.Ping(); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	if fi, err := os.Stat(s.Dir); err != nil || !fi.IsDir() {
		t.Fatalf("cluster folder: %v", err)
	}
}

// Schemas: each schema is empty, its URL makes it the connection's
// current schema, a table made there is in no other schema, Drop removes
// it and Close the whole database.
func TestSchemas(t *testing.T) {
	s := Shared(t)
	sc, err := s.NewSchemas(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	a, aURL, err := sc.Create("Some Hint!")
	if err != nil {
		t.Fatal(err)
	}
	b, bURL, err := sc.Create("Some Hint!")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two schemas named %s", a)
	}
	tables := func(u string) (schema string, n int) {
		t.Helper()
		db, err := sql.Open("pgx", u)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.QueryRow(`SELECT current_schema(), (SELECT count(*) FROM pg_tables WHERE schemaname = current_schema())`).Scan(&schema, &n); err != nil {
			t.Fatal(err)
		}
		return schema, n
	}
	if err := s.Exec(sc.db, `CREATE TABLE "`+a+`".x (i int)`); err != nil {
		t.Fatal(err)
	}
	if got, n := tables(aURL); got != a || n != 1 {
		t.Errorf("%s: current schema %q with %d tables, want %q with 1", aURL, got, n, a)
	}
	if got, n := tables(bURL); got != b || n != 0 {
		t.Errorf("%s: current schema %q with %d tables, want %q with 0", bURL, got, n, b)
	}
	if err := sc.Drop(a); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := sc.c.QueryRow(`SELECT count(*) FROM pg_namespace WHERE nspname = $1`, a).Scan(&left); err != nil || left != 0 {
		t.Errorf("schema %s after Drop: %d (%v)", a, left, err)
	}
	if err := sc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Admin().QueryRow(`SELECT count(*) FROM pg_database WHERE datname = $1`, sc.db).Scan(&left); err != nil || left != 0 {
		t.Errorf("database %s after Close: %d (%v)", sc.db, left, err)
	}
}
