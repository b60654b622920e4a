package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/pipeline"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/tailer"
)

// Values of session_state::store besides a path.
const (
	// StoreAuto reads, for each include glob whose fixed part ends in a
	// session-state directory, the session-store.db beside that directory
	// (the CLI's $COPILOT_HOME/session-store.db).
	StoreAuto = "auto"
	// StoreNone turns the store off, as does "".
	StoreNone = "none"
)

// storeFileName is the CLI's session store in COPILOT_HOME.
const storeFileName = "session-store.db"

// validateStore checks session_state::store.
func (ss *SessionStateConfig) validateStore() error {
	switch s := ss.Store; {
	case s == StoreAuto || s == StoreNone || s == "":
		return nil
	case !filepath.IsAbs(s):
		return fmt.Errorf("session_state::store: %q is not an absolute path, %q or %q (%q turns the store off too); %s", s, StoreAuto, StoreNone, "", absoluteHint(s))
	}
	return nil
}

// storePaths are the session stores session_state::store names: none, the
// path given, or for "auto" the store beside each include glob's
// session-state directory.
func (ss *SessionStateConfig) storePaths() []string {
	switch ss.Store {
	case "", StoreNone:
		return nil
	case StoreAuto:
		var out []string
		for _, p := range ss.Include {
			root := tailer.GlobRoot(p)
			if filepath.Base(root) != "session-state" {
				continue
			}
			if s := filepath.Join(filepath.Dir(root), storeFileName); !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	return []string{filepath.Clean(ss.Store)}
}

// storeSession is one session's usage as the store's
// assistant_usage_events rows add it up, and the times of its first and
// last row.
type storeSession struct {
	Calls, Input, Output, CacheRead, CacheWrite, Reasoning, NanoAIU int64
	First, Last                                                     time.Time
}

// storeReader is what the cross-check reads from one session store. An
// implementation is used by one goroutine at a time.
type storeReader interface {
	// Session sums the session's rows; ok is false when it has none.
	Session(ctx context.Context, sessionID string) (s storeSession, ok bool, err error)
	Close() error
}

// openStoreFunc opens a store read-only; one without the
// assistant_usage_events table (a CLI before 1.0.80) is errNoUsageTable.
type openStoreFunc func(ctx context.Context, path string) (storeReader, error)

// Fields the cross-check compares, the values of the field attribute.
const (
	fieldCalls      = "calls"
	fieldInput      = "input_tokens"
	fieldOutput     = "output_tokens"
	fieldCacheRead  = "cache_read_tokens"
	fieldCacheWrite = "cache_write_tokens"
	fieldReasoning  = "reasoning_tokens"
	fieldNanoAIU    = "nano_aiu"
)

// fieldDiff is one field in which the store and the transcript disagree.
type fieldDiff struct {
	Field             string
	Transcript, Store int64
}

// compareUsage lists the fields in which the transcript's cumulative
// totals at a shutdown and the store's sums for the session differ, in a
// fixed order.
func compareUsage(t session.UsageSummary, s storeSession) []fieldDiff {
	pairs := []fieldDiff{
		{fieldCalls, t.Calls(), s.Calls},
		{fieldInput, t.TokenDetails.Input, s.Input},
		{fieldOutput, t.TokenDetails.Output, s.Output},
		{fieldCacheRead, t.TokenDetails.CacheRead, s.CacheRead},
		{fieldCacheWrite, t.TokenDetails.CacheWrite, s.CacheWrite},
		{fieldReasoning, t.TokenDetails.Reasoning, s.Reasoning},
		{fieldNanoAIU, t.TotalNanoAIU, s.NanoAIU},
	}
	var out []fieldDiff
	for _, p := range pairs {
		if p.Transcript != p.Store {
			out = append(out, p)
		}
	}
	return out
}

// maxCheckedSessions bounds what the cross-check remembers of sessions.
const maxCheckedSessions = 10000

// storeCheck compares, at every shutdown the tailer reads, the session's
// cumulative totals in the transcript with the sums of its rows in the
// CLI's session store, and counts each field that differs. The transcript
// stays the receiver's accounting: the store is never counted.
type storeCheck struct {
	paths []string
	open  openStoreFunc
	tel   *metadata.TelemetryBuilder
	log   *zap.Logger

	mu sync.Mutex
	// problem is the last failure logged per store, so that a missing,
	// locked or damaged store is logged once, not at every shutdown.
	problem map[string]string
	// sessions is what is known of sessions checked: the end of their
	// first leg, and whether a mismatch was logged.
	sessions map[string]*checkedSession
	// compared counts the shutdowns compared with a store (under mu).
	compared int64
}

type checkedSession struct {
	firstLegEnd time.Time
	warned      bool
}

func newStoreCheck(paths []string, open openStoreFunc, tel *metadata.TelemetryBuilder, log *zap.Logger) *storeCheck {
	return &storeCheck{
		paths: paths, open: open, tel: tel, log: log,
		problem:  map[string]string{},
		sessions: map[string]*checkedSession{},
	}
}

// signal is the pipeline signal that runs the cross-check on what the
// tailer read. It never fails a batch.
func (c *storeCheck) signal() pipeline.Signal {
	return pipeline.Signal{Name: "store_check", Consume: func(ctx context.Context, f *session.Facts) error {
		if len(f.Summaries) == 0 {
			return nil
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		var r storeRound
		defer r.close()
		for i := range f.Summaries {
			c.check(ctx, &f.Summaries[i], &r)
		}
		return nil
	}}
}

// storeRound is the stores one batch's shutdowns are compared with, each
// opened once for the batch rather than once per shutdown: opening a
// store (its schema looked at) costs a few milliseconds, and a backlog's
// batch holds thousands of shutdowns. Each query is still a statement of
// its own, so no read transaction spans the batch.
type storeRound struct {
	readers map[string]storeReader
	failed  map[string]bool // could not be opened in this batch: not tried again
}

func (r *storeRound) close() {
	for _, rd := range r.readers {
		_ = rd.Close()
	}
}

// check compares one shutdown's totals with the store. It skips, without
// counting, what the store cannot answer: a leg that went idle (no
// shutdown), a store without the usage table or without rows of the
// session (a CLI before 1.0.80 ran it), a shutdown followed by a later leg
// whose rows the store already has (a backfill; that leg's shutdown is
// checked), and a session the store joined after its first leg (started by
// an older CLI and resumed by a newer one).
func (c *storeCheck) check(ctx context.Context, sf *session.SummaryFact, r *storeRound) {
	if sf.ShutdownType == session.ShutdownIdle || sf.Ctx == nil || sf.Ctx.SessionID == "" {
		return
	}
	id := sf.Ctx.SessionID
	cs := c.sessions[id]
	if cs == nil {
		if len(c.sessions) >= maxCheckedSessions {
			for k := range c.sessions {
				delete(c.sessions, k)
				break
			}
		}
		cs = &checkedSession{}
		c.sessions[id] = cs
	}
	if sf.Leg == 0 && cs.firstLegEnd.IsZero() {
		cs.firstLegEnd = sf.Time
	}
	for _, path := range c.paths {
		s, ok := c.read(ctx, r, path, id)
		if !ok {
			continue
		}
		if s.Last.After(sf.Time) {
			c.log.Debug("Session store cross-check: a later leg's calls are in the store; its shutdown is compared instead",
				zap.String("session.id", id), zap.Int("leg", sf.Leg))
			return
		}
		if sf.Leg > 0 && !cs.firstLegEnd.IsZero() && s.First.After(cs.firstLegEnd) {
			c.log.Debug("Session store cross-check: the store has no calls of the session's first leg (a CLI without the usage table ran it); not compared",
				zap.String("session.id", id), zap.Int("leg", sf.Leg))
			return
		}
		c.compared++
		c.tel.ReceiverCopilotSourceChecked.Add(ctx, 1)
		diffs := compareUsage(sf.Usage, s)
		for _, d := range diffs {
			c.tel.ReceiverCopilotSourceMismatch.Add(ctx, 1, metric.WithAttributes(attribute.String(semconv.AttrField, d.Field)))
		}
		if len(diffs) > 0 && !cs.warned {
			cs.warned = true
			d := diffs[0]
			c.log.Warn("The CLI's session store and the transcript disagree on a session's usage; the transcript's figures are exported",
				zap.String("session.id", id), zap.Int("leg", sf.Leg), zap.String("field", d.Field),
				zap.Int64("transcript", d.Transcript), zap.Int64("store", d.Store), zap.Int("fields", len(diffs)), zap.String("store.path", path))
		}
		return
	}
}

// read sums the session's rows in one store, opened once per batch
// (storeRound); ok is false when the store cannot be read or does not
// have the session. A failure to open or read is logged once per store
// until it reads again. A store that cannot be opened is not tried again
// in the same batch; one whose query failed is opened again for the next
// shutdown.
func (c *storeCheck) read(ctx context.Context, round *storeRound, path, sessionID string) (storeSession, bool) {
	fail := func(what string, err error) (storeSession, bool) {
		msg := what + ": " + err.Error()
		if c.problem[path] == msg {
			return storeSession{}, false
		}
		c.problem[path] = msg
		switch {
		case errors.Is(err, os.ErrNotExist), errors.Is(err, errNoUsageTable):
			// A CLI before 1.0.40 keeps no store, one before 1.0.80 no
			// usage in it: nothing is wrong.
			c.log.Info("No usage in the CLI's session store to cross-check the transcripts with, until a CLI that writes it runs",
				zap.String("store.path", path), zap.Error(err))
		default:
			c.log.Warn("Cannot read the CLI's session store; the transcripts are not cross-checked with it until it can be read",
				zap.String("store.path", path), zap.String("step", what), zap.Error(err))
		}
		return storeSession{}, false
	}
	if round.failed[path] {
		return storeSession{}, false
	}
	r := round.readers[path]
	if r == nil {
		opened, err := c.openStore(ctx, path)
		if err != nil {
			if round.failed == nil {
				round.failed = map[string]bool{}
			}
			round.failed[path] = true
			return fail("open", err)
		}
		if round.readers == nil {
			round.readers = map[string]storeReader{}
		}
		r, round.readers[path] = opened, opened
	}
	s, ok, err := r.Session(ctx, sessionID)
	if err != nil {
		_ = r.Close()
		delete(round.readers, path)
		return fail("query", err)
	}
	if c.problem[path] != "" {
		c.log.Info("The CLI's session store can be read again", zap.String("store.path", path))
		delete(c.problem, path)
	}
	return s, ok
}

// openStore opens the store at path, which must exist: a store the CLI
// has not created is not created by opening it.
func (c *storeCheck) openStore(ctx context.Context, path string) (storeReader, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	return c.open(ctx, path)
}

// tailerSignals are the signals the tailer delivers to: the store
// cross-check when session_state::store names a store, then the
// pipelines'. The check goes first so that a shutdown has been compared by
// the time its summary is exported; it never fails, so it is not repeated
// when a pipeline refuses the batch.
func (r *copilotReceiver) tailerSignals(tel *metadata.TelemetryBuilder) []pipeline.Signal {
	signals := r.signals(r.metricsB)
	if paths := r.cfg.SessionState.storePaths(); len(paths) > 0 {
		r.check = newStoreCheck(paths, r.openStore, tel, r.set.Logger)
		signals = append([]pipeline.Signal{r.check.signal()}, signals...)
	}
	return signals
}
