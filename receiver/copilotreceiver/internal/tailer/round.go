package tailer

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// round is what is read between two commits: the facts of the lines read,
// the files they came from, the sessions found idle, and which signals
// have accepted the facts.
type round struct {
	facts  session.Facts
	files  map[*file]bool
	idle   []string
	events int
	bytes  int64
	done   map[string]bool
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

// pending is what is recorded of the round before its delivery, and after
// each signal that accepted it.
func (r *round) pending() pendingRound {
	p := pendingRound{
		Files: map[string]int64{}, Idle: r.idle, Done: []string{},
		ReadStart: r.facts.ReadStart.UnixNano(), ReadEnd: r.facts.ReadEnd.UnixNano(),
	}
	for f := range r.files {
		p.Files[f.path] = f.cur.Offset()
	}
	for s := range r.done {
		p.Done = append(p.Done, s)
	}
	slices.Sort(p.Done)
	return p
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
		if !t.delivery.deliver(ctx, &r.facts, r.done, func(dctx context.Context) error { return t.record(dctx, r) }) {
			return false
		}
	}
	t.commit(ctx, r)
	t.backlog.committed(r)
	t.progress()
	return true
}

// record writes what the round covers and which signals accepted it.
func (t *Tailer) record(ctx context.Context, r *round) error {
	if err := t.store.record(context.WithoutCancel(ctx), r.pending()); err != nil {
		return err
	}
	r.recorded = true
	return nil
}

// commit stores the checkpoints of a delivered round, publishes what its
// files' sessions are now, and releases the trackers of closed sessions.
func (t *Tailer) commit(ctx context.Context, r *round) {
	files := make([]saved, 0, len(r.files))
	for f := range r.files {
		s := saved{path: f.path, cp: f.cur.Checkpoint()}
		if tr := f.tracker(); tr != nil {
			state, err := tr.MarshalState()
			if err != nil {
				t.log.Error("Could not save session state", zap.String("path", f.path), zap.Error(err))
				continue
			}
			s.state = state
			f.needsIdle = s.cp.Open
			if f == t.reading {
				t.readCommitted = true // watched when the read ends
			} else {
				t.watchRead(f)
			}
			st := tr.Stats()
			t.obs.DuplicateRecords(st.DuplicateRecords - f.stats.DuplicateRecords)
			t.obs.AccountingExcess(st.Excess - f.stats.Excess)
			f.stats = st
		} else {
			s.cp.Open = false
		}
		files = append(files, s)
		f.committed, f.stored = s.cp.Offset, true
	}
	t.obs.Read(r.events, r.bytes)
	// The context may be ending: the commit must still land, or the round
	// would be delivered twice.
	err := t.store.commit(context.WithoutCancel(ctx), files)
	for f := range r.files {
		// A file whose checkpoint is not stored is not parked: its cursor
		// is all that knows how far it was read.
		f.unsaved = err != nil
	}
	if err != nil {
		t.log.Error("Could not save checkpoints; after a restart this round would be read again", zap.Error(err))
		return
	}
	for f := range r.files {
		if f.tracker() == nil {
			continue
		}
		if t.backlog.reading && !f.needsIdle {
			// A session found ended as the backlog is read (the first
			// step: sessions written before the tailer started) is not
			// published: of thousands of them the registry would keep
			// the last ones read, in path order, no likelier to be asked
			// for than the rest, at the cost of a snapshot each. The
			// hook endpoint and the usage query read one on demand, from
			// this commit on (Sessions).
			t.sessions.forget(f.path)
		} else {
			t.sessions.publish(f.cur.Snapshot())
		}
		// A closed session's state is in storage now: release it at once,
		// so that reading a backlog of finished sessions keeps only the
		// current round's in memory.
		if !f.needsIdle {
			f.release()
		}
	}
	t.parkCommitted(r)
}

// recover delivers the round that was under way when the collector
// stopped, if any: its files are read again from their committed
// checkpoints up to the offsets the round had reached, and only the signals
// not yet accepted are delivered.
func (t *Tailer) recover(ctx context.Context) error {
	p, found, err := t.store.pending(ctx)
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
		if err := t.attach(ctx, f); err != nil {
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
		if err := t.attach(ctx, f); err == nil {
			f.tracker().Idle(&r.facts)
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
	if f.cur.Offset() != f.committed {
		return errors.New("the transcript changed since the round was read")
	}
	opts := t.readOptions(ctx, f)
	opts.Bounded, opts.Until = true, end
	rd, err := f.cur.Open(opts)
	if err != nil {
		return err
	}
	defer rd.Close()
	for ctx.Err() == nil {
		_, err := rd.Next(&r.facts)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		r.touch(f)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return rd.Done()
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
