package copilotreceiver

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
)

// sink collects what a running receiver delivers. Each signal can be made
// to refuse deliveries: a number of times, or until allowed.
type sink struct {
	mu      sync.Mutex
	metrics []pmetric.Metrics
	traces  []ptrace.Traces
	logs    []plog.Logs

	refuseMetrics atomic.Int64 // refusals left
	blockLogs     atomic.Bool  // refuse logs while set
	permanent     atomic.Bool  // refusals are permanent errors
	credentials   atomic.Bool  // refusals are a backend's 401, which the OTLP exporters call permanent
	calls         atomic.Int64
	discard       bool // keep nothing (benchmarks)
}

func (s *sink) refusal(n *atomic.Int64, block *atomic.Bool) error {
	s.calls.Add(1)
	if (n != nil && n.Add(-1) >= 0) || (block != nil && block.Load()) {
		if s.credentials.Load() {
			return consumererror.NewPermanent(status.Error(codes.Unauthenticated, "error exporting items, request to http://127.0.0.1/v1/metrics responded with HTTP Status Code 401"))
		}
		if s.permanent.Load() {
			return consumererror.NewPermanent(errors.New("rejected for good"))
		}
		return errors.New("memory limiter: data refused")
	}
	return nil
}

func (s *sink) metricsConsumer() consumer.Metrics {
	c, _ := consumer.NewMetrics(func(_ context.Context, md pmetric.Metrics) error {
		if err := s.refusal(&s.refuseMetrics, nil); err != nil {
			return err
		}
		if s.discard {
			return nil
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.metrics = append(s.metrics, md)
		return nil
	})
	return c
}

func (s *sink) tracesConsumer() consumer.Traces {
	c, _ := consumer.NewTraces(func(_ context.Context, td ptrace.Traces) error {
		if s.discard {
			return nil
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.traces = append(s.traces, td)
		return nil
	})
	return c
}

func (s *sink) logsConsumer() consumer.Logs {
	c, _ := consumer.NewLogs(func(_ context.Context, ld plog.Logs) error {
		if err := s.refusal(nil, &s.blockLogs); err != nil {
			return err
		}
		if s.discard {
			return nil
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.logs = append(s.logs, ld)
		return nil
	})
	return c
}

// allMetrics merges what was delivered into one pmetric.Metrics.
func (s *sink) allMetrics() pmetric.Metrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := pmetric.NewMetrics()
	for _, md := range s.metrics {
		for _, rm := range md.ResourceMetrics().All() {
			rm.CopyTo(out.ResourceMetrics().AppendEmpty())
		}
	}
	return out
}

// summaries counts the session summary records delivered.
func (s *sink) summaries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ld := range s.logs {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if lr.EventName() == eventSummary {
						n++
					}
				}
			}
		}
	}
	return n
}

// logRecords returns the log records of an event.
func (s *sink) logRecords(event string) []plog.LogRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []plog.LogRecord
	for _, ld := range s.logs {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if lr.EventName() == event {
						out = append(out, lr)
					}
				}
			}
		}
	}
	return out
}

func (s *sink) spans(name string) []ptrace.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ptrace.Span
	for _, td := range s.traces {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					if name == "" || sp.Name() == name {
						out = append(out, sp)
					}
				}
			}
		}
	}
	return out
}

// harness runs the receiver on transcripts in a directory of its own.
type harness struct {
	t       testing.TB
	root    string // plays $COPILOT_HOME/session-state
	storage string
	cfg     *Config
	tel     *componenttest.Telemetry
	recv    *copilotReceiver // the running receiver
	exts    map[component.ID]extension.Extension
	logger  *zap.Logger // the receiver's, when set
}

func newHarness(t testing.TB) *harness {
	root := filepath.Join(t.TempDir(), "session-state")
	require.NoError(t, os.MkdirAll(root, 0o755))
	cfg := testConfig()
	cfg.SessionState.Include = []string{filepath.Join(root, "*", "events.jsonl")}
	cfg.SessionState.PollInterval = 20 * time.Millisecond
	cfg.SessionState.RescanInterval = 50 * time.Millisecond
	cfg.SessionState.RetryOnRefused = RetryConfig{InitialInterval: 5 * time.Millisecond, MaxInterval: 20 * time.Millisecond}
	id := storagetest.NewStorageID("checkpoints")
	cfg.SessionState.Storage = &id
	return &harness{t: t, root: root, storage: t.TempDir(), cfg: cfg}
}

