package tailer

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/usage"
)

// finder finds the transcripts the include globs match and the exclude
// globs do not, and decides whether a newly matched one may be read. Only
// the tailer's goroutine uses it.
type finder struct {
	include, exclude []string
	roots            []string        // the include globs' directories
	confine          *usage.Confiner // to roots, whose links are resolved once
	refused          map[string]bool // matched, but resolved outside the roots
	log              *zap.Logger
	// sessionsInRoots: every include glob is <root>/<wildcard>/<file
	// name> (the usual <root>/*/events.jsonl), so that each new session's
	// directory is an entry of a root, which a watch on the root is told
	// of.
	sessionsInRoots bool
}

func newFinder(include, exclude []string, log *zap.Logger) *finder {
	f := &finder{include: include, exclude: exclude, refused: map[string]bool{}, log: log}
	f.sessionsInRoots = len(include) > 0
	for _, p := range include {
		f.roots = append(f.roots, GlobRoot(p))
		_, rest := doublestar.SplitPattern(filepath.ToSlash(filepath.Clean(p)))
		segs := strings.Split(rest, "/")
		if len(segs) != 2 || !hasWildcard(segs[0]) || strings.Contains(segs[0], "**") || hasWildcard(segs[1]) {
			f.sessionsInRoots = false
		}
	}
	f.confine = usage.NewConfiner(f.roots)
	return f
}

func (f *finder) matches(path string) bool { return Match(f.include, f.exclude, path) }

// scan calls fn once with every transcript the globs match now, but for
// those skip reports true for: skip is told of them instead (see
// globFiles). plain reports that no part of the path below its glob's
// directory is a symbolic link, which admit need not look at again.
func (f *finder) scan(skip func(path []byte) bool, fn func(path string, info fs.FileInfo, plain bool)) {
	// Patterns may overlap: a file two of them match is called once.
	var seen map[string]bool
	if len(f.include) > 1 {
		seen = map[string]bool{}
	}
	for _, pattern := range f.include {
		err := globFiles(pattern, skip, func(p string, info fs.FileInfo, plain bool) {
			if seen != nil && seen[p] {
				return
			}
			if !f.matches(p) {
				return
			}
			if seen != nil {
				seen[p] = true
			}
			fn(p, info, plain)
		})
		if err != nil {
			f.log.Debug("Glob matched with errors", zap.String("pattern", pattern), zap.Error(err))
		}
	}
}

// admit reports whether a newly matched file may be read: once symbolic
// links are resolved it must still lie under the directory of an include
// glob, so that a link cannot lead the receiver (or a hook payload naming
// the file) to read files elsewhere. Refusals are logged once. plain is
// scan's: a regular file that a glob's walk reached from the glob's
// directory through no symbolic link lies under that directory, wherever
// the directory's own links lead, so it is not resolved again.
func (f *finder) admit(path string, plain bool) bool {
	if f.refused[path] {
		return false
	}
	if plain {
		return true
	}
	if _, err := f.confine.Confine(path); err != nil {
		if errors.Is(err, usage.ErrOutsideRoots) {
			f.refused[path] = true
			f.log.Warn("Transcript leads outside the session directories through a symbolic link; it is not read. Add its real location to session_state.include to read it", zap.String("path", path))
		}
		return false
	}
	return true
}

// Match reports whether path matches one of the include globs and none of
// the exclude globs.
func Match(include, exclude []string, path string) bool {
	matched := false
	for _, p := range include {
		if ok, _ := doublestar.PathMatch(p, path); ok {
			matched = true
			break
		}
	}
	if !matched {
		return false
	}
	for _, p := range exclude {
		if ok, _ := doublestar.PathMatch(p, path); ok {
			return false
		}
	}
	return true
}

// GlobRoot is the directory part of a glob, before its first wildcard.
func GlobRoot(pattern string) string {
	base, _ := doublestar.SplitPattern(filepath.ToSlash(filepath.Clean(pattern)))
	if base == "" {
		base = "."
	}
	return filepath.FromSlash(base)
}

// GlobFiles calls fn with every regular file the pattern matches and its
// file information. Segments without wildcards are joined, not listed, and
// a wildcard segment costs one directory read: for the usual
// <root>/*/events.jsonl a rescan of thousands of finished sessions is one
// read of the root and one stat per session. Patterns with ** are walked
// by doublestar.
func GlobFiles(pattern string, fn func(path string, info fs.FileInfo)) error {
	return globFiles(pattern, nil, func(p string, info fs.FileInfo, _ bool) { fn(p, info) })
}

