// Package tailer follows Copilot CLI transcripts: it finds them by glob,
// reads the complete lines appended to them, applies their events to each
// session's tracker, and hands the facts to the pipeline in rounds. A
// round's checkpoints (offset, fingerprint, session state) are committed
// only after every signal of the round was accepted; a refused round is
// offered again, never skipped.
//
// Before a round is offered to the first signal, what it covers (the files
// and the offsets it read them to, the sessions it ends, its read window)
// is written to storage. A collector killed while delivering reads exactly
// that round again at start and delivers the signals not yet accepted: the
// batch that was in flight is sent again with identical content and ids,
// and nothing else is. Stop lets a delivery under way finish (up to
// DrainTimeout) and commits it, so that a graceful stop repeats nothing.
package tailer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
	"github.com/otelcol-copilot/otelcol-copilot/internal/usage"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/pipeline"
)

// Config configures a Tailer.
type Config struct {
	Include, Exclude []string
	// StartAtEnd reads the transcripts found at the first scan that have no
	// checkpoint without exporting them: their history is applied to the
	// trackers so that later events are accounted right.
	StartAtEnd     bool
	PollInterval   time.Duration
	RescanInterval time.Duration
	IdleTimeout    time.Duration
	MaxLineSize    int
	RetryInitial   time.Duration
	RetryMax       time.Duration
	// MaxRoundEvents and MaxRoundBytes bound a round; 0 means the defaults.
	MaxRoundEvents int
	MaxRoundBytes  int64
	Decode         transcript.Options
	Track          session.Options
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Clock gives each round its read window (session.Facts.ReadStart and
	// ReadEnd); nil means a clock of the tailer's own.
	Clock Clock
	// DrainTimeout is how long Stop waits for a delivery under way to be
	// accepted so that it can be committed; 0 means 10s.
	DrainTimeout time.Duration
}

// Clock hands out the read windows of batches: each starts where the
// previous ended, and ends later than it started. It is safe for
// concurrent use.
type Clock interface {
	// Next returns the window of a batch read at now.
	Next(now time.Time) (start, end time.Time)
	// Advance makes later windows start no earlier than t: a round read
	// again after a restart keeps the window it had.
	Advance(t time.Time)
}

// WindowClock is the Clock a tailer uses when given none.
type WindowClock struct {
	mu   sync.Mutex
	last time.Time
}

// Next implements Clock.
func (c *WindowClock) Next(now time.Time) (time.Time, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !now.After(c.last) {
		now = c.last.Add(time.Nanosecond)
	}
	prev := c.last
	if prev.IsZero() {
		prev = now
	}
	c.last = now
	return prev, now
}

// Advance implements Clock.
func (c *WindowClock) Advance(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.last) {
		c.last = t
	}
}

// Observer is told what the tailer reads and drops, for the receiver's own
// metrics. Its methods are called from the tailer's goroutine.
type Observer interface {
	LineSkipped(reason string)
	LineRepaired()
	Read(events int, bytes int64)
	DuplicateRecords(n int64)
	AccountingExcess(n int64)
	Retry(signal string)
	Dropped(signal string)
	FilesTracked(n int)
}

// Tailer follows transcripts. Start it once; Stop it once.
type Tailer struct {
	cfg     Config
	store   storage.Client
	signals []pipeline.Signal
	obs     Observer
	log     *zap.Logger
	now     func() time.Time

	files     map[string]*file
	roots     []string        // the include globs' directories
	refused   map[string]bool // matched, but resolved outside the roots
	firstScan bool
	rd        *transcript.Reader // reused from file to file
	watch     *watcher

	cancel           context.CancelFunc // stops reading
	deliverCtx       context.Context    // ends deliveries; outlives cancel by DrainTimeout
	cancelDeliver    context.CancelFunc
	done             chan struct{}
	mu               sync.Mutex // guards started/stopped
	started, stopped bool
}