// write puts content at <root>/<session>/events.jsonl.
func (h *harness) write(session string, content []byte) string {
	p := filepath.Join(h.root, session, "events.jsonl")
	require.NoError(h.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(h.t, os.WriteFile(p, content, 0o644))
	return p
}

func (h *harness) appendTo(path string, content []byte) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(h.t, err)
	_, err = f.Write(content)
	require.NoError(h.t, err)
	require.NoError(h.t, f.Close())
}

// run starts a receiver serving all three signals into s; the returned
// function stops it. The receiver id is fixed, so a second run finds the
// first run's checkpoints.
func (h *harness) run(s *sink) func() {
	h.t.Helper()
	f := NewFactory()
	h.tel = componenttest.NewTelemetry()
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = h.tel.NewTelemetrySettings()
	if h.logger != nil {
		set.Logger = h.logger
	}
	set.ID = component.NewIDWithName(metadata.Type, "test")
	ctx := context.Background()
	m, err := f.CreateMetrics(ctx, set, h.cfg, s.metricsConsumer())
	require.NoError(h.t, err)
	h.recv = m.(*copilotReceiver)
	tr, err := f.CreateTraces(ctx, set, h.cfg, s.tracesConsumer())
	require.NoError(h.t, err)
	l, err := f.CreateLogs(ctx, set, h.cfg, s.logsConsumer())
	require.NoError(h.t, err)
	host := h.storageHost()
	require.NoError(h.t, m.Start(ctx, host))
	require.NoError(h.t, tr.Start(ctx, host))
	require.NoError(h.t, l.Start(ctx, host))
	return func() {
		require.NoError(h.t, m.Shutdown(ctx))
		require.NoError(h.t, tr.Shutdown(ctx))
		require.NoError(h.t, l.Shutdown(ctx))
		require.NoError(h.t, h.tel.Shutdown(ctx))
	}
}

// storageHost is a host with the checkpoints' file storage and the
// harness's extensions.
func (h *harness) storageHost() component.Host {
	host := storagetest.NewStorageHost().WithFileBackedStorageExtension("checkpoints", h.storage)
	for id, ext := range h.exts {
		host = host.WithExtension(id, ext)
	}
	return host
}

func readTestdata(t testing.TB, rel string) []byte {
	b, err := os.ReadFile(filepath.Join("../../testdata/copilot-cli", rel))
	require.NoError(t, err)
	return b
}

const (
	resumedSession = "1.0.102/session-state/a92b1b62-74c7-4c1a-af6c-ac66b8e23ba2/events.jsonl"
	billedSubagent = "1.0.102-billed/session-state/0b1e1ed0-5a1e-4c0d-9b11-000000000003/events.jsonl"
)

// TestReceiverAllTranscripts runs the receiver over every real transcript
// at once and checks the exported totals of each session against the
// CLI's own accounting.
func TestReceiverAllTranscripts(t *testing.T) {
	h := newHarness(t)
	legs := recordedLegs(t)
	want := map[string]map[string]modelTotals{}
	shutdowns := 0
	for _, p := range transcripts(t) {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		sid := filepath.Base(filepath.Dir(p))
		h.write(sid, b)
		perLeg := func(int) bool { return false }
		if l, ok := legs[caseName(p)]; ok {
			perLeg = l.perLeg
		}
		want[sid] = cliAccounting(t, p, perLeg)
		shutdowns += bytes.Count(b, []byte(`"type":"session.shutdown"`))
	}
	// session.id is off on metrics by default; on here to split the
	// totals by session.
	h.cfg.ResourceAttributes.SessionID.Enabled = true
	s := &sink{}
	stop := h.run(s)
	defer stop()
	require.Eventually(t, func() bool { return s.summaries() == shutdowns }, 10*time.Second, 10*time.Millisecond)

	got := map[string]map[string]modelTotals{}
	md := s.allMetrics()
	for _, rm := range md.ResourceMetrics().All() {
		sid := sessionOf(t, rm)
		one := pmetric.NewMetrics()
		rm.CopyTo(one.ResourceMetrics().AppendEmpty())
		for model, v := range exported(one) {
			if got[sid] == nil {
				got[sid] = map[string]modelTotals{}
			}
			g := got[sid][model]
			addTotals(&g, v)
			got[sid][model] = g
		}
	}
	for sid, w := range want {
		for m, v := range w {
			if v == (modelTotals{}) {
				delete(w, m)
			}
		}
		if len(w) == 0 {
			continue
		}
		assert.Equal(t, w, got[sid], "session %s", sid)
	}
	// One trace per session, whose id is the session id.
	for _, sp := range s.spans("copilot.session") {
		assert.Len(t, sp.TraceID().String(), 32)
	}
}

