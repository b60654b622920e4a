package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/pipeline"
)

// What only the CLI's session store has, per model call, as metrics: the
// time to the first output token and between output tokens (GenAI
// semantic conventions' gen_ai.server.time_to_first_token and
// gen_ai.server.time_per_output_token), and content filter hits
// (copilot.api.content_filter_hits), with the call's finish reason and
// reasoning effort. The rows of assistant_usage_events are read in rowid
// order after a watermark kept in session_state::storage, which moves only
// once the pipeline accepted a batch's metrics: after a restart, a row is
// neither exported again nor lost (a crash between the two sends the batch
// again). No usage figure comes from here; the transcripts stay the
// accounting.
//
// The two histograms are off by default: each is a bucketed series per
// model, finish reason, reasoning effort and initiator, and
// copilot.api.time_to_first_token already gives a per-call time to first
// token by default (for CLIs that write usage records). The content filter
// counter is on: a point only when a filter hit, which is rare and worth
// knowing.

// Semantic-convention bucket boundaries (explicit bucket advice of
// gen_ai.server.time_to_first_token and gen_ai.server.time_per_output_token),
// in seconds.
var (
	semconvTTFTBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	semconvTPOTBuckets = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5}
)

// storeCall is one row of assistant_usage_events, as the per-call metrics
// need it.
type storeCall struct {
	RowID                      int64
	SessionID                  string
	Model, UsageModel          string
	Initiator                  string
	ReasoningEffort            string
	FinishReason               string
	OutputTTFTMs               float64 // 0 when the store has none (before 1.0.92)
	InterTokenLatencyMs        float64 // 0 when none
	ContentFilter              bool
	CreatedAt                  time.Time
	HasOutputTTFT, HasInterTok bool
}

// callReader reads rows of one store. An implementation is used by one
// goroutine at a time.
type callReader interface {
	// Calls returns up to limit rows with a rowid above after, in rowid
	// order.
	Calls(ctx context.Context, after int64, limit int) ([]storeCall, error)
	// HighestRowID is the highest rowid the store's usage table has had.
	HighestRowID(ctx context.Context) (int64, error)
	Close() error
}

type openCallsFunc func(ctx context.Context, path string) (callReader, error)

// storeCallsBatch is how many rows one pipeline batch holds at most.
const storeCallsBatch = 1000

// storeWatermarkPrefix keys a store's watermark (the last rowid exported)
// in session_state::storage.
const storeWatermarkPrefix = "session_store_rowid:"

// storeCalls follows the rows of the session stores and exports their
// per-call metrics.
type storeCalls struct {
	paths  []string
	open   openCallsFunc
	client storage.Client // nil: the watermark is kept in memory only
	build  func([]storeCall) pmetric.Metrics
	// ready says what becomes of a row: exported, once its session's
	// transcript was read (so that its metrics carry the session's
	// resource, as its usage does); dropped, when the session's transcript
	// is one session_state::exclude leaves out; or waiting, with the rows
	// after it, for a later poll, for at most maxWait from when the row
	// first waited (then it goes with what is known of its session).
	ready    func(storeCall) rowFate
	maxWait  time.Duration
	waiting  map[string]waitingRow
	consume  func(context.Context, pmetric.Metrics) error
	interval time.Duration
	atEnd    bool // start at the rows there now, for a store without a watermark
	log      *zap.Logger

	watermark map[string]int64
	problem   map[string]string
	// seen is the size and modification time of each store's files when
	// it was last read to its end: a poll that finds them unchanged does
	// not open the store.
	seen map[string]string

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
	// rounds counts the polls of every store, for tests.
	rounds atomic.Int64
}

// start loads the watermarks and follows the stores until stop.
func (s *storeCalls) start(ctx context.Context) error {
	s.watermark, s.problem, s.seen = map[string]int64{}, map[string]string{}, map[string]string{}
	s.waiting = map[string]waitingRow{}
	for _, p := range s.paths {
		if s.client == nil {
			continue
		}
		b, err := s.client.Get(ctx, storeWatermarkPrefix+p)
		if err != nil {
			return err
		}
		if b == nil {
			continue
		}
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return errors.New("session store watermark of " + p + " in storage is not a number: " + string(b))
		}
		s.watermark[p] = n
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go s.run(runCtx)
	return nil
}

func (s *storeCalls) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		for _, p := range s.paths {
			s.poll(ctx, p)
		}
		s.rounds.Add(1)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// stop ends the goroutine; a batch being delivered is abandoned without
// moving the watermark, and is read again after the restart.
func (s *storeCalls) stop() {
	s.once.Do(func() {
		if s.cancel != nil {
			s.cancel()
			<-s.done
		}
	})
}

