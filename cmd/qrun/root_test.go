package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestCommandWord(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"plan", "--format", "x"}, "plan"},
		{[]string{"--db", "r.db", "runs"}, "runs"},
		{[]string{"--db=r.db", "--root", "out", "--conf", "c", "--config", "q.yaml", "ls"}, "ls"},
		{[]string{"--allow-network-fs", "plan"}, "plan"},
		{[]string{"--db"}, ""},
		{[]string{"--version"}, ""},
		{[]string{"--help", "plan"}, ""},
		{[]string{"-h", "plan"}, ""},
		{[]string{"--bogus", "plan"}, ""},
		{[]string{"help", "plan"}, "help"},
		{[]string{"__complete", "plan", ""}, "__complete"},
	} {
		if got := commandWord(c.args); got != c.want {
			t.Errorf("commandWord(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

// A command built alone (the tree for "qrun plan …") is the command the
// whole tree holds: same help, flags and subcommands.
func TestCommandBuiltAloneMatchesTheWholeTree(t *testing.T) {
	io := &IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}
	whole := newRootCmd(io, nil)
	for _, tc := range topCommands {
		for _, name := range tc.names {
			alone := newRootCmd(io, []string{name})
			if n := len(alone.Commands()); n != 1 {
				t.Fatalf("qrun %s: the tree holds %d commands, want 1", name, n)
			}
			a, _, err := alone.Find([]string{name})
			if err != nil {
				t.Fatal(err)
			}
			w, _, err := whole.Find([]string{name})
			if err != nil {
				t.Fatal(err)
			}
			if a.UsageString() != w.UsageString() || a.Long != w.Long || a.CommandPath() != w.CommandPath() {
				t.Errorf("qrun %s: help differs when built alone\nalone:\n%s\nwhole:\n%s", name, a.UsageString(), w.UsageString())
			}
			if len(a.Commands()) != len(w.Commands()) {
				t.Errorf("qrun %s: %d subcommands alone, %d in the whole tree", name, len(a.Commands()), len(w.Commands()))
			}
			for _, sa := range a.Commands() {
				sw, _, err := w.Find([]string{sa.Name()})
				if err != nil || sa.UsageString() != sw.UsageString() {
					t.Errorf("qrun %s %s: help differs when built alone", name, sa.Name())
				}
			}
		}
	}
	if got, want := len(whole.Commands()), len(topCommands)+1; got != want { // + completion
		t.Fatalf("the whole tree holds %d commands, want %d", got, want)
	}
}

// The runtime's periodic GOMAXPROCS updates stay off (main.go): they cost
// a short command a goroutine and often a thread at start.
func TestNoPeriodicGOMAXPROCSUpdates(t *testing.T) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build info")
	}
	for _, s := range bi.Settings {
		if s.Key == "DefaultGODEBUG" && strings.Contains(","+s.Value+",", ",updatemaxprocs=0,") {
			return
		}
	}
	t.Fatalf("DefaultGODEBUG lacks updatemaxprocs=0: %v", bi.Settings)
}
