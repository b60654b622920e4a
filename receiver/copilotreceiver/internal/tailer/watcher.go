package tailer

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/fsnotify/fsnotify"
)

// watcher turns file system notifications into wake-ups of the tailer. It
// watches the fixed directories of the include globs (a new session
// directory appears there) and the directories of active transcripts (a
// line was appended); finished sessions cost no watch. Polling remains the
// safety net for file systems that do not notify.
type watcher struct {
	w      *fsnotify.Watcher
	notify chan struct{}
	bases  []string
	// match reports whether a path is a transcript the tailer follows.
	match func(path string) bool
	// missing are the bases that did not exist yet; only the tailer's
	// goroutine (ensureBases) uses it.
	missing []string
	// present are the bases watched from the start, whose session
	// directories addPending has yet to look at.
	present []string

	// rootsChanged counts the notifications about entries of the bases
	// (session directories created, removed or renamed) and the
	// notifications lost, so that a rescan can tell that a base's listing
	// has not changed since it last read it.
	rootsChanged atomic.Uint64

	mu      sync.Mutex
	gone    []string // bases removed or renamed away since ensureBases last ran
	toWatch []string // new session directories for drain to watch
	changed map[string]bool
	rescan  bool
	watched map[string]bool
	done    chan struct{}
}

// newWatcher watches bases, the include globs' fixed directories
// (GlobRoot). The session directories already in them that hold no
// transcript yet are watched by addPending, after the tailer's first scan
// has said which hold one. match reports whether a path is a transcript.
func newWatcher(bases []string, match func(path string) bool) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &watcher{
		w:       fw,
		notify:  make(chan struct{}, 1),
		changed: map[string]bool{},
		watched: map[string]bool{},
		done:    make(chan struct{}),
		bases:   bases,
		match:   match,
	}
	for _, b := range bases {
		if w.add(b) {
			w.present = append(w.present, b)
		} else {
			w.missing = append(w.missing, b)
		}
	}
	w.ensureBases()
	go w.loop()
	return w, nil
}

// ensureBases is called at each rescan. A base that did not exist (the
// CLI has never run) is waited for by watching its nearest existing
// ancestor: each directory created on the way calls for a rescan, which
// comes back here. When the base appears, it is watched, and so are the
// session directories already in it, whose transcripts may not be written
// yet; one more rescan finds what was created before the watches.
func (w *watcher) ensureBases() {
	w.mu.Lock()
	gone := w.gone
	w.gone = nil
	w.mu.Unlock()
	for _, b := range gone {
		_ = w.w.Remove(b) // a base renamed away keeps its watch otherwise
		if !slices.Contains(w.missing, b) {
			w.missing = append(w.missing, b)
		}
	}
	still := w.missing[:0]
	for _, b := range w.missing {
		if w.add(b) {
			if ents, err := os.ReadDir(b); err == nil {
				for _, e := range ents {
					if e.IsDir() {
						w.add(filepath.Join(b, e.Name()))
					}
				}
			}
			w.mu.Lock()
			w.rescan = true
			w.mu.Unlock()
			w.wake()
			continue
		}
		still = append(still, b)
		for a := filepath.Dir(b); ; a = filepath.Dir(a) {
			if w.add(a) || w.isWatched(a) {
				break
			}
			if filepath.Dir(a) == a {
				break
			}
		}
	}
	w.missing = still
}

// addPending watches the session directories in the bases present at the
// start that hold no transcript yet: the CLI may create a session's
// directory before its transcript, and a file created in a directory is
// notified only to a watch on that directory, not on its base. Directories
// that hold a transcript are left to the tailer, which watches them while
// their session is live, so that finished sessions cost no watch.
//
// holds reports the directories the tailer's first scan found a
// transcript in, so that thousands of finished sessions cost no listing
// each. A directory it does not name is watched first and listed after:
// a transcript created since the scan is then either listed, and a rescan
// asked for, or notified. It runs once; later bases are handled by
// ensureBases.
func (w *watcher) addPending(holds func(dir string) bool) {
	bases := w.present
	w.present = nil
	for _, base := range bases {
		ents, err := readDir(base)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			dir := joinName(base, e.Name())
			if holds(dir) {
				continue
			}
			if w.add(dir) && w.holdsTranscript(dir) {
				w.mu.Lock()
				w.rescan = true
				w.mu.Unlock()
				w.wake()
			}
		}
	}
}

