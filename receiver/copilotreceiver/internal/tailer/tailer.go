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
//
// Its parts, as in contrib's fileconsumer: the finder (finder.go) matches
// the globs and the watcher (watcher.go) wakes the tailer when files
// change; each file (file.go) is read through a session.Cursor; what is
// read between two commits is a round (round.go: recorded, delivered,
// committed, recovered after a crash); the deliverer (delivery.go) offers
// a round to the pipeline with backoff and jitter;
// checkpoints (store.go) keep what was committed; and Sessions
// (sessions.go) tells the hook endpoint and the usage query what was read.
package tailer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
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
	// Decode is how transcripts are decoded; the tailer sets UsageIDsOnly.
	Decode transcript.Options
	Track  session.Options
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Clock gives each round its read window (session.Facts.ReadStart and
	// ReadEnd); nil means a clock of the tailer's own.
	Clock Clock
	// DrainTimeout is how long Stop waits for a delivery under way to be
	// accepted so that it can be committed; 0 means 10s.
	DrainTimeout time.Duration
	// RegistrySize is how many sessions' context and usage the tailer
	// keeps published for Sessions; 0 means 1024.
	RegistrySize int
	// ProgressInterval is how often, at most, a line tells how far the
	// sessions already written at start have been read; 0 means never.
	ProgressInterval time.Duration
	// IncludeNote says where the include globs come from, for the start
	// line ("the default under COPILOT_HOME=/home/dev/.copilot"); may be
	// empty.
	IncludeNote string
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
	// SnapshotEvicted is called when a session's snapshot is forgotten
	// over RegistrySize; it may be called from other goroutines.
	SnapshotEvicted()
}

// Tailer follows transcripts. Start it once; Stop it once.
type Tailer struct {
	cfg      Config
	store    checkpoints
	delivery *deliverer
	sessions *Sessions
	obs      Observer
	log      *zap.Logger
	now      func() time.Time

	files map[string]*file
	// hot are the files a step looks at: all but those parked with
	// nothing left to do (no spans to end when idle), so that finished
	// sessions cost a step nothing. Only the rescan goes over all files.
	hot      map[*file]bool
	unheated int   // files that left hot since evict last made the map again
	reading  *file // the file readFile is reading, if any
	// readCommitted: a round was committed while readFile read the file
	// it last read, whose watch and parking were left to the read's end.
	readCommitted bool
	stat          func(string) (os.FileInfo, error) // os.Stat; counted by tests
	find          *finder
	firstScan     bool
	rescans       int                // rescans done, to make every fullRescanEvery-th a full one
	listings      int                // rescans that listed the session roots
	listedAt      uint64             // watch.rootEvents() when they were last listed
	rd            *transcript.Reader // reused from file to file
	watch         *watcher
	backlog       *backlog

	cancel           context.CancelFunc // stops reading
	done             chan struct{}
	mu               sync.Mutex // guards started/stopped
	started, stopped bool
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
	if cfg.RegistrySize <= 0 {
		cfg.RegistrySize = 1024
	}
	// Every event read goes to a session's tracker, which reads an event's
	// id only when it carries usage.
	cfg.Decode.UsageIDsOnly = true
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	t := &Tailer{
		cfg: cfg, store: checkpoints{store}, obs: obs, log: logger, now: now,
		delivery: newDeliverer(signals, cfg.RetryInitial, cfg.RetryMax, obs, logger),
		files:    map[string]*file{}, hot: map[*file]bool{}, stat: os.Stat, find: newFinder(cfg.Include, cfg.Exclude, logger), firstScan: true,
		backlog: newBacklog(now()),
	}
	t.sessions = newSessions(session.NewRegistry(cfg.RegistrySize, obs.SnapshotEvicted), t.store, session.CursorOptions{MaxLineSize: cfg.MaxLineSize})
	return t
}