// sessionOf is the session.id of a resource.
func sessionOf(t *testing.T, rm pmetric.ResourceMetrics) string {
	t.Helper()
	v, ok := rm.Resource().Attributes().Get("session.id")
	if ok {
		return v.Str()
	}
	t.Fatal("resource without session.id")
	return ""
}

func addTotals(a *modelTotals, b modelTotals) {
	a.Requests += b.Requests
	a.Cost += b.Cost
	a.Input += b.Input
	a.Output += b.Output
	a.CacheRead += b.CacheRead
	a.CacheWrite += b.CacheWrite
	a.Reas += b.Reas
	a.NanoAIU += b.NanoAIU
}

// totalsOf sums what a sink received, over all sessions.
func totalsOf(s *sink) map[string]modelTotals { return exported(s.allMetrics()) }

func sumTotals(ms ...map[string]modelTotals) map[string]modelTotals {
	out := map[string]modelTotals{}
	for _, m := range ms {
		for k, v := range m {
			o := out[k]
			addTotals(&o, v)
			out[k] = o
		}
	}
	return out
}

// TestRestartMidFile stops the collector in the middle of a transcript,
// once at a line boundary and once in the middle of a line, and starts it
// again with the same storage: the totals over both runs equal the CLI's
// accounting, nothing counted twice, nothing lost.
func TestRestartMidFile(t *testing.T) {
	content := readTestdata(t, billedSubagent)
	want := cliAccounting(t, filepath.Join("../../testdata/copilot-cli", billedSubagent), func(int) bool { return false })
	lines := bytes.SplitAfter(content, []byte("\n"))
	for _, tc := range []struct {
		name string
		cut  int
	}{
		{"line boundary", len(bytes.Join(lines[:len(lines)/2], nil))},
		{"mid line", len(bytes.Join(lines[:len(lines)/2], nil)) + 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			path := h.write("s", content[:tc.cut])
			first := &sink{}
			stop := h.run(first)
			require.Eventually(t, func() bool {
				return len(h.tel.NewTelemetrySettings().Logger.Name()) >= 0 && first.calls.Load() > 0
			}, 5*time.Second, 10*time.Millisecond)
			// Let the first run read everything that is complete.
			time.Sleep(200 * time.Millisecond)
			stop()

			h.appendTo(path, content[tc.cut:])
			second := &sink{}
			stop = h.run(second)
			defer stop()
			require.Eventually(t, func() bool { return second.summaries() == 1 }, 5*time.Second, 10*time.Millisecond)
			assert.Equal(t, want, sumTotals(totalsOf(first), totalsOf(second)))
			assert.Zero(t, first.summaries())
		})
	}
}

// TestRestartAfterEverythingRead restarts on a fully read transcript:
// nothing is exported again.
func TestRestartAfterEverythingRead(t *testing.T) {
	h := newHarness(t)
	h.write("s", readTestdata(t, resumedSession))
	first := &sink{}
	stop := h.run(first)
	require.Eventually(t, func() bool { return first.summaries() == 2 }, 5*time.Second, 10*time.Millisecond)
	stop()
	second := &sink{}
	stop = h.run(second)
	time.Sleep(300 * time.Millisecond)
	stop()
	assert.Empty(t, totalsOf(second))
	assert.Zero(t, second.summaries())
	assert.Empty(t, second.spans(""))
}

