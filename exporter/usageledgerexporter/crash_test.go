package usageledgerexporter

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

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

// nopWriter is the exporter's writer with no-op telemetry.
func nopWriter(t *testing.T, cfg *Config) *writer {
	t.Helper()
	w, err := newWriter(cfg, componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	return w
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
			w := nopWriter(t, cfg)
			require.NoError(t, w.pushMetrics(ctx, costBatch("s1", day, 0.25, 25_000_000)))
			csv := filepath.Join(dir, "copilot-usage-gw-1-2026-03-10.csv")
			pq := filepath.Join(dir, "copilot-usage-gw-1-2026-03-10.parquet")
			before, err := os.ReadFile(pq)
			require.NoError(t, err)
			second := costBatch("s1", day.Add(time.Hour), 0.5, 50_000_000)
			require.NoError(t, w.pushMetrics(ctx, second))
			tt.crash(t, pq, before)

			w = nopWriter(t, cfg) // the restart
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
	require.NoError(t, nopWriter(t, cfg).pushMetrics(ctx, costBatch("s1", day, 0.25, 25_000_000)))
	pq := filepath.Join(dir, "copilot-usage-gw-1-2026-03-10.parquet")
	require.FileExists(t, pq)

	cfg.Formats = []string{"csv"}
	require.NoError(t, nopWriter(t, cfg).pushMetrics(ctx, costBatch("s1", day.Add(time.Hour), 0.5, 50_000_000)))
	assert.Equal(t, "0.75", csvTotal(t, filepath.Join(dir, "copilot-usage-gw-1-2026-03-10.csv")).String())
	assert.NoFileExists(t, pq, "no stale copy")
}

// onlyMetric is md with only the metric name of each resource.
func onlyMetric(md pmetric.Metrics, name string) pmetric.Metrics {
	c := pmetric.NewMetrics()
	md.CopyTo(c)
	for _, rm := range c.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			sm.Metrics().RemoveIf(func(m pmetric.Metric) bool { return m.Name() != name })
		}
	}
	return c
}

// A persistent queue with batching; the exporter is stopped while one
// request is written in part (one of its days' files cannot be written),
// then started again over the same queue and directory: the queue replays
// the request whole, and the ledger has each priced call once. The first
// time, the request is merged into a batch already holding another
// request's point; after the restart it comes alone. A batch configuration
// that the exporter accepts must not make the replay's rows differ from
// those already written.
func TestRestartWithRequestWrittenInPart(t *testing.T) {
	tests := []struct {
		name    string
		maxSize int64
	}{
		{"merged", 0},
		{"merged and split", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ledger")
			require.NoError(t, os.MkdirAll(dir, 0o755))
			storageDir := t.TempDir()
			cfg := testConfig(dir)
			q := exporterhelper.NewDefaultQueueConfig()
			id := storagetest.NewStorageID("queue")
			q.StorageID = &id
			q.NumConsumers = 1
			b := q.Batch.GetOrInsertDefault()
			b.Sizer = exporterhelper.RequestSizerTypeItems
			b.MinSize, b.MaxSize = 2, tt.maxSize
			b.FlushTimeout = time.Hour // the first request waits for the second
			cfg.QueueConfig = configoptional.Some(q)
			cfg.RetryConfig.InitialInterval = 10 * time.Millisecond
			cfg.RetryConfig.MaxInterval = 20 * time.Millisecond
			cfg.RetryConfig.MaxElapsedTime = 0 // retry until shutdown
			if err := cfg.Validate(); err != nil {
				require.NotZero(t, tt.maxSize, "only splitting is refused")
				assert.ErrorContains(t, err, "sending_queue::batch::max_size")
				return
			}
			ctx := context.Background()
			day := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
			first := onlyMetric(costBatch("s0", day, 0.1, 0), metricCost) // one point
			second := costBatch("s1", day.Add(time.Hour), 0.25, 25_000_000)
			onlyMetric(costBatch("s2", day.Add(24*time.Hour), 0.3, 0), metricCost).ResourceMetrics().MoveAndAppendTo(second.ResourceMetrics())
			day10, day11 := filepath.Join(dir, "copilot-usage-gw-1-2026-03-10.csv"), filepath.Join(dir, "copilot-usage-gw-1-2026-03-11.csv")
			require.NoError(t, os.Mkdir(day11, 0o755)) // not a file: exports to 2026-03-11 fail

			host := storagetest.NewStorageHost().WithFileBackedStorageExtension("queue", storageDir)
			e := newExporter(t, cfg)
			require.NoError(t, e.Start(ctx, host))
			push(t, e, []pmetric.Metrics{first, second})
			require.Eventually(t, func() bool {
				rows, err := ledger.ReadFile(day10)
				require.NoError(t, err)
				for _, r := range rows {
					if r.SessionID == "s1" {
						return true
					}
				}
				return false
			}, 10*time.Second, 10*time.Millisecond, "s1's row written, s2's retried")
			require.NoError(t, e.Shutdown(ctx))
			for _, ext := range host.GetExtensions() {
				require.NoError(t, ext.Shutdown(ctx))
			}

			require.NoError(t, os.Remove(day11))
			cfg.QueueConfig.Get().Batch.Get().FlushTimeout = 10 * time.Millisecond
			host = storagetest.NewStorageHost().WithFileBackedStorageExtension("queue", storageDir)
			e = newExporter(t, cfg)
			require.NoError(t, e.Start(ctx, host))
			require.Eventually(t, func() bool {
				_, err := os.Stat(day11)
				return err == nil
			}, 10*time.Second, 10*time.Millisecond, "the replayed request written")
			require.NoError(t, e.Shutdown(ctx))
			for _, ext := range host.GetExtensions() {
				require.NoError(t, ext.Shutdown(ctx))
			}

			got, rows := ledgerAccount(t, dir)
			assert.Equal(t, "0.65", got.total.String(), "total")
			assert.EqualValues(t, 25_000_000, got.nanoAIU, "nano-AIU")
			perSession := map[string]int{}
			for _, r := range rows {
				perSession[r.SessionID]++
			}
			assert.Equal(t, map[string]int{"s0": 1, "s1": 1, "s2": 1}, perSession, "a row per priced call")
		})
	}
}

