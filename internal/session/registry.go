package session

import (
	"io/fs"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Snapshot is what a cursor knew of its session at one point of reading
// its transcript: where it runs and its usage so far.
type Snapshot struct {
	Path string
	// SessionID is the session id the transcript's directory names;
	// Context.SessionID is the one the transcript gives.
	SessionID string
	Context   Context
	LastEvent time.Time
	// Ended: the session's last leg ended with a shutdown.
	Ended bool
	// Summary is the usage in the Option A shape, Metrics in the shape of
	// the CLI's own usage.getMetrics result.
	Summary UsageSummary
	Metrics UsageMetrics

	// Offset is how far the transcript was read. Size and ModTime are the
	// file's as it was read; AtEnd is set when every complete line of the
	// file of that size was read.
	Offset  int64
	Size    int64
	ModTime time.Time
	AtEnd   bool
}

// Current reports whether the snapshot describes the file as it is now:
// it was read to its end, and its size and modification time have not
// changed since.
func (s *Snapshot) Current(fi fs.FileInfo) bool {
	return s.AtEnd && fi.Size() == s.Size && fi.ModTime().Equal(s.ModTime)
}

// Registry holds the newest Snapshot of the sessions whose transcripts a
// reader follows, by transcript path and by session id, so that others
// (the hook endpoint, the usage query) learn what it read without reading
// it again. It holds at most a fixed number of sessions and forgets the
// least recently published first. It is safe for concurrent use.
type Registry struct {
	mu        sync.Mutex
	byPath    *simplelru.LRU[string, *Snapshot]
	bySession map[string]string
	onEvict   func()
}

// NewRegistry returns a registry of at most size sessions (at least 1).
// onEvict, if not nil, is called (with the registry locked) for each
// session forgotten over the bound.
func NewRegistry(size int, onEvict func()) *Registry {
	r := &Registry{bySession: map[string]string{}}
	r.byPath, _ = simplelru.NewLRU(max(size, 1), func(path string, s *Snapshot) {
		if r.bySession[s.SessionID] == path {
			delete(r.bySession, s.SessionID)
		}
	})
	r.onEvict = onEvict
	return r
}

// Publish makes s the newest snapshot of its transcript.
func (r *Registry) Publish(s Snapshot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byPath.Add(s.Path, &s) && r.onEvict != nil {
		r.onEvict()
	}
	r.bySession[s.SessionID] = s.Path
}

// Get returns the newest snapshot of the transcript at path.
func (r *Registry) Get(path string) (Snapshot, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.byPath.Peek(path)
	if !ok {
		return Snapshot{}, false
	}
	return *s, true
}

// Path returns the transcript of the session whose directory is named
// sessionID, if a snapshot of it is held.
func (r *Registry) Path(sessionID string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.bySession[sessionID]
	return p, ok
}

// Forget drops the transcript at path (it is gone).
func (r *Registry) Forget(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byPath.Remove(path)
}

// Len is the number of sessions held.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byPath.Len()
}
