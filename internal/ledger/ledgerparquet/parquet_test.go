package ledgerparquet

import (
	"bytes"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/ledger"
)

func rows() []ledger.Row {
	a := ledger.Row{
		Collector: "gw-1", BillingAccountID: "acme", Currency: "USD",
		Start: time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 31, 12, 0, 3, 0, time.UTC),
		Cost: "0.046357675", CostMethod: "ai_credits", SessionID: "s-1", Team: "payments", Ticket: "PAY-4411",
		Model: "claude-sonnet-4.5", Agent: "main", Requests: 2, InputTokens: 44525, OutputTokens: 250, NanoAIU: 4635767500,
		PremiumRequests: "2",
	}
	a.ComputeID()
	b := a
	b.SessionID, b.Team, b.Ticket, b.Cost, b.CostMethod, b.NanoAIU = "", "", "", "0.000000000000000001", "token_price", 0
	b.ComputeID()
	return []ledger.Row{a, b}
}

// The Parquet file has every column with its FOCUS type and nullability,
// and the values of the CSV file, costs exact.
func TestParquetFile(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, rows(), ""))
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	require.EqualValues(t, 2, f.NumRows())
	schema := f.Schema()
	for _, c := range ledger.Columns {
		l, ok := schema.Lookup(c.Name)
		require.True(t, ok, c.Name)
		assert.Equal(t, c.Nullable, l.Node.Optional(), c.Name)
		lt := l.Node.Type().LogicalType()
		require.NotNil(t, lt, c.Name)
		switch c.Type {
		case ledger.TypeDecimal:
			d, ok := lt.Value.(*format.DecimalType)
			require.True(t, ok, c.Name)
			assert.EqualValues(t, 18, d.Scale)
			assert.EqualValues(t, 38, d.Precision)
		case ledger.TypeDateTime:
			ts, ok := lt.Value.(*format.TimestampType)
			require.True(t, ok, c.Name)
			assert.True(t, ts.IsAdjustedToUTC)
		default:
			_, ok := lt.Value.(*format.StringType)
			assert.True(t, ok, c.Name)
		}
	}
	cost, _ := schema.Lookup("BilledCost")
	team, _ := schema.Lookup("x_Team")
	start, _ := schema.Lookup("ChargePeriodStart")
	r := parquet.NewReader(bytes.NewReader(buf.Bytes()))
	got := make([]parquet.Row, 2)
	n, err := r.ReadRows(got)
	if err != io.EOF {
		require.NoError(t, err)
	}
	require.Equal(t, 2, n)
	want := rows()
	for i, row := range got {
		atto := new(big.Int).SetBytes(row[cost.ColumnIndex].ByteArray())
		assert.Equal(t, want[i].Cost, money.FromAtto(atto).String())
		assert.Equal(t, want[i].Start.UnixMilli(), row[start.ColumnIndex].Int64())
		if want[i].Team == "" {
			assert.True(t, row[team.ColumnIndex].IsNull())
		} else {
			assert.Equal(t, want[i].Team, string(row[team.ColumnIndex].ByteArray()))
		}
	}
}

// A Parquet file records the digest of the CSV file it is a copy of; a
// missing file or one that is not Parquet has none.
func TestSource(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "copy.parquet")
	assert.Empty(t, Source(path), "no file")
	require.NoError(t, os.WriteFile(path, []byte("not parquet"), 0o644))
	assert.Empty(t, Source(path), "not a Parquet file")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, Write(f, rows(), "abc123"))
	require.NoError(t, f.Close())
	assert.Equal(t, "abc123", Source(path))
}

// The FOCUS columns that allow no null are required in the schema, so a
// FOCUS tool that reads the Parquet schema finds them not nullable.
func TestSchemaRequiresColumnsFOCUSDoesNotAllowNull(t *testing.T) {
	schema := Schema()
	for _, name := range []string{"BilledCost", "BillingAccountId", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
		"ChargeCategory", "ChargeFrequency", "ChargePeriodStart", "ChargePeriodEnd", "ContractedCost", "EffectiveCost",
		"HostProviderName", "InvoiceIssuerName", "ListCost", "ServiceCategory", "ServiceName", "ServiceProviderName", "ServiceSubcategory"} {
		l, ok := schema.Lookup(name)
		if assert.True(t, ok, name) {
			assert.True(t, l.Node.Required(), "%s is required", name)
		}
	}
}
