package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

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
