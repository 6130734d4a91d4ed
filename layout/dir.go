package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// outsideError is a path leading outside the output root; it matches
// ErrOutsideRoot without repeating its text.
type outsideError struct{ msg string }

func (e *outsideError) Error() string        { return e.msg }
func (e *outsideError) Is(target error) bool { return target == ErrOutsideRoot }

func outside(format string, args ...any) error {
	return &outsideError{fmt.Sprintf(format, args...)}
}

// ErrOutsideRoot is wrapped by the errors of Dir, Confine and CreateConfined
// when a path would lead outside the output root.
var ErrOutsideRoot = errors.New("outside the output root")

// Dir returns the run directory of the identity under root: root joined
// with the template's segments, cleaned. It validates the identity
// (errors wrap ErrInvalidIdentity) and checks that the result lies strictly
// under root and that no segment is empty, "." or ".."; it does not touch
// the disk (see Confine for symbolic links).
func Dir(root string, t Template, id Identity) (string, error) {
	if root == "" {
		return "", errors.New("the output root is empty; set it (the default is outputs)")
	}
	if err := id.Validate(); err != nil {
		return "", err
	}
	segs := t.Segments(id)
	for _, s := range segs {
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\\\x00") {
			// Unreachable by construction; kept so a future change cannot
			// silently produce a path outside the root.
			return "", outside("run directory segment %q for model %q is not a single path component", s, id.Model)
		}
	}
	root = filepath.Clean(root)
	dir := filepath.Join(append([]string{root}, segs...)...)
	if !strictlyWithin(root, dir) {
		return "", outside("run directory %s is not under the output root %s", dir, root)
	}
	return dir, nil
}

// within reports whether path p is root or lies under it, lexically.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	if err != nil || filepath.IsAbs(rel) {
		return false
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func strictlyWithin(root, p string) bool {
	return within(root, p) && filepath.Clean(p) != filepath.Clean(root)
}

// Confine checks that dir is root or lies under it, both lexically and once
// the symbolic links already on disk are followed: the longest existing
// prefix of each path is resolved with filepath.EvalSymlinks, and the rest,
// not yet created, is appended. The root itself may be a symbolic link (to
// a scratch file system, say); a link under it may not lead outside it. It
// also refuses a dangling link and an existing prefix that is not a
// directory. Errors for a path outside the root wrap ErrOutsideRoot.
//
// To keep the output root itself inside a project, call
// Confine(projectRoot, outputRoot).
func Confine(root, dir string) error {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("output root %s: %w", root, err)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("run directory %s: %w", dir, err)
	}
	if !within(absRoot, absDir) {
		return outside("%s is not under the output root %s", dir, root)
	}
	realRoot, err := resolve(absRoot)
	if err != nil {
		return err
	}
	realDir, err := resolve(absDir)
	if err != nil {
		return err
	}
	if !within(realRoot, realDir) {
		return outside("%s leads outside the output root %s through a symbolic link (it resolves to %s); remove the link or choose another root", dir, root, realDir)
	}
	return nil
}

// resolve returns the absolute path p with the symbolic links of its
// longest existing prefix resolved and the rest appended unchanged.
func resolve(p string) (string, error) {
	existing, rest := p, ""
	for {
		_, err := os.Lstat(existing)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return "", fmt.Errorf("check %s: %w", existing, err)
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			break
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = parent
	}
	resolved, err := filepath.EvalSymlinks(existing)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s is a symbolic link to a missing target; remove it: %w", existing, err)
		}
		return "", fmt.Errorf("resolve symbolic links in %s: %w", existing, err)
	}
	if rest == "" {
		return resolved, nil
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return "", fmt.Errorf("check %s: %w", resolved, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a directory, so %s cannot be created", existing, p)
	}
	return filepath.Join(resolved, rest), nil
}

// CreateLeaf creates the run directory dir: its parents with os.MkdirAll,
// the leaf itself exclusively with os.Mkdir (permissions from the umask, as
// mkdir(1)). created is true when this call made the leaf and false when it
// was already there, in which case the caller reads the manifest inside:
// the same identity is a resume, another one (or none) a hard error. Of
// many concurrent callers for one dir, exactly one gets created == true.
// An existing leaf that is not a directory, or is a symbolic link, is an
// error. CreateLeaf does not check confinement: call Confine first, or use
// CreateConfined.
func CreateLeaf(dir string) (created bool, err error) {
	if parent := filepath.Dir(dir); parent != dir {
		if err := os.MkdirAll(parent, 0o777); err != nil {
			return false, fmt.Errorf("create %s: %w", parent, err)
		}
	}
	err = os.Mkdir(dir, 0o777)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return false, fmt.Errorf("create run directory %s: %w", dir, err)
	}
	fi, lerr := os.Lstat(dir)
	switch {
	case lerr != nil:
		return false, fmt.Errorf("check run directory %s: %w", dir, lerr)
	case fi.Mode()&fs.ModeSymlink != 0:
		return false, fmt.Errorf("run directory %s is a symbolic link; qrun makes run directories itself: remove the link", dir)
	case !fi.IsDir():
		return false, fmt.Errorf("run directory %s exists and is not a directory; move it away", dir)
	}
	return false, nil
}