// Sessions tells others what the tailer read of the sessions it follows.
func (t *Tailer) Sessions() *Sessions { return t.sessions }

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
	t.done = make(chan struct{})
	w, err := newWatcher(t.find.roots, t.find.matches)
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
	defer t.delivery.drain(t.cfg.DrainTimeout)()
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
	t.backlog = newBacklog(t.now())
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
	if ctx.Err() == nil {
		t.caughtUp()
	}
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
//
// An active file is looked at (one stat) when a notification or the
// rescan says it changed, and at every poll only while no notification
// can be expected for it: no watcher, or its directory is not watched. A
// file whose change was not notified (a lost notification, a directory no
// longer watched) is found by the next rescan, which compares every
// file's size and time.
func (t *Tailer) step(ctx context.Context, full bool) {
	if t.watch != nil {
		paths, rescan := t.watch.drain()
		full = full || rescan
		for _, p := range paths {
			f := t.files[p]
			if f == nil {
				if !t.find.matches(p) || !t.find.admit(p, false) {
					continue
				}
				f = t.track(p)
			}
			t.activate(f)
			f.due = true
		}
	}
	if full {
		t.rescan(ctx)
	}
	r := newRound()
	now := t.now().UnixNano()
	quiet := int64(t.quietAfter())
	var read []*file
	for _, f := range t.sortedFiles(func(f *file) bool { return f.active }) {
		if ctx.Err() != nil {
			return
		}
		due, scanned := f.due, f.scanned
		f.due, f.scanned = false, false
		// A file the rescan of this step saw differ is read without a
		// stat of its own: the rescan's was taken moments ago (on a
		// backlog, the first step would stat every file twice).
		if !scanned && ((!due && t.notified(f)) || !f.changed(t.stat)) {
			// Quiet for a while: stop polling it. A notification or the
			// next rescan wakes it up.
			if now-f.lastChange >= quiet {
				f.active = false
			}
			continue
		}
		if err := t.readFile(ctx, f, r, false); err != nil {
			if ctx.Err() != nil {
				return
			}
			t.log.Warn("Could not read transcript; it is tried again at the next poll", zap.String("path", f.path), zap.Error(err))
			f.due = true // also when its directory is watched
			continue
		}
		read = append(read, f)
		if !r.files[f] && t.readCommitted {
			// All it read was committed with a round that filled up at
			// its last line, while it was being read: what that commit
			// left to the end of the read is done now.
			t.watchRead(f)
			t.parkSettled(f, now, quiet)
		}
	}
	if !t.flush(ctx, r) {
		return
	}
	t.settle(read, now, quiet)
	t.sweepIdle(ctx)
	t.evict()
	t.obs.FilesTracked(len(t.files))
}

// settle stops polling the files just read that were already quiet when
// they were read: finished sessions whose transcript was last written
// more than quiet ago (a backlog), which polls would otherwise stat until
// quiet had passed since the read. They are woken up as any quiet file is,
// by a notification or the rescan. Files of sessions with spans to end
// when idle, an incomplete last line, a look asked for (due), or a commit
// that failed stay polled.
func (t *Tailer) settle(read []*file, now, quiet int64) {
	for _, f := range read {
		if t.settled(f, now, quiet) {
			f.active = false
		}
	}
}

// watchRead watches the directory of a session with spans to end when it
// goes idle, so that its next lines are read at once, and lets the watch
// of a finished session go. It is done when the read of f has ended: a
// transcript of a backlog read across two rounds is not watched by the
// first round's commit only to be let go by the second's.
func (t *Tailer) watchRead(f *file) {
	if t.watch == nil {
		return
	}
	if !f.needsIdle {
		t.watch.remove(filepath.Dir(f.path))
		return
	}
	// Lines written before the watch was added were not notified: look
	// once more.
	if t.watch.add(filepath.Dir(f.path)) {
		f.due = true
	}
}

// settled reports whether f, just read, may stop being polled (settle).
func (t *Tailer) settled(f *file, now, quiet int64) bool {
	if !f.active || f.due || f.needsIdle || f.unsaved || f.catchUp || f.cur == nil || f.cur.PendingTail() ||
		f.cur.Offset() != f.cur.Size() || f == t.reading {
		return false
	}
	return now-f.cur.ModTime().UnixNano() >= quiet
}