// poll exports the rows of one store written since its watermark, a batch
// at a time, until none is left, the pipeline refuses, or ctx ends.
func (s *storeCalls) poll(ctx context.Context, path string) {
	if _, err := os.Stat(path); err != nil {
		s.fail(path, err)
		return
	}
	files := storeFilesState(path)
	if s.seen[path] == files {
		return
	}
	r, err := s.open(ctx, path)
	if err != nil {
		s.fail(path, err)
		return
	}
	defer r.Close()
	wm, known := s.watermark[path]
	if known && wm > 0 {
		top, err := r.HighestRowID(ctx)
		if err != nil {
			s.fail(path, err)
			return
		}
		if top < wm {
			// Removed and made again (its rowids start at 1 again): every
			// row of it is new.
			s.log.Info("The CLI's session store was replaced; its per-call metrics are read from its first row",
				zap.String("store.path", path), zap.Int64("watermark", wm), zap.Int64("highest_rowid", top))
			if err := s.commit(ctx, path, 0); err != nil {
				return
			}
			delete(s.waiting, path)
		}
	}
	if !known && s.atEnd {
		// start_at: end skips the rows already there
		for {
			calls, err := r.Calls(ctx, wm, storeCallsBatch)
			if err != nil {
				s.fail(path, err)
				return
			}
			if len(calls) == 0 {
				break
			}
			wm = calls[len(calls)-1].RowID
		}
		if err := s.commit(ctx, path, wm); err != nil {
			return
		}
	}
	for ctx.Err() == nil {
		calls, err := r.Calls(ctx, s.watermark[path], storeCallsBatch)
		if err != nil {
			s.fail(path, err)
			return
		}
		if len(calls) == 0 {
			s.seen[path] = files
			break
		}
		if s.problem[path] != "" {
			s.log.Info("The CLI's session store can be read again", zap.String("store.path", path))
			delete(s.problem, path)
		}
		var keep []storeCall
		last := int64(-1) // the last row taken, exported or dropped
		for _, c := range calls {
			fate := rowExport
			if s.ready != nil {
				fate = s.ready(c)
			}
			if fate == rowWait {
				w := s.waiting[path]
				if w.row != c.RowID {
					s.waiting[path] = waitingRow{row: c.RowID, since: time.Now()}
					break
				}
				if time.Since(w.since) <= s.maxWait {
					break
				}
				fate = rowExport // waited long enough
			}
			if fate == rowExport {
				keep = append(keep, c)
			}
			last = c.RowID
		}
		if last < 0 {
			return
		}
		if md := s.build(keep); md.DataPointCount() > 0 {
			if err := s.consume(ctx, md); err != nil {
				if pipeline.RejectedForGood(err) {
					s.log.Error("The pipeline rejected the session store's per-call metrics permanently; they are dropped", zap.String("store.path", path), zap.Error(err))
				} else {
					s.log.Debug("The pipeline refused the session store's per-call metrics; offered again at the next poll", zap.Error(err))
					return
				}
			}
		}
		if err := s.commit(ctx, path, last); err != nil {
			return
		}
	}
}

// waitingRow is the row a store's rows wait at, since when.
type waitingRow struct {
	row   int64
	since time.Time
}

// rowFate is what becomes of a store row.
type rowFate int

const (
	rowExport rowFate = iota
	rowWait
	rowDrop
)

// storeFilesState is the size and modification time of a store and its
// WAL: the CLI's commits change one of them.
func storeFilesState(path string) string {
	var b []byte
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			b = strconv.AppendInt(b, fi.Size(), 10)
			b = append(b, '/')
			b = strconv.AppendInt(b, fi.ModTime().UnixNano(), 10)
		}
		b = append(b, ';')
	}
	return string(b)
}

// commit moves a store's watermark, in storage first.
func (s *storeCalls) commit(ctx context.Context, path string, rowID int64) error {
	if s.client != nil {
		if err := s.client.Set(ctx, storeWatermarkPrefix+path, []byte(strconv.FormatInt(rowID, 10))); err != nil {
			s.log.Warn("Cannot keep the session store's watermark; its rows are read again from the last one kept", zap.String("store.path", path), zap.Error(err))
			return err
		}
	}
	s.watermark[path] = rowID
	return nil
}

// fail logs a store that cannot be read, once until it reads again.
func (s *storeCalls) fail(path string, err error) {
	msg := err.Error()
	if s.problem[path] == msg {
		return
	}
	s.problem[path] = msg
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, errNoUsageTable) {
		s.log.Debug("No per-call usage in the CLI's session store yet", zap.String("store.path", path), zap.Error(err))
		return
	}
	s.log.Warn("Cannot read the CLI's session store; its per-call metrics wait until it can be read", zap.String("store.path", path), zap.Error(err))
}

