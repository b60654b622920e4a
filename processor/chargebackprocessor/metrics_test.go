package chargebackprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/pricing"
	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/metadata"
)

// points returns the attributes of every point of a metric that came out,
// with its resource's.
func points(p *pipeline, name string) (res, attrs []pcommon.Map) {
	for _, m := range metricsNamed(p, name) {
		forEachPoint(m.Metric, func(a pcommon.Map) {
			res = append(res, m.rm.Resource().Attributes())
			attrs = append(attrs, a)
		})
	}
	return res, attrs
}

// TestMetricsCardinality: only allowed attributes reach metrics, each
// capped with overflow to "other" (counted), and session.id leaves metrics
// unless kept; spans and logs are not limited.
func TestMetricsCardinality(t *testing.T) {
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	cfg := testConfig()
	cfg.Metrics.Attributes = []string{keyTeam, keyTicket}
	cfg.Metrics.MaxValues = map[string]int{keyTicket: 2}
	p := newPipeline(t, cfg, nil)
	ctx := context.Background()
	for i, branch := range []string{"feature/PAY-1-a", "feature/PAY-2-b", "feature/PAY-3-c", "feature/PAY-1-d"} {
		s := paymentsSession
		s.branch = branch
		s.id = "s" + string(rune('0'+i))
		require.NoError(t, p.m.ConsumeMetrics(ctx, usage(s, at, credit, 10)))
	}
	p.stop(t)

	res, attrs := points(p, mCost)
	require.Len(t, attrs, 4)
	var tickets []string
	for i, a := range attrs {
		tickets = append(tickets, strAttr(a, "ticket"))
		assert.Equal(t, "payments", strAttr(a, "team"))
		_, hasProject := a.Get("project")
		_, hasCostCenter := a.Get("cost_center")
		assert.False(t, hasProject || hasCostCenter, "not on the allow-list")
		_, hasSession := res[i].Get(semconv.AttrSessionID)
		assert.False(t, hasSession, "session.id is off metrics")
		assert.Equal(t, "payments-api", strAttr(res[i], semconv.AttrVCSRepositoryName), "the rest of the resource stays")
	}
	assert.Equal(t, []string{"PAY-1", "PAY-2", "other", "PAY-1"}, tickets)
	// Two points of the third session (cost, nano-AIU, tokens: three
	// metrics) went to other.
	assert.Equal(t, int64(3), p.counter(t, "cardinality_overflow", "attribute", keyTicket))

	// Kept when asked.
	cfg = testConfig()
	cfg.Metrics.SessionID = true
	p = newPipeline(t, cfg, nil)
	require.NoError(t, p.m.ConsumeMetrics(ctx, usage(paymentsSession, at, credit, 10)))
	p.stop(t)
	res, _ = points(p, mCost)
	require.Len(t, res, 1)
	assert.Equal(t, paymentsSession.id, strAttr(res[0], semconv.AttrSessionID))
}

// TestMetricsOfOthers: the CLI's own metrics (no session id in 1.0.102)
// come out marked unattributed; a point naming its session joins it;
// another service's metrics pass untouched.
func TestMetricsOfOthers(t *testing.T) {
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	p := newPipeline(t, testConfig(), nil)
	ctx := context.Background()
	require.NoError(t, p.m.ConsumeMetrics(ctx, usage(paymentsSession, at, credit, 10)))

	md := pmetric.NewMetrics()
	for _, svc := range []string{"github-copilot", "billing-api"} {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", svc)
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("gen_ai.client.token.usage")
		g := m.SetEmptyGauge()
		g.DataPoints().AppendEmpty().SetIntValue(1)
		named := g.DataPoints().AppendEmpty()
		named.SetIntValue(2)
		named.Attributes().PutStr(attrConversation, paymentsSession.id)
	}
	require.NoError(t, p.m.ConsumeMetrics(ctx, md))
	p.stop(t)

	out := p.ms.AllMetrics()[len(p.ms.AllMetrics())-1]
	require.Equal(t, 2, out.ResourceMetrics().Len())
	copilot := out.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints()
	assert.Equal(t, "unattributed", strAttr(copilot.At(0).Attributes(), "team"))
	assert.Equal(t, "payments", strAttr(copilot.At(1).Attributes(), "team"), "joined by gen_ai.conversation.id")
	assert.Equal(t, "PAY-4411", strAttr(copilot.At(1).Attributes(), "ticket"))
	_, kept := copilot.At(1).Attributes().Get(attrConversation)
	assert.False(t, kept, "the session id leaves metrics")
	other := out.ResourceMetrics().At(1).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints()
	assert.Equal(t, 0, other.At(0).Attributes().Len())
	assert.Equal(t, 1, other.At(1).Attributes().Len(), "another service's data is left alone")
}

