package usageledgerexporter

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/attribution"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/pricing"
	"github.com/otelcol-copilot/otelcol-copilot/internal/report"
)

// TestReportOverLedgerEqualsTranscripts: the report's two sources give the
// same numbers. The real transcripts go through the receiver, the
// chargeback processor and this exporter into a ledger, delivered twice;
// the report over the ledger and the report over the same transcripts,
// read locally with the same rules and prices, agree per ticket, team and
// model on cost, requests, tokens and AI credits.
func TestReportOverLedgerEqualsTranscripts(t *testing.T) {
	mds := priced(t)
	dir := t.TempDir()
	e := newExporter(t, testConfig(dir))
	require.NoError(t, e.Start(context.Background(), componenttest.NewNopHost()))
	push(t, e, mds)
	push(t, e, mds) // a queue replaying after a restart
	require.NoError(t, e.Shutdown(context.Background()))

	ctx := context.Background()
	q := report.Query{By: []string{"ticket", "team", "model"}}
	led := &report.Ledger{Dirs: []string{dir}}
	currency, err := led.Currency()
	require.NoError(t, err)
	fromLedger, err := report.Run(ctx, led, q, currency)
	require.NoError(t, err)

	cfg := chargebackConfig()
	resolver, err := attribution.New(cfg.Attribution, nil)
	require.NoError(t, err)
	pricer, err := pricing.New(cfg.Pricing)
	require.NoError(t, err)
	var globs []string
	for _, d := range []string{"1.0.102-billed", "1.0.102-repos"} {
		globs = append(globs, filepath.Join(testdataRoot, d, "session-state", "*", "events.jsonl"))
	}
	local := &report.Transcripts{Globs: globs, User: "dev", Resolver: resolver, Pricer: pricer}
	fromTranscripts, err := report.Run(ctx, local, q, pricer.Currency())
	require.NoError(t, err)

	type figures struct {
		Cost                                  string
		Requests, Input, Output, Cached, Nano int64
		Sessions                              int
	}
	byGroup := func(r *report.Report) map[string]figures {
		out := map[string]figures{}
		for _, row := range r.Rows {
			out[strings.Join(row.Values, "/")] = figures{
				Cost: row.Cost.Rat().FloatString(18), Requests: row.Requests, Input: row.InputTokens,
				Output: row.OutputTokens, Cached: row.CacheReadTokens, Nano: row.NanoAIU, Sessions: row.Sessions,
			}
		}
		return out
	}
	want := byGroup(fromTranscripts)
	require.NotEmpty(t, want)
	assert.Equal(t, want, byGroup(fromLedger))
	assert.Equal(t, "0.288073675000000000", fromLedger.Total.Cost.Rat().FloatString(18))
	assert.Equal(t, fromTranscripts.Total.Cost.Rat().FloatString(18), fromLedger.Total.Cost.Rat().FloatString(18))
	assert.Zero(t, fromLedger.Duplicates, "the exporter kept each row once")
}