// parkCommitted lets the files of a committed round go as soon as their
// round is committed, rather than at the end of the step: a step that
// reads a backlog of thousands of finished sessions then holds the cursors
// of one round's files, not of every file it read.
func (t *Tailer) parkCommitted(r *round) {
	now, quiet := t.now().UnixNano(), int64(t.quietAfter())
	for f := range r.files {
		t.parkSettled(f, now, quiet)
	}
}

// parkSettled parks f, read and committed, if it may stop being polled.
func (t *Tailer) parkSettled(f *file, now, quiet int64) {
	if !t.settled(f, now, quiet) {
		return
	}
	f.active = false
	if f.cur.Offset() == f.committed {
		f.release() // its state was stored with that commit
	}
	f.park()
	if f.cur == nil && !f.needsIdle {
		delete(t.hot, f)
		t.unheated++
	}
}

// notified reports whether a change of f is notified: its directory is
// watched.
func (t *Tailer) notified(f *file) bool {
	return t.watch != nil && t.watch.isWatched(filepath.Dir(f.path))
}

// reader returns the tailer's one reader, which cursors reset to read
// their file: its buffer is allocated once.
func (t *Tailer) reader() *transcript.Reader {
	if t.rd == nil {
		t.rd = transcript.NewReader(nil, 0, t.cfg.MaxLineSize, t.cfg.Decode)
	}
	return t.rd
}

// quietAfter is how long a file may go without growing before it is no
// longer polled.
func (t *Tailer) quietAfter() time.Duration {
	return max(5*t.cfg.PollInterval, 2*time.Second)
}

// evict releases the trackers of sessions that are closed (their last
// leg shut down) or no longer polled; their state is in storage since the
// round that last touched them, and is loaded again if the file grows.
// Files no longer polled are parked: they keep no cursor, and leave the
// hot files unless their session has spans to end when it goes idle.
func (t *Tailer) evict() {
	left := t.unheated
	t.unheated = 0
	for f := range t.hot {
		if f.tracker() != nil && (!f.active || !f.needsIdle) {
			f.release()
		}
		if !f.active {
			f.park()
			if f.cur == nil && !f.needsIdle {
				delete(t.hot, f)
				left++
			}
		}
	}
	if left > 256 && len(t.hot) < left {
		// A map does not shrink: after a backlog was read, the hot files'
		// map would keep room for every file.
		hot := make(map[*file]bool, len(t.hot))
		for f := range t.hot {
			hot[f] = true
		}
		t.hot = hot
	}
}

// sortedFiles returns the hot files keep selects, in path order, so that a
// round reads files in the same order every time.
func (t *Tailer) sortedFiles(keep func(*file) bool) []*file {
	var out []*file
	for f := range t.hot {
		if keep(f) {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b *file) int { return strings.Compare(a.path, b.path) })
	return out
}

// fullRescanEvery: one rescan in this many looks at every transcript, also
// the parked ones (with the default rescan_interval of 30s, every 5
// minutes); the others leave out parked transcripts that are watched or
// have not changed for staleAfter.
const (
	fullRescanEvery = 10
	staleAfter      = time.Hour
)

