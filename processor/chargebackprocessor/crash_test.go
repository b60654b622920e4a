package chargebackprocessor

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/fakeclock"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/budget"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/metadata"
)

// life is one life of a collector process, killed (SIGKILL) after a number
// of effects: each write to the store, each batch a next consumer accepts
// and each answer to the upstream is one effect; after the kill none takes
// effect (the process is gone), though its code may still run here.
type life struct{ left atomic.Int64 }

func newLife(effects int64) *life {
	l := &life{}
	l.left.Store(effects)
	return l
}

// effect reports whether the next effect takes place.
func (l *life) effect() bool { return l.left.Add(-1) >= 0 }

// lifeStore is the disk as one life sees it: reads go to the disk, writes
// only while the life lasts (a batch is one write, as it is one
// transaction of file_storage).
type lifeStore struct {
	disk *storageclient.Memory
	l    *life
}

func (s *lifeStore) Get(ctx context.Context, k string) ([]byte, error) { return s.disk.Get(ctx, k) }
func (s *lifeStore) Set(ctx context.Context, k string, v []byte) error {
	if s.l.effect() {
		return s.disk.Set(ctx, k, v)
	}
	return nil
}

func (s *lifeStore) Delete(ctx context.Context, k string) error {
	if s.l.effect() {
		return s.disk.Delete(ctx, k)
	}
	return nil
}

func (s *lifeStore) Batch(ctx context.Context, ops ...*storage.Operation) error {
	if s.l.effect() {
		return s.disk.Batch(ctx, ops...)
	}
	return nil
}
func (s *lifeStore) Close(context.Context) error { return nil }

// lifePipeline is a chargeback processor in one life: its metrics and
// logs go to sinks that outlive it, only while it lives.
type lifePipeline struct {
	m processor.Metrics
	l processor.Logs
}

func startLife(t *testing.T, cfg *Config, now func() time.Time, disk *storageclient.Memory, l *life, ms *consumertest.MetricsSink, ls *consumertest.LogsSink, refuseLogs *atomic.Int32) *lifePipeline {
	t.Helper()
	f := newFactory(now)
	set := processortest.NewNopSettings(metadata.Type)
	ctx := context.Background()
	nextMetrics, _ := consumer.NewMetrics(func(ctx context.Context, md pmetric.Metrics) error {
		if l.effect() {
			return ms.ConsumeMetrics(ctx, md)
		}
		return nil
	})
	nextLogs, _ := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		if refuseLogs != nil && refuseLogs.Add(-1) >= 0 {
			return errRefused
		}
		if l.effect() {
			return ls.ConsumeLogs(ctx, ld)
		}
		return nil
	})
	p := &lifePipeline{}
	var err error
	p.m, err = f.CreateMetrics(ctx, set, cfg, nextMetrics)
	require.NoError(t, err)
	p.l, err = f.CreateLogs(ctx, set, cfg, nextLogs)
	require.NoError(t, err)
	host := storagetest.NewStorageHost().WithExtension(*cfg.Storage, &storageOf{client: &lifeStore{disk: disk, l: l}})
	require.NoError(t, p.m.Start(ctx, host))
	require.NoError(t, p.l.Start(ctx, host))
	return p
}

func (p *lifePipeline) stop(t *testing.T) {
	require.NoError(t, p.m.Shutdown(context.Background()))
	require.NoError(t, p.l.Shutdown(context.Background()))
}

// TestBudgetsKilledAtEveryEffect kills the process after each of the
// effects of feeding a budget five batches, restarts it on the same disk,
// and has the upstream send again every batch not acknowledged (the
// copilot receiver, an agent); also with the logs pipeline refusing the
// first crossing once. Whatever the moment: no spend is missing from its
// window (a batch stored but not acknowledged is counted twice: early,
// never late), every threshold the spend reached is emitted, and a
// threshold emitted twice has one crossing.id.
func TestBudgetsKilledAtEveryEffect(t *testing.T) {
	for _, refused := range []bool{false, true} {
		t.Run("refused="+strconv.FormatBool(refused), func(t *testing.T) { testKilledAtEveryEffect(t, refused) })
	}
}

