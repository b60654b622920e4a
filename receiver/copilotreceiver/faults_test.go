package copilotreceiver

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
)

// The tests in this file put the receiver through the faults an SRE tries
// before trusting it with a bill: a round that fills up at a resumed
// session's shutdown, a stop while a batch is being exported, a crash
// while one is, and transcripts rewritten under it.

// roundEvents is the tailer's default round size in events.
const roundEvents = 2048

// TestRoundFullAtShutdownOfResumedSession: when a round fills up exactly
// at the first shutdown of a session that goes on in the same file, the
// commit in the middle of the file must not release the session's tracker
// (it did, and the next line panicked on a nil tracker).
func TestRoundFullAtShutdownOfResumedSession(t *testing.T) {
	content := readTestdata(t, resumedSession)
	want := cliAccounting(t, filepath.Join("../../testdata/copilot-cli", resumedSession), func(int) bool { return false })
	lines := bytes.SplitAfter(content, []byte("\n"))
	shutdown, turnEnd := -1, -1
	for i, l := range lines {
		if turnEnd < 0 && bytes.Contains(l, []byte(`"type":"assistant.turn_end"`)) {
			turnEnd = i
		}
		if bytes.Contains(l, []byte(`"type":"session.shutdown"`)) {
			shutdown = i
			break
		}
	}
	require.Positive(t, shutdown)
	require.Positive(t, turnEnd)
	// Copies of a turn_end before the first shutdown so that the shutdown
	// is the round's last event: the events up to and including it, plus
	// the copies, fill one round.
	n := roundEvents - (shutdown + 1)
	for _, copies := range []int{n - 1, n, n + 1} {
		t.Run("", func(t *testing.T) {
			var b bytes.Buffer
			for i, l := range lines {
				if i == shutdown {
					for range copies {
						b.Write(lines[turnEnd])
					}
				}
				b.Write(l)
			}
			h := newHarness(t)
			h.write("s", b.Bytes())
			s := &sink{}
			stop := h.run(s)
			defer stop()
			require.Eventually(t, func() bool { return s.summaries() == 2 }, 10*time.Second, 10*time.Millisecond)
			assert.Equal(t, want, totalsOf(s))
		})
	}
}

// gate is a consumer call that waits until it is opened or its context
// ends; it records what it was given.
type gate struct {
	open    chan struct{}
	entered atomic.Int64
	mu      sync.Mutex
	got     [][]byte
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

func (g *gate) wait(ctx context.Context, payload []byte) error {
	g.mu.Lock()
	g.got = append(g.got, payload)
	g.mu.Unlock()
	g.entered.Add(1)
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) payloads() [][]byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([][]byte(nil), g.got...)
}

// runGated runs a receiver whose metrics or traces consumer waits on g
// before it accepts; the other signals go to s.
func (h *harness) runGated(s *sink, metricsGate, tracesGate *gate) func() {
	h.t.Helper()
	f := NewFactory()
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewIDWithName(metadata.Type, "test")
	ctx := context.Background()
	mc := s.metricsConsumer()
	if metricsGate != nil {
		inner := mc
		mc, _ = consumer.NewMetrics(func(ctx context.Context, md pmetric.Metrics) error {
			b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
			require.NoError(h.t, err)
			if err := metricsGate.wait(ctx, b); err != nil {
				return err
			}
			return inner.ConsumeMetrics(ctx, md)
		})
	}
	tc := s.tracesConsumer()
	if tracesGate != nil {
		inner := tc
		tc, _ = consumer.NewTraces(func(ctx context.Context, td ptrace.Traces) error {
			b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
			require.NoError(h.t, err)
			if err := tracesGate.wait(ctx, b); err != nil {
				return err
			}
			return inner.ConsumeTraces(ctx, td)
		})
	}
	m, err := f.CreateMetrics(ctx, set, h.cfg, mc)
	require.NoError(h.t, err)
	tr, err := f.CreateTraces(ctx, set, h.cfg, tc)
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
	}
}

// TestGracefulStopWaitsForTheBatchInFlight: a stop while the exporter has
// a batch (the gateway may already hold it) waits for its answer and
// commits it, so that nothing is sent again after the restart.
func TestGracefulStopWaitsForTheBatchInFlight(t *testing.T) {
	h := newHarness(t)
	h.write("s", readTestdata(t, billedSubagent))
	first := &sink{}
	g := newGate()
	stop := h.runGated(first, g, nil)
	require.Eventually(t, func() bool { return g.entered.Load() > 0 }, 5*time.Second, 5*time.Millisecond)
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	// The stop waits for the export under way...
	select {
	case <-stopped:
		t.Fatal("the stop did not wait for the batch being exported")
	case <-time.After(100 * time.Millisecond):
	}
	close(g.open) // ...which the gateway then acknowledges.
	<-stopped
	require.Equal(t, int64(1), g.entered.Load())
	sent := first.summaries()

	second := &sink{}
	stop = h.run(second)
	defer stop()
	if sent == 1 {
		time.Sleep(300 * time.Millisecond)
	} else {
		require.Eventually(t, func() bool { return second.summaries() == 1 }, 5*time.Second, 10*time.Millisecond)
	}
	want := cliAccounting(t, filepath.Join("../../testdata/copilot-cli", billedSubagent), func(int) bool { return false })
	assert.Equal(t, want, sumTotals(totalsOf(first), totalsOf(second)))
	assert.Empty(t, totalsOf(second), "the batch acknowledged during the stop was sent again")
	assert.Equal(t, 1, first.summaries()+second.summaries())
}

