package usageledgerexporter

import (
	"bytes"
	"context"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otelcol-copilot/otelcol-copilot/exporter/usageledgerexporter/internal/metadata"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/attribution"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/pricing"
	"github.com/otelcol-copilot/otelcol-copilot/internal/ledger"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"
)

const testdataRoot = "../../testdata/copilot-cli"

// priced runs the copilot receiver over real transcripts (billed sessions,
// and bring-your-own-key sessions in two repositories) and the chargeback
// processor over its metrics, as the chargeback processor's own tests do,
// and returns the priced batches.
func priced(t *testing.T) []pmetric.Metrics {
	t.Helper()
	root := filepath.Join(t.TempDir(), "session-state")
	shutdowns := 0
	for _, d := range []string{"1.0.102-billed", "1.0.102-repos"} {
		files, err := filepath.Glob(filepath.Join(testdataRoot, d, "session-state", "*", "events.jsonl"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			shutdowns += bytes.Count(b, []byte(`"type":"session.shutdown"`))
			dst := filepath.Join(root, filepath.Base(filepath.Dir(f)), "events.jsonl")
			require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
			require.NoError(t, os.WriteFile(dst, b, 0o644))
		}
	}
	ctx := context.Background()
	rf := copilotreceiver.NewFactory()
	rcfg := rf.CreateDefaultConfig().(*copilotreceiver.Config)
	rcfg.SessionState.Include = []string{filepath.Join(root, "*", "events.jsonl")}
	rcfg.SessionState.PollInterval = 20 * time.Millisecond
	rcfg.SessionState.RescanInterval = 50 * time.Millisecond
	rcfg.SessionState.User = "dev"
	rcfg.MetricTimestamps = copilotreceiver.TimestampsEvent
	rcfg.ResourceAttributes.SessionID.Enabled = true
	rset := receivertest.NewNopSettings(component.MustNewType("copilot"))
	ms, ls := new(consumertest.MetricsSink), new(consumertest.LogsSink)
	m, err := rf.CreateMetrics(ctx, rset, rcfg, ms)
	require.NoError(t, err)
	l, err := rf.CreateLogs(ctx, rset, rcfg, ls)
	require.NoError(t, err)
	host := componenttest.NewNopHost()
	require.NoError(t, m.Start(ctx, host))
	require.NoError(t, l.Start(ctx, host))
	require.Eventually(t, func() bool {
		n := 0
		for _, ld := range ls.AllLogs() {
			for _, rl := range ld.ResourceLogs().All() {
				for _, sl := range rl.ScopeLogs().All() {
					for _, lr := range sl.LogRecords().All() {
						if lr.EventName() == "copilot.session.summary" {
							n++
						}
					}
				}
			}
		}
		return n >= shutdowns
	}, 20*time.Second, 10*time.Millisecond)
	require.NoError(t, m.Shutdown(ctx))
	require.NoError(t, l.Shutdown(ctx))

	pf := chargebackprocessor.NewFactory()
	pcfg := chargebackConfig()
	out := new(consumertest.MetricsSink)
	p, err := pf.CreateMetrics(ctx, processortest.NewNopSettings(component.MustNewType("chargeback")), pcfg, out)
	require.NoError(t, err)
	require.NoError(t, p.Start(ctx, host))
	for _, md := range ms.AllMetrics() {
		c := pmetric.NewMetrics()
		md.CopyTo(c)
		require.NoError(t, p.ConsumeMetrics(ctx, c))
	}
	require.NoError(t, p.Shutdown(ctx))
	return out.AllMetrics()
}

// chargebackConfig is the processor's configuration in these tests: teams
// by repository, token prices for the bring-your-own-key models.
func chargebackConfig() *chargebackprocessor.Config {
	pcfg := chargebackprocessor.NewFactory().CreateDefaultConfig().(*chargebackprocessor.Config)
	pcfg.Attribution.Rules = []attribution.Rule{
		{Name: "payments", Match: attribution.Match{Repository: "acme/payments-*"}, Set: attribution.Set{Team: "payments", Project: "payments-api", CostCenter: "CC-100"}},
		{Name: "docs", Match: attribution.Match{Repository: "acme/docs-site"}, Set: attribution.Set{Team: "docs", Project: "docs-site"}},
		{Name: "default-cost-center", Set: attribution.Set{CostCenter: "CC-000"}},
	}
	pcfg.Pricing.TokenPrices = map[string]pricing.TokenPrices{
		"gpt-4.1":         {Input: "2", Output: "8", CacheRead: "0.5"},
		"claude-sonnet-4": {Input: "3", Output: "15", CacheRead: "0.3", CacheWrite: "3.75"},
	}
	pcfg.Metrics.SessionID = true // the ledger's rows are per session
	return pcfg
}

// accounting is the processor's own totals: its copilot.cost points, read
// back as the exact decimals they were made from, by team and ticket.
type accounting struct {
	total            money.Amount
	byTeam, byTicket map[string]money.Amount
	nanoAIU          int64
}

func account(t *testing.T, mds []pmetric.Metrics) accounting {
	a := accounting{byTeam: map[string]money.Amount{}, byTicket: map[string]money.Amount{}}
	for _, md := range mds {
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					switch m.Name() {
					case metricCost:
						for _, dp := range m.Sum().DataPoints().All() {
							v, err := money.ParseDecimal(strconv.FormatFloat(dp.DoubleValue(), 'f', -1, 64))
							require.NoError(t, err)
							a.total = a.total.Add(v)
							team, ticket := str(dp.Attributes(), "team"), str(dp.Attributes(), "ticket")
							a.byTeam[team] = a.byTeam[team].Add(v)
							a.byTicket[ticket] = a.byTicket[ticket].Add(v)
						}
					case "copilot.usage.nano_aiu":
						for _, dp := range m.Sum().DataPoints().All() {
							a.nanoAIU += dp.IntValue()
						}
					}
				}
			}
		}
	}
	return a
}