// rescan matches the globs again: new files are tracked, files that grew
// since they went idle become active, files that are gone are forgotten
// after IdleTimeout (a file replaced by rename may be missing for a moment).
func (t *Tailer) rescan(ctx context.Context) {
	// A parked transcript is not looked at when its directory is watched
	// (its notifications say when it changes or goes), nor when it has not
	// changed for staleAfter (a session resumed after that long is read
	// up to fullRescanEvery rescans late): only every fullRescanEvery-th
	// rescan looks at every file, so that a rescan of thousands of
	// finished sessions costs a directory listing, not a stat each.
	full := t.firstScan || t.rescans%fullRescanEvery == 0
	t.rescans++
	gen := t.rescans // what this rescan saw is stamped with it
	var leaveOut func(f *file) bool
	if !full {
		stale := t.now().Add(-staleAfter).UnixNano()
		leaveOut = func(f *file) bool {
			if f == nil || f.cur != nil || f.active || (f.modTime >= stale && !t.notified(f)) {
				return false
			}
			// Known and parked, left out: seen, nothing to look at.
			f.foundBy, f.goneSince = gen, 0
			return true
		}
	}
	type found struct {
		f    *file
		info fs.FileInfo
	}
	var first []found
	look := func(f *file, info fs.FileInfo) {
		if f.differs(info) {
			t.activate(f)
			f.due, f.scanned = true, true
		}
	}
	seen := func(p string, info fs.FileInfo, plain bool) {
		f := t.files[p]
		if f == nil {
			if !t.find.admit(p, plain) {
				return
			}
			f = t.track(p)
		}
		f.foundBy, f.goneSince = gen, 0
		if t.firstScan {
			first = append(first, found{f, info})
			return
		}
		look(f, info)
	}
	// The session roots need not be listed when their watches say that no
	// entry of theirs changed since they were last listed, and the globs
	// put sessions right in them (so that each new session is notified):
	// the known transcripts are looked at, those not left out with a stat.
	// Every full rescan lists them all the same.
	var listedAt uint64
	if t.watch != nil {
		listedAt = t.watch.rootEvents()
	}
	if !full && t.watch != nil && t.find.sessionsInRoots && t.watch.allRootsWatched() && listedAt == t.listedAt {
		for p, f := range t.files {
			if leaveOut(f) {
				continue
			}
			if info, err := t.stat(p); err == nil && info.Mode().IsRegular() {
				seen(p, info, false) // known: not admitted again
			}
		}
	} else {
		var skip func([]byte) bool
		if leaveOut != nil {
			skip = func(p []byte) bool { return leaveOut(t.files[string(p)]) }
		}
		t.find.scan(skip, seen)
		t.listings++
		t.listedAt = listedAt
	}
	if t.firstScan {
		// The checkpoints of the files found first are looked up many at a
		// time (loadAll), then each is counted in the backlog and looked
		// at as any scan does.
		fs := make([]*file, len(first))
		for i, x := range first {
			fs[i] = x.f
		}
		t.loadAll(ctx, fs)
		for _, x := range first {
			t.addBacklog(ctx, x.f, x.info.Size())
			look(x.f, x.info)
		}
	}
	if t.watch != nil {
		if t.firstScan {
			held := make(map[string]bool, len(first))
			for _, x := range first {
				held[filepath.Dir(x.f.path)] = true
			}
			t.watch.addPending(func(dir string) bool { return held[dir] })
		}
		t.watch.ensureBases()
	}
	now := t.now().UnixNano()
	for p, f := range t.files {
		if f.foundBy == gen {
			continue
		}
		if f.goneSince == 0 {
			f.goneSince = now
			continue
		}
		if now-f.goneSince >= int64(t.cfg.IdleTimeout) {
			if f.needsIdle {
				if err := t.attach(ctx, f); err == nil {
					r := newRound()
					f.tracker().Idle(&r.facts)
					r.idle = append(r.idle, f.path)
					r.touch(f)
					if !t.flush(ctx, r) {
						return
					}
				}
			}
			delete(t.files, p)
			delete(t.hot, f)
			t.sessions.forget(p)
			if err := t.store.forget(ctx, p); err != nil {
				t.log.Warn("Could not delete the checkpoint of a transcript that is gone", zap.String("path", p), zap.Error(err))
			}
		}
	}
	if t.firstScan {
		t.firstScan = false
		t.startLine()
	}
}

// addBacklog counts a file found at the first scan in what is to be read
// before the tailer has caught up: from its checkpoint to its size now.
func (t *Tailer) addBacklog(ctx context.Context, f *file, size int64) {
	if err := t.lookup(ctx, f); err != nil {
		return // read, and warned about, by the step
	}
	t.backlog.add(f, f.committed, size)
}

