package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Writer names who writes a temporary file: a registry, for the run files
// a plan or qrun doctor writes on its behalf (RegistryWriter), or, for the
// zero Writer, this process alone (qrun resolve -o, report -o, vocab
// export). A temporary file's name carries its writer's tag,
//
//	.qrun-tmp-<tag>~<file>-<pid>-<n>
//
// so that cleaning up touches only one's own: two registries writing
// under one output root (a project's SQLite registry and a team's
// PostgreSQL registry) never delete each other's files in flight. Writes
// of one registry to one run directory are serialised by that registry's
// lock, so a temporary file of one's own registry found there is a crashed
// writer's.
type Writer string

// RegistryWriter is the writer of a registry, from the registry's id (the
// same for every process that opens it; see store.Store.ID).
func RegistryWriter(registryID string) Writer {
	h := sha256.Sum256([]byte(registryID))
	return Writer("r" + hex.EncodeToString(h[:5]))
}

// tag is the writer's tag in temporary file names: r<10 hex> for a
// registry, p<pid> for a process.
func (w Writer) tag() string {
	if w == "" {
		return "p" + pid()
	}
	return string(w)
}

// tempBase is the start of the name of w's temporary files for base.
func (w Writer) tempBase(base string) string {
	return TempPrefix + w.tag() + "~" + base
}

// TempOwner says whose temporary file name is: its writer's tag, or
// legacy (named before temporary files carried their writer, by an older
// qrun). ok is false for a name that is no qrun temporary file.
func TempOwner(name string) (tag string, legacy, ok bool) {
	rest, ok := strings.CutPrefix(name, TempPrefix)
	if !ok {
		return "", false, false
	}
	tag, _, tagged := strings.Cut(rest, "~")
	if !tagged || !validTag(tag) {
		return "", true, true
	}
	return tag, false, true
}

func validTag(t string) bool {
	if len(t) < 2 || (t[0] != 'r' && t[0] != 'p') {
		return false
	}
	for _, c := range t[1:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Owns reports whether w may remove the temporary file name: one of its
// own, or a legacy one (an older qrun's, which named no writer).
func (w Writer) Owns(name string) bool {
	tag, legacy, ok := TempOwner(name)
	return ok && (legacy || tag == w.tag())
}

// Tag is the writer's tag, as TempOwner reads it from a file name.
func (w Writer) Tag() string { return w.tag() }

// RemoveStrays deletes w's temporary files (and legacy ones) left in dir
// by a crash; other writers' are left alone.
func (w Writer) RemoveStrays(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range ents {
		if !e.IsDir() && w.Owns(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove stray %s: %w", e.Name(), err)
			}
		}
	}
	return nil
}

// Reset empties an uncommitted directory (see Uncommitted) so that its run
// can be written afresh: w's temporary files and the recipe.
func (w Writer) Reset(dir string) error {
	if err := w.RemoveStrays(dir); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, RecipeFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reset %s: %w", dir, err)
	}
	return nil
}

// WriteAtomic is WriteAtomic with w's temporary file.
func (w Writer) WriteAtomic(path string, data []byte, perm os.FileMode) error {
	if err := writeRenamed(w, path, data, perm, true); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// WriteMissing is WriteMissing with w's temporary files.
func (w Writer) WriteMissing(dir string, f Files) (int, error) {
	b := &Batch{sync: true, writer: w}
	n, err := b.WriteMissing(dir, f)
	if err == nil && n > 0 {
		err = SyncDir(dir)
	}
	return n, err
}