// TestLeftoversRemovedAtStart: the temporary files writes of this collector
// left when it was killed go at the next start; a write that may still be
// running (a file younger than leftoverAge), another collector's files,
// even one whose name begins with this one's, and the ledger stay.
func TestLeftoversRemovedAtStart(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * leftoverAge)
	put := func(name string, mtime time.Time) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
		require.NoError(t, os.Chtimes(p, mtime, mtime))
		return p
	}
	gone := []string{
		put(".copilot-usage-gw-1-2026-03-10.csv.tmp-123456", old),
		put(".copilot-usage-gw-1-2026-03-10.parquet.tmp-987", old),
	}
	kept := []string{
		put(".copilot-usage-gw-1-2026-03-11.csv.tmp-555", time.Now()),      // may be a write in flight
		put(".copilot-usage-gw-1-b-2026-03-10.csv.tmp-1", old),             // collector gw-1-b's
		put(".copilot-usage-gw-2-2026-03-10.csv.tmp-1", old),               // collector gw-2's
		put("copilot-usage-gw-1-2026-03-10.csv", old),                      // the ledger
		put(".copilot-usage-gw-1-2026-03-10.csv.lock-not-a-tmp-file", old), // something else
	}
	e := newExporter(t, testConfig(dir))
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, e.Shutdown(context.Background()))
	for _, p := range gone {
		assert.NoFileExists(t, p)
	}
	for _, p := range kept {
		assert.FileExists(t, p)
	}
}

// TestOneWriterPerCollector: an export rewrites a day's file whole, so two
// writers of one collector's files would each put back the file without
// the other's rows. The second usage_ledger exporter of a collector on a
// directory does not start, and says which setting to change; another
// collector on the same directory does, and so does the first one's
// successor once it has shut down. (internal/filelock tests the lock
// against another process, killed or not.)
func TestOneWriterPerCollector(t *testing.T) {
	ctx, host := context.Background(), componenttest.NewNopHost()
	dir := t.TempDir()
	first := newExporter(t, testConfig(dir))
	require.NoError(t, first.Start(ctx, host))

	second := newExporter(t, testConfig(dir))
	err := second.Start(ctx, host)
	require.Error(t, err, "a second writer of gw-1's files started")
	assert.Contains(t, err.Error(), `collector: another usage_ledger exporter already writes the ledger in `+dir+` as collector "gw-1"`)
	require.NoError(t, second.Shutdown(ctx))

	other := testConfig(dir)
	other.Collector = "gw-2"
	gw2 := newExporter(t, other)
	require.NoError(t, gw2.Start(ctx, host), "another collector's files are its own")
	require.NoError(t, gw2.Shutdown(ctx))

	require.NoError(t, first.Shutdown(ctx))
	next := newExporter(t, testConfig(dir))
	require.NoError(t, next.Start(ctx, host), "the lock is released at shutdown")
	require.NoError(t, next.Shutdown(ctx))
}
