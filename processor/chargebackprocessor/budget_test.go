package chargebackprocessor

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/fakeclock"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/budget"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/metadata"
)

// session is the context of a made-up session, as the copilot receiver
// puts it on its resources.
type session struct {
	id, owner, repo, branch, user string
}

var paymentsSession = session{id: "s-pay-1", owner: "acme", repo: "payments-api", branch: "feature/PAY-4411-refund-retries", user: "dev"}

// usage is one batch of the receiver's usage metrics: credits AI credits
// (1e9 nano-AIU each) of one model call at time at.
func usage(s session, at time.Time, nanoAIU int64, inputTokens int64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	res := rm.Resource().Attributes()
	res.PutStr("service.name", "github-copilot")
	res.PutStr(semconv.AttrSessionID, s.id)
	res.PutStr(semconv.AttrVCSOwnerName, s.owner)
	res.PutStr(semconv.AttrVCSRepositoryName, s.repo)
	res.PutStr(semconv.AttrVCSRefHeadName, s.branch)
	res.PutStr(semconv.AttrUserName, s.user)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(semconv.ReceiverScope)
	ts := pcommon.NewTimestampFromTime(at)
	point := func(name string) pmetric.NumberDataPoint {
		m := sm.Metrics().AppendEmpty()
		m.SetName(name)
		sum := m.SetEmptySum()
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		sum.SetIsMonotonic(true)
		dp := sum.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(ts)
		dp.SetTimestamp(ts)
		dp.Attributes().PutStr("gen_ai.request.model", "claude-sonnet-4.6")
		dp.Attributes().PutStr("copilot.initiator", "user")
		dp.Attributes().PutStr(semconv.AttrGenAIAgentName, "main")
		return dp
	}
	point(semconv.MetricCopilotUsageNanoAIU).SetIntValue(nanoAIU)
	tok := point(semconv.MetricCopilotUsageTokens)
	tok.Attributes().PutStr(semconv.AttrGenAITokenType, "input")
	tok.SetIntValue(inputTokens)
	return md
}

const credit = int64(1e9) // nano-AIU

// crossings returns the budget crossing records that came out.
func crossings(p *pipeline) []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range p.ls.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if lr.EventName() == eventCrossing {
						out = append(out, lr)
					}
				}
			}
		}
	}
	return out
}

// lastGauge returns the last value of a budget gauge for a budget.
func lastGauge(t *testing.T, p *pipeline, name, budgetName string) (float64, bool) {
	var v float64
	found := false
	for _, m := range metricsNamed(p, name) {
		require.Equal(t, pmetric.MetricTypeGauge, m.Type())
		for _, dp := range m.Gauge().DataPoints().All() {
			if strAttr(dp.Attributes(), attrBudget) == budgetName {
				v, found = dp.DoubleValue(), true
			}
		}
	}
	return v, found
}

