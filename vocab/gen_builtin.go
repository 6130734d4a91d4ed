//go:build ignore

// gen_builtin writes builtin_gen.go from builtin/*/*.yaml: run
// go generate ./vocab after changing a built-in file.
package main

import (
	"fmt"
	"os"

	"github.com/qrun-dev/qrun/vocab/internal/builtingen"
)

func main() {
	src, err := builtingen.Generate(os.DirFS("."))
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen_builtin:", err)
		os.Exit(1)
	}
	if err := os.WriteFile("builtin_gen.go", src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen_builtin:", err)
		os.Exit(1)
	}
}