// TestRefusedBatchIsRetried makes the pipeline refuse metrics several
// times: the batch is offered again until accepted, and counted once.
func TestRefusedBatchIsRetried(t *testing.T) {
	h := newHarness(t)
	h.write("s", readTestdata(t, billedSubagent))
	s := &sink{}
	s.refuseMetrics.Store(5)
	stop := h.run(s)
	defer stop()
	require.Eventually(t, func() bool { return s.summaries() == 1 && len(totalsOf(s)) > 0 }, 5*time.Second, 10*time.Millisecond)
	want := cliAccounting(t, filepath.Join("../../testdata/copilot-cli", billedSubagent), func(int) bool { return false })
	assert.Equal(t, want, totalsOf(s))
	assert.LessOrEqual(t, s.refuseMetrics.Load(), int64(-1), "every refusal was used")
}

// TestPermanentRejectionIsDroppedAndCounted: a permanent error drops that
// signal's batch (retrying could never succeed) and the other signals
// still flow.
func TestPermanentRejectionIsDroppedAndCounted(t *testing.T) {
	h := newHarness(t)
	h.write("s", readTestdata(t, billedSubagent))
	s := &sink{}
	s.permanent.Store(true)
	s.refuseMetrics.Store(1)
	stop := h.run(s)
	defer stop()
	require.Eventually(t, func() bool { return s.summaries() == 1 }, 5*time.Second, 10*time.Millisecond)
	assert.Empty(t, totalsOf(s))
}

// TestCredentialsRefusalIsHeld: a backend refusing the collector's
// credentials (HTTP 401, which the OTLP exporters report as a permanent
// error) is not a batch rejected for good: the batch is offered again
// until the credentials are fixed, and nothing is dropped.
func TestCredentialsRefusalIsHeld(t *testing.T) {
	h := newHarness(t)
	h.write("s", readTestdata(t, billedSubagent))
	s := &sink{}
	s.credentials.Store(true)
	s.refuseMetrics.Store(3)
	stop := h.run(s)
	defer stop()
	require.Eventually(t, func() bool { return s.summaries() == 1 && len(totalsOf(s)) > 0 }, 5*time.Second, 10*time.Millisecond)
	want := cliAccounting(t, filepath.Join("../../testdata/copilot-cli", billedSubagent), func(int) bool { return false })
	assert.Equal(t, want, totalsOf(s))
	assert.Equal(t, int64(-1), s.refuseMetrics.Load(), "three refusals, then accepted")
}

// TestAcceptedSignalNotResentAfterCrash: metrics were accepted, logs were
// refused until the collector stopped. After a restart the logs arrive and
// the metrics are not sent again.
func TestAcceptedSignalNotResentAfterCrash(t *testing.T) {
	h := newHarness(t)
	h.write("s", readTestdata(t, billedSubagent))
	first := &sink{}
	first.blockLogs.Store(true)
	stop := h.run(first)
	require.Eventually(t, func() bool { return len(totalsOf(first)) > 0 && first.calls.Load() > 3 }, 5*time.Second, 10*time.Millisecond)
	stop()
	require.Zero(t, first.summaries())

	second := &sink{}
	stop = h.run(second)
	defer stop()
	require.Eventually(t, func() bool { return second.summaries() == 1 }, 5*time.Second, 10*time.Millisecond)
	want := cliAccounting(t, filepath.Join("../../testdata/copilot-cli", billedSubagent), func(int) bool { return false })
	assert.Equal(t, want, totalsOf(first))
	assert.Empty(t, totalsOf(second), "metrics accepted before the restart were sent again")
	assert.NotEmpty(t, second.spans(""), "traces, after the refused logs, arrive after the restart")
}

// TestTruncatedAndReplacedFile: a transcript read again from its start
// (truncated and rewritten, or replaced by a copy) is not counted again; a
// file replaced by another session is counted.
func TestTruncatedAndReplacedFile(t *testing.T) {
	h := newHarness(t)
	content := readTestdata(t, resumedSession)
	path := h.write("s", content)
	s := &sink{}
	stop := h.run(s)
	defer stop()
	require.Eventually(t, func() bool { return s.summaries() == 2 }, 5*time.Second, 10*time.Millisecond)
	want := cliAccounting(t, filepath.Join("../../testdata/copilot-cli", resumedSession), func(int) bool { return false })
	require.Equal(t, want, totalsOf(s))

	// Truncate to the first leg, then write the rest again.
	first := bytes.Index(content, []byte(`"type":"session.resume"`))
	first = bytes.LastIndexByte(content[:first], '\n') + 1
	require.NoError(t, os.WriteFile(path, content[:first], 0o644))
	time.Sleep(200 * time.Millisecond)
	h.appendTo(path, content[first:])
	// Replace by a byte-identical copy through a rename.
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, content, 0o644))
	require.NoError(t, os.Rename(tmp, path))
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, want, totalsOf(s), "a transcript read again was counted again")
	assert.Equal(t, 2, s.summaries(), "session summaries were sent again")
	assert.Equal(t, int64(4), sumMetric(s, mToolCalls), "tool calls were counted again")
	assert.Equal(t, int64(4), sumMetric(s, mSessions), "session starts, resumes and ends were counted again")

	// Another session written over the same path is new usage.
	other := readTestdata(t, billedSubagent)
	require.NoError(t, os.WriteFile(path, other, 0o644))
	otherWant := cliAccounting(t, filepath.Join("../../testdata/copilot-cli", billedSubagent), func(int) bool { return false })
	require.Eventually(t, func() bool {
		return assert.ObjectsAreEqual(sumTotals(want, otherWant), totalsOf(s))
	}, 5*time.Second, 10*time.Millisecond)
}