// ledgerAccount is the same totals from the ledger's files.
func ledgerAccount(t *testing.T, dir string) (accounting, []ledger.Row) {
	rows, err := ledger.ReadDir(dir)
	require.NoError(t, err)
	a := accounting{byTeam: map[string]money.Amount{}, byTicket: map[string]money.Amount{}}
	seen := map[string]bool{}
	for _, r := range rows {
		require.False(t, seen[r.ID], "ReadDir returns each id once")
		seen[r.ID] = true
		v, err := money.ParseDecimal(r.Cost)
		require.NoError(t, err, r.Cost)
		a.total = a.total.Add(v)
		a.byTeam[r.Team] = a.byTeam[r.Team].Add(v)
		a.byTicket[r.Ticket] = a.byTicket[r.Ticket].Add(v)
		a.nanoAIU += r.NanoAIU
	}
	return a, rows
}

func assertSameAccounting(t *testing.T, want, got accounting) {
	t.Helper()
	assert.Equal(t, want.total.String(), got.total.String(), "total")
	assert.Equal(t, want.nanoAIU, got.nanoAIU, "nano-AIU")
	str := func(m map[string]money.Amount) map[string]string {
		s := map[string]string{}
		for k, v := range m {
			s[k] = v.String()
		}
		return s
	}
	assert.Equal(t, str(want.byTeam), str(got.byTeam), "by team")
	assert.Equal(t, str(want.byTicket), str(got.byTicket), "by ticket")
}

func testConfig(dir string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Directory = dir
	cfg.Collector = "gw-1"
	return cfg
}

func newExporter(t *testing.T, cfg *Config) exporter.Metrics {
	t.Helper()
	require.NoError(t, cfg.Validate())
	set := exportertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type) // a persistent queue is found again by the exporter's id
	e, err := NewFactory().CreateMetrics(context.Background(), set, cfg)
	require.NoError(t, err)
	return e
}

func push(t *testing.T, e exporter.Metrics, mds []pmetric.Metrics) {
	t.Helper()
	for _, md := range mds {
		c := pmetric.NewMetrics()
		md.CopyTo(c)
		require.NoError(t, e.ConsumeMetrics(context.Background(), c))
	}
}

// The ledger of real priced usage adds up, by team and by ticket, to the
// processor's own totals; the total is the one the processor's README
// quotes for these transcripts, hand-checked there from the CLI's own
// accounting.
func TestLedgerOfRealUsage(t *testing.T) {
	mds := priced(t)
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Formats = []string{"csv", "parquet"}
	e := newExporter(t, cfg)
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
	push(t, e, mds)
	require.NoError(t, e.Shutdown(context.Background()))

	want := account(t, mds)
	got, rows := ledgerAccount(t, dir)
	assertSameAccounting(t, want, got)
	assert.Equal(t, "0.288073675", got.total.String())
	assert.Positive(t, got.byTeam["payments"].Sign())
	assert.Positive(t, got.byTeam["docs"].Sign())
	assert.Positive(t, got.byTicket["PAY-4411"].Sign())
	for _, r := range rows {
		assert.NotEmpty(t, r.SessionID)
		assert.NotEmpty(t, r.Model)
		assert.Equal(t, "USD", r.Currency)
		assert.NotEmpty(t, r.CostMethod, "every row of these sessions is priced")
		assert.Equal(t, "dev", r.User)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		assert.Regexp(t, `/(copilot-usage-gw-1-\d{4}-\d\d-\d\d\.(csv|parquet)|\.copilot-usage-gw-1\.lock)$`, f, "only day files and the writer's lock, no temporary files")
		if strings.HasSuffix(f, ".parquet") {
			assert.Equal(t, want.total.String(), parquetTotal(t, f).String(), "the Parquet copy has the same costs")
		}
	}
	t.Logf("%d rows in %d files: total %s USD, by team %v, by ticket %v", len(rows), len(files), got.total, got.byTeam, got.byTicket)
}

// A batch delivered twice (a retry, a queue replaying) leaves the files as
// they were.
func TestReplayedBatchCountedOnce(t *testing.T) {
	mds := priced(t)
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Formats = []string{"csv", "parquet"}
	e := newExporter(t, cfg)
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
	push(t, e, mds)
	before := readAll(t, dir)
	push(t, e, mds)
	push(t, e, mds[:1])
	require.NoError(t, e.Shutdown(context.Background()))
	assert.Equal(t, before, readAll(t, dir), "files unchanged by a replay")
	got, _ := ledgerAccount(t, dir)
	assertSameAccounting(t, account(t, mds), got)
}

