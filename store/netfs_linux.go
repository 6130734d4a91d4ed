package store

import "syscall"

// networkFS names the network file system path is on, or returns "" for a
// local one (or when it can't tell).
func networkFS(path string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return ""
	}
	return netFSName(uint32(st.Type))
}