// holdsTranscript reports whether dir has an entry that is a transcript.
func (w *watcher) holdsTranscript(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if w.match(filepath.Join(dir, e.Name())) {
			return true
		}
	}
	return false
}

func (w *watcher) isWatched(dir string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.watched[dir]
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// rootEvents is a count that changes whenever a notification about an
// entry of a base arrives or notifications are lost.
func (w *watcher) rootEvents() uint64 { return w.rootsChanged.Load() }

// allRootsWatched reports whether every base exists and is watched. Only
// the tailer's goroutine may call it.
func (w *watcher) allRootsWatched() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.missing) == 0 && len(w.gone) == 0
}

func (w *watcher) isBase(dir string) bool {
	for _, b := range w.bases {
		if dir == b {
			return true
		}
	}
	return false
}

// underBase reports whether dir is directly in one of the bases: a new
// session directory, whose transcript is about to be created.
func (w *watcher) underBase(dir string) bool {
	parent := filepath.Dir(dir)
	for _, b := range w.bases {
		if parent == b {
			return true
		}
	}
	return false
}

// add watches dir; true when it was not watched before and now is. Only
// the tailer's goroutine (and newWatcher, before the loop runs) adds and
// removes watches, so the check and the mark need not be one step; the
// lock is not held while fsnotify adds the watch, since the loop may need
// it to take the event fsnotify's reader is waiting to hand over (on
// Windows, Add waits for that reader).
func (w *watcher) add(dir string) bool {
	if w.isWatched(dir) || !isDir(dir) {
		return false
	}
	if err := w.w.Add(dir); err != nil {
		return false
	}
	w.mu.Lock()
	w.watched[dir] = true
	w.mu.Unlock()
	return true
}

// wake tells the tailer to look, without blocking.
func (w *watcher) wake() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *watcher) remove(dir string) {
	if w.isBase(dir) {
		return
	}
	w.mu.Lock()
	watched := w.watched[dir]
	delete(w.watched, dir)
	w.mu.Unlock()
	if watched {
		_ = w.w.Remove(dir) // outside the lock, as in add
	}
}

func (w *watcher) loop() {
	defer close(w.done)
	for {
		select {
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			if w.isBase(ev.Name) || w.isBase(filepath.Dir(ev.Name)) {
				w.rootsChanged.Add(1)
			}
			// Watches are added and removed by the tailer's goroutine
			// (drain, ensureBases), never here: on Windows fsnotify's Add
			// and Remove wait for its reader, which may itself be waiting
			// to hand this loop its next event.
			if w.isBase(ev.Name) && (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) {
				// The base is gone: waited for again (ensureBases), and
				// listed at every rescan until it is watched again.
				w.mu.Lock()
				delete(w.watched, ev.Name)
				w.gone = append(w.gone, ev.Name)
				w.rescan = true
				w.mu.Unlock()
			}
			newDir := ev.Has(fsnotify.Create) && isDir(ev.Name)
			w.mu.Lock()
			if newDir {
				if w.underBase(ev.Name) {
					// Its transcript is created next: to be told when,
					// watched at drain, before the rescan this asks for.
					w.toWatch = append(w.toWatch, ev.Name)
				}
				w.rescan = true
			}
			if ev.Has(fsnotify.Write) || ev.Has(fsnotify.Create) || ev.Has(fsnotify.Rename) || ev.Has(fsnotify.Remove) {
				w.changed[ev.Name] = true
			}
			w.mu.Unlock()
			w.wake()
		case _, ok := <-w.w.Errors:
			if !ok {
				return
			}
			// An overflow loses notifications; the next poll and rescan find
			// what they missed.
			w.rootsChanged.Add(1)
			w.mu.Lock()
			w.rescan = true
			w.mu.Unlock()
		}
	}
}

// drain returns the paths that changed since the last call, and whether a
// new directory calls for a rescan. It watches the new session directories
// first, so that the rescan finds what was written in them before their
// watch, and their notifications what comes after. Only the tailer's
// goroutine may call it.
func (w *watcher) drain() ([]string, bool) {
	w.mu.Lock()
	toWatch := w.toWatch
	w.toWatch = nil
	w.mu.Unlock()
	for _, dir := range toWatch {
		w.add(dir)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	paths := make([]string, 0, len(w.changed))
	for p := range w.changed {
		paths = append(paths, p)
	}
	clear(w.changed)
	rescan := w.rescan || len(toWatch) > 0
	w.rescan = false
	return paths, rescan
}

func (w *watcher) close() error {
	err := w.w.Close()
	<-w.done
	return err
}
