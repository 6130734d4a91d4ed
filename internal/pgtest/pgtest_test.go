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
