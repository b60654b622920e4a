package tailer

import (
	"os"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// file is a transcript the tailer follows: its cursor, and what the tailer
// needs to decide when to look at it. Only the tailer's goroutine uses it.
//
// A file that is quiet, whose session's tracker is in storage and whose
// lines read are all committed is parked: its cursor (fingerprint, reader
// state) is let go, and only its path, the size and time it had, and the
// committed offset stay, so that memory does not grow with the number of
// finished sessions. When it changes, its cursor is made again from the
// checkpoint in storage (Tailer.load).
type file struct {
	path string
	// cur reads the transcript; nil while the file is parked. Its tracker
	// is in memory while the file changes, and in storage (under
	// sessionPrefix) the rest of the time.
	cur       *session.Cursor
	committed int64 // the offset of the last commit
	// size and modTime (unix ns) are the file's when it was parked.
	size, modTime int64

	lastChange int64 // unix ns: when new lines were last read, or the file was found
	goneSince  int64 // unix ns; 0 while the file is there
	foundBy    int   // the last rescan that found it (Tailer.rescans)
	stats      session.Stats

	loaded    bool // checkpoint looked up
	stored    bool // a checkpoint of it is in storage (found by the lookup, or committed since)
	active    bool // looked at every poll
	due       bool // a notification or a rescan says it changed
	scanned   bool // the rescan of this step saw it differ: no stat needed to know it changed
	needsIdle bool // the session has spans to end when it goes idle
	catchUp   bool // read without exporting (start_at end)
	unsaved   bool // the last commit of what was read of it failed
}

// changed looks at a file without opening it: whether it differs from what
// it was when last read. An incomplete last line is not looked at again
// until the file changes.
func (f *file) changed(stat func(string) (os.FileInfo, error)) bool {
	st, err := stat(f.path)
	if err != nil {
		return false
	}
	return f.differs(st)
}

// differs reports whether a file of st's size and time needs a look.
func (f *file) differs(st os.FileInfo) bool {
	if f.cur == nil {
		return st.Size() != f.size || st.ModTime().UnixNano() != f.modTime
	}
	return !f.loaded || st.Size() != f.cur.Size() || !st.ModTime().Equal(f.cur.ModTime())
}

// tracker is the session's tracker, nil while it is in storage.
func (f *file) tracker() *session.Tracker {
	if f.cur == nil {
		return nil
	}
	return f.cur.Tracker()
}

// pendingTail reports whether an incomplete line waited at the end of the
// file at the last read.
func (f *file) pendingTail() bool { return f.cur != nil && f.cur.PendingTail() }

// release lets the session's tracker go, unless it is being read.
func (f *file) release() {
	if f.cur != nil && f.cur.Release() {
		f.stats = session.Stats{}
	}
}

// park lets the cursor go when nothing of it is needed until the file
// changes: it is not polled, its tracker is released, what was read of it
// is committed, and no incomplete line waits to be decided.
func (f *file) park() {
	c := f.cur
	if c == nil || f.active || f.catchUp || f.unsaved || c.Tracker() != nil || c.PendingTail() || c.Offset() != f.committed {
		return
	}
	f.size, f.modTime = c.Size(), c.ModTime().UnixNano()
	f.cur, f.loaded = nil, false
}
