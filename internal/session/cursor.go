package session

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
)

// CheckpointVersion is the version of the Checkpoint format. A checkpoint
// of another version is not used: the transcript is read from its start.
const CheckpointVersion = 1

// Checkpoint is where reading a transcript resumes: the offset of the
// first line not read yet, the fingerprint that tells whether the file at
// the path is still the file that was read (its first bytes, and the bytes
// just before the offset), and whether the session has spans to end when
// it goes idle. The session's accounting state at that offset
// (Tracker.MarshalState) is kept beside it, so that a caller can read it
// only when the transcript grows.
//
// Its JSON is the format of every stored checkpoint: the receiver's
// storage and the hook forwarder's usage cache.
type Checkpoint struct {
	Version int    `json:"v"`
	FPLen   int    `json:"fpLen"`
	FPHash  []byte `json:"fp"`
	Offset  int64  `json:"off"`
	Open    bool   `json:"open,omitempty"`
	// TailLen bytes before Offset hash to TailHash: a file rewritten in
	// place before Offset is read again from its start.
	TailLen  int    `json:"tailLen,omitempty"`
	TailHash []byte `json:"tail,omitempty"`
}

// CursorOptions configure a Cursor.
type CursorOptions struct {
	// MaxLineSize is the longest line read; <= 0 means
	// transcript.DefaultMaxLineSize.
	MaxLineSize int
	Decode      transcript.Options
	Track       Options
}

// ErrNoState is Attach's warning for a cursor past the start of its
// transcript that was given no session state: it reads the transcript
// again from its start, and usage it had counted is counted again.
var ErrNoState = errors.New("session state missing from the checkpoint")

// Cursor follows one transcript: it knows the file by its fingerprint,
// reads only the complete lines appended since the last read, notices a
// file that was truncated, replaced, or rewritten in place before the
// offset read, and then reads it again from its start without counting
// again what its session's tracker has counted. The receiver's tailer, its
// hook endpoint and usage query, and the hook forwarder all read
// transcripts through a Cursor.
//
// The tracker may be released between reads (Release) so that memory does
// not grow with the number of finished sessions; it is attached again,
// from the state stored with the checkpoint, when it is needed. A Cursor
// is not safe for concurrent use.
type Cursor struct {
	path string
	hint string // the session id the transcript's directory names
	opts CursorOptions

	fp          transcript.Fingerprint
	offset      int64 // complete lines are read up to here
	tracker     *Tracker
	pendingTail bool // an incomplete line waits at the end
	size        int64
	modTime     time.Time
	atEnd       bool // the last read reached the end of the file's lines
	reading     bool
	restarts    int
}

// NewCursor returns a cursor at the start of the transcript at path, whose
// directory names its session, with no tracker attached.
func NewCursor(path string, opts CursorOptions) *Cursor {
	return &Cursor{path: path, hint: filepath.Base(filepath.Dir(path)), opts: opts}
}

// Path is the transcript's path.
func (c *Cursor) Path() string { return c.path }

// SessionID is the session id the transcript's directory names; the
// tracker's Context has the one the transcript itself gives.
func (c *Cursor) SessionID() string { return c.hint }

// Offset is how far the transcript's complete lines were read.
func (c *Cursor) Offset() int64 { return c.offset }

// Size and ModTime are the file's, as the last read found them.
func (c *Cursor) Size() int64 { return c.size }

// ModTime is the file's modification time, as the last read found it.
func (c *Cursor) ModTime() time.Time { return c.modTime }

// PendingTail reports whether an incomplete line waited at the end of the
// file at the last read.
func (c *Cursor) PendingTail() bool { return c.pendingTail }

// Restarts counts the times a read found the transcript truncated,
// replaced or rewritten, and read it again from its start.
func (c *Cursor) Restarts() int { return c.restarts }

// Tracker is the session's tracker, nil while none is attached.
func (c *Cursor) Tracker() *Tracker { return c.tracker }

// Attached reports whether the cursor has its tracker.
func (c *Cursor) Attached() bool { return c.tracker != nil }

// SetCheckpoint places the cursor where a stored checkpoint says, with no
// tracker attached. A checkpoint of another version or malformed is
// refused, and the cursor stays where it was.
func (c *Cursor) SetCheckpoint(cp Checkpoint) error {
	if cp.Version != CheckpointVersion {
		return fmt.Errorf("checkpoint has version %d, this build reads version %d", cp.Version, CheckpointVersion)
	}
	if len(cp.FPHash) != len(c.fp.Hash) || cp.Offset < 0 || cp.FPLen < 0 || cp.FPLen > transcript.FingerprintSize {
		return errors.New("checkpoint has a malformed fingerprint or offset")
	}
	c.offset, c.tracker = cp.Offset, nil
	c.fp = transcript.Fingerprint{Len: cp.FPLen}
	copy(c.fp.Hash[:], cp.FPHash)
	if len(cp.TailHash) == len(c.fp.Tail) && cp.TailLen > 0 {
		c.fp.TailAt, c.fp.TailLen = cp.Offset, cp.TailLen
		copy(c.fp.Tail[:], cp.TailHash)
	}
	return nil
}

