// Command qrun plans NVIDIA ModelOpt quantization sweeps: stable output
// directories, manifests, complete ModelOpt recipes and a registry that keeps
// every name meaning what it meant.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], defaultIO()))
}
