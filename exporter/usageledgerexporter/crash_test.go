package usageledgerexporter

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/ledger"
)

// costBatch is one priced model call of session sid at start, as the
// chargeback processor emits it: a copilot.cost point and its nano-AIU.
func costBatch(sid string, start time.Time, cost float64, nanoAIU int64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("session.id", sid)
	sm := rm.ScopeMetrics().AppendEmpty()
	for _, name := range []string{metricCost, "copilot.usage.nano_aiu"} {
		m := sm.Metrics().AppendEmpty()
		m.SetName(name)
		s := m.SetEmptySum()
		s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		dp := s.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Second)))
		dp.Attributes().PutStr("gen_ai.request.model", "claude-sonnet-4.5")
		if name == metricCost {
			m.SetUnit("USD")
			dp.SetDoubleValue(cost)
			dp.Attributes().PutStr(attrCostMethod, "ai_credits")
		} else {
			dp.SetIntValue(nanoAIU)
		}
	}
	return md
}

// csvTotal sums a CSV day file's BilledCost.
func csvTotal(t *testing.T, path string) money.Amount {
	rows, err := ledger.ReadFile(path)
	require.NoError(t, err)
	total := money.Zero()
	for _, r := range rows {
		v, err := money.ParseDecimal(r.Cost)
		require.NoError(t, err)
		total = total.Add(v)
	}
	return total
}

// A kill -9 between the CSV file's rename and its Parquet copy's leaves the
// new CSV file and the old copy (or none, on a day's first export); the
// batch comes again after the restart (a persistent queue, a client's
// retry) and adds nothing to the CSV file. The copy is rewritten all the
// same: it has the CSV file's rows.
func TestParquetCopyRewrittenAfterCrashBetweenRenames(t *testing.T) {
	day := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		crash func(t *testing.T, pq string, before []byte) // the state the kill leaves
	}{
		{"copy of the previous file", func(t *testing.T, pq string, before []byte) {
			require.NoError(t, os.WriteFile(pq, before, 0o644))
		}},
		{"no copy", func(t *testing.T, pq string, _ []byte) {
			require.NoError(t, os.Remove(pq))
		}},
		{"copy of the previous file, new copy's temporary file left", func(t *testing.T, pq string, before []byte) {
			require.NoError(t, os.WriteFile(pq, before, 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(pq), "."+filepath.Base(pq)+".tmp-1"), before[:len(before)/2], 0o644))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(dir)
			cfg.Formats = []string{"csv", "parquet"}
			ctx := context.Background()
			w := newWriter(cfg, zap.NewNop())
			require.NoError(t, w.pushMetrics(ctx, costBatch("s1", day, 0.25, 25_000_000)))
			csv := filepath.Join(dir, "copilot-usage-gw-1-2026-03-10.csv")
			pq := filepath.Join(dir, "copilot-usage-gw-1-2026-03-10.parquet")
			before, err := os.ReadFile(pq)
			require.NoError(t, err)
			second := costBatch("s1", day.Add(time.Hour), 0.5, 50_000_000)
			require.NoError(t, w.pushMetrics(ctx, second))
			tt.crash(t, pq, before)

			w = newWriter(cfg, zap.NewNop()) // the restart
			require.NoError(t, w.pushMetrics(ctx, second))

			assert.Equal(t, "0.75", csvTotal(t, csv).String())
			assert.Equal(t, "0.75", parquetTotal(t, pq).String(), "the Parquet copy has the CSV file's rows")
		})
	}
}

// Parquet taken out of formats: a day's copy would no longer follow its
// CSV file, so it is removed rather than left stale.
func TestParquetCopyRemovedWithoutParquetFormat(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Formats = []string{"csv", "parquet"}
	ctx := context.Background()
	day := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	require.NoError(t, newWriter(cfg, zap.NewNop()).pushMetrics(ctx, costBatch("s1", day, 0.25, 25_000_000)))
	pq := filepath.Join(dir, "copilot-usage-gw-1-2026-03-10.parquet")
	require.FileExists(t, pq)

	cfg.Formats = []string{"csv"}
	require.NoError(t, newWriter(cfg, zap.NewNop()).pushMetrics(ctx, costBatch("s1", day.Add(time.Hour), 0.5, 50_000_000)))
	assert.Equal(t, "0.75", csvTotal(t, filepath.Join(dir, "copilot-usage-gw-1-2026-03-10.csv")).String())
	assert.NoFileExists(t, pq, "no stale copy")
}
