package dedupprocessor

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-copilot/otelcol-copilot/processor/dedupprocessor/internal/metadata"
)

// usage is a request with a team's usage points: one per value, at
// timestamps 1, 2, ...
func usage(team string, values ...int64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "github-copilot")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("copilot.usage.tokens")
	s := m.SetEmptySum()
	s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	for i, v := range values {
		dp := s.DataPoints().AppendEmpty()
		dp.Attributes().PutStr("team", team)
		dp.SetTimestamp(pcommon.Timestamp(i + 1))
		dp.SetIntValue(v)
	}
	return md
}

func sum(sink *consumertest.MetricsSink) (points int, total int64) {
	for _, md := range sink.AllMetrics() {
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					for _, dp := range m.Sum().DataPoints().All() {
						points++
						total += dp.IntValue()
					}
				}
			}
		}
	}
	return
}

// refusing refuses while refuse is set.
type refusing struct {
	consumer.Metrics
	refuse bool
}

func (r *refusing) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	if r.refuse {
		return errors.New("refused")
	}
	return r.Metrics.ConsumeMetrics(ctx, md)
}

func newMetrics(t *testing.T, cfg *Config, next consumer.Metrics) *metricsProcessor {
	p, err := NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, next)
	require.NoError(t, err)
	return p.(*metricsProcessor)
}

// A request sent again whole passes only what was not taken before; a
// request the next consumer refused is not remembered, so its re-send
// passes.
func TestMetricsRepeats(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	next := &refusing{Metrics: sink}
	p := newMetrics(t, createDefaultConfig(), next)
	ctx := context.Background()

	require.NoError(t, p.ConsumeMetrics(ctx, usage("payments", 10, 20)))
	require.NoError(t, p.ConsumeMetrics(ctx, usage("payments", 10, 20))) // re-sent whole
	points, total := sum(sink)
	assert.Equal(t, 2, points)
	assert.Equal(t, int64(30), total)
	assert.Len(t, sink.AllMetrics(), 1, "an all-repeat request reaches nothing")

	// The same times with another value, another team: not repeats.
	require.NoError(t, p.ConsumeMetrics(ctx, usage("payments", 11, 20)))
	require.NoError(t, p.ConsumeMetrics(ctx, usage("docs", 10, 20)))
	points, total = sum(sink)
	assert.Equal(t, 5, points)
	assert.Equal(t, int64(30+11+30), total)

	next.refuse = true
	require.Error(t, p.ConsumeMetrics(ctx, usage("web", 5)))
	next.refuse = false
	require.NoError(t, p.ConsumeMetrics(ctx, usage("web", 5)))
	_, total = sum(sink)
	assert.Equal(t, int64(76), total, "the refused request's re-send passes")

	// Two identical points in one request: one passes.
	require.NoError(t, p.ConsumeMetrics(ctx, func() pmetric.Metrics {
		md := usage("data", 7)
		md.ResourceMetrics().At(0).CopyTo(md.ResourceMetrics().AppendEmpty())
		return md
	}()))
	_, total = sum(sink)
	assert.Equal(t, int64(83), total)
}

// Items are forgotten after the window, and beyond max_entries the oldest
// first.
func TestMemory(t *testing.T) {
	now := time.Unix(0, 0)
	m := newMemory(time.Minute, 3, func() time.Time { return now })
	k := func(b byte) key { return key{b} }
	assert.Zero(t, m.add([]key{k(1), k(2)}))
	assert.True(t, m.has(k(1)))
	now = now.Add(30 * time.Second)
	assert.Equal(t, 1, m.add([]key{k(3), k(4)}), "k(1) forgotten early for max_entries")
	assert.False(t, m.has(k(1)))
	assert.True(t, m.has(k(2)))
	now = now.Add(31 * time.Second)
	assert.False(t, m.has(k(2)), "past the window")
	assert.True(t, m.has(k(4)))
	assert.Zero(t, m.add(nil))
	assert.Len(t, m.at, 2, "expired entries leave memory")
}

// An item passed again once its window is over is remembered as new: at
// max_entries the items older than it are forgotten first, so a repeat of
// it within its new window is still dropped (counted once, not twice).
func TestMemoryRememberedAgain(t *testing.T) {
	now := time.Unix(0, 0)
	m := newMemory(time.Hour, 2, func() time.Time { return now })
	k := func(b byte) key { return key{b} }
	m.add([]key{k(1)})
	now = now.Add(30 * time.Minute)
	m.add([]key{k(2)})
	now = now.Add(90 * time.Minute) // k(1) and k(2) past their window
	require.False(t, m.has(k(1)))
	m.add([]key{k(1)}) // passed again
	now = now.Add(time.Minute)
	m.add([]key{k(3)})
	assert.True(t, m.has(k(1)), "passed a minute ago: a repeat now is dropped")
	assert.True(t, m.has(k(3)))
	assert.False(t, m.has(k(2)))
	assert.LessOrEqual(t, len(m.at), 2)
	// The same key twice in one add is queued once.
	m.add([]key{k(4), k(4)})
	assert.True(t, m.has(k(4)))
}