// TestSessionCreatedWhileRunning: a session that appears after start is
// picked up.
func TestSessionCreatedWhileRunning(t *testing.T) {
	h := newHarness(t)
	s := &sink{}
	stop := h.run(s)
	defer stop()
	time.Sleep(100 * time.Millisecond)
	h.write("new-session", readTestdata(t, billedSubagent))
	require.Eventually(t, func() bool { return s.summaries() == 1 }, 5*time.Second, 10*time.Millisecond)
}

// TestSessionStateCreatedWhileRunning: the CLI had never run when the
// collector started (no session-state directory); its first session is
// noticed by file notifications at once, not at the next rescan.
func TestSessionStateCreatedWhileRunning(t *testing.T) {
	h := newHarness(t)
	require.NoError(t, os.Remove(h.root))
	h.cfg.SessionState.RescanInterval = time.Hour
	s := &sink{}
	stop := h.run(s)
	defer stop()
	time.Sleep(100 * time.Millisecond)
	h.write("first-session", readTestdata(t, billedSubagent))
	require.Eventually(t, func() bool { return s.summaries() == 1 }, 10*time.Second, 10*time.Millisecond)
	// A second session in the directory that now exists.
	h.write("second-session", readTestdata(t, resumedSession))
	require.Eventually(t, func() bool { return s.summaries() == 3 }, 10*time.Second, 10*time.Millisecond)
}

// TestSessionDirectoryWithoutTranscriptAtStart: a session's directory
// existed, without its transcript, when the collector started; the
// transcript written later is noticed by file notifications, not at the
// next rescan.
func TestSessionDirectoryWithoutTranscriptAtStart(t *testing.T) {
	h := newHarness(t)
	h.cfg.SessionState.RescanInterval = time.Hour
	pending := filepath.Join(h.root, "pending-session")
	require.NoError(t, os.MkdirAll(pending, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(pending, "workspace.yaml"), []byte("id: pending-session\n"), 0o644))
	h.write("finished-session", readTestdata(t, billedSubagent))
	s := &sink{}
	stop := h.run(s)
	defer stop()
	// The finished session's summary shows that the first rescan is over:
	// only a notification can find what is written from now on.
	require.Eventually(t, func() bool { return s.summaries() == 1 }, 10*time.Second, 10*time.Millisecond)
	h.write("pending-session", readTestdata(t, resumedSession))
	require.Eventually(t, func() bool { return s.summaries() == 3 }, 10*time.Second, 10*time.Millisecond)
}

// TestStartAtEnd: with start_at end, history is not exported, but what is
// appended afterwards is, and accounted against the history (the second
// shutdown of a resumed session is cumulative).
func TestStartAtEnd(t *testing.T) {
	h := newHarness(t)
	h.cfg.SessionState.StartAt = StartAtEnd
	content := readTestdata(t, resumedSession)
	cut := bytes.Index(content, []byte(`"type":"session.resume"`))
	cut = bytes.LastIndexByte(content[:cut], '\n') + 1
	path := h.write("s", content[:cut])
	s := &sink{}
	stop := h.run(s)
	defer stop()
	time.Sleep(300 * time.Millisecond)
	require.Empty(t, totalsOf(s))
	h.appendTo(path, content[cut:])
	require.Eventually(t, func() bool { return s.summaries() == 1 }, 5*time.Second, 10*time.Millisecond)
	// Only the resumed leg's one call: 8039 input tokens.
	got := totalsOf(s)["gpt-4.1"]
	assert.Equal(t, int64(1), got.Requests)
	assert.Equal(t, int64(8039), got.Input)
}