// TestBudgetCrossings follows one team's daily budget of US$0.10 (10
// credits at the default US$0.01) with a fake clock through refusals,
// a restart and the next day: each threshold's crossing comes out once.
func TestBudgetCrossings(t *testing.T) {
	day1 := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	c := fakeclock.New(day1)
	storageDir := t.TempDir()
	id := storagetest.NewStorageID("budgets")
	cfg := testConfig()
	cfg.Storage = &id
	cfg.Budgets = []budget.Config{{Name: "payments-daily", Scope: budget.ScopeTeam, Value: "payments", Amount: "0.10", Period: budget.PeriodDay}}
	failMetrics, failLogs := new(atomic.Int32), new(atomic.Int32)
	start := func() *pipeline {
		host := storagetest.NewStorageHost().WithFileBackedStorageExtension("budgets", storageDir)
		return startPipeline(t, cfg, pipelineOptions{now: c.Now, host: host, failMetrics: failMetrics, failLogs: failLogs})
	}
	ctx := context.Background()
	send := func(p *pipeline, md pmetric.Metrics) error { return p.m.ConsumeMetrics(ctx, md) }

	p := start()
	require.NoError(t, send(p, usage(paymentsSession, day1, 4*credit, 100)))
	assert.Empty(t, crossings(p), "40%")
	u, ok := lastGauge(t, p, mUtilization, "payments-daily")
	require.True(t, ok)
	assert.InDelta(t, 0.4, u, 1e-12)

	// 60%: the 50% crossing, but the logs pipeline refuses it once.
	failLogs.Store(1)
	require.NoError(t, send(p, usage(paymentsSession, day1.Add(time.Minute), 2*credit, 100)))
	assert.Empty(t, crossings(p))
	assert.Zero(t, p.counter(t, "budget_crossings", "", ""))
	// The next batch delivers it: 70%, no new threshold.
	require.NoError(t, send(p, usage(paymentsSession, day1.Add(2*time.Minute), 1*credit, 100)))
	cs := crossings(p)
	require.Len(t, cs, 1)
	a := cs[0].Attributes()
	assert.Equal(t, "payments-daily", strAttr(a, attrBudget))
	assert.Equal(t, "team", strAttr(a, attrScope))
	assert.Equal(t, "payments", strAttr(a, attrValue))
	assert.Equal(t, "payments", strAttr(a, "team"))
	assert.Equal(t, "50", strAttr(a, "copilot.budget.threshold"))
	assert.Equal(t, "0.06", strAttr(a, "copilot.budget.spend_exact"), "the spend when it crossed")
	assert.Equal(t, "0.1", strAttr(a, "copilot.budget.limit_exact"))
	assert.Equal(t, "2026-03-10T00:00:00Z", strAttr(a, "copilot.budget.window.start"))
	assert.Equal(t, "2026-03-11T00:00:00Z", strAttr(a, "copilot.budget.window.end"))
	assert.Equal(t, "USD", strAttr(a, "copilot.budget.currency"))
	assert.Equal(t, budget.CrossingID("payments-daily", "payments", time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), 50), strAttr(a, "copilot.budget.crossing.id"))
	assert.Equal(t, plog.SeverityNumberWarn, cs[0].SeverityNumber())
	assert.Equal(t, pcommon.NewTimestampFromTime(day1.Add(time.Minute)), cs[0].Timestamp())

	// 5 credits the metrics pipeline refuses: not counted; sent again:
	// 120%, the 75, 90 and 100% crossings together.
	failMetrics.Store(1)
	batch := usage(paymentsSession, day1.Add(3*time.Minute), 5*credit, 100)
	require.ErrorIs(t, send(p, batch), errRefused)
	require.Len(t, crossings(p), 1)
	require.NoError(t, send(p, usage(paymentsSession, day1.Add(3*time.Minute), 5*credit, 100)))
	cs = crossings(p)
	require.Len(t, cs, 4)
	for i, want := range []string{"75", "90", "100"} {
		assert.Equal(t, want, strAttr(cs[1+i].Attributes(), "copilot.budget.threshold"))
		assert.Equal(t, "0.12", strAttr(cs[1+i].Attributes(), "copilot.budget.spend_exact"))
	}
	assert.Equal(t, plog.SeverityNumberError, cs[3].SeverityNumber(), "100% is an error")
	assert.Equal(t, int64(4), p.counter(t, "budget_crossings", "", ""))
	p.stop(t)

	// A restart keeps the spend and the crossings emitted.
	p = start()
	require.NoError(t, send(p, usage(paymentsSession, day1.Add(time.Hour), 1*credit, 100)))
	assert.Empty(t, crossings(p), "nothing emitted again")
	spend, ok := lastGauge(t, p, mBudgetSpend, "payments-daily")
	require.True(t, ok)
	assert.InDelta(t, 0.13, spend, 1e-12, "0.12 before the restart, 0.01 after")

	// The next day is a new window.
	day2 := day1.Add(24 * time.Hour)
	c.Set(day2)
	require.NoError(t, send(p, usage(paymentsSession, day2, 6*credit, 100)))
	cs = crossings(p)
	require.Len(t, cs, 1)
	assert.Equal(t, "50", strAttr(cs[0].Attributes(), "copilot.budget.threshold"))
	assert.Equal(t, "2026-03-11T00:00:00Z", strAttr(cs[0].Attributes(), "copilot.budget.window.start"))
	u, _ = lastGauge(t, p, mUtilization, "payments-daily")
	assert.InDelta(t, 0.6, u, 1e-12)
	p.stop(t)
}

