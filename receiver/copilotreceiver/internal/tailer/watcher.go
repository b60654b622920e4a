package tailer

import (
	"os"
	"path/filepath"
	"sync"

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

	mu      sync.Mutex
	changed map[string]bool
	rescan  bool
	watched map[string]bool
	done    chan struct{}
}

// newWatcher watches bases, the include globs' fixed directories
// (GlobRoot).
func newWatcher(bases []string) (*watcher, error) {
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
	}
	w.ensureBases()
	go w.loop()
	return w, nil
}

// ensureBases watches the include globs' fixed directories; called again
// at each rescan. A base that does not exist yet (the CLI has never run)
// is waited for by watching its nearest existing ancestor: each directory
// created on the way calls for a rescan, which comes back here.
func (w *watcher) ensureBases() {
	for _, b := range w.bases {
		if isDir(b) {
			w.add(b)
			continue
		}
		for a := filepath.Dir(b); ; a = filepath.Dir(a) {
			if isDir(a) {
				w.add(a)
				break
			}
			if filepath.Dir(a) == a {
				break
			}
		}
	}
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
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

func (w *watcher) add(dir string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.watched[dir] {
		return
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return
	}
	if err := w.w.Add(dir); err == nil {
		w.watched[dir] = true
	}
}

func (w *watcher) remove(dir string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.watched[dir] {
		return
	}
	for _, b := range w.bases {
		if b == dir {
			return
		}
	}
	_ = w.w.Remove(dir)
	delete(w.watched, dir)
}

func (w *watcher) loop() {
	defer close(w.done)
	for {
		select {
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			newDir := ev.Has(fsnotify.Create) && isDir(ev.Name)
			if newDir && w.underBase(ev.Name) {
				// Its transcript is created next: be told when.
				w.add(ev.Name)
			}
			w.mu.Lock()
			if newDir {
				w.rescan = true
			}
			if ev.Has(fsnotify.Write) || ev.Has(fsnotify.Create) || ev.Has(fsnotify.Rename) || ev.Has(fsnotify.Remove) {
				w.changed[ev.Name] = true
			}
			w.mu.Unlock()
			select {
			case w.notify <- struct{}{}:
			default:
			}
		case _, ok := <-w.w.Errors:
			if !ok {
				return
			}
			// An overflow loses notifications; the next poll and rescan find
			// what they missed.
			w.mu.Lock()
			w.rescan = true
			w.mu.Unlock()
		}
	}
}

// drain returns the paths that changed since the last call, and whether a
// new directory calls for a rescan.
func (w *watcher) drain() ([]string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	paths := make([]string, 0, len(w.changed))
	for p := range w.changed {
		paths = append(paths, p)
	}
	clear(w.changed)
	rescan := w.rescan
	w.rescan = false
	return paths, rescan
}

func (w *watcher) close() error {
	err := w.w.Close()
	<-w.done
	return err
}
