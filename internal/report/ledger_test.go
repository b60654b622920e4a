package report

import (
	"bytes"
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

// TestLedgerRowCountsWhereItsCallEnded: the ledger keeps a call's end
// rounded up to the second (ChargePeriodEnd). A row counts in the range
// and day that hold its call's end, as the same call read from the
// transcript does; an end read back on a boundary counts before it.
func TestLedgerRowCountsWhereItsCallEnded(t *testing.T) {
	var sprint Query
	var err error
	sprint.Since, sprint.Until, err = ParseSprint("2026-11-17..2026-11-30", time.UTC)
	require.NoError(t, err)
	next := Query{Since: sprint.Until, Until: sprint.Until.AddDate(0, 0, 14)}
	midnight := sprint.Until
	for _, c := range []struct {
		name   string
		end    time.Time
		in     string // the sprint that counts it: "sprint" (2026-11-17..30), "next" (from 2026-12-01) or ""
		day    string
		agrees bool // with the transcript's report (false: what the rounding cannot tell)
	}{
		{"at 23:59:59.400", midnight.Add(-600 * time.Millisecond), "sprint", "2026-11-30", true},
		{"a second before midnight", midnight.Add(-time.Second), "sprint", "2026-11-30", true},
		{"1 ns before midnight", midnight.Add(-time.Nanosecond), "sprint", "2026-11-30", true},
		{"at 00:00:00.400", midnight.Add(400 * time.Millisecond), "next", "2026-12-01", true},
		{"a second after midnight", midnight.Add(time.Second), "next", "2026-12-01", true},
		{"on midnight: taken for just before", midnight, "sprint", "2026-11-30", false},
		{"on the sprint's first instant: taken for just before", sprint.Since, "", "2026-11-16", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			led := &Ledger{Dirs: []string{writeLedger(t, ledgerRow("s1", "USD", c.end.Add(-2*time.Second), c.end))}}
			fromTranscript := records{rec("x", "s1", "PAY-1", "payments", "m", c.end, 1)}
			for name, q := range map[string]Query{"sprint": sprint, "next": next, "by day": {By: []string{KeyDay}}} {
				rep, err := Run(context.Background(), led, q, "")
				require.NoError(t, err)
				tr := run(t, fromTranscript, q)
				if name == "by day" {
					require.Len(t, rep.Rows, 1)
					assert.Equal(t, c.day, rep.Rows[0].Values[0])
					if c.agrees {
						assert.Equal(t, tr.Rows[0].Values, rep.Rows[0].Values, "the transcript's day")
					}
					continue
				}
				want := 0
				if name == c.in {
					want = 1
				}
				assert.Equal(t, want, rep.Records, name)
				if c.agrees {
					assert.Equal(t, tr.Records, rep.Records, "%s: the transcript's report", name)
				}
			}
		})
	}
}

// TestLedgerUnattributedValueFromTheRows: a ledger written by an
// attribution with `unattributed: none` is reported with "none" as the
// unattributed value, whatever the report's own configuration says, for
// its rows nothing attributed show it.
func TestLedgerUnattributedValueFromTheRows(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	row := func(session, ticket, team, project, costCenter string) ledger.Row {
		r := ledgerRow(session, "USD", at, at.Add(time.Second))
		r.Ticket, r.Team, r.Project, r.CostCenter = ticket, team, project, costCenter
		r.ComputeID()
		return r
	}
	nothing := row("s1", "none", "none", "none", "none")
	teamOnly := row("s2", "none", "payments", "none", "none")
	both := row("s3", "PAY-1", "payments", "checkout", "cc-1")
	q := Query{By: []string{KeyModel}, Unattributed: "unattributed", FindUnattributed: true}

	rep, err := Run(context.Background(), &Ledger{Dirs: []string{writeLedger(t, nothing, teamOnly, both)}}, q, "")
	require.NoError(t, err)
	assert.Equal(t, "none", rep.UnattributedValue)
	assert.Equal(t, int64(1), rep.Unattributed.Requests, "the row with neither a ticket nor a team")
	assert.Equal(t, "0.01", rep.Unattributed.Cost.String())
	var page bytes.Buffer
	require.NoError(t, Write(&page, rep, "html"))
	assert.Contains(t, page.String(), "without a ticket 0.02 USD", "the rows whose ticket is none")

	// No row nothing attributed: the value given is kept.
	rep, err = Run(context.Background(), &Ledger{Dirs: []string{writeLedger(t, teamOnly, both)}}, q, "")
	require.NoError(t, err)
	assert.Equal(t, "unattributed", rep.UnattributedValue)

	// Two values (gateways configured differently): the report cannot tell.
	other := row("s4", "unattributed", "unattributed", "unattributed", "unattributed")
	_, err = Run(context.Background(), &Ledger{Dirs: []string{writeLedger(t, nothing, other)}}, q, "")
	assert.ErrorContains(t, err, "several values for it (none, unattributed)")

	// Named, the value is taken as it is.
	q.FindUnattributed = false
	rep, err = Run(context.Background(), &Ledger{Dirs: []string{writeLedger(t, nothing, other)}}, q, "")
	require.NoError(t, err)
	assert.Equal(t, "unattributed", rep.UnattributedValue)
	assert.Equal(t, "0.01", rep.Unattributed.Cost.String())
}

// TestRecordsWithoutSession: rows without a session (a ledger written
// without session.id) are no session: sessions count the rows that name
// one, the report says how many did not, and the top sessions leave them
// out.
func TestRecordsWithoutSession(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	a, b := ledgerRow("", "USD", at, at.Add(time.Second)), ledgerRow("", "USD", at.Add(time.Hour), at.Add(time.Hour+time.Second))
	a.User, b.User = "alice", "bob"
	a.ComputeID()
	b.ComputeID()
	c := ledgerRow("s1", "USD", at, at.Add(time.Second))
	rep, err := Run(context.Background(), &Ledger{Dirs: []string{writeLedger(t, a, b, c)}}, Query{By: []string{KeyTicket}}, "")
	require.NoError(t, err)
	assert.Equal(t, 3, rep.Records)
	assert.Equal(t, 1, rep.Total.Sessions, "only s1 is a session")
	assert.Equal(t, 2, rep.NoSession)
	require.Len(t, rep.TopSessions, 1)
	assert.Equal(t, "s1", rep.TopSessions[0].Values[0])

	for format, want := range map[string]string{
		"table":    "(3 records, 2 without a session (in no session count))",
		"markdown": "3 records, 2 without a session (in no session count); cost in USD",
		"json":     `"records_without_session": 2,`,
		"html":     "3 records, 2 without a session (in no session count). Total",
	} {
		var out bytes.Buffer
		require.NoError(t, Write(&out, rep, format))
		assert.Contains(t, out.String(), want, format)
	}
}