func (t *Tailer) track(path string) *file {
	f := &file{
		path:       path,
		active:     true,
		due:        true,
		lastChange: t.now().UnixNano(),
		catchUp:    t.firstScan && t.cfg.StartAtEnd,
	}
	t.files[path] = f
	t.hot[f] = true
	return f
}

// activate makes f checked at every poll, and watched.
func (t *Tailer) activate(f *file) {
	t.hot[f] = true
	if f.active {
		return
	}
	f.active = true
	f.lastChange = t.now().UnixNano()
}

func (t *Tailer) cursor(path string) *session.Cursor {
	return session.NewCursor(path, session.CursorOptions{MaxLineSize: t.cfg.MaxLineSize, Decode: t.cfg.Decode, Track: t.cfg.Track})
}

// load readies f to be read: its checkpoint looked up (lookup) and its
// cursor made. A file is given its cursor only here, when it is about to be
// read, or when a checkpoint is found for it: the thousands of transcripts
// of a backlog without checkpoints hold none until their turn comes.
func (t *Tailer) load(ctx context.Context, f *file) error {
	if err := t.lookup(ctx, f); err != nil {
		return err
	}
	t.giveCursor(f)
	return nil
}

// giveCursor makes f's cursor if it has none; a file with a cursor is hot.
func (t *Tailer) giveCursor(f *file) {
	if f.cur == nil {
		f.cur = t.cursor(f.path)
		t.hot[f] = true
	}
}

// lookup looks up a file's checkpoint once, and again after the file was
// parked: its cursor is made again from it.
func (t *Tailer) lookup(ctx context.Context, f *file) error {
	if f.loaded {
		return nil
	}
	cp, found, err := t.store.load(ctx, f.path)
	if err != nil {
		return err
	}
	t.place(f, cp, found)
	return nil
}

// place gives f the checkpoint lookup found for it (found false: none, and
// no cursor is made yet).
func (t *Tailer) place(f *file, cp session.Checkpoint, found bool) {
	f.loaded = true
	// A session's state is only ever stored with its transcript's
	// checkpoint (checkpoints.commit; forget deletes both): with no
	// checkpoint there is no state to look up.
	f.stored = found
	if !found {
		return
	}
	t.giveCursor(f)
	if f.cur.SetCheckpoint(cp) != nil {
		return
	}
	f.catchUp = false
	f.committed, f.needsIdle = cp.Offset, cp.Open
}

// loadAll looks up the checkpoints of the files not loaded yet, many in
// one storage batch: file_storage makes a write transaction of every Get,
// so that a backlog of thousands of files cost as many transactions. A
// file whose checkpoint cannot be read this way is left to load, which
// reports why.
func (t *Tailer) loadAll(ctx context.Context, fs []*file) {
	const chunk = 512
	var todo []*file
	for _, f := range fs {
		if !f.loaded {
			todo = append(todo, f)
		}
	}
	for len(todo) > 0 {
		n := min(chunk, len(todo))
		cps, found, err := t.store.loadMany(ctx, todo[:n])
		if err == nil {
			for i, f := range todo[:n] {
				if found[i] != nil {
					t.place(f, cps[i], *found[i])
				}
			}
		}
		todo = todo[n:]
	}
}

// attach brings the session's tracker into memory: from storage, or new
// for a transcript read from its start.
func (t *Tailer) attach(ctx context.Context, f *file) error {
	if f.tracker() != nil {
		return nil
	}
	if err := t.load(ctx, f); err != nil {
		return err
	}
	var state []byte
	if f.stored {
		var err error
		if state, err = t.store.state(ctx, f.path); err != nil {
			return fmt.Errorf("reading session state: %w", err)
		}
	}
	f.stats = session.Stats{}
	t.warnAttach(f, f.cur.Attach(state))
	return nil
}

