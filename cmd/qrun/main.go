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
// context that SIGINT and SIGTERM cancel once a command that writes has
// started (see catchSignals): it stops, undoes what it had not recorded,
// and exits 130 (see run).
func runMain() int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	ctx = context.WithValue(ctx, signalCatcher{}, func() { notifySignals(ctx, cancel) })
	return run(ctx, os.Args[1:], processFactory())
}

// signalCatcher is the context key of the function that makes SIGINT and
// SIGTERM cancel the command's context.
type signalCatcher struct{}

// notifySignals makes the first SIGINT or SIGTERM cancel ctx; by then both
// have their default action again, so that a second one ends the process
// at once, whatever it is doing.
func notifySignals(ctx context.Context, cancel context.CancelCauseFunc) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-sigs:
			signal.Stop(sigs)
			cancel(fmt.Errorf("%v: %w", sig, context.Canceled))
		case <-ctx.Done():
			signal.Stop(sigs)
		}
	}()
}
