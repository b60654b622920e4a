package ledger

import (
	"cmp"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WriteCSV writes rows as a FOCUS CSV file: a header of the column names,
// then one record per row (RFC 4180; an empty field is null).
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ColumnNames()); err != nil {
		return err
	}
	for i := range rows {
		if err := cw.Write(rows[i].record()); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadCSV reads the rows of a ledger CSV file. Columns are found by their
// header names; x_RowId, BilledCost, BillingCurrency and the charge period
// are required.
func ReadCSV(r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[strings.TrimPrefix(h, "\ufeff")] = i
	}
	for _, need := range []string{"x_RowId", "BilledCost", "BillingCurrency", "ChargePeriodStart", "ChargePeriodEnd"} {
		if _, ok := idx[need]; !ok {
			return nil, fmt.Errorf("no %s column", need)
		}
	}
	var rows []Row
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		var perr error
		get := func(name string) string {
			if i, ok := idx[name]; ok && i < len(rec) {
				return rec[i]
			}
			return ""
		}
		num := func(name string) int64 {
			s := get(name)
			if s == "" {
				return 0
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				perr = errors.Join(perr, fmt.Errorf("%s: %w", name, err))
			}
			return n
		}
		tm := func(name string) time.Time {
			t, err := time.Parse(TimeFormat, get(name))
			if err != nil {
				perr = errors.Join(perr, fmt.Errorf("%s: %w", name, err))
			}
			return t
		}
		row := Row{
			ID: get("x_RowId"), Collector: get("x_Collector"),
			BillingAccountID: get("BillingAccountId"), BillingAccountName: get("BillingAccountName"),
			Currency: get("BillingCurrency"), Start: tm("ChargePeriodStart"), End: tm("ChargePeriodEnd"),
			Cost: get("BilledCost"), CostMethod: get("x_CostMethod"),
			SessionID: get("x_SessionId"), User: get("x_UserName"), Repository: get("x_Repository"), Branch: get("x_Branch"),
			Ticket: get("x_Ticket"), Team: get("x_Team"), Project: get("x_Project"), CostCenter: get("x_CostCenter"),
			Agent: get("x_Agent"), Initiator: get("x_Initiator"), Model: get("x_Model"),
			Requests: num("x_Requests"), InputTokens: num("x_InputTokens"), OutputTokens: num("x_OutputTokens"),
			CacheReadTokens: num("x_CacheReadTokens"), CacheWriteTokens: num("x_CacheWriteTokens"),
			ReasoningTokens: num("x_ReasoningTokens"), NanoAIU: num("x_NanoAiu"),
			PremiumRequests: get("x_PremiumRequests"), APIDurationMs: num("x_ApiDurationMs"),
		}
		if row.ID == "" {
			perr = errors.Join(perr, errors.New("x_RowId is empty"))
		}
		if perr != nil {
			return rows, fmt.Errorf("line %d: %w", line, perr)
		}
		rows = append(rows, row)
	}
}

// Dedup keeps the first row of each id, in order.
func Dedup(rows []Row) []Row {
	seen := make(map[string]bool, len(rows))
	return slices.DeleteFunc(rows, func(r Row) bool {
		if seen[r.ID] {
			return true
		}
		seen[r.ID] = true
		return false
	})
}

// Sort orders rows by the start of their point window, then by id: the
// order of a ledger file, which makes a file's content a function of its
// set of rows.
func Sort(rows []Row) {
	slices.SortFunc(rows, func(a, b Row) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.ID, b.ID))
	})
}

// WriteFile writes rows to path as a CSV file, atomically (WriteAtomic).
func WriteFile(path string, rows []Row) error {
	_, err := WriteFileDigest(path, rows)
	return err
}

// WriteFileDigest is WriteFile that also returns the file's digest: the
// SHA-256 of its bytes, in hex. Copies of the file in other formats record
// it, so that a copy made from an older file is known by its digest.
func WriteFileDigest(path string, rows []Row) (string, error) {
	h := sha256.New()
	err := WriteAtomic(path, func(w io.Writer) error { return WriteCSV(io.MultiWriter(w, h), rows) })
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WriteAtomic writes a file through write atomically: to a temporary file
// in the same directory, synced, then renamed over path, so that a reader
// (or a crash) sees the previous file or the new one, never a part.
func WriteAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil { // make the rename durable where the OS allows
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// ReadFile reads one ledger CSV file; a missing file has no rows.
func ReadFile(path string) ([]Row, error) {
	rows, _, err := ReadFileDigest(path)
	return rows, err
}

// ReadFileDigest is ReadFile that also returns the file's digest (see
// WriteFileDigest); a missing file's is "".
func ReadFileDigest(path string) ([]Row, string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	h := sha256.New()
	rows, err := ReadCSV(io.TeeReader(f, h)) // reads to the end, or fails
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return rows, hex.EncodeToString(h.Sum(nil)), nil
}

// ReadDir reads every ledger CSV file in dir (the files of every collector
// and day; temporary files of a write in progress are skipped) and returns
// their rows deduplicated by id, sorted. Rows a batch delivered twice wrote
// twice, to one file or to several collectors' files, are counted once.
func ReadDir(dir string) ([]Row, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var rows []Row
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".csv") {
			continue
		}
		rs, err := ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		rows = append(rows, rs...)
	}
	rows = Dedup(rows)
	Sort(rows)
	return rows, nil
}

// FileName is the name of a collector's CSV file of a UTC day:
// copilot-usage-<collector>-<YYYY-MM-DD>.csv. The Parquet copy has the same
// name with .parquet.
func FileName(collector, day string) string {
	return "copilot-usage-" + collector + "-" + day + ".csv"
}
