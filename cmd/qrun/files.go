package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/qrun-dev/qrun/vocab"
)

// osReason is the operating system's reason for a failed file operation
// ("permission denied", "no space left on device"), without the Go wrapping
// that repeats the path or names the system call.
func osReason(err error) string {
	var pe *fs.PathError
	var le *os.LinkError
	var se *os.SyscallError
	switch {
	case errors.As(err, &pe):
		return pe.Err.Error()
	case errors.As(err, &le):
		return le.Err.Error()
	case errors.As(err, &se):
		return se.Err.Error()
	}
	return err.Error()
}

// fileInTheWay returns the first of p and its ancestors that exists and is
// not a folder, or "" when there is none.
func fileInTheWay(p string) string {
	for {
		st, err := os.Stat(p)
		if err == nil {
			if !st.IsDir() {
				return p
			}
			return ""
		}
		parent := filepath.Dir(p)
		if parent == p {
			return ""
		}
		p = parent
	}
}

// checkOutputFile makes sure a file can be written at p (as the user gave
// it, from the working directory) before any work is done: its folder
// exists and p is not a folder.
func (g *globalOptions) checkOutputFile(p string) error {
	if st, err := os.Stat(g.abs(p)); err == nil && st.IsDir() {
		return fmt.Errorf("cannot write %s: it is a folder; give a file name", p)
	}
	dir := filepath.Dir(p)
	st, err := os.Stat(g.abs(dir))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if f := fileInTheWay(g.abs(dir)); f != "" {
			return fmt.Errorf("cannot write %s: %s is a file, not a folder", p, g.rel(f))
		}
		return fmt.Errorf("cannot write %s: folder %s does not exist; create it first", p, dir)
	case err != nil:
		return fmt.Errorf("cannot write %s: %s", p, osReason(err))
	case !st.IsDir():
		return fmt.Errorf("cannot write %s: %s is a file, not a folder", p, dir)
	}
	return nil
}

// plural spells "1 file", "2 files".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// checkConfFolder checks the Hydra config folder given with --conf: it must
// not be (or be under) a file, and when the user typed it (explicit) it must
// exist, since a typo would silently drop every user name. The default
// folder may be absent: then only the built-ins are in effect.
func checkConfFolder(dir, abs string, explicit bool, rel func(string) string) error {
	if f := fileInTheWay(abs); f != "" {
		return fmt.Errorf("--conf %s: %s is a file, not a folder; give the Hydra config folder holding quant_granularity/ and quant_pair/", dir, rel(f))
	}
	if !explicit {
		return nil
	}
	if _, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("--conf %s: no such folder; give the Hydra config folder holding quant_granularity/ and quant_pair/", dir)
	} else if err != nil {
		return fmt.Errorf("--conf %s: %s", dir, osReason(err))
	}
	return nil
}

// checkVocabFolders refuses a vocabulary group "folder" that is a file
// (a missing one holds nothing and is fine).
func checkVocabFolders(d vocab.Dirs) error {
	for _, dir := range []string{d.Granularity, d.Format, d.KVCache} {
		if st, err := os.Stat(d.Open(dir)); err == nil && !st.IsDir() {
			return fmt.Errorf("%s is a file, not a folder of vocabulary files", dir)
		}
	}
	return nil
}