// TestKilledSessionGoesIdle: a session without a shutdown is counted from
// its usage records, and its spans are closed when it goes idle.
func TestKilledSessionGoesIdle(t *testing.T) {
	h := newHarness(t)
	h.cfg.SessionState.IdleTimeout = time.Second
	content := readTestdata(t, billedSubagent)
	cut := bytes.Index(content, []byte(`"type":"session.shutdown"`))
	cut = bytes.LastIndexByte(content[:cut], '\n') + 1
	killed := append(bytes.Clone(content[:cut]), []byte(`{"type":"assistant.turn_start","data":{"turnI`)...) // cut mid-write
	path := h.write("s", killed)
	s := &sink{}
	stop := h.run(s)
	defer stop()
	require.Eventually(t, func() bool { return len(s.spans("copilot.session")) == 1 }, 5*time.Second, 10*time.Millisecond)
	leg := s.spans("copilot.session")[0]
	end, _ := leg.Attributes().Get("copilot.session.end")
	assert.Equal(t, "idle", end.Str())
	intact := filepath.Join(t.TempDir(), "intact.jsonl")
	require.NoError(t, os.WriteFile(intact, content[:cut], 0o644))
	want := cliAccounting(t, intact, func(int) bool { return false })
	assert.Equal(t, want, totalsOf(s))
	// The idle leg gets a summary of its usage as counted (no shutdown
	// will give one): the CLI's own records, summed.
	require.Equal(t, 1, s.summaries())
	var nano, input int64
	for _, m := range want {
		nano += m.NanoAIU
		input += m.Input
	}
	lr := s.logRecords(eventSummary)[0]
	typ, _ := lr.Attributes().Get("copilot.shutdown.type")
	assert.Equal(t, "idle", typ.Str())
	b := lr.Body().Map()
	n, _ := b.Get("totalNanoAiu")
	assert.Equal(t, nano, n.Int())
	td, _ := b.Get("tokenDetails")
	in, _ := td.Map().Get("input")
	assert.Equal(t, input, in.Int())
	_ = path
}

// sumMetric adds up all points of an integer sum metric a sink received.
func sumMetric(s *sink, name string) int64 {
	var n int64
	md := s.allMetrics()
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() == name {
					for _, dp := range m.Sum().DataPoints().All() {
						n += dp.IntValue()
					}
				}
			}
		}
	}
	return n
}

// TestDamagedLinesAreCounted: damaged lines cost one counted skip each, the
// intact events around them are read, and the totals stay exact where the
// shutdown's totals can make up for a lost record.
func TestDamagedLinesAreCounted(t *testing.T) {
	h := newHarness(t)
	content := readTestdata(t, billedSubagent)
	lines := bytes.SplitAfter(content, []byte("\n"))
	var damaged []byte
	recordsSeen := 0
	for _, l := range lines {
		if bytes.Contains(l, []byte(`"type":"session.usage_record"`)) {
			recordsSeen++
			if recordsSeen == 2 {
				// A record torn in the middle: lost; the shutdown makes up for it.
				damaged = append(damaged, l[:len(l)/2]...)
				damaged = append(damaged, '\n')
				continue
			}
		}
		damaged = append(damaged, l...)
		if bytes.Contains(l, []byte(`"type":"assistant.turn_end"`)) {
			damaged = append(damaged, []byte("\x00\x00\x00\x00\n")...)
			damaged = append(damaged, []byte(`{"type":"session.future_event","data":{},"id":"x","timestamp":"2026-11-22T16:07:28.000Z","parentId":null}`+"\n")...)
			damaged = append(damaged, []byte("not json at all\n")...)
		}
	}
	h.write("s", damaged)
	s := &sink{}
	stop := h.run(s)
	require.Eventually(t, func() bool { return s.summaries() == 1 }, 5*time.Second, 10*time.Millisecond)
	want := cliAccounting(t, filepath.Join("../../testdata/copilot-cli", billedSubagent), func(int) bool { return false })
	assert.Equal(t, want, totalsOf(s), "the shutdown totals make up for the torn record")
	defer stop()
	turnEnds := bytes.Count(content, []byte(`"type":"assistant.turn_end"`))
	skipped := map[string]int64{}
	rm, err := h.tel.GetMetric("otelcol_receiver_copilot_lines_skipped")
	require.NoError(t, err)
	for _, dp := range rm.Data.(metricdata.Sum[int64]).DataPoints {
		r, _ := dp.Attributes.Value("reason")
		skipped[r.AsString()] += dp.Value
	}
	assert.Equal(t, map[string]int64{
		"torn_line":    1,
		"nul_bytes":    int64(turnEnds),
		"unknown_type": int64(turnEnds),
		"invalid_json": int64(turnEnds),
	}, skipped)
}