func TestLogsAndSpansRepeats(t *testing.T) {
	ctx := context.Background()
	ls := new(consumertest.LogsSink)
	lp, err := NewFactory().CreateLogs(ctx, processortest.NewNopSettings(metadata.Type), createDefaultConfig(), ls)
	require.NoError(t, err)
	logs := func(uids ...string) plog.Logs {
		ld := plog.NewLogs()
		sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
		for _, u := range uids {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetEventName("copilot.session.summary")
			lr.Attributes().PutStr("log.record.uid", u)
		}
		return ld
	}
	require.NoError(t, lp.ConsumeLogs(ctx, logs("a", "b")))
	require.NoError(t, lp.ConsumeLogs(ctx, logs("b", "c")))
	assert.Equal(t, 3, ls.LogRecordCount())

	ts := new(consumertest.TracesSink)
	tp, err := NewFactory().CreateTraces(ctx, processortest.NewNopSettings(metadata.Type), createDefaultConfig(), ts)
	require.NoError(t, err)
	spans := func(ids ...byte) ptrace.Traces {
		td := ptrace.NewTraces()
		ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
		for _, id := range ids {
			s := ss.Spans().AppendEmpty()
			s.SetTraceID(pcommon.TraceID{1})
			s.SetSpanID(pcommon.SpanID{id})
			s.SetName("chat")
		}
		return td
	}
	require.NoError(t, tp.ConsumeTraces(ctx, spans(1, 2)))
	require.NoError(t, tp.ConsumeTraces(ctx, spans(2, 3)))
	assert.Equal(t, 3, ts.SpanCount())
}

func TestConfigValidate(t *testing.T) {
	assert.ErrorContains(t, (&Config{Window: 0, MaxEntries: 1}).Validate(), "window: 0s must be positive")
	assert.ErrorContains(t, (&Config{Window: time.Second}).Validate(), "max_entries: must be at least 1")
	assert.NoError(t, createDefaultConfig().Validate())
}

// Points that differ only in a scope attribute, in the type of an
// attribute's value, or in an attribute beside a NaN are different points:
// each passes.
func TestIdentityDistinguishes(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	p := newMetrics(t, createDefaultConfig(), sink)
	ctx := context.Background()
	send := func(edit func(sm pmetric.ScopeMetrics, attrs pcommon.Map)) {
		md := usage("payments", 10)
		sm := md.ResourceMetrics().At(0).ScopeMetrics().At(0)
		edit(sm, sm.Metrics().At(0).Sum().DataPoints().At(0).Attributes())
		require.NoError(t, p.ConsumeMetrics(ctx, md))
	}
	send(func(sm pmetric.ScopeMetrics, _ pcommon.Map) { sm.Scope().Attributes().PutStr("replica", "a") })
	send(func(sm pmetric.ScopeMetrics, _ pcommon.Map) { sm.Scope().Attributes().PutStr("replica", "b") })
	send(func(_ pmetric.ScopeMetrics, a pcommon.Map) { a.PutInt("calls", 1) })
	send(func(_ pmetric.ScopeMetrics, a pcommon.Map) { a.PutDouble("calls", 1) })
	send(func(_ pmetric.ScopeMetrics, a pcommon.Map) { a.PutStr("calls", "AQ==") })
	send(func(_ pmetric.ScopeMetrics, a pcommon.Map) { a.PutEmptyBytes("calls").FromRaw([]byte{1}) })
	send(func(_ pmetric.ScopeMetrics, a pcommon.Map) {
		a.PutDouble("ratio", math.NaN())
		a.PutStr("model", "gpt-5")
	})
	send(func(_ pmetric.ScopeMetrics, a pcommon.Map) {
		a.PutDouble("ratio", math.NaN())
		a.PutStr("model", "claude")
	})
	points, total := sum(sink)
	assert.Equal(t, 8, points)
	assert.Equal(t, int64(80), total)

	// And the same NaN point again is a repeat.
	send(func(_ pmetric.ScopeMetrics, a pcommon.Map) {
		a.PutDouble("ratio", math.NaN())
		a.PutStr("model", "claude")
	})
	points, _ = sum(sink)
	assert.Equal(t, 8, points)
}