// globFiles is GlobFiles that first asks skip, when not nil, about each
// path the pattern could match: a path it reports true for is not looked
// at, and fn is not called with it. skip is for the files the caller is
// told of when they change or go, which a rescan need not stat; it is
// given the path in a buffer that is reused (m[string(path)] looks it up
// without a copy), so that a rescan of thousands of session directories
// that skips them costs no allocation each. Where the pattern names the
// file without wildcards (events.jsonl), a skipped file is not even known
// to be there.
//
// fn is also told whether the walk reached the file from the pattern's
// directory (an absolute one) through no symbolic link: plain (see
// finder.admit). Without skip, when every file is looked at anyway, the
// directories of a wildcard segment are listed with the types of their
// entries, which the listing gives for nothing, so that the usual
// <root>/*/events.jsonl knows it for each session without a stat more;
// with skip, by name only (a link is then not told apart, and plain is
// false). A segment without wildcards above the file is joined, not
// looked at: plain is false below it, as it is for ** patterns.
func globFiles(pattern string, skip func(path []byte) bool, fn func(path string, info fs.FileInfo, plain bool)) error {
	pattern = filepath.ToSlash(filepath.Clean(pattern))
	base, rest := doublestar.SplitPattern(pattern)
	if base == "" {
		base = "."
	}
	root := filepath.FromSlash(base)
	w := &globWalk{skip: skip, fn: fn, types: skip == nil}
	if rest == "" || rest == "." {
		w.file(nil, false, filepath.FromSlash(pattern))
		return nil
	}
	if strings.Contains(rest, "**") {
		return doublestar.GlobWalk(os.DirFS(root), rest, func(p string, d fs.DirEntry) error {
			w.file(d, false, filepath.Join(root, filepath.FromSlash(p)))
			return nil
		}, doublestar.WithFilesOnly())
	}
	w.segments(root, filepath.IsAbs(root), strings.Split(rest, "/"))
	return nil
}

// globWalk walks a pattern without ** segment by segment.
type globWalk struct {
	skip  func(path []byte) bool
	fn    func(path string, info fs.FileInfo, plain bool)
	types bool   // list directories with the types of their entries
	buf   []byte // the path skip is asked about
}

// segments walks segs below dir; plain reports that dir was reached from
// the pattern's directory through no symbolic link.
func (w *globWalk) segments(dir string, plain bool, segs []string) {
	seg, last := segs[0], len(segs) == 1
	if !hasWildcard(seg) {
		if last {
			w.file(nil, plain, dir, seg)
		} else {
			w.segments(joinName(dir, seg), false, segs[1:])
		}
		return
	}
	if !last {
		// Directories to descend into: their names are enough (and their
		// types, when listed with them). An entry that is not a directory
		// (nor a link to one) fails the stat or the listing below it, as a
		// missing one does; a session root holds little else.
		var names []string
		var odd map[string]bool
		if w.types {
			entries, err := readDir(dir)
			if err != nil {
				return
			}
			names = make([]string, len(entries))
			for i, e := range entries {
				names[i] = e.Name()
				if e.Type() != fs.ModeDir { // a link, or anything odd
					if odd == nil {
						odd = map[string]bool{}
					}
					odd[names[i]] = true
				}
			}
		} else {
			var err error
			if names, err = readDirNames(dir); err != nil {
				return // unreadable or gone: the next rescan tries again
			}
		}
		below := plain && w.types
		next := segs[1:]
		for _, name := range names {
			if seg != "*" { // * matches every name, dot files included
				if ok, _ := doublestar.Match(seg, name); !ok {
					continue
				}
			}
			if len(next) == 1 && !hasWildcard(next[0]) {
				// The file in each directory (the usual
				// <root>/*/events.jsonl): its path is joined only if
				// it is looked at.
				w.file(nil, below && !odd[name], dir, name, next[0])
				continue
			}
			w.segments(joinName(dir, name), below && !odd[name], next)
		}
		return
	}
	entries, err := readDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if ok, _ := doublestar.Match(seg, e.Name()); ok {
			w.file(e, plain, dir, e.Name())
		}
	}
}

