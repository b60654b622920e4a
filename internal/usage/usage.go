// Package usage computes a session's usage from its transcript with the
// receiver's accounting (internal/session), incrementally: a File
// remembers how far it read, so that asking again reads only what the CLI
// appended since. The hook forwarder keeps a File's state on disk between
// invocations; the receiver's usage query keeps Files in memory.
package usage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
)

// TranscriptName is the name of a session's transcript in its directory.
const TranscriptName = "events.jsonl"

// File is the usage of one session transcript, as far as it was read. It
// is not safe for concurrent use.
type File struct {
	path      string
	sessionID string
	offset    int64
	fp        transcript.Fingerprint
	tracker   *session.Tracker
	skipped   int64
	maxLine   int
	scratch   session.Facts // facts of the event applied, discarded
	restarts  int

	// OnEvent, when set, sees every event Update reads, after the session
	// has applied it.
	OnEvent func(*transcript.Event)
}

// New returns a File that has read nothing of the transcript at path. The
// session id is the name of the transcript's directory.
func New(path string) *File {
	id := SessionIDOf(path)
	return &File{path: path, sessionID: id, tracker: session.New(id, session.Options{})}
}

// SessionIDOf is the session id of a transcript path: the name of the
// directory holding it.
func SessionIDOf(path string) string { return filepath.Base(filepath.Dir(path)) }

// Path is the transcript's path.
func (f *File) Path() string { return f.path }

// SessionID is the session's id.
func (f *File) SessionID() string { return f.sessionID }

// Offset is how far the transcript was read.
func (f *File) Offset() int64 { return f.offset }

// Skipped counts lines that could not be read as events.
func (f *File) Skipped() int64 { return f.skipped }

// SetMaxLineSize bounds the longest line read; longer lines are skipped.
// Zero or less means transcript.DefaultMaxLineSize.
func (f *File) SetMaxLineSize(n int) { f.maxLine = n }

// Update reads the complete lines appended to the transcript since the
// last call. A transcript that was truncated or replaced is read again
// from its start without counting again what was already counted. It
// reports whether anything new was read.
func (f *File) Update() (bool, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return false, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return false, err
	}
	if !st.Mode().IsRegular() {
		return false, fmt.Errorf("%s is not a regular file", f.path)
	}
	size := st.Size()
	same, err := f.fp.Check(fh, size, f.offset)
	if err != nil {
		return false, err
	}
	if !same {
		f.restart()
	}
	if size == f.offset {
		return false, nil
	}
	if _, err := fh.Seek(f.offset, io.SeekStart); err != nil {
		return false, err
	}
	rd := transcript.NewReader(fh, f.offset, f.maxLine, transcript.Options{})
	start := f.offset
	for {
		it, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return f.offset > start, err
		}
		if it.Skip != nil {
			f.skipped++
		}
		if it.Event != nil {
			f.tracker.Apply(it.Event, &f.scratch)
			f.scratch.Reset()
			if f.OnEvent != nil {
				f.OnEvent(it.Event)
			}
		}
		f.offset = it.End
	}
	return f.offset > start, nil
}

// restart reads the file again from its start; the fingerprint, which
// Check has already made the new file's, stays.
func (f *File) restart() {
	f.offset = 0
	f.restarts++
	f.tracker.BeginReplay()
}

// Restarts counts the times Update found the transcript truncated or
// replaced and read it again from its start.
func (f *File) Restarts() int { return f.restarts }

// Summary is the session's usage in the Option A shape.
func (f *File) Summary() session.UsageSummary { return f.tracker.Summary() }

// Metrics is the session's usage in the shape of the CLI's own
// usage.getMetrics result.
func (f *File) Metrics() session.UsageMetrics { return f.tracker.Metrics() }

// Context is where the session runs, nil before its start was read.
func (f *File) Context() *session.Context { return f.tracker.Context() }

// LastEvent is the time of the last event read.
func (f *File) LastEvent() time.Time { return f.tracker.LastEvent() }

// Ended reports whether the session's last leg ended with a shutdown.
func (f *File) Ended() bool { return !f.tracker.Open() && !f.tracker.LastEvent().IsZero() }

// stateVersion is the version of MarshalState's output; Restore rejects
// others and the caller starts afresh.
const stateVersion = 1

type state struct {
	Version int             `json:"v"`
	Path    string          `json:"path"`
	Offset  int64           `json:"off"`
	FPLen   int             `json:"fpLen"`
	FPHash  []byte          `json:"fp"`
	Skipped int64           `json:"skipped,omitempty"`
	Session json.RawMessage `json:"session"`
}

// MarshalState returns what Restore needs to continue where f stopped.
func (f *File) MarshalState() ([]byte, error) {
	tr, err := f.tracker.MarshalState()
	if err != nil {
		return nil, err
	}
	return json.Marshal(state{
		Version: stateVersion, Path: f.path, Offset: f.offset,
		FPLen: f.fp.Len, FPHash: f.fp.Hash[:], Skipped: f.skipped, Session: tr,
	})
}

// Restore returns the File MarshalState described. The state must be of
// the transcript at path.
func Restore(path string, data []byte) (*File, error) {
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("usage state is not readable: %w", err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("usage state has version %d, this build reads version %d", s.Version, stateVersion)
	}
	if s.Path != path {
		return nil, fmt.Errorf("usage state is of %s, not of %s", s.Path, path)
	}
	if len(s.FPHash) != len(transcript.Fingerprint{}.Hash) || s.Offset < 0 {
		return nil, errors.New("usage state has a malformed fingerprint or offset")
	}
	tr, err := session.Restore(s.Session, session.Options{})
	if err != nil {
		return nil, err
	}
	f := &File{path: path, sessionID: SessionIDOf(path), offset: s.Offset, tracker: tr, skipped: s.Skipped}
	f.fp.Len = s.FPLen
	copy(f.fp.Hash[:], s.FPHash)
	return f, nil
}
