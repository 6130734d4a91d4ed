package plan

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/qrun-dev/qrun/manifest"
	"github.com/qrun-dev/qrun/store"
)

// TestTwoRegistriesOnOneRootKeepEachOthersTempFiles: a project's registry
// and another (a team's) plan the same runs under one output root. A
// temporary file in a run directory is removed by a plan only when it is
// its own registry's (a crashed writer's) or an older qrun's (named by no
// writer); the other registry's, possibly in flight, is left alone.
func TestTwoRegistriesOnOneRootKeepEachOthersTempFiles(t *testing.T) {
	f := newFixture(t)
	other, err := store.OpenSQLite(context.Background(), filepath.Join(f.dir, "team.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	mine, theirs := manifest.RegistryWriter(f.store.ID()), manifest.RegistryWriter(other.ID())
	if mine == theirs {
		t.Fatalf("two registries share the writer %s", mine)
	}
	res := f.mustPlan([]string{"quant_pair=int8", "quant_granularity=w_group64"}, nil)
	dir := res.Runs[0].Dir
	temp := func(w manifest.Writer) string { return manifest.TempPrefix + w.Tag() + "~manifest.yaml-1-1" }
	legacy := manifest.TempPrefix + "manifest.yaml-99-1"
	for _, n := range []string{temp(mine), temp(theirs), legacy} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("in flight"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f.mustPlan([]string{"quant_pair=int8", "quant_granularity=w_group64"}, nil)
	for n, kept := range map[string]bool{temp(mine): false, temp(theirs): true, legacy: false} {
		_, err := os.Stat(filepath.Join(dir, n))
		if got := err == nil; got != kept {
			t.Errorf("%s: kept = %v, want %v", n, got, kept)
		}
	}
	// The team registry's plan of the same run removes its own.
	f.mustPlan([]string{"quant_pair=int8", "quant_granularity=w_group64"}, func(o *Options) { o.Store = other })
	if _, err := os.Stat(filepath.Join(dir, temp(theirs))); !os.IsNotExist(err) {
		t.Errorf("the team registry's own stray was not removed: %v", err)
	}
}
