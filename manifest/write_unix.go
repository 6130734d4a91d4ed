//go:build unix

package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

var (
	tempSeq atomic.Uint64
	pid     = sync.OnceValue(func() string { return strconv.Itoa(os.Getpid()) })
)

// writeRenamed writes a temporary file beside path and renames it over
// path, with an fsync of the file before the rename when sync is set.
//
// It speaks to the kernel directly: an *os.File would add, for each of a
// sweep's tens of thousands of files, a registration with the poller, four
// fcntl calls, a getpid and an lstat of the target before the rename.
func writeRenamed(w Writer, path string, data []byte, perm os.FileMode, sync bool) error {
	fd, tmp, err := createTemp(w, path, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fail := func(op string, err error) error {
		if fd >= 0 {
			unix.Close(fd)
		}
		unix.Unlink(tmp)
		return fmt.Errorf("write %s: %w", path, &fs.PathError{Op: op, Path: tmp, Err: err})
	}
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fail("write", err)
		}
		data = data[n:]
	}
	if sync {
		if err := unix.Fsync(fd); err != nil {
			return fail("sync", err)
		}
	}
	err = unix.Close(fd)
	fd = -1
	if err != nil {
		return fail("close", err)
	}
	if err := unix.Rename(tmp, path); err != nil {
		unix.Unlink(tmp)
		return fmt.Errorf("write %s: %w", path, &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err})
	}
	return nil
}

// createTemp creates a new temporary file beside path, named so that it is
// recognisably qrun's (TempPrefix) and its writer's (see Writer), unique
// to this process, and created exclusively (never reusing another
// writer's file).
func createTemp(w Writer, path string, perm os.FileMode) (int, string, error) {
	dir, base := filepath.Split(path)
	for {
		tmp := dir + w.tempBase(base) + "-" + pid() + "-" + strconv.FormatUint(tempSeq.Add(1), 10)
		fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, uint32(perm.Perm()))
		switch {
		case err == nil:
			return fd, tmp, nil
		case errors.Is(err, unix.EEXIST):
			continue // a stray of an earlier process with our pid
		case errors.Is(err, unix.EINTR):
			continue
		}
		return -1, tmp, &fs.PathError{Op: "open", Path: tmp, Err: err}
	}
}