// CreateConfined is Confine, CreateLeaf, then Confine again (so that a
// link planted while the parents were being made is caught before the
// caller writes into the directory).
func CreateConfined(root, dir string) (created bool, err error) {
	if err := Confine(root, dir); err != nil {
		return false, err
	}
	created, err = CreateLeaf(dir)
	if err != nil {
		return false, err
	}
	if err := Confine(root, dir); err != nil {
		return created, err
	}
	return created, nil
}

// Maker creates run directories under one output root for a whole sweep,
// remembering the directories it has already checked so that a 10,000-run
// sweep costs about one system call per run. It is stricter than Confine: no
// symbolic link at all may stand below the root on the way to a run
// directory (the root itself may be one). Not safe for concurrent use.
type Maker struct {
	root string
	ok   map[string]bool // directories below root known to be real directories
	made []string        // the parents it created, in order
}

// NewMaker creates the root if needed and returns a Maker for it.
func NewMaker(root string) (*Maker, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("output root %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("create output root %s: %w", root, err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("output root %s is not a folder", root)
	}
	return &Maker{root: abs, ok: map[string]bool{}}, nil
}

// below returns the path elements of dir below root (absolute; given is how
// the caller named it), refusing a dir that is not strictly under it.
func below(root, given, dir string) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("run directory %s: %w", dir, err)
	}
	if !within(root, abs) || abs == root {
		return nil, outside("%s is not under the output root %s", dir, given)
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return nil, outside("%s is not under the output root %s", dir, given)
	}
	return strings.Split(rel, string(filepath.Separator)), nil
}

// Create makes dir and its missing parents below the root; the leaf is
// created exclusively: created is false when it already existed. Every
// directory on the way must be a real directory below the root.
func (m *Maker) Create(dir string) (created bool, err error) {
	parts, err := below(m.root, m.root, dir)
	if err != nil {
		return false, err
	}
	for p, leaf := range wayTo(m.root, parts) {
		if !leaf && m.ok[p] {
			continue
		}
		err := os.Mkdir(p, 0o755)
		if err == nil {
			if leaf {
				return true, nil
			}
			m.ok[p] = true // only the parents are remembered: a sweep's leaves are many
			m.made = append(m.made, p)
			continue
		}
		if !errors.Is(err, fs.ErrExist) {
			return false, fmt.Errorf("cannot create %s: %v", p, withoutPath(err))
		}
		st, err := os.Lstat(p)
		if err != nil {
			return false, fmt.Errorf("check %s: %w", p, err)
		}
		if err := onTheWay(p, st, m.root); err != nil {
			return false, err
		}
		if !leaf {
			m.ok[p] = true
		}
	}
	return false, nil
}

// wayTo yields each directory from root down to root/parts…, and whether
// it is the last, the leaf.
func wayTo(root string, parts []string) iter.Seq2[string, bool] {
	return func(yield func(string, bool) bool) {
		p := root
		for i, part := range parts {
			p = filepath.Join(p, part)
			if !yield(p, i == len(parts)-1) {
				return
			}
		}
	}
}

// onTheWay refuses what Lstat found at p, on the way to a run directory
// below root, unless it is a real directory.
func onTheWay(p string, st fs.FileInfo, root string) error {
	if st.Mode()&fs.ModeSymlink != 0 {
		return outside("%s is a symbolic link; run directories never go through links below the output root %s: remove it or choose another root", p, root)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is a file where a run directory goes: move it away", p)
	}
	return nil
}

// withoutPath is a file system error without the path it names (the
// message names it already).
func withoutPath(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// Made lists the parent directories Create has created (not the leaves),
// in the order it created them: what a caller undoing its work removes
// last, in reverse.
func (m *Maker) Made() []string { return m.made }

// Check looks at the way from root to dir without creating anything: every
// existing directory on it must be a real directory (no symbolic link below
// the root), and an existing dir must be a directory. What a dry run uses.
func Check(root, dir string) error {
	c, err := NewChecker(root)
	if err != nil {
		return err
	}
	return c.Check(dir)
}

// Checker is Check for many directories under one root: what it learnt of
// the directories on the way (a real directory, or missing) is remembered,
// so a sweep costs about one lstat per run.
type Checker struct {
	root    string          // absolute
	given   string          // as the caller gave it
	parents map[string]bool // directory → true: a real directory; false: missing
}

// NewChecker returns a Checker for the directories under root.
func NewChecker(root string) (*Checker, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("output root %s: %w", root, err)
	}
	if st, err := os.Stat(abs); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("output root %s is a file, not a folder", root)
	}
	return &Checker{root: abs, given: root, parents: map[string]bool{}}, nil
}

// Check looks at the way to dir (see the function Check).
func (c *Checker) Check(dir string) error {
	_, err := c.Look(dir)
	return err
}

// Look is Check, and says whether dir itself exists (a directory).
func (c *Checker) Look(dir string) (exists bool, err error) {
	parts, err := below(c.root, c.given, dir)
	if err != nil {
		return false, err
	}
	for p, leaf := range wayTo(c.root, parts) {
		if real, known := c.parents[p]; known && !leaf {
			if !real {
				return false, nil // missing: so is everything below it
			}
			continue
		}
		st, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			if !leaf {
				c.parents[p] = false
			}
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("cannot check %s: %v", p, withoutPath(err))
		}
		if err := onTheWay(p, st, c.root); err != nil {
			return false, err
		}
		if !leaf {
			c.parents[p] = true
		}
	}
	return true, nil
}
