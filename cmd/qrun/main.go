// Command qrun plans NVIDIA ModelOpt quantization sweeps: stable output
// directories, manifests, complete ModelOpt recipes and a registry that keeps
// every name meaning what it meant.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(runMain())
}

// runMain runs qrun with the process's arguments and streams, under a
// context that SIGINT and SIGTERM cancel: a command stops, undoes what it
// had not recorded, and exits 130 (see run).
func runMain() int {
	ctx, stop := notifySignals()
	defer stop()
	return run(ctx, os.Args[1:], defaultIO())
}

// notifySignals returns a context that the first SIGINT or SIGTERM
// cancels; by then both have their default action again, so that a second
// one ends the process at once, whatever it is doing.
func notifySignals() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-sigs:
			signal.Stop(sigs)
			cancel(fmt.Errorf("%v: %w", sig, context.Canceled))
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel(nil)
	}
}
