package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/ledger"
)

const billed = "../../testdata/copilot-cli/1.0.102-billed/session-state/*/events.jsonl"

func TestReport(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"report", "--by", "model", "--format", "json", "--user", "dev", billed}, nil, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	assert.Empty(t, errb.String(), "no progress when stderr is not a terminal")
	var rep struct {
		Rows []struct {
			Group map[string]string
			Cost  string
		}
		Total struct {
			Cost     string
			Sessions int
		}
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	assert.Equal(t, "0.150870075", rep.Total.Cost)
	assert.Equal(t, 3, rep.Total.Sessions)
	require.Len(t, rep.Rows, 3)
	assert.Equal(t, "claude-opus-4.6", rep.Rows[0].Group["model"])

	// The COPILOT_HOME default, a block-only configuration, a filter, a
	// sprint and a file.
	home := t.TempDir()
	dir := filepath.Join(home, "session-state", "0b1e1ed0-5a1e-4c0d-9b11-000000000002")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	b, err := os.ReadFile(filepath.Join("../../testdata/copilot-cli/1.0.102-billed/session-state", filepath.Base(dir), "events.jsonl"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "events.jsonl"), b, 0o644))
	cfg := filepath.Join(home, "chargeback.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("pricing: {billing: premium_requests, per_premium_request: \"0.04\"}\n"), 0o644))
	file := filepath.Join(home, "r.csv")
	out.Reset()
	code = run([]string{"report", "--copilot-home", home, "--config", cfg, "--by", "ticket", "--filter", "model=gpt-*",
		"--sprint", "2026-11-17..2026-11-30", "--format", "csv", "-o", file}, nil, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	got, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Contains(t, string(got), "\nPAY-4411,1,")
	assert.Contains(t, string(got), ",0.08,", "2 premium requests at 0.04")
	assert.Contains(t, string(got), "\nunattributed,0,")
}

func TestReportFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--by", "colour"}, 2, `--by: "colour" is not one of`},
		{[]string{"--filter", "ticket"}, 2, "want key=value"},
		{[]string{"--sprint", "2026-11-30..2026-11-17"}, 2, "--sprint"},
		{[]string{"--sprint", "2026-11-17..2026-11-30", "--since", "2026-11-01"}, 2, "--sprint replaces"},
		{[]string{"--since", "last week"}, 2, "--since"},
		{[]string{"--format", "pdf"}, 2, "--format"},
		{[]string{"--processor", "x"}, 2, "--processor needs --config"},
		{[]string{"--config", "/nonexistent.yaml"}, 1, "--config"},
		{[]string{"--timezone", "Mars/Olympus"}, 2, "--timezone"},
		{[]string{"--progress", "sometimes"}, 2, "--progress"},
	} {
		var out, errb bytes.Buffer
		code := run(append([]string{"report", billed}, c.args...), nil, &out, &errb)
		assert.Equal(t, c.code, code, strings.Join(c.args, " "))
		assert.Contains(t, errb.String(), c.err)
	}
}