type file struct {
	path        string
	sessionHint string
	fp          transcript.Fingerprint
	offset      int64 // committed
	readPos     int64 // read, not yet committed
	size        int64 // at the last look
	mtime       time.Time
	loaded      bool // checkpoint looked up
	// tracker is in memory while the file changes, and in storage (under
	// sessionPrefix) the rest of the time, so that memory does not grow
	// with the number of finished sessions.
	tracker     *session.Tracker
	active      bool      // looked at every poll
	lastChange  time.Time // when new lines were last read, or the file was found
	needsIdle   bool      // the session has spans to end when it goes idle
	goneSince   time.Time
	catchUp     bool // read without exporting (start_at end)
	pendingTail bool // an incomplete line waits at the end
	stats       session.Stats
}

// New returns a tailer. store may be nil: checkpoints then live in memory.
func New(cfg Config, store storage.Client, signals []pipeline.Signal, obs Observer, logger *zap.Logger) *Tailer {
	if store == nil {
		store = storageclient.NewMemory()
	}
	if cfg.MaxRoundEvents <= 0 {
		cfg.MaxRoundEvents = 2048
	}
	if cfg.MaxRoundBytes <= 0 {
		cfg.MaxRoundBytes = 8 << 20
	}
	if cfg.Clock == nil {
		cfg.Clock = &WindowClock{}
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 10 * time.Second
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	t := &Tailer{
		cfg: cfg, store: store, signals: signals, obs: obs, log: logger, now: now,
		files: map[string]*file{}, refused: map[string]bool{}, firstScan: true,
	}
	for _, p := range cfg.Include {
		t.roots = append(t.roots, GlobRoot(p))
	}
	return t
}

// Start recovers a round that was being delivered when the collector
// stopped, then follows the transcripts in a goroutine until Stop.
func (t *Tailer) Start(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		return nil
	}
	t.started = true
	runCtx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	t.deliverCtx, t.cancelDeliver = context.WithCancel(context.Background())
	t.done = make(chan struct{})
	w, err := newWatcher(t.roots, t.matches)
	if err != nil {
		t.log.Info("File change notifications are unavailable; relying on polling", zap.Error(err))
	}
	t.watch = w
	go t.run(runCtx)
	_ = ctx
	return nil
}

// Stop ends following and waits for the goroutine, as long as ctx allows.
// Nothing new is read; a delivery under way is given DrainTimeout to be
// accepted, and is then committed, so that it is not sent again after a
// restart. A round that was not accepted by then is not committed and is
// delivered again, as it was, after a restart.
func (t *Tailer) Stop(ctx context.Context) error {
	t.mu.Lock()
	if !t.started || t.stopped {
		t.mu.Unlock()
		return nil
	}
	t.stopped = true
	t.mu.Unlock()
	t.cancel()
	drain := time.AfterFunc(t.cfg.DrainTimeout, t.cancelDeliver)
	defer drain.Stop()
	defer t.cancelDeliver()
	select {
	case <-t.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if t.watch != nil {
		return t.watch.close()
	}
	return nil
}

func (t *Tailer) run(ctx context.Context) {
	defer close(t.done)
	if err := t.recover(ctx); err != nil && ctx.Err() == nil {
		t.log.Error("Could not recover the round that was being delivered; its files are read again from their checkpoints", zap.Error(err))
	}
	poll := time.NewTicker(t.cfg.PollInterval)
	defer poll.Stop()
	rescan := time.NewTicker(t.cfg.RescanInterval)
	defer rescan.Stop()
	var notify <-chan struct{}
	if t.watch != nil {
		notify = t.watch.notify
	}
	t.step(ctx, true)
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			t.step(ctx, false)
		case <-rescan.C:
			t.step(ctx, true)
		case <-notify:
			t.step(ctx, false)
		}
	}
}

