// Package ledgerparquet writes the usage ledger's rows as a FOCUS 1.3
// Parquet file. It is apart from package ledger so that a reader of the
// ledger's CSV files (the report command) does not link a Parquet library.
package ledgerparquet // import "github.com/otelcol-copilot/otelcol-copilot/internal/ledger/ledgerparquet"

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/ledger"
)

// DecimalScale and DecimalPrecision are those of every FOCUS Decimal
// column: DECIMAL(38, 18) in a 16-byte fixed-length array, the exact 1e-18
// units the chargeback processor computes costs in.
const (
	DecimalScale     = money.Scale
	DecimalPrecision = 38
)

// Schema is the Parquet schema of the ledger's columns: String and JSON as
// UTF-8 strings (FOCUS: JSON "serialized as a String where necessary"),
// Decimal as DECIMAL(38, 18), Date/Time as a UTC timestamp in milliseconds;
// nullable columns optional, the others required.
func Schema() *parquet.Schema {
	g := parquet.Group{}
	for _, c := range ledger.Columns {
		var n parquet.Node
		switch c.Type {
		case ledger.TypeDecimal:
			n = parquet.Decimal(DecimalScale, DecimalPrecision, parquet.FixedLenByteArrayType(16))
		case ledger.TypeDateTime:
			n = parquet.Timestamp(parquet.Millisecond)
		default:
			n = parquet.String()
		}
		if c.Nullable {
			n = parquet.Optional(n)
		} else {
			n = parquet.Required(n)
		}
		g[c.Name] = parquet.Compressed(n, &parquet.Zstd)
	}
	return parquet.NewSchema("focus_cost_and_usage", g)
}

// SourceKey is the key of the file's key-value metadata that names the CSV
// file a Parquet copy was made from, by its digest
// (ledger.WriteFileDigest): a copy whose source is not the CSV file's
// digest is stale.
const SourceKey = "otelcol-copilot.ledger.source_csv_sha256"

// Write writes rows as one Parquet file to w, recording source (the digest
// of the CSV file with the same rows) as SourceKey.
func Write(w io.Writer, rows []ledger.Row, source string) error {
	schema := Schema()
	leaf := make([]int, len(ledger.Columns))
	for i, c := range ledger.Columns {
		l, ok := schema.Lookup(c.Name)
		if !ok {
			return fmt.Errorf("no column %s in the schema", c.Name)
		}
		leaf[i] = l.ColumnIndex
	}
	pw := parquet.NewWriter(w, schema, parquet.KeyValueMetadata(SourceKey, source))
	batch := make([]parquet.Row, 0, 1024)
	flush := func() error {
		if _, err := pw.WriteRows(batch); err != nil {
			return err
		}
		batch = batch[:0]
		return nil
	}
	for i := range rows {
		rec := ledger.Record(&rows[i])
		row := make(parquet.Row, len(schema.Columns()))
		for j, c := range ledger.Columns {
			v, err := value(c, rec[j])
			if err != nil {
				return fmt.Errorf("row %s: %s: %w", rows[i].ID, c.Name, err)
			}
			def := 0
			if c.Nullable && rec[j] != "" {
				def = 1
			}
			row[leaf[j]] = v.Level(0, def, leaf[j])
		}
		batch = append(batch, row)
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return pw.Close()
}

// Source is the SourceKey of the Parquet file at path: the digest of the
// CSV file it is a copy of. It is "" when the file is missing, is not a
// Parquet file or records no source; only its footer is read.
func Source(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return ""
	}
	source, _ := pf.Lookup(SourceKey)
	return source
}

// value is a column's value of a CSV field ("" is null).
func value(c ledger.Column, s string) (parquet.Value, error) {
	if s == "" {
		if !c.Nullable {
			return parquet.Value{}, fmt.Errorf("null in a column that allows none")
		}
		return parquet.NullValue(), nil
	}
	switch c.Type {
	case ledger.TypeDecimal:
		a, err := money.ParseDecimal(s)
		if err != nil {
			return parquet.Value{}, err
		}
		b := make([]byte, 16)
		a.Atto().FillBytes(b) // non-negative, below 1e38 < 2^127
		return parquet.FixedLenByteArrayValue(b), nil
	case ledger.TypeDateTime:
		t, err := time.Parse(ledger.TimeFormat, s)
		if err != nil {
			return parquet.Value{}, err
		}
		return parquet.Int64Value(t.UnixMilli()), nil
	}
	return parquet.ByteArrayValue([]byte(s)), nil
}
