// Package manifest writes the files of a run directory: the manifest and
// the ModelOpt recipe, always atomically.
package manifest

import (
	"fmt"
	"os"
)

// TempPrefix starts the name of every temporary file qrun writes, so that
// strays left by a crash can be recognised and removed.
const TempPrefix = ".qrun-tmp-"

// WriteAtomic writes data to path so that a reader sees either the old file
// or the whole new one, never a torn one: a temporary file in the same
// directory, fsync, rename over the target, fsync of the directory.
// The temporary file is this process's (see Writer).
func WriteAtomic(path string, data []byte, perm os.FileMode) error {
	return Writer("").WriteAtomic(path, data, perm)
}

// SyncDir makes a directory's entries (a rename, a new file) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
