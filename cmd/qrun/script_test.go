package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run qrun in-process as a real command: each
// script's "exec qrun …" runs main with its own arguments, streams and exit
// code.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"qrun": func() { os.Exit(run(os.Args[1:], defaultIO())) },
	})
}

// TestScripts runs the end-to-end CLI scenarios in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("QRUN_FORCE_TTY", "")
			return nil
		},
	})
}
