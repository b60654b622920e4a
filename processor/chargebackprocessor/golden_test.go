package chargebackprocessor

import (
	"encoding/json"
	"flag"
	"path/filepath"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden from the current output")

// resourceKey identifies a resource by its attributes.
func resourceKey(t *testing.T, m pcommon.Map) string {
	b, err := json.Marshal(m.AsRaw()) // map keys sorted
	require.NoError(t, err)
	return string(b)
}

// costMetrics gathers the copilot.cost points that came out, one resource
// per session.
func costMetrics(t *testing.T, p *pipeline) pmetric.Metrics {
	out := pmetric.NewMetrics()
	byResource := map[string]pmetric.Metric{}
	for _, m := range metricsNamed(p, mCost) {
		k := resourceKey(t, m.rm.Resource().Attributes())
		dst, ok := byResource[k]
		if !ok {
			orm := out.ResourceMetrics().AppendEmpty()
			m.rm.Resource().CopyTo(orm.Resource())
			osm := orm.ScopeMetrics().AppendEmpty()
			m.sm.Scope().CopyTo(osm.Scope())
			dst = osm.Metrics().AppendEmpty()
			m.CopyTo(dst)
			byResource[k] = dst
			continue
		}
		for _, dp := range m.Sum().DataPoints().All() {
			dp.CopyTo(dst.Sum().DataPoints().AppendEmpty())
		}
	}
	return out
}

// nativeTraces gathers the CLI's own spans that came out.
func nativeTraces(p *pipeline) ptrace.Traces {
	out := ptrace.NewTraces()
	rs := out.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "github-copilot")
	ss := rs.ScopeSpans().AppendEmpty()
	for _, s := range nativeOut(p) {
		s.CopyTo(ss.Spans().AppendEmpty())
	}
	return out
}

// TestGolden runs the real transcripts of the billed copies and of the
// repositories through the receiver and the processor, with the CLI's own
// spans of the repositories' sessions: the cost points (priced, attributed)
// and the native spans (joined) must equal the reviewed golden files.
// Refresh with -update and review the diff; TestCostAddsUp and
// TestNativeChatSpansJoined check the same output against hand
// computations.
func TestGolden(t *testing.T) {
	r := runReceiver(t, "1.0.102-billed", "1.0.102-repos")
	p := newPipeline(t, testConfig(), nil)
	p.feed(t, r)
	feedTraces(t, p, nativeSpans(t, "1.0.102-repos"))
	p.stop(t)

	costs := costMetrics(t, p)
	spans := nativeTraces(p)
	costFile := filepath.Join("testdata", "golden", "cost.yaml")
	spanFile := filepath.Join("testdata", "golden", "native-spans.yaml")
	if *update {
		require.NoError(t, golden.WriteMetrics(t, costFile, costs))
		require.NoError(t, golden.WriteTraces(t, spanFile, spans))
	}
	wantCosts, err := golden.ReadMetrics(costFile)
	require.NoError(t, err)
	require.NoError(t, pmetrictest.CompareMetrics(wantCosts, costs,
		// golden.WriteMetrics normalizes times; the receiver's golden
		// files check them.
		pmetrictest.IgnoreTimestamp(), pmetrictest.IgnoreStartTimestamp(),
		pmetrictest.IgnoreResourceMetricsOrder(), pmetrictest.IgnoreMetricDataPointsOrder()))
	wantSpans, err := golden.ReadTraces(spanFile)
	require.NoError(t, err)
	require.NoError(t, ptracetest.CompareTraces(wantSpans, spans, ptracetest.IgnoreSpansOrder()))
}
