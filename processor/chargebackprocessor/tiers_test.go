package chargebackprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-copilot/otelcol-copilot/internal/usagebody"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/fakeclock"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/budget"
)

// costByTeam sums a pipeline's copilot.cost points by team, exactly.
func costByTeam(t *testing.T, p *pipeline) map[string]string {
	sums := map[string]money.Amount{}
	for _, m := range metricsNamed(p, mCost) {
		for _, dp := range m.Sum().DataPoints().All() {
			team := strAttr(dp.Attributes(), "team")
			sums[team] = sums[team].Add(exact(t, dp.DoubleValue()))
		}
	}
	out := map[string]string{}
	for k, v := range sums {
		out[k] = v.String()
	}
	return out
}

// A fleet's routing tier attributes only (mode attribute): its output
// carries the team to route by and the session.id, and no cost; the
// gateway after it (mode full) prices exactly what one collector would.
func TestTwoTiers(t *testing.T) {
	r := runReceiver(t, "1.0.102-billed", "1.0.102-repos")

	direct := newPipeline(t, testConfig(), nil)
	direct.feed(t, r)
	direct.stop(t)

	cfg := testConfig()
	cfg.Mode = ModeAttribute
	tier1 := newPipeline(t, cfg, nil)
	tier1.feed(t, r)
	tier1.stop(t)
	assert.Empty(t, metricsNamed(tier1, mCost), "the routing tier prices nothing")
	teams := map[string]bool{}
	for _, md := range tier1.ms.AllMetrics() {
		for _, rm := range md.ResourceMetrics().All() {
			_, ok := rm.Resource().Attributes().Get("session.id")
			assert.True(t, ok, "session.id stays for the gateways")
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					forEachPoint(m, func(a pcommon.Map) { teams[strAttr(a, "team")] = true })
				}
			}
		}
	}
	assert.True(t, teams["payments"] && teams["docs"], "the points carry the team to route by: %v", teams)
	for _, ld := range tier1.ls.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					_, priced := lr.Attributes().Get(usagebody.AttrCostExact)
					assert.False(t, priced, lr.EventName())
				}
			}
		}
	}

	gateway := newPipeline(t, testConfig(), nil)
	gateway.feed(t, received{metrics: tier1.ms.AllMetrics(), logs: tier1.ls.AllLogs(), traces: tier1.ts.AllTraces()})
	gateway.stop(t)
	want := costByTeam(t, direct)
	require.Len(t, want, 3)
	assert.Equal(t, want, costByTeam(t, gateway))
}

func TestAttributeModeKeepsNoBudgets(t *testing.T) {
	cfg := testConfig()
	cfg.Mode = ModeAttribute
	cfg.Budgets = []budget.Config{{Name: "b", Scope: budget.ScopeTeam, Amount: "1", Period: budget.PeriodDay}}
	assert.ErrorContains(t, cfg.Validate(), "budgets: a processor in mode attribute keeps no budgets")
	cfg.Mode = "route"
	assert.ErrorContains(t, cfg.Validate(), `mode: "route" is not full or attribute`)
}

// TestRoutingTierDoesNotCap: the routing tier's load balancer routes on
// the attribution it puts on metrics, so every replica must put the same
// value for a team; a cap of distinct values (first come, first kept, per
// replica) would route a team under its name on one replica and as other
// on another, to two gateways. The gateways cap.
func TestRoutingTierDoesNotCap(t *testing.T) {
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	docs := session{id: "s-docs", owner: "acme", repo: "docs-site", branch: "main", user: "dev2"}
	routedAs := func(first session) string {
		cfg := testConfig()
		cfg.Mode = ModeAttribute
		cfg.Metrics.MaxValues = map[string]int{keyTeam: 1}
		p := startPipeline(t, cfg, pipelineOptions{})
		defer p.stop(t)
		require.NoError(t, p.m.ConsumeMetrics(context.Background(), usage(first, at, credit, 10)))
		require.NoError(t, p.m.ConsumeMetrics(context.Background(), usage(paymentsSession, at, credit, 10)))
		all := p.ms.AllMetrics()
		var team string
		forEachPoint(all[len(all)-1].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0), func(a pcommon.Map) { team = strAttr(a, "team") })
		return team
	}
	assert.Equal(t, "payments", routedAs(paymentsSession), "a replica that saw payments first")
	assert.Equal(t, "payments", routedAs(docs), "a replica that saw another team first")
}

// TestPricedTwiceCountsOnce: a laptop whose processor runs in mode full
// sends usage it priced to a gateway whose processor prices too. The
// gateway replaces the laptop's copilot.cost with its own instead of
// adding a second: the cost is counted once, at the gateway's prices, and
// so is the spend of its budgets.
func TestPricedTwiceCountsOnce(t *testing.T) {
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	laptopCfg := testConfig()
	laptopCfg.Pricing.PerCredit = "0.01"
	laptop := startPipeline(t, laptopCfg, pipelineOptions{now: fakeclock.New(at).Now})
	defer laptop.stop(t)
	gatewayCfg := testConfig()
	gatewayCfg.Pricing.PerCredit = "0.02"
	gatewayCfg.Budgets = []budget.Config{{Name: "payments-daily", Scope: budget.ScopeTeam, Value: "payments", Amount: "1", Period: budget.PeriodDay}}
	gateway := startPipeline(t, gatewayCfg, pipelineOptions{now: fakeclock.New(at).Now})
	defer gateway.stop(t)

	ctx := context.Background()
	require.NoError(t, laptop.m.ConsumeMetrics(ctx, usage(paymentsSession, at, 5*credit, 100)))
	require.Len(t, metricsNamed(laptop, mCost), 1, "the laptop priced it")
	for _, md := range laptop.ms.AllMetrics() {
		require.NoError(t, gateway.m.ConsumeMetrics(ctx, md))
	}
	var costs []float64
	for _, m := range metricsNamed(gateway, mCost) {
		for _, dp := range m.Sum().DataPoints().All() {
			costs = append(costs, dp.DoubleValue())
		}
	}
	assert.Equal(t, []float64{0.1}, costs, "one cost, the gateway's: 5 credits at 0.02")
	spend, ok := lastGauge(t, gateway, mBudgetSpend, "payments-daily")
	require.True(t, ok)
	assert.InDelta(t, 0.1, spend, 1e-12)
}
