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
func Confine(path string, roots []string) (string, error) {
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
	if !underAny(clean, roots, false) && !underAny(clean, roots, true) {
		return "", ErrOutsideRoots
	}
	resolved, err := filepath.EvalSymlinks(clean)
	if err != nil {
		return "", err
	}
	if !underAny(resolved, roots, true) {
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

func underAny(p string, roots []string, resolve bool) bool {
	for _, r := range roots {
		if r == "" {
			continue
		}
		root := filepath.Clean(r)
		if resolve {
			if rr, err := filepath.EvalSymlinks(root); err == nil {
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
