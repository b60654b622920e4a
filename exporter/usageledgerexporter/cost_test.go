package usageledgerexporter

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-copilot/otelcol-copilot/exporter/usageledgerexporter/internal/metadatatest"
	"github.com/otelcol-copilot/otelcol-copilot/internal/ledger"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor"
)

var callStart = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// costMetric is the copilot.cost metric of a costBatch.
func costMetric(md pmetric.Metrics) pmetric.Metric {
	for _, m := range md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().All() {
		if m.Name() == metricCost {
			return m
		}
	}
	panic("no copilot.cost")
}

// observedWriter is the exporter's writer with test telemetry and a log
// that the test reads.
func observedWriter(t *testing.T, cfg *Config) (*writer, *componenttest.Telemetry, *observer.ObservedLogs) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	core, logs := observer.New(zapcore.InfoLevel)
	set := tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	w, err := newWriter(cfg, set)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, w.shutdown(context.Background())) })
	return w, tel, logs
}

// A copilot.cost point whose unit is not the exporter's currency is not
// added to a row as that currency: the sender's string never reaches
// BillingCurrency, and usage priced only in another currency has no row
// rather than a row at cost 0 (which would say it was free). The points
// and the rows are counted, and a warning says what to do.
func TestCostInAnotherCurrencyNotAddedToRows(t *testing.T) {
	tests := []struct {
		name      string
		unit      string
		alsoInUSD bool // the group has a second point, in the ledger's currency
		wantRows  int
		wantCost  string
	}{
		{name: "markup", unit: `<script>x</script>`},
		{name: "another ISO 4217 code", unit: "EUR"},
		{name: "no unit", unit: ""},
		{name: "lower case", unit: "usd"},
		{name: "one point in the ledger's currency", unit: "EUR", alsoInUSD: true, wantRows: 1, wantCost: "0.02"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := costBatch("s1", callStart, 0.01, 1_000_000_000)
			cost := costMetric(md)
			if tt.alsoInUSD {
				usd := md.ResourceMetrics().At(0).ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
				cost.CopyTo(usd)
				usd.Sum().DataPoints().At(0).SetDoubleValue(0.02)
			}
			cost.SetUnit(tt.unit)

			dir := t.TempDir()
			w, tel, logs := observedWriter(t, testConfig(dir))
			require.NoError(t, w.pushMetrics(context.Background(), md))

			rows, err := ledger.ReadFile(filepath.Join(dir, ledger.FileName("gw-1", "2026-11-20")))
			require.NoError(t, err)
			require.Len(t, rows, tt.wantRows)
			for _, r := range rows {
				assert.Equal(t, "USD", r.Currency)
				assert.Equal(t, tt.wantCost, r.Cost, "only the point in the ledger's currency")
				assert.Equal(t, "ai_credits", r.CostMethod)
			}
			metadatatest.AssertEqualExporterUsageLedgerCostPointsRefused(t, tel, []metricdata.DataPoint[int64]{
				{Attributes: attribute.NewSet(attribute.String("reason", "currency")), Value: 1},
			}, metricdatatest.IgnoreTimestamp())
			metadatatest.AssertEqualExporterUsageLedgerRowsRefused(t, tel, []metricdata.DataPoint[int64]{
				{Value: int64(1 - tt.wantRows)},
			}, metricdatatest.IgnoreTimestamp())
			warned := logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("pricing.currency").All()
			require.Len(t, warned, 1)
			assert.Equal(t, []any{`0.01 "` + tt.unit + `"`}, warned[0].ContextMap()["amounts"])
		})
	}
}

// A batch with costs only in the ledger's currency counts and logs
// nothing.
func TestCostInTheLedgerCurrencyNotRefused(t *testing.T) {
	w, tel, logs := observedWriter(t, testConfig(t.TempDir()))
	require.NoError(t, w.pushMetrics(context.Background(), costBatch("s1", callStart, 0.01, 1_000_000_000)))
	_, err := tel.GetMetric("otelcol_exporter_usage_ledger_cost_points_refused")
	assert.Error(t, err, "nothing refused, nothing recorded")
	assert.Zero(t, logs.FilterLevelExact(zapcore.WarnLevel).Len())
}