// buildCalls turns store rows into the per-call metrics. ctxOf gives the
// session's context, as the tailer read it from the transcript, for the
// resource; a session the receiver has not read has only its id.
func (b *metricsBuilder) buildCalls(calls []storeCall, ctxOf func(sessionID string) *session.Context, now time.Time) pmetric.Metrics {
	mb := &metricsBatch{b: b, byCtx: map[*session.Context]*resourceAcc{}}
	if b.received {
		start, end := b.clock.Next(now)
		mb.start, mb.stamp = pcommon.NewTimestampFromTime(start), pcommon.NewTimestampFromTime(end)
	}
	ctxs := map[string]*session.Context{}
	for i := range calls {
		c := &calls[i]
		sc := ctxs[c.SessionID]
		if sc == nil {
			if sc = ctxOf(c.SessionID); sc == nil {
				sc = &session.Context{SessionID: c.SessionID}
			}
			ctxs[c.SessionID] = sc
		}
		respModel := c.UsageModel
		if respModel == "" {
			respModel = c.Model
		}
		attrs := []string{
			semconv.AttrGenAIRequestModel, c.Model,
			semconv.AttrGenAIResponseModel, respModel,
			semconv.AttrCopilotInitiator, c.Initiator,
		}
		// set only where the call has one
		if c.FinishReason != "" {
			attrs = append(attrs, semconv.AttrGenAIResponseFinishReasons, c.FinishReason)
		}
		if c.ReasoningEffort != "" {
			attrs = append(attrs, semconv.AttrGenAIRequestReasoningLevel, c.ReasoningEffort)
		}
		at := c.CreatedAt
		if c.HasOutputTTFT {
			mb.hist(sc, semconv.MetricGenAIServerTimeToFirstToken, at, at, c.OutputTTFTMs/1000, 1, attrs...)
		}
		if c.HasInterTok {
			mb.hist(sc, semconv.MetricGenAIServerTimePerOutputToken, at, at, c.InterTokenLatencyMs/1000, 1, attrs...)
		}
		if c.ContentFilter {
			mb.sum(sc, semconv.MetricCopilotAPIContentFilterHits, at, at, 1, attrs...)
		}
	}
	md := mb.emit()
	finishReasonsAsArray(md)
	return md
}

// finishReasonsAsArray makes gen_ai.response.finish_reasons the string
// array the semantic conventions define (the builder writes strings).
func finishReasonsAsArray(md pmetric.Metrics) {
	fix := func(m pcommon.Map) {
		if v, ok := m.Get(semconv.AttrGenAIResponseFinishReasons); ok && v.Type() == pcommon.ValueTypeStr {
			r := v.Str()
			v.SetEmptySlice().AppendEmpty().SetStr(r)
		}
	}
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				switch m.Type() {
				case pmetric.MetricTypeHistogram:
					for _, dp := range m.Histogram().DataPoints().All() {
						fix(dp.Attributes())
					}
				case pmetric.MetricTypeSum:
					for _, dp := range m.Sum().DataPoints().All() {
						fix(dp.Attributes())
					}
				}
			}
		}
	}
}

// storeCallsWanted reports whether any per-call metric of the store is on.
func (cfg *Config) storeCallsWanted() bool {
	return cfg.Histograms.ServerTimeToFirstToken.Enabled || cfg.Histograms.ServerTimePerOutputToken.Enabled ||
		cfg.Metrics.CopilotAPIContentFilterHits.Enabled
}

// startStoreCalls follows the session stores for their per-call metrics,
// when a metrics pipeline takes them and one of them is on.
func (r *copilotReceiver) startStoreCalls(ctx context.Context) error {
	paths := r.cfg.SessionState.storePaths()
	if r.metrics == nil || len(paths) == 0 || !r.cfg.storeCallsWanted() {
		return nil
	}
	ss := r.cfg.SessionState
	mb := newMetricsBuilder(r.cfg, r.metricsB.resources, r.metricsB.version, r.metricsB.clock)
	index := newTranscriptIndex(ss.Include, ss.Exclude, r.tail.Sessions())
	ctxOf := func(id string) *session.Context {
		if p, ok := index.locate(id, ""); ok {
			return index.context(p)
		}
		return nil
	}
	// A row waits for its transcript to be read for as long as a rescan
	// takes to find it; a session whose transcript the receiver does not
	// read goes at once, with only its id.
	ready := func(c storeCall) rowFate {
		if p, ok := index.locate(c.SessionID, ""); ok {
			if index.context(p) != nil {
				return rowExport
			}
			return rowWait // not read yet
		}
		for _, cand := range index.candidates(c.SessionID) {
			if _, err := os.Stat(cand.path); err == nil {
				return rowDrop // there, but excluded
			}
		}
		return rowWait // no transcript yet
	}
	r.calls = &storeCalls{
		paths: paths, open: r.openCalls, client: r.client, interval: ss.PollInterval,
		atEnd: ss.StartAt == StartAtEnd, log: r.set.Logger, ready: ready,
		// as long as a rescan takes to find a transcript, twice
		maxWait: 2 * ss.RescanInterval,
		build:   func(calls []storeCall) pmetric.Metrics { return mb.buildCalls(calls, ctxOf, time.Now()) },
		consume: func(ctx context.Context, md pmetric.Metrics) error {
			n := md.DataPointCount()
			ctx = r.obsrecv.StartMetricsOp(ctx)
			err := r.metrics.ConsumeMetrics(ctx, md)
			r.obsrecv.EndMetricsOp(ctx, metadata.Type.String(), n, err)
			return err
		},
	}
	return r.calls.start(ctx)
}
