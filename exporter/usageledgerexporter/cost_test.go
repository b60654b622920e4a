package usageledgerexporter

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-copilot/otelcol-copilot/exporter/usageledgerexporter/internal/metadatatest"
	"github.com/otelcol-copilot/otelcol-copilot/internal/ledger"
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