// TestBudgetScopes counts one spend under every scope it has: the
// ticket of the branch, the user and the session, each budget per value.
func TestBudgetScopes(t *testing.T) {
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	c := fakeclock.New(at)
	cfg := testConfig()
	cfg.Budgets = []budget.Config{
		{Name: "per-ticket", Scope: budget.ScopeTicket, Amount: "0.02", Period: budget.PeriodMonth, Thresholds: []float64{100}},
		{Name: "per-user", Scope: budget.ScopeUser, Amount: "0.02", Period: budget.PeriodWeek, Thresholds: []float64{100}},
		{Name: "per-session", Scope: budget.ScopeSession, Amount: "0.02", Period: budget.PeriodDay, Thresholds: []float64{100}},
		{Name: "cost-center", Scope: budget.ScopeCostCenter, Value: "CC-100", Amount: "0.02", Period: budget.PeriodFixed,
			Start: at.Add(-time.Hour), End: at.Add(time.Hour), Thresholds: []float64{100}},
		{Name: "docs", Scope: budget.ScopeTeam, Value: "docs", Amount: "0.01", Period: budget.PeriodDay},
	}
	p := startPipeline(t, cfg, pipelineOptions{now: c.Now})
	require.NoError(t, p.m.ConsumeMetrics(context.Background(), usage(paymentsSession, at, 2*credit, 100)))
	p.stop(t)
	got := map[string]string{}
	for _, lr := range crossings(p) {
		got[strAttr(lr.Attributes(), attrBudget)] = strAttr(lr.Attributes(), attrValue)
	}
	assert.Equal(t, map[string]string{
		"per-ticket":  "PAY-4411",
		"per-user":    "dev",
		"per-session": "s-pay-1",
		"cost-center": "CC-100",
	}, got, "the docs team spent nothing")
	_, ok := lastGauge(t, p, mUtilization, "docs")
	assert.False(t, ok, "no utilization for a budget the batch did not move")
	u, ok := lastGauge(t, p, mUtilization, "per-ticket")
	require.True(t, ok)
	assert.InDelta(t, 1.0, u, 1e-12)
}

// TestCrossingsGoToEveryLogsPipeline: a processor in two logs pipelines
// sends each crossing into both (each pipeline decides: one filters it
// out, one notifies), not into whichever the collector happened to build
// first.
func TestCrossingsGoToEveryLogsPipeline(t *testing.T) {
	day := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	cfg := testConfig()
	cfg.Budgets = []budget.Config{{Name: "payments-daily", Scope: budget.ScopeTeam, Value: "payments", Amount: "0.10", Period: budget.PeriodDay}}
	p := startPipeline(t, cfg, pipelineOptions{now: fakeclock.New(day).Now})
	defer p.stop(t)
	second := new(consumertest.LogsSink)
	l2, err := p.f.CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, second)
	require.NoError(t, err)
	require.NoError(t, l2.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, l2.Shutdown(context.Background())) }()

	require.NoError(t, p.m.ConsumeMetrics(context.Background(), usage(paymentsSession, day, 6*credit, 100)))
	require.Len(t, crossings(p), 1, "the first logs pipeline")
	n := 0
	for _, ld := range second.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if lr.EventName() == eventCrossing {
						n++
					}
				}
			}
		}
	}
	assert.Equal(t, 1, n, "the second logs pipeline")
}

// storageOf is a storage extension that hands every component one client.
type storageOf struct {
	component.StartFunc
	component.ShutdownFunc
	client storage.Client
}

func (s *storageOf) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	return s.client, nil
}

// unreadableClient is a store that cannot be read while failing is set (a
// disk error, a locked file).
type unreadableClient struct {
	*storageclient.Memory
	failing atomic.Bool
}

func (c *unreadableClient) Get(ctx context.Context, key string) ([]byte, error) {
	if c.failing.Load() {
		return nil, errors.New("input/output error")
	}
	return c.Memory.Get(ctx, key)
}

func (c *unreadableClient) Close(context.Context) error { return nil }