// step reads what is new: in the active files, or, with full, in every
// file the globs match.
func (t *Tailer) step(ctx context.Context, full bool) {
	if t.watch != nil {
		paths, rescan := t.watch.drain()
		full = full || rescan
		for _, p := range paths {
			if f := t.files[p]; f != nil {
				t.activate(f)
			} else if t.matches(p) && t.admit(p) {
				t.activate(t.track(p))
			}
		}
	}
	if full {
		t.rescan(ctx)
	}
	r := newRound()
	now := t.now()
	for _, f := range t.sortedFiles(func(f *file) bool { return f.active }) {
		if ctx.Err() != nil {
			return
		}
		if !t.changed(f) {
			// Quiet for a while: stop polling it. A notification or the
			// next rescan wakes it up.
			if now.Sub(f.lastChange) >= t.quietAfter() {
				f.active = false
			}
			continue
		}
		if err := t.readFile(ctx, f, r, false); err != nil {
			if ctx.Err() != nil {
				return
			}
			t.log.Warn("Could not read transcript; it is tried again at the next poll", zap.String("path", f.path), zap.Error(err))
		}
	}
	if !t.flush(ctx, r) {
		return
	}
	t.sweepIdle(ctx)
	t.evict()
	t.obs.FilesTracked(len(t.files))
}

// reader returns the tailer's one reader, reset to read src from offset.
func (t *Tailer) reader(src io.Reader, offset int64) *transcript.Reader {
	if t.rd == nil {
		t.rd = transcript.NewReader(src, offset, t.cfg.MaxLineSize, t.cfg.Decode)
	} else {
		t.rd.Reset(src, offset)
	}
	return t.rd
}

// quietAfter is how long a file may go without growing before it is no
// longer polled.
func (t *Tailer) quietAfter() time.Duration {
	return max(5*t.cfg.PollInterval, 2*time.Second)
}

// changed looks at a file without opening it: whether it differs from what
// it was when last read. An incomplete last line is not looked at again
// until the file changes.
func (t *Tailer) changed(f *file) bool {
	st, err := os.Stat(f.path)
	if err != nil {
		return false
	}
	return !f.loaded || st.Size() != f.size || !st.ModTime().Equal(f.mtime)
}

// evict releases the trackers of sessions that are closed (their last
// leg shut down) or no longer polled; their state is in storage since the
// round that last touched them, and is loaded again if the file grows.
func (t *Tailer) evict() {
	for _, f := range t.files {
		if f.tracker != nil && (!f.active || !f.needsIdle) {
			f.tracker = nil
			f.stats = session.Stats{}
		}
	}
}

// GlobFiles calls fn with every regular file the pattern matches and its
// file information. Segments without wildcards are joined, not listed, and
// a wildcard segment costs one directory read: for the usual
// <root>/*/events.jsonl a rescan of thousands of finished sessions is one
// read of the root and one stat per session. Patterns with ** are walked
// by doublestar.
func GlobFiles(pattern string, fn func(path string, info fs.FileInfo)) error {
	pattern = filepath.ToSlash(filepath.Clean(pattern))
	base, rest := doublestar.SplitPattern(pattern)
	if base == "" {
		base = "."
	}
	root := filepath.FromSlash(base)
	if rest == "" || rest == "." {
		statFile(filepath.FromSlash(pattern), nil, fn)
		return nil
	}
	if strings.Contains(rest, "**") {
		return doublestar.GlobWalk(os.DirFS(root), rest, func(p string, d fs.DirEntry) error {
			statFile(filepath.Join(root, filepath.FromSlash(p)), d, fn)
			return nil
		}, doublestar.WithFilesOnly())
	}
	walkSegments(root, strings.Split(rest, "/"), fn)
	return nil
}