// TestTimelessShutdownIsCounted: the shutdowns of an old CLI (all of its
// usage, it writes no usage records), one without a timestamp and one with
// a timestamp that is not RFC 3339, are counted at the time of the event
// before each, as repaired lines, not skipped: the totals are the CLI's.
func TestTimelessShutdownIsCounted(t *testing.T) {
	const rel = "recorded/1.0.60-resumed/session-state/6150275d-2d26-4b92-ad9c-3a8bdb2b0568/events.jsonl"
	lines := bytes.SplitAfter(readTestdata(t, rel), []byte("\n"))
	timestamp := regexp.MustCompile(`,"timestamp":"[^"]*"`)
	var content []byte
	var before []time.Time // the time of the event before each shutdown
	var last time.Time
	for _, l := range lines {
		if m := timestamp.Find(l); m != nil {
			ts, err := time.Parse(time.RFC3339Nano, string(m[len(`,"timestamp":"`):len(m)-1]))
			require.NoError(t, err)
			if bytes.Contains(l, []byte(`"type":"session.shutdown"`)) {
				before = append(before, last)
				if len(before) == 1 {
					l = timestamp.ReplaceAll(l, nil)
				} else {
					l = timestamp.ReplaceAll(l, []byte(`,"timestamp":"`+ts.Format("2006-01-02 15:04:05.000")+`"`))
				}
			}
			last = ts
		}
		content = append(content, l...)
	}
	require.Len(t, before, 2)

	h := newHarness(t)
	h.write("s", content)
	s := &sink{}
	stop := h.run(s)
	defer stop()
	require.Eventually(t, func() bool { return s.summaries() == 2 }, 5*time.Second, 10*time.Millisecond)
	want := cliAccounting(t, filepath.Join("../../testdata/copilot-cli", rel), recordedLegs(t)["1.0.60-resumed/6150275d-2d26-4b92-ad9c-3a8bdb2b0568"].perLeg)
	require.NotEmpty(t, want)
	assert.Equal(t, want, totalsOf(s))
	for i, lr := range s.logRecords(eventSummary) {
		assert.Equal(t, before[i], lr.Timestamp().AsTime(), "summary %d", i)
	}

	rm, err := h.tel.GetMetric("otelcol_receiver_copilot_lines_repaired")
	require.NoError(t, err)
	var repaired int64
	for _, dp := range rm.Data.(metricdata.Sum[int64]).DataPoints {
		repaired += dp.Value
	}
	assert.Equal(t, int64(2), repaired)
	_, err = h.tel.GetMetric("otelcol_receiver_copilot_lines_skipped")
	assert.Error(t, err, "no line was skipped")
}

// TestDeletedTranscriptIsForgotten: a transcript that disappears is
// dropped, with its checkpoint, after idle_timeout.
func TestDeletedTranscriptIsForgotten(t *testing.T) {
	h := newHarness(t)
	h.cfg.SessionState.IdleTimeout = time.Second
	path := h.write("s", readTestdata(t, billedSubagent))
	s := &sink{}
	stop := h.run(s)
	defer stop()
	require.Eventually(t, func() bool { return s.summaries() == 1 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, os.RemoveAll(filepath.Dir(path)))
	require.Eventually(t, func() bool {
		rm, err := h.tel.GetMetric("otelcol_receiver_copilot_files_tracked")
		if err != nil {
			return false
		}
		dps := rm.Data.(metricdata.Gauge[int64]).DataPoints
		return len(dps) == 1 && dps[0].Value == 0
	}, 5*time.Second, 20*time.Millisecond)
}