// unreadableBudgetPipeline starts a pipeline with a daily budget of 0.10
// for team payments, on a store whose reads fail while client.failing is
// set, on clock c.
func unreadableBudgetPipeline(t *testing.T, c *fakeclock.Clock) (*pipeline, *unreadableClient) {
	t.Helper()
	id := storagetest.NewStorageID("budgets")
	cfg := testConfig()
	cfg.Storage = &id
	cfg.Budgets = []budget.Config{{Name: "payments-daily", Scope: budget.ScopeTeam, Value: "payments", Amount: "0.10", Period: budget.PeriodDay}}
	client := &unreadableClient{Memory: storageclient.NewMemory()}
	host := storagetest.NewStorageHost().WithExtension(id, &storageOf{client: client})
	return startPipeline(t, cfg, pipelineOptions{now: c.Now, host: host}), client
}

// TestBudgetStoreUnreadable: spend whose budget window could not be read
// from the store, after the usage itself was delivered, is counted with
// the next batch instead of being lost to the budgets; a crossing it
// causes comes late, not never.
func TestBudgetStoreUnreadable(t *testing.T) {
	day := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	c := fakeclock.New(day)
	p, client := unreadableBudgetPipeline(t, c)
	defer p.stop(t)
	ctx := context.Background()

	client.failing.Store(true)
	require.NoError(t, p.m.ConsumeMetrics(ctx, usage(paymentsSession, day, 6*credit, 100)), "the usage is delivered")
	assert.Len(t, p.ms.AllMetrics(), 1, "the usage went on")
	assert.Empty(t, crossings(p), "not counted yet: 60% unknown to the budget")

	client.failing.Store(false)
	require.NoError(t, p.m.ConsumeMetrics(ctx, usage(paymentsSession, day.Add(time.Minute), 1*credit, 100)))
	cs := crossings(p)
	require.Len(t, cs, 1, "the 6 credits held, then the 1: 70%")
	assert.Equal(t, "50", strAttr(cs[0].Attributes(), "copilot.budget.threshold"))
	assert.Equal(t, "0.06", strAttr(cs[0].Attributes(), "copilot.budget.spend_exact"), "crossed by the held spend")
	spend, ok := lastGauge(t, p, mBudgetSpend, "payments-daily")
	require.True(t, ok)
	assert.InDelta(t, 0.07, spend, 1e-12)
}

// TestBudgetStoreUnreadableAtMidnight: spend delivered at 23:59 while the
// store cannot be read is held; the store is readable again after
// midnight, when the day has ended. The held spend crossed the budget in a
// day that had not ended when it was delivered: its crossings come late,
// not never.
func TestBudgetStoreUnreadableAtMidnight(t *testing.T) {
	late := time.Date(2026, 3, 10, 23, 59, 0, 0, time.UTC)
	c := fakeclock.New(late)
	p, client := unreadableBudgetPipeline(t, c)
	defer p.stop(t)
	ctx := context.Background()

	client.failing.Store(true)
	require.NoError(t, p.m.ConsumeMetrics(ctx, usage(paymentsSession, late, 12*credit, 100)), "the usage is delivered")
	assert.Empty(t, crossings(p), "not counted yet")

	c.Set(late.Add(2 * time.Minute)) // 00:01 of the 11th
	client.failing.Store(false)
	require.NoError(t, p.m.ConsumeMetrics(ctx, usage(paymentsSession, c.Now(), 1*credit, 100)))
	cs := crossings(p)
	require.Len(t, cs, 4, "the 10th's 50, 75, 90 and 100%, crossed by spend delivered on the 10th")
	for _, lr := range cs {
		assert.Equal(t, "2026-03-10T00:00:00Z", strAttr(lr.Attributes(), "copilot.budget.window.start"))
		assert.Equal(t, "0.12", strAttr(lr.Attributes(), "copilot.budget.spend_exact"))
	}
}

