//go:build linux && cgo

package main

import (
	"runtime"
	"sync"
	"testing"
)

// Threads started by the runtime share the one malloc arena
// (malloc_linux.go): without the constructor, each would map its own.
func TestThreadsShareOneMallocArena(t *testing.T) {
	if mallocArenas() < 0 {
		t.Skip("not glibc: no arenas to count")
	}
	// Goroutines locked to their threads, all at once, make the runtime
	// start a thread for each.
	var started, done sync.WaitGroup
	release := make(chan struct{})
	for i := 0; i < 6; i++ {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			started.Done()
			<-release
		}()
	}
	started.Wait()
	close(release)
	done.Wait()
	if n := mallocArenas(); n != 1 {
		t.Fatalf("%d malloc arenas, want 1: the constructor in malloc_linux.go did not run", n)
	}
}
