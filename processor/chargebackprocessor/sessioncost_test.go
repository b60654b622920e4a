package chargebackprocessor

import (
	"context"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-copilot/otelcol-copilot/internal/usagebody"
)

// The summary and end records of the receiver carry the cost of the
// session's usage so far: with the default prices (US$0.01 per AI credit)
// exactly totalNanoAiu / 1e11, checked here from the body the receiver
// wrote, which is the CLI's own session.shutdown accounting.
func TestSessionCostOnSummaries(t *testing.T) {
	got := runReceiver(t, "1.0.102-billed")
	p := newPipeline(t, createDefaultConfig().(*Config), componenttest.NewNopHost())
	defer p.stop(t)
	for _, ld := range got.logs {
		require.NoError(t, p.l.ConsumeLogs(context.Background(), ld))
	}
	priced := 0
	for _, ld := range p.ls.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if lr.EventName() != "copilot.session.summary" {
						_, has := lr.Attributes().Get(usagebody.AttrCostExact)
						assert.Equal(t, lr.EventName() == "copilot.session.end" && lr.Body().Type() == pcommon.ValueTypeMap, has, lr.EventName())
						continue
					}
					n, ok := lr.Body().Map().Get("totalNanoAiu")
					require.True(t, ok)
					require.Positive(t, n.Int(), "the billed sessions have nano-AIU")
					want := new(big.Rat).SetFrac(big.NewInt(n.Int()), big.NewInt(100_000_000_000))
					exact, ok := lr.Attributes().Get(usagebody.AttrCostExact)
					require.True(t, ok, "no cost on a summary")
					gotCost, ok := new(big.Rat).SetString(exact.Str())
					require.True(t, ok, exact.Str())
					assert.Equal(t, want.FloatString(13), gotCost.FloatString(13))
					cur, _ := lr.Attributes().Get(usagebody.AttrCostCurrency)
					assert.Equal(t, "USD", cur.Str())
					f, _ := lr.Attributes().Get(usagebody.AttrCost)
					wf, _ := want.Float64()
					assert.InDelta(t, wf, f.Double(), 1e-12)
					priced++
				}
			}
		}
	}
	assert.Equal(t, countEvents(got.logs, "copilot.session.summary"), priced)
	assert.Positive(t, priced)
}

// A summary body that does not read is passed on without a cost, counted.
func TestSessionCostBadBody(t *testing.T) {
	p := newPipeline(t, createDefaultConfig().(*Config), componenttest.NewNopHost())
	defer p.stop(t)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "github-copilot")
	rl.Resource().Attributes().PutStr("session.id", "s-1")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName("copilot.session.summary")
	b := lr.Body().SetEmptyMap()
	b.PutInt("totalNanoAiu", 5)
	b.PutStr("tokenDetails", "many")
	require.NoError(t, p.l.ConsumeLogs(context.Background(), ld))
	out := p.ls.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	_, has := out.Attributes().Get(usagebody.AttrCostExact)
	assert.False(t, has)
	assert.Equal(t, int64(1), p.counter(t, "unpriced", "reason", "bad_summary"))
}
