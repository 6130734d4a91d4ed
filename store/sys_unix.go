//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package store

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// writable reports whether this process may write path.
func writable(path string) bool { return syscall.Access(path, 2 /* W_OK */) == nil }

// lockFile takes an exclusive flock(2) on path, creating the file, waiting
// with backoff up to timeout. The lock is released by the returned func, or
// by the kernel if the process dies. The file is never removed: removing a
// lock file lets two processes lock two different files.
func lockFile(ctx context.Context, path string, timeout time.Duration) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	b := newBackoff(5*time.Millisecond, 250*time.Millisecond, timeout)
	err = b.retry(ctx, func() (bool, error) {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return false, nil
		case !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR):
			return false, &os.PathError{Op: "lock", Path: path, Err: err}
		case b.expired():
			return false, errLockTimeout
		}
		return true, nil
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(fd, syscall.LOCK_UN)
		f.Close()
	}, nil
}
