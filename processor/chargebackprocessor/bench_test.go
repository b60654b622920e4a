package chargebackprocessor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/budget"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/metadata"
)

// benchBatch is a batch as the receiver sends it from a busy collector:
// sessions resources, each with calls model calls (three usage metrics,
// four token types) and a few other metrics. It returns the batch and its
// number of data points.
func benchBatch(sessions, calls int, at time.Time) (pmetric.Metrics, int) {
	md := pmetric.NewMetrics()
	points := 0
	for s := range sessions {
		rm := md.ResourceMetrics().AppendEmpty()
		res := rm.Resource().Attributes()
		res.PutStr("service.name", "github-copilot")
		res.PutStr(semconv.AttrSessionID, fmt.Sprintf("session-%04d", s))
		res.PutStr(semconv.AttrVCSOwnerName, "acme")
		res.PutStr(semconv.AttrVCSRepositoryName, fmt.Sprintf("repo-%02d", s%40))
		res.PutStr(semconv.AttrVCSRefHeadName, fmt.Sprintf("feature/PAY-%d-work", 1000+s%300))
		res.PutStr(semconv.AttrUserName, fmt.Sprintf("dev%03d", s%200))
		res.PutStr(semconv.AttrCopilotGitRoot, fmt.Sprintf("/home/dev%03d/src/repo-%02d", s%200, s%40))
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName(semconv.ReceiverScope)
		sum := func(name string) pmetric.NumberDataPointSlice {
			m := sm.Metrics().AppendEmpty()
			m.SetName(name)
			sm := m.SetEmptySum()
			sm.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			sm.SetIsMonotonic(true)
			return sm.DataPoints()
		}
		nano, prem, tok, reqs := sum(semconv.MetricCopilotUsageNanoAIU), sum(semconv.MetricCopilotUsagePremiumRequests), sum(semconv.MetricCopilotUsageTokens), sum("copilot.api.requests")
		for c := range calls {
			ts := pcommon.NewTimestampFromTime(at.Add(time.Duration(c) * time.Second))
			attrs := func(dp pmetric.NumberDataPoint) pmetric.NumberDataPoint {
				dp.SetStartTimestamp(ts)
				dp.SetTimestamp(ts)
				dp.Attributes().PutStr("gen_ai.request.model", "claude-sonnet-4.6")
				dp.Attributes().PutStr("copilot.initiator", "user")
				dp.Attributes().PutStr(semconv.AttrGenAIAgentName, []string{"main", "explore"}[c%2])
				return dp
			}
			attrs(nano.AppendEmpty()).SetIntValue(4_635_767_500)
			attrs(prem.AppendEmpty()).SetDoubleValue(1)
			attrs(reqs.AppendEmpty()).SetIntValue(1)
			for i, tt := range []string{"input", "output", "cache_read", "cache_write"} {
				dp := attrs(tok.AppendEmpty())
				dp.Attributes().PutStr(semconv.AttrGenAITokenType, tt)
				dp.SetIntValue(int64(1000 * (i + 1)))
			}
			points += 7
		}
	}
	return md, points
}

// BenchmarkProcessMetrics measures the processor on a stream of large
// metric batches: attribution by ten rules, pricing, the join cache, and
// (with budgets) two per-value budgets.
func BenchmarkProcessMetrics(b *testing.B) {
	for _, withBudgets := range []bool{false, true} {
		b.Run(fmt.Sprintf("budgets=%v", withBudgets), func(b *testing.B) {
			cfg := testConfig()
			for i := range 8 {
				cfg.Attribution.Rules = append(cfg.Attribution.Rules[:len(cfg.Attribution.Rules):len(cfg.Attribution.Rules)],
					cfg.Attribution.Rules[0])
				cfg.Attribution.Rules[len(cfg.Attribution.Rules)-1].Name = fmt.Sprintf("r%d", i)
			}
			at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
			if withBudgets {
				cfg.Budgets = []budget.Config{
					{Name: "team", Scope: budget.ScopeTeam, Amount: "1000000", Period: budget.PeriodMonth},
					{Name: "ticket", Scope: budget.ScopeTicket, Amount: "1000000", Period: budget.PeriodMonth},
				}
			}
			f := newFactory(func() time.Time { return at })
			ctx := context.Background()
			p, err := f.CreateMetrics(ctx, processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
			require.NoError(b, err)
			require.NoError(b, p.Start(ctx, componenttest.NewNopHost()))
			defer func() { require.NoError(b, p.Shutdown(ctx)) }()

			// 500 sessions of 4 calls: 14,000 points a batch.
			batch, points := benchBatch(500, 4, at)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				c := pmetric.NewMetrics()
				batch.CopyTo(c)
				b.StartTimer()
				if err := p.ConsumeMetrics(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(points*b.N)/b.Elapsed().Seconds(), "points/s")
			b.ReportMetric(float64(b.N*points), "points")
		})
	}
}