// TestPricingMethods: a point priced by AI credits says so, one priced by
// its tokens (no nano-AIU, a token price) says so, and usage nothing can
// price is counted, not dropped.
func TestPricingMethods(t *testing.T) {
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	cfg := testConfig()
	cfg.Pricing.TokenPrices = map[string]pricing.TokenPrices{"claude-sonnet-4.6": {Input: "3", Output: "15"}}
	p := newPipeline(t, cfg, nil)
	ctx := context.Background()
	require.NoError(t, p.m.ConsumeMetrics(ctx, usage(paymentsSession, at, 3*credit, 1000)))
	require.NoError(t, p.m.ConsumeMetrics(ctx, usage(paymentsSession, at.Add(time.Second), 0, 1000)))
	unknown := usage(paymentsSession, at.Add(2*time.Second), 0, 1000)
	unknown.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(1).Sum().DataPoints().At(0).Attributes().PutStr("gen_ai.request.model", "local-llama")
	require.NoError(t, p.m.ConsumeMetrics(ctx, unknown))
	p.stop(t)

	_, attrs := points(p, mCost)
	require.Len(t, attrs, 2)
	var got []string
	for _, m := range metricsNamed(p, mCost) {
		for _, dp := range m.Sum().DataPoints().All() {
			got = append(got, strAttr(dp.Attributes(), attrCostMethod)+"="+exact(t, dp.DoubleValue()).String())
		}
	}
	// 3 credits at US$0.01; 1000 input tokens at US$3 per million.
	assert.Equal(t, []string{pricing.MethodAICredits + "=0.03", pricing.MethodTokenPrice + "=0.003"}, got)
	assert.Equal(t, int64(1), p.counter(t, "unpriced", "reason", "no_price"))
}

// TestSeveralPipelines: one configuration in two metrics pipelines keeps
// each pipeline's own next consumer.
func TestSeveralPipelines(t *testing.T) {
	cfg := testConfig()
	f := NewFactory()
	set := processortest.NewNopSettings(metadata.Type)
	ctx := context.Background()
	a, b := new(consumertest.MetricsSink), new(consumertest.MetricsSink)
	pa, err := f.CreateMetrics(ctx, set, cfg, a)
	require.NoError(t, err)
	pb, err := f.CreateMetrics(ctx, set, cfg, b)
	require.NoError(t, err)
	require.NoError(t, pa.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, pb.Start(ctx, componenttest.NewNopHost()))
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	require.NoError(t, pa.ConsumeMetrics(ctx, usage(paymentsSession, at, credit, 1)))
	require.NoError(t, pb.ConsumeMetrics(ctx, usage(paymentsSession, at, credit, 1)))
	require.NoError(t, pb.ConsumeMetrics(ctx, usage(paymentsSession, at, credit, 1)))
	require.NoError(t, pa.Shutdown(ctx))
	require.NoError(t, pb.Shutdown(ctx))
	assert.Len(t, a.AllMetrics(), 1)
	assert.Len(t, b.AllMetrics(), 2)
}