// file looks at the file dir/names... (no names: dir is the file) unless
// skip reports true for it, and calls fn if it is a regular file (or a
// link to one). d, when known, saves a stat. plain is whether dir was
// reached through no symbolic link; fn is told whether the file was too.
func (w *globWalk) file(d fs.DirEntry, plain bool, dir string, names ...string) {
	if w.skip != nil {
		w.buf = append(w.buf[:0], dir...)
		for _, name := range names {
			if len(w.buf) > 0 && !os.IsPathSeparator(w.buf[len(w.buf)-1]) {
				w.buf = append(w.buf, filepath.Separator)
			}
			w.buf = append(w.buf, name...)
		}
		if w.skip(w.buf) {
			return
		}
	}
	p := dir
	for _, name := range names {
		p = joinName(p, name)
	}
	var info fs.FileInfo
	var err error
	switch {
	case d != nil && d.Type()&fs.ModeSymlink == 0:
		info, err = d.Info()
	case d != nil:
		info, err = os.Stat(p)
		plain = false
	default:
		// As cheap as a stat, and it tells a link apart.
		if info, err = os.Lstat(p); err == nil && info.Mode()&fs.ModeSymlink != 0 {
			info, err = os.Stat(p)
			plain = false
		}
	}
	if err == nil && info.Mode().IsRegular() {
		w.fn(p, info, plain)
	}
}

// readDir lists a directory in the order the file system gives, not
// sorted: a rescan of thousands of session directories need not sort them.
func readDir(dir string) ([]fs.DirEntry, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.ReadDir(-1)
}

// readDirNames is readDir for names only, which costs a string each and
// no entry.
func readDirNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// joinName is filepath.Join(dir, name) for a clean dir and a name of one
// path element, without cleaning again.
func joinName(dir, name string) string {
	if dir == "" || os.IsPathSeparator(dir[len(dir)-1]) {
		return dir + name
	}
	return dir + string(filepath.Separator) + name
}

// SessionTranscripts calls fn with the path the transcript of session
// sessionID would have under pattern, in every directory in which the
// pattern lets the CLI create the session's directory, and that directory
// (which exists, unless the pattern names it without wildcards: it is not
// looked at then): for <root>/*/events.jsonl, in <root>; for
// /home/*/.copilot/session-state/*/events.jsonl, in each user's
// session-state directory. A pattern whose session directory segment does
// not match sessionID, or whose file segment does not match the CLI's
// transcript name, has none. The caller checks the paths against the
// include and exclude globs. Wildcards above the session directory cost a
// directory read each (** a walk, as a rescan does).
func SessionTranscripts(pattern, sessionID string, fn func(path, parent string)) {
	pattern = filepath.ToSlash(filepath.Clean(pattern))
	name := path.Base(pattern)
	sessionDir := path.Dir(pattern)
	seg, parents := path.Base(sessionDir), path.Dir(sessionDir)
	if ok, _ := doublestar.Match(seg, sessionID); !ok || sessionDir == pattern {
		return
	}
	if hasWildcard(name) {
		if ok, _ := doublestar.Match(name, usage.TranscriptName); !ok {
			return
		}
		name = usage.TranscriptName
	}
	if seg == "**" {
		parents = sessionDir // a session directory at any depth
	}
	globDirs(parents, func(dir string) {
		fn(filepath.Join(dir, sessionID, name), dir)
	})
}

func hasWildcard(seg string) bool { return strings.ContainsAny(seg, `*?[{\`) }

// globDirs calls fn with every existing directory the pattern (in slash
// form) matches; a pattern without wildcards, with the directory it names,
// which is not looked at.
func globDirs(pattern string, fn func(dir string)) {
	if !hasWildcard(pattern) {
		fn(filepath.FromSlash(pattern))
		return
	}
	base, rest := doublestar.SplitPattern(pattern)
	if base == "" {
		base = "."
	}
	root := filepath.FromSlash(base)
	if strings.Contains(rest, "**") {
		_ = doublestar.GlobWalk(os.DirFS(root), rest, func(p string, d fs.DirEntry) error {
			if dir := filepath.Join(root, filepath.FromSlash(p)); d.IsDir() || isDir(dir) {
				fn(dir)
			}
			return nil
		})
		return
	}
	walkDirs(root, strings.Split(rest, "/"), fn)
}

func walkDirs(dir string, segs []string, fn func(string)) {
	seg, last := segs[0], len(segs) == 1
	if !hasWildcard(seg) {
		p := filepath.Join(dir, seg)
		switch {
		case !last:
			walkDirs(p, segs[1:], fn)
		case isDir(p):
			fn(p)
		}
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if ok, _ := doublestar.Match(seg, e.Name()); !ok {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if !e.IsDir() && (e.Type()&fs.ModeSymlink == 0 || !isDir(p)) {
			continue
		}
		if last {
			fn(p)
		} else {
			walkDirs(p, segs[1:], fn)
		}
	}
}
