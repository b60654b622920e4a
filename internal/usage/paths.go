// Package usage locates session transcripts safely: the session ids that
// can name a session's directory, where the CLI keeps a session's
// transcript, and the confinement of any path a payload names to the
// configured session directories. Reading transcripts is
// session.Cursor's.
package usage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// TranscriptName is the name of a session's transcript in its directory.
const TranscriptName = "events.jsonl"

// SessionIDOf is the session id of a transcript path: the name of the
// directory holding it.
func SessionIDOf(path string) string { return filepath.Base(filepath.Dir(path)) }

// ValidSessionID reports whether id can name a session directory: a
// non-empty name of letters, digits, '-' and '_' (the CLI uses UUIDs), so
// that it cannot climb out of the session-state directory.
func ValidSessionID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// TranscriptPath is where the CLI keeps a session's transcript under a
// session-state directory.
func TranscriptPath(stateDir, sessionID string) (string, error) {
	if !ValidSessionID(sessionID) {
		return "", fmt.Errorf("session id %q is not a session id", sessionID)
	}
	return filepath.Join(stateDir, sessionID, TranscriptName), nil
}

// ErrOutsideRoots is returned for a path that does not lie under any of
// the allowed directories once symbolic links are resolved.
var ErrOutsideRoots = errors.New("the path is not under a configured session directory")

// Confine resolves path (which must be absolute) and every symbolic link in
// it, and returns the resolved path if it lies under one of roots (also
// resolved) and names a regular file. Nothing outside the roots is opened.
// A Windows directory junction is a symbolic link here only because the
// module sets godebug winsymlink=0 (go.mod); see TestJunctionsResolvedAsLinks.
func Confine(path string, roots []string) (string, error) {
	return NewConfiner(roots).Confine(path)
}

// Confiner confines paths to roots as Confine does, resolving the symbolic
// links of each root once, the first time it resolves (a root that does not
// exist yet is resolved again at the next call), so that a caller checking
// thousands of paths does not resolve the roots for each. A root whose links
// are changed afterwards keeps the location it first resolved to. A
// Confiner is not safe for concurrent use.
type Confiner struct {
	roots    []string // cleaned
	resolved []string // "" until resolved
}

// NewConfiner returns a Confiner to roots.
func NewConfiner(roots []string) *Confiner {
	c := &Confiner{}
	for _, r := range roots {
		if r != "" {
			c.roots = append(c.roots, filepath.Clean(r))
		}
	}
	c.resolved = make([]string, len(c.roots))
	return c
}

// Confine is Confine with the Confiner's roots.
func (c *Confiner) Confine(path string) (string, error) {
	if path == "" || !filepath.IsAbs(path) {
		return "", fmt.Errorf("%w: %q is not an absolute path", ErrOutsideRoots, path)
	}
	if strings.ContainsRune(path, 0) {
		return "", fmt.Errorf("%w: the path contains a NUL byte", ErrOutsideRoots)
	}
	clean := filepath.Clean(path)
	// Refuse before touching the file system when even the unresolved
	// path is not under a root: a symbolic link may lead into a root, but
	// a path outside all of them is never looked at.
	if !c.underAny(clean, false) && !c.underAny(clean, true) {
		return "", ErrOutsideRoots
	}
	if resolved, fi, ok := c.underRoot(clean); ok {
		if !fi.Mode().IsRegular() {
			return "", fmt.Errorf("%s is not a regular file", resolved)
		}
		return resolved, nil
	}
	resolved, err := filepath.EvalSymlinks(clean)
	if err != nil {
		return "", err
	}
	if !c.underAny(resolved, true) {
		return "", ErrOutsideRoots
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", resolved)
	}
	return resolved, nil
}

// underRoot resolves clean, a path under one of the roots as written,
// when no part of it below that root is a symbolic link: it is the
// resolved root joined with the rest, which costs an lstat per part below
// the root rather than one per part of the whole path. It reports false
// when a part is a link or cannot be looked at (the caller resolves the
// whole path then), and returns the file information of the last part.
func (c *Confiner) underRoot(clean string) (string, os.FileInfo, bool) {
	for i, root := range c.roots {
		if !within(clean, root) {
			continue
		}
		p := c.resolvedRoot(i)
		if p == "" {
			return "", nil, false
		}
		rel, err := filepath.Rel(root, clean)
		if err != nil {
			return "", nil, false
		}
		var fi os.FileInfo
		for _, part := range strings.Split(rel, string(filepath.Separator)) {
			p = filepath.Join(p, part)
			if fi, err = os.Lstat(p); err != nil || fi.Mode()&os.ModeSymlink != 0 {
				return "", nil, false
			}
		}
		return p, fi, fi != nil
	}
	return "", nil, false
}

// resolvedRoot is root i with its links resolved, once; "" while it
// cannot be resolved (it does not exist yet).
func (c *Confiner) resolvedRoot(i int) string {
	if c.resolved[i] == "" {
		if rr, err := filepath.EvalSymlinks(c.roots[i]); err == nil {
			c.resolved[i] = rr
		}
	}
	return c.resolved[i]
}

func (c *Confiner) underAny(p string, resolve bool) bool {
	for i, root := range c.roots {
		if resolve {
			if rr := c.resolvedRoot(i); rr != "" {
				root = rr
			}
		}
		if within(p, root) {
			return true
		}
	}
	return false
}

func within(p, root string) bool {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return false
	}
	return rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
