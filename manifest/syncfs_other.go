//go:build unix && !linux

package manifest

import "syscall"

// syncFS flushes everything to stable storage where syncfs(2) is missing.
func syncFS(string) error {
	syscall.Sync()
	return nil
}
