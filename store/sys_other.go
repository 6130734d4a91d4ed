//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import (
	"context"
	"os"
	"time"
)

// writable reports whether this process may write path.
func writable(path string) bool {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// lockFile has no cross-process lock on this system: migrations then rely
// on SQLite's own write lock and goose's retries.
func lockFile(ctx context.Context, path string, timeout time.Duration) (func(), error) {
	return func() {}, nil
}