func readAll(t *testing.T, dir string) map[string]string {
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		out[filepath.Base(f)] = string(b)
	}
	return out
}

// An exporter with a persistent queue (file_storage) shut down while
// batches it acknowledged are still queued, then restarted: the queue
// replays them, and the files add up to the processor's accounting with no
// row twice, even with a batch both written and replayed.
func TestRestartWithPersistentQueue(t *testing.T) {
	mds := perResource(priced(t))
	require.Greater(t, len(mds), 2)
	dir := filepath.Join(t.TempDir(), "ledger")
	storageDir := t.TempDir()
	cfg := testConfig(dir)
	q := exporterhelper.NewDefaultQueueConfig()
	id := storagetest.NewStorageID("queue")
	q.StorageID = &id
	q.NumConsumers = 1
	cfg.QueueConfig = configoptional.Some(q)
	cfg.RetryConfig.InitialInterval = 10 * time.Millisecond
	cfg.RetryConfig.MaxInterval = 20 * time.Millisecond
	cfg.RetryConfig.MaxElapsedTime = 0 // retry until shutdown
	ctx := context.Background()

	host := storagetest.NewStorageHost().WithFileBackedStorageExtension("queue", storageDir)
	e := newExporter(t, cfg)
	require.NoError(t, e.Start(ctx, host))
	half := len(mds) / 2
	push(t, e, mds[:half])
	require.Eventually(t, func() bool { return len(readAll(t, dir)) > 0 }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		_, rows := ledgerAccount(t, dir)
		n := 0
		for _, md := range mds[:half] {
			rs, _ := rowsOf(md, cfg)
			n += len(rs)
		}
		return len(rows) >= n
	}, 10*time.Second, 10*time.Millisecond)
	// The ledger's directory becomes unwritable (a file in its place): the
	// rest is acknowledged into the queue and retried, and is still there
	// when the collector stops.
	aside := dir + ".aside"
	require.NoError(t, os.Rename(dir, aside))
	require.NoError(t, os.WriteFile(dir, nil, 0o644))
	push(t, e, mds[half:])
	push(t, e, mds[:1]) // sent again too
	require.NoError(t, e.Shutdown(ctx))
	for _, ext := range host.GetExtensions() {
		require.NoError(t, ext.Shutdown(ctx))
	}
	require.NoError(t, os.Remove(dir))
	require.NoError(t, os.Rename(aside, dir))
	partial, _ := ledgerAccount(t, dir)
	want := account(t, mds)
	require.NotEqual(t, want.total.String(), partial.total.String(), "some batches were still queued at shutdown")

	host = storagetest.NewStorageHost().WithFileBackedStorageExtension("queue", storageDir)
	e = newExporter(t, cfg)
	require.NoError(t, e.Start(ctx, host))
	require.Eventually(t, func() bool {
		got, _ := ledgerAccount(t, dir)
		return got.total.String() == want.total.String()
	}, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, e.Shutdown(ctx))
	for _, ext := range host.GetExtensions() {
		require.NoError(t, ext.Shutdown(ctx))
	}
	got, _ := ledgerAccount(t, dir)
	assertSameAccounting(t, want, got)
}

// perResource splits batches into one batch per resource (session), for a
// stream of many batches.
func perResource(mds []pmetric.Metrics) []pmetric.Metrics {
	var out []pmetric.Metrics
	for _, md := range mds {
		for _, rm := range md.ResourceMetrics().All() {
			c := pmetric.NewMetrics()
			rm.CopyTo(c.ResourceMetrics().AppendEmpty())
			out = append(out, c)
		}
	}
	return out
}

// A row carries the usage of its group: requests, tokens, API time.
func TestRowsCarryUsage(t *testing.T) {
	rows, _ := rowsOf(priced(t)[0], testConfig(t.TempDir()))
	require.NotEmpty(t, rows)
	var requests, input, apiMs int64
	for _, r := range rows {
		requests += r.Requests
		input += r.InputTokens
		apiMs += r.APIDurationMs
		assert.Len(t, r.ID, 32)
	}
	assert.Positive(t, requests)
	assert.Positive(t, input)
	assert.Positive(t, apiMs)
}

// parquetTotal sums a Parquet day file's BilledCost (DECIMAL(38, 18)).
func parquetTotal(t *testing.T, path string) money.Amount {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	col, ok := f.Schema().Lookup("BilledCost")
	require.True(t, ok)
	r := parquet.NewReader(bytes.NewReader(b))
	rows := make([]parquet.Row, f.NumRows())
	n, err := r.ReadRows(rows)
	if err != io.EOF {
		require.NoError(t, err)
	}
	require.EqualValues(t, f.NumRows(), n)
	total := money.Zero()
	for _, row := range rows {
		total = total.Add(money.FromAtto(new(big.Int).SetBytes(row[col.ColumnIndex].ByteArray())))
	}
	return total
}
