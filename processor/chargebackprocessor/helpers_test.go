package chargebackprocessor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/metadata"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"
)

const testdataRoot = "../../testdata/copilot-cli"

// received is what the copilot receiver made of some real transcripts.
type received struct {
	metrics []pmetric.Metrics
	traces  []ptrace.Traces
	logs    []plog.Logs
}

// runReceiver runs the copilot receiver over the transcripts of the given
// testdata directories (e.g. "1.0.102-billed") until every shutdown was
// read, and returns what it delivered.
func runReceiver(t testing.TB, dirs ...string) received {
	t.Helper()
	root := filepath.Join(t.TempDir(), "session-state")
	shutdowns := 0
	for _, d := range dirs {
		files, err := filepath.Glob(filepath.Join(testdataRoot, d, "session-state", "*", "events.jsonl"))
		require.NoError(t, err)
		require.NotEmpty(t, files, d)
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			shutdowns += bytes.Count(b, []byte(`"type":"session.shutdown"`))
			dst := filepath.Join(root, filepath.Base(filepath.Dir(f)), "events.jsonl")
			require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
			require.NoError(t, os.WriteFile(dst, b, 0o644))
		}
	}
	f := copilotreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*copilotreceiver.Config)
	cfg.SessionState.Include = []string{filepath.Join(root, "*", "events.jsonl")}
	cfg.SessionState.PollInterval = 20 * time.Millisecond
	cfg.SessionState.RescanInterval = 50 * time.Millisecond
	cfg.SessionState.User = "dev"
	cfg.MetricTimestamps = copilotreceiver.TimestampsEvent
	// session.id on metrics too, so budgets per session can be tested.
	cfg.ResourceAttributes.SessionID.Enabled = true
	set := receivertest.NewNopSettings(component.MustNewType("copilot"))
	ms, ts, ls := new(consumertest.MetricsSink), new(consumertest.TracesSink), new(consumertest.LogsSink)
	ctx := context.Background()
	m, err := f.CreateMetrics(ctx, set, cfg, ms)
	require.NoError(t, err)
	tr, err := f.CreateTraces(ctx, set, cfg, ts)
	require.NoError(t, err)
	l, err := f.CreateLogs(ctx, set, cfg, ls)
	require.NoError(t, err)
	host := componenttest.NewNopHost()
	require.NoError(t, m.Start(ctx, host))
	require.NoError(t, tr.Start(ctx, host))
	require.NoError(t, l.Start(ctx, host))
	require.Eventually(t, func() bool { return countEvents(ls.AllLogs(), "copilot.session.summary") >= shutdowns }, 20*time.Second, 10*time.Millisecond)
	require.NoError(t, m.Shutdown(ctx))
	require.NoError(t, tr.Shutdown(ctx))
	require.NoError(t, l.Shutdown(ctx))
	return received{metrics: ms.AllMetrics(), traces: ts.AllTraces(), logs: ls.AllLogs()}
}

func countEvents(lds []plog.Logs, name string) int {
	n := 0
	for _, ld := range lds {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if lr.EventName() == name {
						n++
					}
				}
			}
		}
	}
	return n
}

// nativeSpans reads the CLI's own OpenTelemetry file export
// (COPILOT_OTEL_FILE_EXPORTER_PATH: one JSON object per line) into spans.
func nativeSpans(t testing.TB, dir string) ptrace.Traces {
	t.Helper()
	f, err := os.Open(filepath.Join(testdataRoot, dir, "copilot-otel.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	td := ptrace.NewTraces()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var s struct {
			Type, TraceID, SpanID, ParentSpanID, Name string
			Kind                                      int
			StartTime, EndTime                        [2]int64
			Attributes                                map[string]any
			Resource                                  struct{ Attributes map[string]any }
			InstrumentationScope                      struct{ Name, Version string }
		}
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &s))
		if s.Type != "span" {
			continue
		}
		rs := td.ResourceSpans().AppendEmpty()
		require.NoError(t, rs.Resource().Attributes().FromRaw(s.Resource.Attributes))
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName(s.InstrumentationScope.Name)
		ss.Scope().SetVersion(s.InstrumentationScope.Version)
		sp := ss.Spans().AppendEmpty()
		sp.SetName(s.Name)
		var tid pcommon.TraceID
		var sid, pid pcommon.SpanID
		mustHex(t, s.TraceID, tid[:])
		mustHex(t, s.SpanID, sid[:])
		if s.ParentSpanID != "" {
			mustHex(t, s.ParentSpanID, pid[:])
			sp.SetParentSpanID(pid)
		}
		sp.SetTraceID(tid)
		sp.SetSpanID(sid)
		sp.SetKind(ptrace.SpanKind(s.Kind + 1))
		sp.SetStartTimestamp(pcommon.Timestamp(s.StartTime[0]*1e9 + s.StartTime[1]))
		sp.SetEndTimestamp(pcommon.Timestamp(s.EndTime[0]*1e9 + s.EndTime[1]))
		require.NoError(t, sp.Attributes().FromRaw(s.Attributes))
	}
	require.NoError(t, sc.Err())
	require.Positive(t, td.SpanCount())
	return td
}

func mustHex(t testing.TB, s string, dst []byte) {
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	require.Len(t, b, len(dst))
	copy(dst, b)
}