// Checkpoint is where the cursor stands, to be stored with the tracker's
// state (Tracker.MarshalState).
func (c *Cursor) Checkpoint() Checkpoint {
	cp := Checkpoint{Version: CheckpointVersion, FPLen: c.fp.Len, FPHash: c.fp.Hash[:], Offset: c.offset}
	if c.fp.TailLen > 0 && c.fp.TailAt == c.offset {
		cp.TailLen, cp.TailHash = c.fp.TailLen, c.fp.Tail[:]
	}
	if c.tracker != nil {
		cp.Open = c.tracker.Open()
	}
	return cp
}

// Attach gives the cursor its tracker, from state, the tracker state
// stored with its checkpoint (nil when none was). At the start of the
// transcript, state means that the transcript is read again after it was
// counted (it was truncated or replaced, and its tracker released before
// that was committed): nothing counted is counted again. Past the start,
// the transcript cannot be read on without its state: the cursor goes back
// to the start with a new tracker and returns why (ErrNoState, or why the
// state is not readable) as a warning. The cursor has a tracker whatever
// Attach returns.
func (c *Cursor) Attach(state []byte) error {
	if c.tracker != nil {
		return nil
	}
	if c.offset == 0 {
		if state != nil {
			if tr, err := Restore(state, c.opts.Track); err == nil {
				tr.BeginReplay()
				c.tracker = tr
				return nil
			}
		}
		c.tracker = New(c.hint, c.opts.Track)
		return nil
	}
	warn := ErrNoState
	if state != nil {
		tr, err := Restore(state, c.opts.Track)
		if err == nil {
			c.tracker = tr
			return nil
		}
		warn = err
	}
	// Usage already counted would be counted again, but nothing is lost.
	c.offset, c.fp = 0, transcript.Fingerprint{}
	c.tracker = New(c.hint, c.opts.Track)
	return warn
}

// Release lets the tracker go, unless a read is under way; the caller
// keeps its state (MarshalState) to Attach it again. It reports whether
// the tracker was released.
func (c *Cursor) Release() bool {
	if c.reading {
		return false
	}
	c.tracker = nil
	return true
}

// ReadOptions configure one read of a transcript.
type ReadOptions struct {
	// Final decides an incomplete last line now: the file will not grow
	// (its session went idle).
	Final bool
	// Bounded reads up to Until only, as a read that is done again (a
	// recovered round): the file must be the one read before, at least
	// Until long.
	Bounded bool
	Until   int64
	// Reader, when set, is reset and used, so that a caller reading many
	// files keeps one buffer; it must have the cursor's options. Nil: a
	// reader of the read's own.
	Reader *transcript.Reader
	// State returns the tracker state stored with the checkpoint, for a
	// cursor without a tracker; nil, or a nil result, means none is
	// stored. Attach's warnings are given to Warn, when set.
	State func() ([]byte, error)
	Warn  func(error)
}

// Read is one read of a transcript, between Open and Done or Close.
type Read struct {
	c     *Cursor
	fh    *os.File
	rd    *transcript.Reader
	src   io.Reader // what rd was given to read
	start int64
	until bool
	empty bool
	// Restart says why the transcript is read again from its start:
	// "truncated", "replaced" (its first bytes, or the bytes before the
	// offset read, changed), or "" when it is not.
	Restart string
}

// Open starts a read of what was appended to the transcript since the
// last one. It checks the file against the fingerprint: a file that is
// shorter than what was read, or whose first bytes or bytes before the
// offset changed, is read again from its start, and its tracker is told,
// so that nothing already counted is counted again. The tracker is
// attached (opts.State) only when there is something to read or the file
// starts over. Close the read, or finish it with Done.
func (c *Cursor) Open(opts ReadOptions) (*Read, error) {
	fh, err := openRead(c.path)
	if err != nil {
		return nil, err
	}
	r := &Read{c: c, fh: fh, until: opts.Bounded}
	if err := r.open(opts); err != nil {
		fh.Close()
		c.reading = false
		return nil, err
	}
	return r, nil
}