func walkSegments(dir string, segs []string, fn func(string, fs.FileInfo)) {
	seg, last := segs[0], len(segs) == 1
	if !strings.ContainsAny(seg, `*?[{\`) {
		p := filepath.Join(dir, seg)
		if last {
			statFile(p, nil, fn)
		} else {
			walkSegments(p, segs[1:], fn)
		}
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return // unreadable or gone: the next rescan tries again
	}
	for _, e := range entries {
		if ok, _ := doublestar.Match(seg, e.Name()); !ok {
			continue
		}
		p := filepath.Join(dir, e.Name())
		switch {
		case last:
			statFile(p, e, fn)
		case e.IsDir() || e.Type()&fs.ModeSymlink != 0:
			walkSegments(p, segs[1:], fn)
		}
	}
}

// statFile calls fn with p's file information if p is a regular file (or
// a link to one). d, when known, saves a stat.
func statFile(p string, d fs.DirEntry, fn func(string, fs.FileInfo)) {
	var info fs.FileInfo
	var err error
	if d != nil && d.Type()&fs.ModeSymlink == 0 {
		info, err = d.Info()
	} else {
		info, err = os.Stat(p)
	}
	if err == nil && info.Mode().IsRegular() {
		fn(p, info)
	}
}

// sortedFiles returns the files keep selects, in path order, so that a
// round reads files in the same order every time.
func (t *Tailer) sortedFiles(keep func(*file) bool) []*file {
	var out []*file
	for _, f := range t.files {
		if keep(f) {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b *file) int { return strings.Compare(a.path, b.path) })
	return out
}

func (t *Tailer) matches(path string) bool { return Match(t.cfg.Include, t.cfg.Exclude, path) }

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

// rescan matches the globs again: new files are tracked, files that grew
// since they went idle become active, files that are gone are forgotten
// after IdleTimeout (a file replaced by rename may be missing for a moment).
func (t *Tailer) rescan(ctx context.Context) {
	seen := map[string]bool{}
	for _, pattern := range t.cfg.Include {
		err := GlobFiles(pattern, func(p string, info fs.FileInfo) {
			if seen[p] || !t.matches(p) {
				return
			}
			seen[p] = true
			f := t.files[p]
			if f == nil {
				if !t.admit(p) {
					return
				}
				f = t.track(p)
			}
			f.goneSince = time.Time{}
			if !f.active && (!f.loaded || info.Size() != f.size || !info.ModTime().Equal(f.mtime)) {
				t.activate(f)
			}
		})
		if err != nil {
			t.log.Debug("Glob matched with errors", zap.String("pattern", pattern), zap.Error(err))
		}
	}
	if t.watch != nil {
		t.watch.ensureBases()
	}
	now := t.now()
	for p, f := range t.files {
		if seen[p] {
			continue
		}
		if f.goneSince.IsZero() {
			f.goneSince = now
			continue
		}
		if now.Sub(f.goneSince) >= t.cfg.IdleTimeout {
			if f.needsIdle {
				if err := t.loadTracker(ctx, f); err == nil {
					r := newRound()
					f.tracker.Idle(&r.facts)
					r.idle = append(r.idle, f.path)
					r.touch(f)
					if !t.flush(ctx, r) {
						return
					}
				}
			}
			delete(t.files, p)
			err := t.store.Batch(ctx, storage.DeleteOperation(checkpointPrefix+p), storage.DeleteOperation(sessionPrefix+p))
			if err != nil {
				t.log.Warn("Could not delete the checkpoint of a transcript that is gone", zap.String("path", p), zap.Error(err))
			}
		}
	}
	if t.firstScan {
		t.firstScan = false
		t.log.Info("Following Copilot CLI transcripts", zap.Strings("include", t.cfg.Include), zap.Int("files", len(t.files)))
	}
}

// admit reports whether a newly matched file may be read: once symbolic
// links are resolved it must still lie under the directory of an include
// glob, so that a link cannot lead the receiver (or a hook payload naming
// the file) to read files elsewhere. Refusals are logged once.
func (t *Tailer) admit(path string) bool {
	if t.refused[path] {
		return false
	}
	if _, err := usage.Confine(path, t.roots); err != nil {
		if errors.Is(err, usage.ErrOutsideRoots) {
			t.refused[path] = true
			t.log.Warn("Transcript leads outside the session directories through a symbolic link; it is not read. Add its real location to session_state.include to read it", zap.String("path", path))
		}
		return false
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

func (t *Tailer) track(path string) *file {
	f := &file{
		path:        path,
		sessionHint: usage.SessionIDOf(path),
		active:      true,
		lastChange:  t.now(),
		catchUp:     t.firstScan && t.cfg.StartAtEnd,
	}
	t.files[path] = f
	return f
}

// activate makes f checked at every poll, and watched.
func (t *Tailer) activate(f *file) {
	if f.active {
		return
	}
	f.active = true
	f.lastChange = t.now()
}

// load looks up a file's checkpoint once.
func (t *Tailer) load(ctx context.Context, f *file) error {
	if f.loaded {
		return nil
	}
	var cp checkpoint
	found, err := storageclient.LoadJSON(ctx, t.store, checkpointPrefix+f.path, &cp)
	if err != nil {
		return fmt.Errorf("reading checkpoint: %w", err)
	}
	f.loaded = true
	if !found || cp.Version != checkpointVersion {
		return nil
	}
	f.catchUp = false
	f.offset, f.readPos, f.needsIdle = cp.Offset, cp.Offset, cp.Open
	f.fp.Len = cp.FPLen
	copy(f.fp.Hash[:], cp.FPHash)
	if len(cp.TailHash) == len(f.fp.Tail) && cp.TailLen > 0 {
		f.fp.TailAt, f.fp.TailLen = cp.Offset, cp.TailLen
		copy(f.fp.Tail[:], cp.TailHash)
	}
	return nil
}

// loadTracker brings the session's tracker into memory: from storage, or
// new for a transcript read from its start.
func (t *Tailer) loadTracker(ctx context.Context, f *file) error {
	if f.tracker != nil {
		return nil
	}
	if err := t.load(ctx, f); err != nil {
		return err
	}
	f.stats = session.Stats{}
	b, err := t.store.Get(ctx, sessionPrefix+f.path)
	if err != nil {
		return fmt.Errorf("reading session state: %w", err)
	}
	if f.offset == 0 && f.readPos == 0 {
		if b == nil {
			f.tracker = session.New(f.sessionHint, t.cfg.Track)
			return nil
		}
		// Read from the start, but counted before (the file was truncated
		// or replaced and its tracker released before that was
		// committed): what was counted is not counted again.
		if tr, err := session.Restore(b, t.cfg.Track); err == nil {
			f.tracker = tr
			tr.BeginReplay()
			return nil
		}
		f.tracker = session.New(f.sessionHint, t.cfg.Track)
		return nil
	}
	if b != nil {
		tr, err := session.Restore(b, t.cfg.Track)
		if err == nil {
			f.tracker = tr
			return nil
		}
		t.log.Warn("Session state in the checkpoint is not readable; the transcript is read from its start", zap.String("path", f.path), zap.Error(err))
	} else {
		t.log.Warn("Session state missing from the checkpoint; the transcript is read from its start", zap.String("path", f.path))
	}
	// Usage already counted would be counted again, but nothing is lost.
	f.offset, f.readPos, f.fp = 0, 0, transcript.Fingerprint{}
	f.tracker = session.New(f.sessionHint, t.cfg.Track)
	return nil
}

// readFile reads the complete lines appended to f into the round, flushing
// the round when it is full. final decides an incomplete last line now (the
// session went idle).
func (t *Tailer) readFile(ctx context.Context, f *file, r *round, final bool) error {
	if err := t.load(ctx, f); err != nil {
		return err
	}
	fh, err := os.Open(f.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			f.active = false
			return nil
		}
		return err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	f.size, f.mtime = size, st.ModTime()
	if err := t.checkIdentity(ctx, fh, f, size); err != nil {
		return err
	}
	if size == f.readPos && !(final && f.pendingTail) {
		return nil // nothing new: the session's state stays in the store
	}
	if err := t.loadTracker(ctx, f); err != nil {
		return err
	}
	if _, err := fh.Seek(f.readPos, io.SeekStart); err != nil {
		return err
	}
	rd := t.reader(fh, f.readPos)
	rd.Final = final
	start := f.readPos
	// A full round is flushed in the middle of the file: its commit must
	// not release this session's tracker, which the next lines need.
	r.reading = f
	defer func() { r.reading = nil }()
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		it, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch {
		case it.Skip != nil:
			t.obs.LineSkipped(it.Skip.Reason)
			t.log.Debug("Skipped a transcript line", zap.String("path", f.path), zap.Int64("offset", f.readPos), zap.Error(it.Skip))
		case it.Event != nil:
			if it.Repaired {
				t.obs.LineRepaired()
			}
			r.events++
			if f.catchUp {
				f.tracker.Apply(it.Event, nil)
			} else {
				f.tracker.Apply(it.Event, &r.facts)
			}
		}
		r.bytes += it.End - f.readPos
		f.readPos = it.End
		r.touch(f)
		if r.full(t.cfg) {
			if !t.flush(ctx, r) {
				return ctx.Err()
			}
			r.reset()
		}
	}
	f.pendingTail = rd.Offset() < size
	if f.readPos > start {
		f.lastChange = t.now()
		if err := f.fp.MarkTail(fh, f.readPos); err != nil {
			return err
		}
	}
	if size == f.readPos && f.catchUp {
		f.catchUp = false
	}
	return nil
}

// checkIdentity compares the start of the file with its fingerprint. A
// file that is shorter than what was read was truncated, one whose start
// changed was replaced: both are read again from the start, and the
// tracker is told, so that nothing already counted is counted again.
func (t *Tailer) checkIdentity(ctx context.Context, fh *os.File, f *file, size int64) error {
	truncated := size < f.readPos
	same, err := f.fp.Check(fh, size, f.readPos)
	if err != nil || same {
		return err
	}
	why := "replaced"
	if truncated {
		why = "truncated"
	}
	t.log.Info("Transcript was "+why+"; reading it again from the start", zap.String("path", f.path))
	// The session's state knows what was counted: load it before the
	// offsets it belongs to are let go.
	if err := t.loadTracker(ctx, f); err != nil {
		return err
	}
	f.offset, f.readPos = 0, 0
	f.pendingTail = false
	f.tracker.BeginReplay()
	return nil
}

// sweepIdle ends the sessions whose transcript has not grown for
// IdleTimeout: an incomplete last line is decided (a killed CLI may leave
// half a line), and open spans are closed at the last event.
func (t *Tailer) sweepIdle(ctx context.Context) {
	now := t.now()
	r := newRound()
	due := func(f *file) bool {
		return (f.needsIdle || f.pendingTail) && now.Sub(f.lastChange) >= t.cfg.IdleTimeout
	}
	for _, f := range t.sortedFiles(due) {
		if f.pendingTail {
			if err := t.readFile(ctx, f, r, true); err != nil {
				if ctx.Err() != nil {
					return
				}
				t.log.Warn("Could not read transcript", zap.String("path", f.path), zap.Error(err))
				continue
			}
		}
		if err := t.loadTracker(ctx, f); err != nil {
			t.log.Warn("Could not load session state", zap.String("path", f.path), zap.Error(err))
			continue
		}
		f.tracker.Idle(&r.facts)
		r.idle = append(r.idle, f.path)
		r.touch(f)
		f.active = false // evicted after the flush
	}
	t.flush(ctx, r)
}

// round is what is read between two commits.
type round struct {
	facts   session.Facts
	files   map[*file]bool
	idle    []string
	events  int
	bytes   int64
	done    map[string]bool
	reading *file // the file being read when the round filled up
	// recorded: what the round covers is in storage (roundKey), so that
	// it is delivered again as it is after a crash.
	recorded bool
}

func newRound() *round { return &round{files: map[*file]bool{}, done: map[string]bool{}} }

func (r *round) touch(f *file) { r.files[f] = true }

func (r *round) full(cfg Config) bool {
	return r.events >= cfg.MaxRoundEvents || r.bytes >= cfg.MaxRoundBytes
}

func (r *round) reset() {
	r.facts.Reset()
	clear(r.files)
	r.idle = nil
	r.events, r.bytes = 0, 0
	clear(r.done)
	r.recorded = false
}

// flush delivers the round and commits its checkpoints. It returns false
// when ctx ended first: nothing is committed, and the round is read again
// after a restart.
func (t *Tailer) flush(ctx context.Context, r *round) bool {
	if len(r.files) == 0 {
		return true
	}
	if r.facts.Len() > 0 {
		if !r.recorded {
			if ctx.Err() != nil {
				return false // stopping: nothing of it was sent
			}
			r.facts.ReadStart, r.facts.ReadEnd = t.cfg.Clock.Next(t.now())
			if err := t.record(ctx, r); err != nil {
				// Delivered anyway: a crash before its commit would read it
				// again as a new round, with a new read window.
				t.log.Warn("Could not record the round before delivering it; after a crash it could be sent again with other timestamps", zap.Error(err))
			}
		}
		if !t.deliver(ctx, r) {
			return false
		}
	}
	t.commit(ctx, r)
	return true
}

// deliver offers the round to each signal not done yet, retrying refused
// ones with backoff until ctx ends. A delivery under way is not cut short
// by ctx: it runs on the tailer's delivery context, which Stop ends only
// after DrainTimeout.
func (t *Tailer) deliver(ctx context.Context, r *round) bool {
	dctx := t.deliverCtx
	if dctx == nil {
		dctx = ctx
	}
	remaining := 0
	for _, s := range t.signals {
		if !r.done[s.Name] {
			remaining++
		}
	}
	for _, s := range t.signals {
		if r.done[s.Name] {
			continue
		}
		backoff := t.cfg.RetryInitial
		for {
			err := s.Consume(dctx, &r.facts)
			if err == nil {
				break
			}
			if dctx.Err() != nil {
				return false
			}
			if consumererror.IsPermanent(err) {
				t.obs.Dropped(s.Name)
				t.log.Error("The pipeline rejected a batch permanently; it is dropped", zap.String("signal", s.Name), zap.Error(err))
				break
			}
			t.obs.Retry(s.Name)
			t.log.Debug("The pipeline refused a batch; offering it again", zap.String("signal", s.Name), zap.Duration("backoff", backoff), zap.Error(err))
			select {
			case <-ctx.Done():
				return false
			case <-time.After(jitter(backoff)):
			}
			backoff = min(2*backoff, t.cfg.RetryMax)
		}
		r.done[s.Name] = true
		remaining--
		if remaining > 0 {
			if err := t.record(dctx, r); err != nil {
				t.log.Warn("Could not record delivery progress; after a crash, signals already delivered for this round could be sent again", zap.Error(err))
			}
		}
	}
	return true
}

// jitter spreads retries of many collectors refused at once by a shared
// gateway: d scaled by a factor in [0.75, 1.25).
func jitter(d time.Duration) time.Duration {
	return d*3/4 + time.Duration(rand.Int64N(int64(d)/2+1))
}

// record writes what the round covers and which signals accepted it.
func (t *Tailer) record(ctx context.Context, r *round) error {
	p := pendingRound{
		Files: map[string]int64{}, Idle: r.idle, Done: []string{},
		ReadStart: r.facts.ReadStart.UnixNano(), ReadEnd: r.facts.ReadEnd.UnixNano(),
	}
	for f := range r.files {
		p.Files[f.path] = f.readPos
	}
	for s := range r.done {
		p.Done = append(p.Done, s)
	}
	slices.Sort(p.Done)
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := t.store.Set(context.WithoutCancel(ctx), roundKey, b); err != nil {
		return err
	}
	r.recorded = true
	return nil
}

func (t *Tailer) commit(ctx context.Context, r *round) {
	ops := make([]*storage.Operation, 0, len(r.files)+1)
	for f := range r.files {
		cp := checkpoint{Version: checkpointVersion, FPLen: f.fp.Len, FPHash: f.fp.Hash[:], Offset: f.readPos}
		if f.fp.TailLen > 0 && f.fp.TailAt == f.readPos {
			cp.TailLen, cp.TailHash = f.fp.TailLen, f.fp.Tail[:]
		}
		if f.tracker != nil {
			s, err := f.tracker.MarshalState()
			if err != nil {
				t.log.Error("Could not save session state", zap.String("path", f.path), zap.Error(err))
				continue
			}
			ops = append(ops, storage.SetOperation(sessionPrefix+f.path, s))
			f.needsIdle = f.tracker.Open()
			cp.Open = f.needsIdle
			// Live sessions are watched, so that their next lines are read
			// at once; finished ones cost no watch.
			if t.watch != nil {
				if f.needsIdle {
					t.watch.add(filepath.Dir(f.path))
				} else {
					t.watch.remove(filepath.Dir(f.path))
				}
			}
			st := f.tracker.Stats()
			t.obs.DuplicateRecords(st.DuplicateRecords - f.stats.DuplicateRecords)
			t.obs.AccountingExcess(st.Excess - f.stats.Excess)
			f.stats = st
		}
		b, err := json.Marshal(cp)
		if err != nil {
			continue
		}
		ops = append(ops, storage.SetOperation(checkpointPrefix+f.path, b))
		f.offset = f.readPos
	}
	ops = append(ops, storage.DeleteOperation(roundKey))
	t.obs.Read(r.events, r.bytes)
	// The context may be ending: the commit must still land, or the round
	// would be delivered twice.
	if err := t.store.Batch(context.WithoutCancel(ctx), ops...); err != nil {
		t.log.Error("Could not save checkpoints; after a restart this round would be read again", zap.Error(err))
		return
	}
	// A closed session's state is in storage now: release it at once, so
	// that reading a backlog of finished sessions keeps only the current
	// round's in memory.
	for f := range r.files {
		if f.tracker != nil && !f.needsIdle && f != r.reading {
			f.tracker = nil
			f.stats = session.Stats{}
		}
	}
}

// recover delivers the round that was under way when the collector
// stopped, if any: its files are read again from their committed
// checkpoints up to the offsets the round had reached, and only the signals
// not yet accepted are delivered.
func (t *Tailer) recover(ctx context.Context) error {
	var p pendingRound
	found, err := storageclient.LoadJSON(ctx, t.store, roundKey, &p)
	if err != nil || !found {
		return err
	}
	r := newRound()
	for _, s := range p.Done {
		r.done[s] = true
	}
	// The round is delivered again as it was: same files and offsets,
	// same read window.
	r.recorded = true
	if p.ReadEnd != 0 {
		r.facts.ReadStart, r.facts.ReadEnd = time.Unix(0, p.ReadStart), time.Unix(0, p.ReadEnd)
		t.cfg.Clock.Advance(r.facts.ReadEnd)
	}
	paths := make([]string, 0, len(p.Files))
	for path := range p.Files {
		paths = append(paths, path)
	}
	slices.Sort(paths)
	for _, path := range paths {
		f := t.files[path]
		if f == nil {
			f = t.track(path)
			f.catchUp = false
		}
		if err := t.loadTracker(ctx, f); err != nil {
			return err
		}
		r.touch(f)
		if err := t.readRange(ctx, f, p.Files[path], r); err != nil {
			t.log.Warn("Could not read a transcript of the recovered round again", zap.String("path", path), zap.Error(err))
		}
	}
	for _, path := range p.Idle {
		f := t.files[path]
		if f == nil {
			f = t.track(path)
			f.catchUp = false
		}
		if err := t.loadTracker(ctx, f); err == nil {
			f.tracker.Idle(&r.facts)
			r.idle = append(r.idle, path)
			r.touch(f)
		}
	}
	t.log.Info("Delivering the round that was under way when the collector stopped", zap.Int("files", len(p.Files)), zap.Strings("already_delivered", p.Done))
	if !t.flush(ctx, r) {
		return ctx.Err()
	}
	return nil
}

// readRange reads f from its committed offset up to end, as the recovered
// round did.
func (t *Tailer) readRange(ctx context.Context, f *file, end int64, r *round) error {
	fh, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	if err := t.checkIdentity(ctx, fh, f, st.Size()); err != nil || f.readPos != f.offset || end < f.readPos || st.Size() < end {
		return errors.Join(err, errors.New("the transcript changed since the round was read"))
	}
	if _, err := fh.Seek(f.readPos, io.SeekStart); err != nil {
		return err
	}
	rd := t.reader(io.LimitReader(fh, end-f.readPos), f.readPos)
	rd.Final = true
	for ctx.Err() == nil {
		it, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if it.Event != nil {
			f.tracker.Apply(it.Event, &r.facts)
		}
		f.readPos = it.End
		r.touch(f)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.fp.MarkTail(fh, f.readPos)
}