// pipeline is a started chargeback processor with sinks behind it.
type pipeline struct {
	f   processor.Factory // the factory, whose processors for the same config are one
	m   processor.Metrics
	tr  processor.Traces
	l   processor.Logs
	ms  *consumertest.MetricsSink
	ts  *consumertest.TracesSink
	ls  *consumertest.LogsSink
	tel *componenttest.Telemetry
}

func newPipeline(t testing.TB, cfg *Config, host component.Host) *pipeline {
	return startPipeline(t, cfg, pipelineOptions{host: host})
}

// pipelineOptions change what newPipeline starts.
type pipelineOptions struct {
	now  func() time.Time // the processor's clock; default time.Now
	host component.Host
	// Failures of the next consumers: each call fails while the counter
	// is positive, and decrements it.
	failMetrics, failLogs *atomic.Int32
}

func startPipeline(t testing.TB, cfg *Config, o pipelineOptions) *pipeline {
	t.Helper()
	require.NoError(t, cfg.Validate())
	if o.now == nil {
		o.now = time.Now
	}
	f := newFactory(o.now)
	p := &pipeline{f: f, ms: new(consumertest.MetricsSink), ts: new(consumertest.TracesSink), ls: new(consumertest.LogsSink), tel: componenttest.NewTelemetry()}
	t.Cleanup(func() { require.NoError(t, p.tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = p.tel.NewTelemetrySettings()
	ctx := context.Background()
	var nextMetrics consumer.Metrics = p.ms
	if o.failMetrics != nil {
		nextMetrics, _ = consumer.NewMetrics(func(ctx context.Context, md pmetric.Metrics) error {
			if o.failMetrics.Add(-1) >= 0 {
				return errRefused
			}
			return p.ms.ConsumeMetrics(ctx, md)
		})
	}
	var nextLogs consumer.Logs = p.ls
	if o.failLogs != nil {
		nextLogs, _ = consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
			if o.failLogs.Add(-1) >= 0 {
				return errRefused
			}
			return p.ls.ConsumeLogs(ctx, ld)
		})
	}
	var err error
	p.m, err = f.CreateMetrics(ctx, set, cfg, nextMetrics)
	require.NoError(t, err)
	p.tr, err = f.CreateTraces(ctx, set, cfg, p.ts)
	require.NoError(t, err)
	p.l, err = f.CreateLogs(ctx, set, cfg, nextLogs)
	require.NoError(t, err)
	host := o.host
	if host == nil {
		host = componenttest.NewNopHost()
	}
	require.NoError(t, p.m.Start(ctx, host))
	require.NoError(t, p.tr.Start(ctx, host))
	require.NoError(t, p.l.Start(ctx, host))
	return p
}

func (p *pipeline) stop(t testing.TB) {
	ctx := context.Background()
	require.NoError(t, p.m.Shutdown(ctx))
	require.NoError(t, p.tr.Shutdown(ctx))
	require.NoError(t, p.l.Shutdown(ctx))
}

// feed sends what the receiver delivered through the processor: metrics,
// then logs, then traces, as the receiver delivers them.
func (p *pipeline) feed(t testing.TB, r received) {
	ctx := context.Background()
	for _, md := range r.metrics {
		c := pmetric.NewMetrics()
		md.CopyTo(c)
		require.NoError(t, p.m.ConsumeMetrics(ctx, c))
	}
	for _, ld := range r.logs {
		c := plog.NewLogs()
		ld.CopyTo(c)
		require.NoError(t, p.l.ConsumeLogs(ctx, c))
	}
	for _, td := range r.traces {
		c := ptrace.NewTraces()
		td.CopyTo(c)
		require.NoError(t, p.tr.ConsumeTraces(ctx, c))
	}
}

// spansBy returns the output spans whose name starts with prefix.
func spansBy(ts *consumertest.TracesSink, prefix string) []ptrace.Span {
	var out []ptrace.Span
	for _, td := range ts.AllTraces() {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					if strings.HasPrefix(s.Name(), prefix) {
						out = append(out, s)
					}
				}
			}
		}
	}
	return out
}

var errRefused = errors.New("refused by the next consumer")

// counter reads a counter of the processor's own telemetry: the sum of its
// points whose attribute key is value (every point when key is "").
func (p *pipeline) counter(t testing.TB, name, key, value string) int64 {
	t.Helper()
	m, err := p.tel.GetMetric("otelcol_processor_chargeback_" + name)
	if err != nil {
		return 0 // nothing recorded yet
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, name)
	var n int64
	for _, dp := range sum.DataPoints {
		if key == "" {
			n += dp.Value
			continue
		}
		if v, ok := dp.Attributes.Value(attribute.Key(key)); ok && v.AsString() == value {
			n += dp.Value
		}
	}
	return n
}

// outMetric is a metric that came out, with its resource and scope.
type outMetric struct {
	rm pmetric.ResourceMetrics
	sm pmetric.ScopeMetrics
	pmetric.Metric
}

// metricsNamed returns the metrics of a name that came out, in order.
func metricsNamed(p *pipeline, name string) []outMetric {
	var out []outMetric
	for _, md := range p.ms.AllMetrics() {
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if m.Name() == name {
						out = append(out, outMetric{rm, sm, m})
					}
				}
			}
		}
	}
	return out
}
