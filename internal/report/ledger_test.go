package report

import (
	"path/filepath"
	"testing"
	"time"

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
