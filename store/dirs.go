package store

import (
	"context"
	"path/filepath"
	"strings"
)

// The registry records a run's directory relative to the output root
// (Options.OutputRoot), so that a project reached through a symbolic link,
// or moved or copied whole to another folder, finds its runs where its
// output root now is. Runs come back with their directory made absolute
// again under the root in effect. Without an output root, and for rows an
// older qrun wrote (absolute directories), directories are what was
// recorded.

// recordDir is dir as the registry records it: relative to the output
// root when it is under it.
func (r *registry) recordDir(dir string) string {
	return relDir(r.root, dir)
}

func relDir(root, dir string) string {
	if root == "" || !filepath.IsAbs(dir) {
		return dir
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return dir
	}
	return rel
}

// runDir is a recorded directory made absolute under the output root.
func (r *registry) runDir(recorded string) string {
	if r.root == "" || filepath.IsAbs(recorded) {
		return recorded
	}
	return filepath.Join(r.root, recorded)
}

// resolve makes a scanned run's directory absolute (see runDir).
func (r *registry) resolve(run Run) Run {
	run.Dir = r.runDir(run.Dir)
	return run
}

// movedDir reports whether an absolute directory an older qrun recorded is
// the relative directory rel under an output root that has since moved
// (or was reached through another path): rel, whole path components, is
// its tail. The run id is the same, so it is the same run.
func movedDir(recorded, rel string) bool {
	if !filepath.IsAbs(recorded) || filepath.IsAbs(rel) || rel == "" {
		return false
	}
	return strings.HasSuffix(filepath.Clean(recorded), string(filepath.Separator)+filepath.Clean(rel))
}

// MoveRun records a run's new directory.
func (r *registry) MoveRun(ctx context.Context, id, dir string) error {
	return r.updateOne(ctx, errorf(ErrNotFound, "no run %s in the registry", id),
		`UPDATE runs SET dir = ? WHERE id = ?`, r.recordDir(dir), id)
}