// pricedAgain runs a second chargeback processor (a gateway's, in mode
// full) over batches a first one priced (an agent's, in mode full), as a
// fleet whose agents price and whose gateway prices again does.
func pricedAgain(t *testing.T, mds []pmetric.Metrics) []pmetric.Metrics {
	t.Helper()
	ctx := context.Background()
	out := new(consumertest.MetricsSink)
	p, err := chargebackprocessor.NewFactory().CreateMetrics(ctx, processortest.NewNopSettings(component.MustNewType("chargeback")), chargebackConfig(), out)
	require.NoError(t, err)
	require.NoError(t, p.Start(ctx, componenttest.NewNopHost()))
	for _, md := range mds {
		c := pmetric.NewMetrics()
		md.CopyTo(c)
		require.NoError(t, p.ConsumeMetrics(ctx, c))
	}
	require.NoError(t, p.Shutdown(ctx))
	return out.AllMetrics()
}

func costPoints(mds []pmetric.Metrics) int {
	n := 0
	for _, md := range mds {
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if m.Name() == metricCost {
						n += m.Sum().DataPoints().Len()
					}
				}
			}
		}
	}
	return n
}

// Usage priced by an agent's chargeback processor and again by the
// gateway's (both in mode full): the gateway's processor replaces the
// agent's copilot.cost rather than adding its own (the audit had seen cost
// 0.02, method ai_credits+ai_credits, for one call), so the ledger gets
// each group's cost once and its total is the processor's, with nothing
// to refuse. TestRepeatedMethodKeepsTheLastPoint covers a batch that
// still brings a method twice.
func TestUsagePricedTwiceCountedOnce(t *testing.T) {
	once := priced(t)
	twice := pricedAgain(t, once)
	require.Equal(t, costPoints(once), costPoints(twice), "the gateway's processor replaces the agent's cost")

	dir := t.TempDir()
	w, tel, _ := observedWriter(t, testConfig(dir))
	for _, md := range twice {
		require.NoError(t, w.pushMetrics(context.Background(), md))
	}
	got, rows := ledgerAccount(t, dir)
	assertSameAccounting(t, account(t, once), got)
	assert.Equal(t, "0.288073675", got.total.String())
	for _, r := range rows {
		methods := strings.Split(r.CostMethod, "+")
		assert.Equal(t, slices.Compact(slices.Clone(methods)), methods, "each method once: %s", r.CostMethod)
	}
	_, err := tel.GetMetric("otelcol_exporter_usage_ledger_cost_points_refused")
	assert.Error(t, err, "no cost point refused")
}

// Of a method priced twice at different prices (the agent's processor
// configured with other prices than the gateway's), the row keeps the
// last point, the price of the processor nearest the ledger, once; its
// other methods are kept as they are.
func TestRepeatedMethodKeepsTheLastPoint(t *testing.T) {
	md := costBatch("s1", callStart, 0.01, 1_000_000_000)
	agent := costMetric(md)
	sm := md.ResourceMetrics().At(0).ScopeMetrics().AppendEmpty() // the gateway's processor appends its own scope
	gateway := sm.Metrics().AppendEmpty()
	agent.CopyTo(gateway)
	gateway.Sum().DataPoints().At(0).SetDoubleValue(0.012)
	tokens := gateway.Sum().DataPoints().AppendEmpty()
	gateway.Sum().DataPoints().At(0).CopyTo(tokens)
	tokens.Attributes().PutStr(attrCostMethod, "token_price")
	tokens.SetDoubleValue(0.003)

	rows, ref := rowsOf(md, testConfig(t.TempDir()))
	require.Len(t, rows, 1)
	assert.Equal(t, "0.015", rows[0].Cost)
	assert.Equal(t, "ai_credits+token_price", rows[0].CostMethod)
	assert.Equal(t, 1, ref.repeated)
	assert.Equal(t, 1, ref.differing)
}
