package report

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/ledger"
)

// ledgerRow is a ledger row of one call of session, costing 0.01.
func ledgerRow(session, currency string, start, end time.Time) ledger.Row {
	r := ledger.Row{
		Collector: "gw-1", BillingAccountID: "acme", Currency: currency, Start: start, End: end, Cost: "0.01", CostMethod: "ai_credits",
		SessionID: session, User: "dev", Ticket: "PAY-1", Team: "payments", Project: "checkout", CostCenter: "cc-1",
		Model: "claude-sonnet-4.6", Agent: "main", Requests: 1, InputTokens: 100, OutputTokens: 10, NanoAIU: 1_000_000_000, PremiumRequests: "1",
	}
	r.ComputeID()
	return r
}

// writeLedger writes rows to a ledger directory as the usage_ledger
// exporter does: a file per day of their start.
func writeLedger(t *testing.T, rows ...ledger.Row) string {
	t.Helper()
	dir := t.TempDir()
	byDay := map[string][]ledger.Row{}
	for _, r := range rows {
		byDay[r.Day()] = append(byDay[r.Day()], r)
	}
	for d, rs := range byDay {
		require.NoError(t, ledger.WriteFile(filepath.Join(dir, ledger.FileName("gw-1", d)), rs))
	}
	return dir
}

// TestLedgerCurrencyOfTheRowsCounted: a ledger whose currency changed (EUR
// in October, USD from November) is reported for either month in its
// currency; only a report that counts rows of both is refused.
func TestLedgerCurrencyOfTheRowsCounted(t *testing.T) {
	oct, nov := time.Date(2026, 10, 5, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	eur, usd := ledgerRow("s-oct", "EUR", oct, oct.Add(time.Second)), ledgerRow("s-nov", "USD", nov, nov.Add(time.Second))
	led := &Ledger{Dirs: []string{writeLedger(t, eur, usd)}}
	since, until, err := ParseSprint("2026-11-17..2026-11-30", time.UTC)
	require.NoError(t, err)
	for _, c := range []struct {
		name     string
		q        Query
		currency string
	}{
		{"sprint in November", Query{Since: since, Until: until}, "USD"},
		{"October", Query{Until: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}, "EUR"},
		{"filtered to November's session", Query{Filters: []Filter{{KeySession, []string{"s-nov"}}}}, "USD"},
	} {
		rep, err := Run(context.Background(), led, c.q, "")
		require.NoError(t, err, c.name)
		assert.Equal(t, c.currency, rep.Currency, c.name)
		assert.Equal(t, 1, rep.Records, c.name)
		assert.Equal(t, "0.01", rep.Total.Cost.String(), c.name)
	}
	_, err = Run(context.Background(), led, Query{}, "")
	assert.ErrorContains(t, err, "in EUR and USD")
	_, err = Run(context.Background(), led, Query{Since: since, Until: until}, "EUR")
	assert.ErrorContains(t, err, "in EUR and USD", "records in another currency than the pricing's")
}