// TestRefusedCrossingSurvivesStop: a crossing the logs pipeline refused is
// pending, not sent: a clean stop before the next batch keeps it, and the
// next start offers it.
func TestRefusedCrossingSurvivesStop(t *testing.T) {
	day := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	c := fakeclock.New(day)
	dir := t.TempDir()
	id := storagetest.NewStorageID("budgets")
	cfg := testConfig()
	cfg.Storage = &id
	cfg.Budgets = []budget.Config{{Name: "payments-daily", Scope: budget.ScopeTeam, Value: "payments", Amount: "0.10", Period: budget.PeriodDay}}
	failLogs := new(atomic.Int32)
	start := func() *pipeline {
		host := storagetest.NewStorageHost().WithFileBackedStorageExtension("budgets", dir)
		return startPipeline(t, cfg, pipelineOptions{now: c.Now, host: host, failLogs: failLogs})
	}
	ctx := context.Background()
	p := start()
	failLogs.Store(1)
	require.NoError(t, p.m.ConsumeMetrics(ctx, usage(paymentsSession, day, 6*credit, 100)), "60%: the 50% crossing refused")
	require.Empty(t, crossings(p))
	p.stop(t)

	p = start()
	require.NoError(t, p.m.ConsumeMetrics(ctx, usage(paymentsSession, day.Add(time.Minute), 1*credit, 100)))
	p.stop(t)
	cs := crossings(p)
	require.Len(t, cs, 1, "the refused crossing, once")
	assert.Equal(t, "50", strAttr(cs[0].Attributes(), "copilot.budget.threshold"))
	assert.Equal(t, "0.06", strAttr(cs[0].Attributes(), "copilot.budget.spend_exact"))
}

// TestSpendKeptWhileCrossingsRefused: the spend of a batch whose crossing
// was refused is stored all the same (the batch was acknowledged upstream
// and will not come again): a crash before the next batch loses neither
// the spend nor the crossing.
func TestSpendKeptWhileCrossingsRefused(t *testing.T) {
	day := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	c := fakeclock.New(day)
	id := storagetest.NewStorageID("budgets")
	cfg := testConfig()
	cfg.Storage = &id
	cfg.Budgets = []budget.Config{{Name: "payments-daily", Scope: budget.ScopeTeam, Value: "payments", Amount: "0.10", Period: budget.PeriodDay}}
	client := &unreadableClient{Memory: storageclient.NewMemory()} // outlives the crashed process
	failLogs := new(atomic.Int32)
	start := func() *pipeline {
		host := storagetest.NewStorageHost().WithExtension(id, &storageOf{client: client})
		return startPipeline(t, cfg, pipelineOptions{now: c.Now, host: host, failLogs: failLogs})
	}
	ctx := context.Background()
	crashed := start()
	failLogs.Store(1)
	require.NoError(t, crashed.m.ConsumeMetrics(ctx, usage(paymentsSession, day, 6*credit, 100)), "acknowledged upstream")
	// The process dies here: crashed is stopped only once the test is
	// over (its goroutines must not outlive the test).
	t.Cleanup(func() { crashed.stop(t) })

	p := start()
	defer p.stop(t)
	require.NoError(t, p.m.ConsumeMetrics(ctx, usage(paymentsSession, day.Add(time.Minute), 5*credit, 100)))
	var thresholds []string
	for _, lr := range crossings(p) {
		thresholds = append(thresholds, strAttr(lr.Attributes(), "copilot.budget.threshold"))
	}
	assert.Equal(t, []string{"50", "75", "90", "100"}, thresholds)
	spend, ok := lastGauge(t, p, mBudgetSpend, "payments-daily")
	require.True(t, ok)
	assert.InDelta(t, 0.11, spend, 1e-12, "0.06 before the crash, 0.05 after")
}

// TestPerSessionBudgetWithoutSessionID: metrics without session.id (the
// receiver's default) give a per-session budget nothing to count: three
// sessions of 0.02 against 0.05 cross for no one.
func TestPerSessionBudgetWithoutSessionID(t *testing.T) {
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	cfg := testConfig()
	cfg.Budgets = []budget.Config{{Name: "per-session", Scope: budget.ScopeSession, Amount: "0.05", Period: budget.PeriodDay, Thresholds: []float64{100}}}
	p := startPipeline(t, cfg, pipelineOptions{now: fakeclock.New(at).Now})
	defer p.stop(t)
	for i, sid := range []string{"a", "b", "c"} {
		md := usage(session{id: sid, owner: "acme", repo: "payments-api", branch: "main", user: "dev"}, at.Add(time.Duration(i)*time.Minute), 2*credit, 10)
		md.ResourceMetrics().At(0).Resource().Attributes().Remove(semconv.AttrSessionID)
		require.NoError(t, p.m.ConsumeMetrics(context.Background(), md))
	}
	assert.Empty(t, crossings(p), "no session spent more than 0.02 of 0.05")
}
