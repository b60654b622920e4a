package tailer

import (
	"context"
	"os"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// onDemandFiles is how many transcripts read on demand keep their cursor
// in memory.
const onDemandFiles = 256

// Sessions tells the hook endpoint and the usage query what is known of
// the sessions whose transcripts the tailer follows, without reading again
// what the tailer read: the snapshot of each session the tailer published
// after its last commit (a bounded session.Registry). Only what the tailer
// has not read (yet) is read on demand, through a cursor that starts where
// the tailer's last commit left the transcript: a session the tailer has
// not come to, one whose transcript grew since, one the registry no longer
// holds, one that had ended when the tailer started (a backlog's sessions
// are not published). It is safe for concurrent use.
type Sessions struct {
	reg   *session.Registry
	store checkpoints
	opts  session.CursorOptions
	files *lru.Cache[string, *onDemand]
}

// onDemand is a transcript read on demand.
type onDemand struct {
	mu  sync.Mutex
	cur *session.Cursor
}

func newSessions(reg *session.Registry, store checkpoints, opts session.CursorOptions) *Sessions {
	files, _ := lru.New[string, *onDemand](onDemandFiles)
	return &Sessions{reg: reg, store: store, opts: opts, files: files}
}

// publish makes a snapshot the tailer's newest of its transcript.
func (s *Sessions) publish(snap session.Snapshot) { s.reg.Publish(snap) }

// forget drops a transcript that is gone.
func (s *Sessions) forget(path string) {
	s.reg.Forget(path)
	s.files.Remove(path)
}

// Path returns the transcript the tailer read of the session whose
// directory is named sessionID, if it published one.
func (s *Sessions) Path(sessionID string) (string, bool) { return s.reg.Path(sessionID) }

// Published reports whether the tailer published a snapshot of the
// transcript at path (the tailer's name for it).
func (s *Sessions) Published(path string) bool {
	_, ok := s.reg.Get(path)
	return ok
}

// Context is where the session of the transcript at path runs, as the
// tailer last read it; read on demand when the tailer published nothing
// of it. path must be a transcript the receiver may read.
func (s *Sessions) Context(path string) (session.Context, error) {
	if snap, ok := s.reg.Get(path); ok {
		return snap.Context, nil
	}
	snap, err := s.Current(path)
	return snap.Context, err
}

// Current is what the transcript at path says now: the tailer's snapshot
// while the file is as the tailer read it, else what a read on demand of
// the rest finds. path must be a transcript the receiver may read; an
// error wraps os.ErrNotExist when it does not exist.
func (s *Sessions) Current(path string) (session.Snapshot, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return session.Snapshot{}, err
	}
	snap, published := s.reg.Get(path)
	if published && snap.Current(fi) {
		return snap, nil
	}
	e, ok := s.files.Get(path)
	if !ok {
		e = &onDemand{}
		if prev, found, _ := s.files.PeekOrAdd(path, e); found {
			e = prev
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur == nil || (published && e.cur.Offset() < snap.Offset) {
		// Start where the tailer's last commit is, not from the start.
		e.cur = s.resume(path)
	}
	if _, err := e.cur.Update(nil); err != nil {
		e.cur = nil
		return session.Snapshot{}, err
	}
	return e.cur.Snapshot(), nil
}

// resume returns a cursor where the tailer's last commit left the
// transcript at path, with its session's state; at the start when there
// is none.
func (s *Sessions) resume(path string) *session.Cursor {
	c := session.NewCursor(path, s.opts)
	cp, state, err := s.store.committed(context.Background(), path)
	if err == nil && cp != nil && c.SetCheckpoint(*cp) == nil {
		_ = c.Attach(state) // without its state, from the start
	}
	return c
}
