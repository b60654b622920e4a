package tailer

import (
	"os"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// file is a transcript the tailer follows: its cursor, and what the tailer
// needs to decide when to look at it. Only the tailer's goroutine uses it.
type file struct {
	path string
	// cur reads the transcript. Its tracker is in memory while the file
	// changes, and in storage (under sessionPrefix) the rest of the time,
	// so that memory does not grow with the number of finished sessions.
	cur       *session.Cursor
	committed int64 // the offset of the last commit
	loaded    bool  // checkpoint looked up

	active     bool      // looked at every poll
	lastChange time.Time // when new lines were last read, or the file was found
	needsIdle  bool      // the session has spans to end when it goes idle
	goneSince  time.Time
	catchUp    bool // read without exporting (start_at end)
	stats      session.Stats
}

// changed looks at a file without opening it: whether it differs from what
// it was when last read. An incomplete last line is not looked at again
// until the file changes.
func (f *file) changed() bool {
	st, err := os.Stat(f.path)
	if err != nil {
		return false
	}
	return f.differs(st)
}

// differs reports whether a file of st's size and time needs a look.
func (f *file) differs(st os.FileInfo) bool {
	return !f.loaded || st.Size() != f.cur.Size() || !st.ModTime().Equal(f.cur.ModTime())
}

// tracker is the session's tracker, nil while it is in storage.
func (f *file) tracker() *session.Tracker { return f.cur.Tracker() }

// release lets the session's tracker go, unless it is being read.
func (f *file) release() {
	if f.cur.Release() {
		f.stats = session.Stats{}
	}
}
