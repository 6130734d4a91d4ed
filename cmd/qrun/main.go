// qrun lives for milliseconds to seconds, so the runtime's periodic
// GOMAXPROCS updates (Go 1.25) buy nothing; turning them off spares the
// goroutine that would start for them (about 0.05 ms of a 4 ms
// `qrun resolve` on a 2-core VM).
//
//go:debug updatemaxprocs=0

// Command qrun plans NVIDIA ModelOpt quantization sweeps: stable output
// directories, manifests, complete ModelOpt recipes and a registry that keeps
// every name meaning what it meant.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], defaultIO()))
}