func (r *Read) open(opts ReadOptions) error {
	c := r.c
	st, err := r.fh.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", c.path)
	}
	size := st.Size()
	c.size, c.modTime = size, st.ModTime()
	truncated, before := size < c.offset, c.offset
	// A file read from its start for the first time is the same file
	// whatever it holds, and is fingerprinted by the first bytes its
	// reader reads (below), as Check would read them.
	first := c.offset == 0 && c.fp == (transcript.Fingerprint{}) && !r.until
	same := true
	if !first {
		if same, err = c.fp.Check(r.fh, size, c.offset); err != nil {
			return err
		}
	}
	if !same {
		r.Restart = "replaced"
		if truncated {
			r.Restart = "truncated"
		}
		// The session's state knows what was counted: attach it before
		// the offset it belongs to is let go.
		if err := c.attach(opts); err != nil {
			return err
		}
		c.offset, c.pendingTail = 0, false
		c.tracker.BeginReplay()
		c.restarts++
	}
	if r.until {
		// A file read again from its start is not the one read before,
		// unless nothing of it had been read.
		if (r.Restart != "" && before != 0) || opts.Until < c.offset || size < opts.Until {
			return errors.New("the transcript changed since the round was read")
		}
	} else if size == c.offset && !(opts.Final && c.pendingTail) {
		r.empty = true // nothing new: the session's state may stay stored
		c.atEnd = true
		return nil
	}
	if err := c.attach(opts); err != nil {
		return err
	}
	if _, err := r.fh.Seek(c.offset, io.SeekStart); err != nil {
		return err
	}
	var src io.Reader = r.fh
	if r.until {
		src = io.LimitReader(r.fh, opts.Until-c.offset)
	}
	r.rd = opts.Reader
	if r.rd == nil {
		r.rd = transcript.NewReader(src, c.offset, c.opts.MaxLineSize, c.opts.Decode)
	} else {
		r.rd.Reset(src, c.offset)
	}
	r.src = src
	if first && size > 0 {
		b, err := r.rd.Peek(transcript.FingerprintSize)
		if err != nil {
			return err
		}
		c.fp.SetPrefix(b)
	}
	r.rd.Final = opts.Final || r.until
	r.start = c.offset
	c.reading, c.atEnd = true, false
	return nil
}

func (c *Cursor) attach(opts ReadOptions) error {
	if c.tracker != nil {
		return nil
	}
	var state []byte
	if opts.State != nil {
		b, err := opts.State()
		if err != nil {
			return fmt.Errorf("reading session state: %w", err)
		}
		state = b
	}
	if err := c.Attach(state); err != nil && opts.Warn != nil {
		opts.Warn(err)
	}
	return nil
}

// Empty reports whether there is nothing to read: the file is as long as
// what was read (and no incomplete line is to be decided).
func (r *Read) Empty() bool { return r.empty }

// Next reads the next item, applies its event to the session's tracker
// with the facts appended to out (nil: the event is applied, its facts
// discarded), and moves the cursor past it. It returns io.EOF when no
// complete line is left.
func (r *Read) Next(out *Facts) (transcript.Item, error) {
	if r.empty {
		return transcript.Item{}, io.EOF
	}
	it, err := r.rd.Next()
	if err != nil {
		return it, err
	}
	if it.Event != nil {
		r.c.tracker.Apply(it.Event, out)
	}
	r.c.offset = it.End
	return it, nil
}

// Done ends a read that ran to io.EOF: it remembers the bytes before the
// offset reached (a file later rewritten before it is read again) and
// whether an incomplete line waits, and closes the file.
func (r *Read) Done() error {
	defer r.Close()
	if r.empty {
		return nil
	}
	c := r.c
	if !r.until {
		c.pendingTail = r.rd.Offset() < c.size
		c.atEnd = true
	}
	if r.until || c.offset > r.start {
		// The reader has just read the bytes before the offset and
		// nearly always still holds them, unless it is a shared one
		// (ReadOptions.Reader) that was reset for another file since.
		if r.rd.Source() == r.src {
			n := int(min(c.offset, transcript.TailSize))
			if c.fp.MarkTailFrom(c.offset, r.rd.Before(c.offset, n)) {
				return nil
			}
		}
		return c.fp.MarkTail(r.fh, c.offset)
	}
	return nil
}

// Close ends a read, wherever it stopped.
func (r *Read) Close() {
	if r.fh != nil {
		r.fh.Close()
		r.fh = nil
		r.c.reading = false
	}
}

// Update reads what was appended to the transcript since the last call,
// applying it to the tracker (a new one for a cursor at the start without
// one; a cursor past the start must have been attached), and calls
// onEvent, when set, with every event read. It reports whether anything
// was read.
func (c *Cursor) Update(onEvent func(*transcript.Event)) (bool, error) {
	if c.tracker == nil && c.offset == 0 {
		c.tracker = New(c.hint, c.opts.Track) // a session with nothing to read yet
	}
	r, err := c.Open(ReadOptions{})
	if err != nil {
		return false, err
	}
	defer r.Close()
	start := c.offset
	for {
		it, err := r.Next(nil)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return c.offset > start, err
		}
		if it.Event != nil && onEvent != nil {
			onEvent(it.Event)
		}
	}
	return c.offset > start, r.Done()
}

// Snapshot is what the cursor knows of its session now. The tracker must
// be attached.
func (c *Cursor) Snapshot() Snapshot {
	t := c.tracker
	sum := t.Summary()
	return Snapshot{
		Path:      c.path,
		SessionID: c.hint,
		Context:   *t.Context(),
		LastEvent: t.LastEvent(),
		Ended:     !t.Open() && !t.LastEvent().IsZero(),
		Summary:   sum,
		Metrics:   t.metrics(sum),
		Offset:    c.offset,
		Size:      c.size,
		ModTime:   c.modTime,
		AtEnd:     c.atEnd && !c.reading,
	}
}