// TestReportOverLedger: --ledger reads a central collector's usage ledger,
// rows already priced and attributed; a row two collectors both wrote
// counts once.
func TestReportOverLedger(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	row := func(session, ticket, cost string, in int64) ledger.Row {
		r := ledger.Row{
			Collector: "gw-1", Currency: "USD", Start: start, End: start.Add(time.Second), Cost: cost, CostMethod: "ai_credits",
			SessionID: session, User: "dev", Ticket: ticket, Team: "payments", Model: "claude-sonnet-4.6", Agent: "main",
			Requests: 1, InputTokens: in, OutputTokens: 10, NanoAIU: 1_000_000_000, PremiumRequests: "1",
		}
		r.ComputeID()
		return r
	}
	a, b := row("s1", "PAY-1", "0.01", 100), row("s2", "PAY-2", "0.025", 300)
	require.NoError(t, ledger.WriteFile(filepath.Join(dir, ledger.FileName("gw-1", "2026-11-20")), []ledger.Row{a, b}))
	a.Collector = "gw-2" // the same row, delivered to another gateway's ledger too
	require.NoError(t, ledger.WriteFile(filepath.Join(dir, ledger.FileName("gw-2", "2026-11-20")), []ledger.Row{a}))

	var out, errb bytes.Buffer
	code := run([]string{"report", "--ledger", dir, "--by", "ticket", "--format", "csv"}, nil, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	csv := out.String()
	assert.Contains(t, csv, "\nPAY-2,1,")
	assert.Contains(t, csv, "\nPAY-1,1,")
	assert.Contains(t, csv, ",0.035,", "the total counts the row both gateways wrote once")

	out.Reset()
	errb.Reset()
	code = run([]string{"report", "--ledger", dir, billed}, nil, &out, &errb)
	assert.Equal(t, 2, code)
	assert.Contains(t, errb.String(), "--ledger reads the ledger's rows")
}

// TestReportOverLedgerOneCurrencyPerRange: a ledger whose currency changed
// (EUR in October, USD from November) reports a November sprint in USD;
// only a range over both is refused.
func TestReportOverLedgerOneCurrencyPerRange(t *testing.T) {
	dir := t.TempDir()
	row := func(cur string, start time.Time) ledger.Row {
		r := ledger.Row{Collector: "gw-1", BillingAccountID: "acme", Currency: cur, Start: start, End: start.Add(time.Second),
			Cost: "0.01", CostMethod: "ai_credits", SessionID: "s-" + cur, Ticket: "PAY-1", Team: "payments", Model: "m", Agent: "main",
			NanoAIU: 1_000_000_000}
		r.ComputeID()
		return r
	}
	oct, nov := time.Date(2026, 10, 5, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	require.NoError(t, ledger.WriteFile(filepath.Join(dir, ledger.FileName("gw-1", "2026-10-05")), []ledger.Row{row("EUR", oct)}))
	require.NoError(t, ledger.WriteFile(filepath.Join(dir, ledger.FileName("gw-1", "2026-11-20")), []ledger.Row{row("USD", nov)}))

	var out, errb bytes.Buffer
	code := run([]string{"report", "--ledger", dir, "--sprint", "2026-11-17..2026-11-30", "--format", "csv"}, nil, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	assert.Contains(t, out.String(), "\nPAY-1,1,0,0,0,1,0.01,0,0,0,0,0,0,1.000000,USD\n")

	out.Reset()
	errb.Reset()
	code = run([]string{"report", "--ledger", dir, "--format", "csv"}, nil, &out, &errb)
	assert.Equal(t, 1, code)
	assert.Contains(t, errb.String(), "in EUR and USD")
}

// TestReportOverLedgerUnattributedFromRows: a ledger written with
// `unattributed: none` shows its rows nothing attributed on the
// unattributed line, without --config; --unattributed names the value.
func TestReportOverLedgerUnattributedFromRows(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	r := ledger.Row{Collector: "gw-1", BillingAccountID: "acme", Currency: "USD", Start: start, End: start.Add(time.Second),
		Cost: "0.01", CostMethod: "ai_credits", SessionID: "s1", Ticket: "none", Team: "none", Project: "none", CostCenter: "none", Model: "m", Agent: "main",
		NanoAIU: 1_000_000_000}
	r.ComputeID()
	require.NoError(t, ledger.WriteFile(filepath.Join(dir, ledger.FileName("gw-1", "2026-11-20")), []ledger.Row{r}))

	var out, errb bytes.Buffer
	code := run([]string{"report", "--ledger", dir, "--by", "model", "--format", "csv"}, nil, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	assert.Contains(t, out.String(), "\n\"none (no ticket, no team)\",1,0,0,0,1,0.01,")

	out.Reset()
	code = run([]string{"report", "--ledger", dir, "--by", "model", "--format", "csv", "--unattributed", "unattributed"}, nil, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	assert.Contains(t, out.String(), "\n\"unattributed (no ticket, no team)\",0,0,0,0,0,0,")

	errb.Reset()
	code = run([]string{"report", "--unattributed", "none", billed}, nil, &out, &errb)
	assert.Equal(t, 2, code)
	assert.Contains(t, errb.String(), "--unattributed is for --ledger")
}
