package chargebackprocessor

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/attribution"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/pricing"
	"github.com/otelcol-copilot/otelcol-copilot/internal/report"
	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
)

// TestReportAgrees: the report command, given the processor's attribution
// and pricing, prices and attributes the same transcripts exactly as the
// receiver and the processor do, per ticket, team, project, cost center,
// model and pricing method: the report and the dashboards never disagree.
func TestReportAgrees(t *testing.T) {
	dirs := []string{"1.0.102-billed", "1.0.102-repos"}
	r := runReceiver(t, dirs...)
	cfg := testConfig()
	p := newPipeline(t, cfg, nil)
	p.feed(t, r)
	p.stop(t)

	key := func(vals ...string) string { return strings.Join(vals, "|") }
	processor := map[string]money.Amount{}
	for _, m := range metricsNamed(p, mCost) {
		for _, dp := range m.Sum().DataPoints().All() {
			a := dp.Attributes()
			k := key(strAttr(a, "ticket"), strAttr(a, "team"), strAttr(a, "project"), strAttr(a, "cost_center"),
				strAttr(a, semconv.AttrGenAIRequestModel), strAttr(a, attrCostMethod))
			processor[k] = processor[k].Add(exact(t, dp.DoubleValue()))
		}
	}

	res, err := attribution.New(cfg.Attribution, nil)
	require.NoError(t, err)
	pr, err := pricing.New(cfg.Pricing)
	require.NoError(t, err)
	var globs []string
	for _, d := range dirs {
		globs = append(globs, filepath.Join(testdataRoot, d, "session-state", "*", "events.jsonl"))
	}
	src := &report.Transcripts{Globs: globs, User: "dev", Resolver: res, Pricer: pr}
	fromReport := map[string]money.Amount{}
	require.NoError(t, src.Records(context.Background(), func(rec report.Record) error {
		if rec.Cost.IsZero() {
			return nil
		}
		require.NotContains(t, rec.CostMethod, "+", "one method per record under token_pricing: fallback")
		k := key(rec.Ticket, rec.Team, rec.Project, rec.CostCenter, rec.Model, rec.CostMethod)
		fromReport[k] = fromReport[k].Add(rec.Cost)
		return nil
	}))
	require.NotEmpty(t, processor)
	str := func(m map[string]money.Amount) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v.String()
		}
		return out
	}
	assert.Equal(t, str(processor), str(fromReport))
	t.Logf("%v", str(fromReport))
}