func testKilledAtEveryEffect(t *testing.T, refused bool) {
	day := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	id := storagetest.NewStorageID("budgets")
	cfg := testConfig()
	cfg.Storage = &id
	cfg.Budgets = []budget.Config{{Name: "payments-daily", Scope: budget.ScopeTeam, Value: "payments", Amount: "0.10", Period: budget.PeriodDay}}
	const batches, perBatch = 5, 3 // credits: 0.03 each, 0.15 in all
	batch := func(i int) pmetric.Metrics {
		return usage(paymentsSession, day.Add(time.Duration(i)*time.Minute), perBatch*credit, 100)
	}
	ctx := context.Background()
	stateKey := "budget/s/payments-daily/" + strconv.FormatInt(time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC).Unix(), 10) + "/payments"

	// run feeds the batches in a life killed after effects (-1: never) and
	// then in a second life; it returns the sinks, the disk and how many
	// effects the first life had.
	run := func(t *testing.T, effects int64) (*consumertest.LogsSink, *storageclient.Memory, int64, int) {
		c := fakeclock.New(day)
		disk := storageclient.NewMemory()
		ms, ls := new(consumertest.MetricsSink), new(consumertest.LogsSink)
		first := newLife(effects)
		if effects < 0 {
			first.left.Store(math.MaxInt64)
		}
		refuse := new(atomic.Int32)
		if refused {
			refuse.Store(1)
		}
		p := startLife(t, cfg, c.Now, disk, first, ms, ls, refuse)
		acked := 0
		for acked < batches {
			require.NoError(t, p.m.ConsumeMetrics(ctx, batch(acked)))
			if !first.effect() { // the answer to the upstream
				break
			}
			acked++
		}
		if effects < 0 {
			p.stop(t)
			return ls, disk, math.MaxInt64 - first.left.Load(), acked
		}
		t.Cleanup(func() { p.stop(t) }) // killed: stopped (with no effect) only when the test is over
		second := startLife(t, cfg, c.Now, disk, newLife(math.MaxInt64), ms, ls, nil)
		for i := acked; i < batches; i++ {
			require.NoError(t, second.m.ConsumeMetrics(ctx, batch(i)))
		}
		second.stop(t)
		return ls, disk, 0, acked
	}

	_, _, total, _ := run(t, -1)
	require.Positive(t, total)
	for k := int64(0); k < total; k++ {
		t.Run(fmt.Sprintf("killed after %d of %d effects", k, total), func(t *testing.T) {
			ls, disk, _, acked := run(t, k)
			var st struct {
				Spend   string    `json:"spend"`
				Crossed []float64 `json:"crossed"`
			}
			b, err := disk.Get(ctx, stateKey)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &st))
			// At most the batch the first life died answering is counted
			// twice.
			require.Contains(t, []string{"0.15", "0.18"}, st.Spend, "the window's spend (first life acknowledged %d batches)", acked)
			emitted := map[string]bool{}
			for _, lr := range crossingsIn(ls) {
				thr, err := strconv.ParseFloat(strAttr(lr.Attributes(), "copilot.budget.threshold"), 64)
				require.NoError(t, err)
				require.Equal(t, budget.CrossingID("payments-daily", "payments", time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), thr),
					strAttr(lr.Attributes(), "copilot.budget.crossing.id"), "one id per threshold")
				emitted[strAttr(lr.Attributes(), "copilot.budget.threshold")] = true
			}
			for _, thr := range []string{"50", "75", "90", "100"} {
				require.True(t, emitted[thr], "the %s%% crossing is lost", thr)
			}
			require.Equal(t, []float64{50, 75, 90, 100}, st.Crossed)
			pend, err := disk.Get(ctx, "budget/pending")
			require.NoError(t, err)
			require.Nil(t, pend, "nothing left pending")
		})
	}
}

// crossingsIn returns the crossing records a sink got.
func crossingsIn(ls *consumertest.LogsSink) []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range ls.AllLogs() {
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