// warnAttach logs why a transcript is read from its start again after its
// session state could not be attached.
func (t *Tailer) warnAttach(f *file, err error) {
	switch {
	case err == nil:
	case errors.Is(err, session.ErrNoState):
		t.log.Warn("Session state missing from the checkpoint; the transcript is read from its start", zap.String("path", f.path))
	default:
		t.log.Warn("Session state in the checkpoint is not readable; the transcript is read from its start", zap.String("path", f.path), zap.Error(err))
	}
}

// readOptions are the options of a read of f by the tailer: its reader,
// and f's session state from storage when its tracker is attached.
func (t *Tailer) readOptions(ctx context.Context, f *file) session.ReadOptions {
	return session.ReadOptions{
		Reader: t.reader(),
		State: func() ([]byte, error) {
			f.stats = session.Stats{}
			if !f.stored {
				return nil, nil
			}
			return t.store.state(ctx, f.path)
		},
		Warn: func(err error) { t.warnAttach(f, err) },
	}
}

// readFile reads the complete lines appended to f into the round, flushing
// the round when it is full. final decides an incomplete last line now (the
// session went idle).
func (t *Tailer) readFile(ctx context.Context, f *file, r *round, final bool) error {
	t.readCommitted = false
	if err := t.load(ctx, f); err != nil {
		return err
	}
	opts := t.readOptions(ctx, f)
	opts.Final = final
	rd, err := f.cur.Open(opts)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			f.active = false
			return nil
		}
		return err
	}
	defer rd.Close()
	if rd.Restart != "" {
		t.log.Info("Transcript was "+rd.Restart+"; reading it again from the start", zap.String("path", f.path))
	}
	if rd.Empty() {
		return nil // nothing new: the session's state stays in the store
	}
	start := f.cur.Offset()
	// A full round is flushed in the middle of the file: its commit does
	// not release this session's tracker (the cursor keeps it while it
	// reads), which the next lines need.
	t.reading = f
	defer func() { t.reading = nil }()
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		prev := f.cur.Offset()
		out := &r.facts
		if f.catchUp {
			out = nil
		}
		it, err := rd.Next(out)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch {
		case it.Skip != nil:
			t.obs.LineSkipped(it.Skip.Reason)
			t.log.Debug("Skipped a transcript line", zap.String("path", f.path), zap.Int64("offset", prev), zap.Error(it.Skip))
		case it.Event != nil:
			if it.Repaired {
				t.obs.LineRepaired()
			}
			r.events++
		}
		r.bytes += it.End - prev
		r.touch(f)
		if r.full(t.cfg) {
			if !t.flush(ctx, r) {
				return ctx.Err()
			}
			r.reset()
		}
	}
	if f.cur.Offset() > start {
		f.lastChange = t.now().UnixNano()
	}
	if err := rd.Done(); err != nil {
		return err
	}
	if f.cur.Size() == f.cur.Offset() && f.catchUp {
		f.catchUp = false
	}
	return nil
}

// sweepIdle ends the sessions whose transcript has not grown for
// IdleTimeout: an incomplete last line is decided (a killed CLI may leave
// half a line), and open spans are closed at the last event.
func (t *Tailer) sweepIdle(ctx context.Context) {
	now := t.now().UnixNano()
	r := newRound()
	due := func(f *file) bool {
		return (f.needsIdle || f.pendingTail()) && now-f.lastChange >= int64(t.cfg.IdleTimeout)
	}
	for _, f := range t.sortedFiles(due) {
		if f.pendingTail() {
			if err := t.readFile(ctx, f, r, true); err != nil {
				if ctx.Err() != nil {
					return
				}
				t.log.Warn("Could not read transcript", zap.String("path", f.path), zap.Error(err))
				continue
			}
		}
		if err := t.attach(ctx, f); err != nil {
			t.log.Warn("Could not load session state", zap.String("path", f.path), zap.Error(err))
			continue
		}
		f.tracker().Idle(&r.facts)
		r.idle = append(r.idle, f.path)
		r.touch(f)
		f.active = false // evicted after the flush
	}
	t.flush(ctx, r)
}
