// Package manifest writes the files of a run directory: the manifest and
// the ModelOpt recipe, always atomically.
package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
)

// TempPrefix starts the name of every temporary file qrun writes, so that
// strays left by a crash can be recognised and removed.
const TempPrefix = ".qrun-tmp-"

// WriteAtomic writes data to path so that a reader sees either the old file
// or the whole new one, never a torn one: a temporary file in the same
// directory, fsync, rename over the target, fsync of the directory.
func WriteAtomic(path string, data []byte, perm os.FileMode) error {
	if err := writeRenamed(path, data, perm, true); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// writeRenamed writes a temporary file beside path and renames it over
// path, with an fsync of the file before the rename when sync is set.
func writeRenamed(path string, data []byte, perm os.FileMode, sync bool) error {
	f, tmp, err := createTemp(path, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	return nil
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

var tempSeq atomic.Uint64

// createTemp creates a new temporary file beside path, named so that it is
// recognisably qrun's (TempPrefix), unique to this process, and created
// exclusively (never reusing another writer's file).
func createTemp(path string, perm os.FileMode) (*os.File, string, error) {
	dir, base := filepath.Split(path)
	for {
		tmp := filepath.Join(dir, fmt.Sprintf("%s%s-%d-%d", TempPrefix, base, os.Getpid(), tempSeq.Add(1)))
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue // a stray of an earlier process with our pid
		}
		return f, tmp, err
	}
}