// TestCrashDuringExportResendsTheSameBatch: the collector dies while the
// exporter has a batch (here: the stop gives up at once, as a kill would
// leave it). After the restart that batch, and only it, is sent again,
// byte for byte, so that an idempotent sink can drop it; the signals
// accepted before are not sent again.
func TestCrashDuringExportResendsTheSameBatch(t *testing.T) {
	for _, mode := range []string{TimestampsEvent, TimestampsReceived} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t)
			h.cfg.MetricTimestamps = mode
			h.cfg.SessionState.DrainTimeout = time.Millisecond
			h.write("s", readTestdata(t, billedSubagent))

			// Metrics in flight when the collector dies.
			first := &sink{}
			g := newGate()
			stop := h.runGated(first, g, nil)
			require.Eventually(t, func() bool { return g.entered.Load() > 0 }, 5*time.Second, 5*time.Millisecond)
			stop()
			inFlight := g.payloads()
			require.Len(t, inFlight, 1)

			second := &sink{}
			g2 := newGate()
			close(g2.open)
			// Traces in flight at the second death.
			tg := newGate()
			stop = h.runGated(second, g2, tg)
			require.Eventually(t, func() bool { return tg.entered.Load() > 0 }, 5*time.Second, 5*time.Millisecond)
			stop()
			require.Equal(t, inFlight, g2.payloads()[:1], "the batch in flight was not sent again as it was")
			tracesInFlight := tg.payloads()

			third := &sink{}
			g3, tg3 := newGate(), newGate()
			close(g3.open)
			close(tg3.open)
			stop = h.runGated(third, g3, tg3)
			defer stop()
			// Logs go before traces: they were accepted before the second
			// death.
			require.Eventually(t, func() bool { return tg3.entered.Load() > 0 }, 5*time.Second, 10*time.Millisecond)
			assert.Equal(t, 1, second.summaries())
			assert.Zero(t, third.summaries(), "logs accepted before the crash were sent again")
			assert.Empty(t, g3.payloads(), "metrics accepted before the crash were sent again")
			require.NotEmpty(t, tg3.payloads())
			assert.Equal(t, tracesInFlight, tg3.payloads()[:1], "the traces in flight were not sent again as they were")
			want := cliAccounting(t, filepath.Join("../../testdata/copilot-cli", billedSubagent), func(int) bool { return false })
			assert.Equal(t, want, sumTotals(totalsOf(second), totalsOf(third)))
		})
	}
}

// TestTruncatedQuietThenRewritten: a transcript truncated to nothing, left
// quiet long enough for its session to be released from memory, then
// written again, is not counted again.
func TestTruncatedQuietThenRewritten(t *testing.T) {
	h := newHarness(t)
	content := readTestdata(t, resumedSession)
	path := h.write("s", content)
	s := &sink{}
	stop := h.run(s)
	defer stop()
	require.Eventually(t, func() bool { return s.summaries() == 2 }, 5*time.Second, 10*time.Millisecond)
	want := cliAccounting(t, filepath.Join("../../testdata/copilot-cli", resumedSession), func(int) bool { return false })
	require.Equal(t, want, totalsOf(s))

	require.NoError(t, os.Truncate(path, 0))
	// Quiet for longer than the tailer keeps polling a file (2s): its
	// session's tracker is released.
	time.Sleep(2500 * time.Millisecond)
	h.appendTo(path, content)
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, want, totalsOf(s), "the rewritten transcript was counted again")
	assert.Equal(t, 2, s.summaries())
}

// TestRewrittenInPlaceBeforeOffset: a transcript rewritten in place with a
// usage record inserted before the offset already read (the first 512
// bytes unchanged) is read again: the new record is counted, the others
// are not counted twice.
func TestRewrittenInPlaceBeforeOffset(t *testing.T) {
	content := readTestdata(t, billedSubagent)
	// A killed session: no shutdown totals to reconcile against.
	cut := bytes.Index(content, []byte(`"type":"session.shutdown"`))
	cut = bytes.LastIndexByte(content[:cut], '\n') + 1
	killed := content[:cut]
	lines := bytes.SplitAfter(killed, []byte("\n"))
	rec := -1
	for i, l := range lines {
		if bytes.Contains(l, []byte(`"type":"session.usage_record"`)) {
			rec = i
			break
		}
	}
	require.Positive(t, rec)
	require.Greater(t, len(bytes.Join(lines[:rec], nil)), 512)
	extra := bytes.Replace(lines[rec], []byte(`"sequence":1,`), []byte(`"sequence":9999,`), 1)
	require.NotEqual(t, lines[rec], extra)

	h := newHarness(t)
	path := h.write("s", killed)
	s := &sink{}
	stop := h.run(s)
	defer stop()
	require.Eventually(t, func() bool { return sumMetric(s, mAPIRequests) > 0 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	before := sumMetric(s, mAPIRequests)

	var b bytes.Buffer
	for i, l := range lines {
		b.Write(l)
		if i == rec {
			b.Write(extra)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(b.Bytes(), 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Eventually(t, func() bool { return sumMetric(s, mAPIRequests) == before+1 }, 5*time.Second, 10*time.Millisecond,
		"the record inserted before the offset read was lost")
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, before+1, sumMetric(s, mAPIRequests), "records were counted twice")
}
