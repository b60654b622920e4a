package usageledgerexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/usageledgerexporter"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/exporter/usageledgerexporter/internal/metadata"

	"github.com/otelcol-copilot/otelcol-copilot/internal/filelock"
	"github.com/otelcol-copilot/otelcol-copilot/internal/ledger"
	"github.com/otelcol-copilot/otelcol-copilot/internal/ledger/ledgerparquet"
)

// writer writes batches' rows into the day files. Each push merges its rows
// into the files of the days they belong to: the file is read, the rows
// added, deduplicated by id, sorted and written to a temporary file renamed
// over it. The file is the whole state, so a restart, a retry or a queue
// replaying a batch changes nothing already there, and a push returns only
// once its rows are on disk.
type writer struct {
	cfg    *Config
	logger *zap.Logger
	tel    *metadata.TelemetryBuilder
	mu     sync.Mutex // one merge of a day file at a time
	// parquet: also write each day's rows as a Parquet file.
	parquet bool
	// lock is held from start to shutdown: one writer of a collector's
	// files at a time.
	lock *filelock.Lock
}

func newWriter(cfg *Config, set component.TelemetrySettings) (*writer, error) {
	tel, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, err
	}
	return &writer{cfg: cfg, logger: set.Logger, tel: tel, parquet: slices.Contains(cfg.Formats, formatParquet)}, nil
}

func (w *writer) start(context.Context, component.Host) error {
	if err := w.takeLock(); err != nil {
		return err
	}
	w.logger.Info("Writing the usage ledger", zap.String("directory", w.cfg.Directory), zap.String("collector", w.cfg.Collector))
	w.removeLeftovers()
	return nil
}

// takeLock makes sure no other writer has this collector's files: each
// export reads a day's file, adds its rows and renames the result over it,
// so of two writers at once the second would put back the file without the
// first one's rows. The other writer may be another usage_ledger exporter
// of this collector, or another process (on this machine, or on one that
// shares the directory and its locks), given the same directory and
// collector.
func (w *writer) takeLock() error {
	if err := os.MkdirAll(w.cfg.Directory, 0o755); err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	path := filepath.Join(w.cfg.Directory, lockFileName(w.cfg.Collector))
	l, ok, err := filelock.TryLock(path)
	if err != nil {
		return fmt.Errorf("directory: cannot lock %s: %w", path, err)
	}
	if !ok {
		return fmt.Errorf("collector: another usage_ledger exporter already writes the ledger in %s as collector %q (%s is locked), in this collector or in another process; give each exporter its own collector (or directory), or stop the other one",
			w.cfg.Directory, w.cfg.Collector, path)
	}
	w.lock = l
	return nil
}

// lockFileName is the lock of a collector's files in the ledger directory;
// readers skip it (it begins with a dot).
func lockFileName(collector string) string {
	return ".copilot-usage-" + collector + ".lock"
}

// leftoverAge is how old a temporary file of this collector's must be to
// be taken for a leftover: older than any write of a process that just
// stopped could still be running.
const leftoverAge = time.Minute

// removeLeftovers removes the temporary files a write of this collector's
// files left when its process was killed (ledger.WriteAtomic renames the
// file it wrote into place; killed before, the file stays, named
// .<file>.tmp-<random>). Readers skip them, but each is the size of a
// day's file, and a collector restarted in a loop would pile them up. Only
// this writer writes its collector's files (it holds their lock), and it
// has not written any yet.
func (w *writer) removeLeftovers() {
	des, err := os.ReadDir(w.cfg.Directory)
	if err != nil {
		return // no directory yet: nothing left
	}
	// .copilot-usage-<collector>-<day>.csv.tmp-<random>, or .parquet.
	mine := regexp.MustCompile(`^\.` + regexp.QuoteMeta(strings.TrimSuffix(ledger.FileName(w.cfg.Collector, ""), ".csv")) +
		`\d{4}-\d{2}-\d{2}\.(csv|parquet)\.tmp-`)
	removed := 0
	for _, de := range des {
		name := de.Name()
		if de.IsDir() || !mine.MatchString(name) {
			continue
		}
		if info, err := de.Info(); err != nil || time.Since(info.ModTime()) < leftoverAge {
			continue
		}
		if err := os.Remove(filepath.Join(w.cfg.Directory, name)); err == nil {
			removed++
		}
	}
	if removed > 0 {
		w.logger.Info("Removed temporary files a stopped write of the usage ledger left", zap.Int("files", removed))
	}
}

func (w *writer) shutdown(context.Context) error {
	if w.tel != nil {
		w.tel.Shutdown()
	}
	if w.lock != nil {
		w.lock.Unlock()
		w.lock = nil
	}
	return nil
}

func (w *writer) pushMetrics(ctx context.Context, md pmetric.Metrics) error {
	rows, ref := rowsOf(md, w.cfg)
	w.report(ctx, ref)
	if len(rows) == 0 {
		return nil
	}
	byDay := map[string][]ledger.Row{}
	for _, r := range rows {
		byDay[r.Day()] = append(byDay[r.Day()], r)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// Created with the first rows, so that a collector that writes none
	// leaves nothing behind.
	if err := os.MkdirAll(w.cfg.Directory, 0o755); err != nil {
		return fmt.Errorf("usage ledger directory: %w", err)
	}
	for day, rs := range byDay {
		if err := w.merge(filepath.Join(w.cfg.Directory, ledger.FileName(w.cfg.Collector, day)), rs); err != nil {
			return err // retried by exporterhelper; rows already merged are deduplicated
		}
	}
	return nil
}

// report counts and logs the copilot.cost points a batch's rows were made
// without. Their usage is not lost from the metrics pipeline, but it is
// from the ledger, and the log says what to do.
func (w *writer) report(ctx context.Context, ref refusals) {
	if ref.repeated > 0 {
		w.tel.ExporterUsageLedgerCostPointsRefused.Add(ctx, int64(ref.repeated), metric.WithAttributeSet(reasonRepeatedMethod))
		w.logger.Warn("Usage was priced twice (copilot.cost points of the same method for one usage group): each row keeps one, the last. "+
			"Run the chargeback processors before the one that feeds this exporter (an agent's, a routing tier's) with mode: attribute",
			zap.Int("points", ref.repeated), zap.Int("points_with_another_amount", ref.differing))
	}
	if ref.currency == 0 {
		return
	}
	w.tel.ExporterUsageLedgerCostPointsRefused.Add(ctx, int64(ref.currency), metric.WithAttributeSet(reasonCurrency))
	w.tel.ExporterUsageLedgerRowsRefused.Add(ctx, int64(ref.rowsNotWritten))
	units := make([]string, 0, len(ref.currencyAmount))
	for unit, amount := range ref.currencyAmount {
		units = append(units, fmt.Sprintf("%s %q", amount, unit))
	}
	slices.Sort(units)
	w.logger.Warn("copilot.cost points in another currency than the ledger's were not added to its rows, and usage priced only in it was not written: "+
		"set the usage_ledger exporter's currency to the chargeback processor's pricing.currency",
		zap.String("currency", w.cfg.Currency), zap.Int("points", ref.currency), zap.Int("rows_not_written", ref.rowsNotWritten),
		zap.Strings("amounts", units))
}

var (
	reasonCurrency       = attribute.NewSet(attribute.String("reason", "currency"))
	reasonRepeatedMethod = attribute.NewSet(attribute.String("reason", "repeated_method"))
)

// merge adds rows to a day file, keeping each id once, and makes the
// day's Parquet copy from the merged rows whenever it is not a copy of the
// CSV file as it now is. The copy records the digest of the CSV file it was
// made from, so that a copy a crash between the two renames left behind
// (or none) is rewritten by the next export to that day, whether or not
// that export adds rows. Without parquet in formats, a copy an earlier
// configuration wrote is removed before the CSV file changes: none is
// better than a stale one.
func (w *writer) merge(path string, rows []ledger.Row) error {
	pq := strings.TrimSuffix(path, ".csv") + ".parquet"
	if !w.parquet {
		if err := os.Remove(pq); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	have, digest, err := ledger.ReadFileDigest(path)
	if err != nil {
		return err
	}
	all := ledger.Dedup(append(have, rows...))
	if len(all) != len(have) {
		ledger.Sort(all)
		if digest, err = ledger.WriteFileDigest(path, all); err != nil {
			return err
		}
	}
	if !w.parquet || ledgerparquet.Source(pq) == digest {
		return nil
	}
	return ledger.WriteAtomic(pq, func(out io.Writer) error { return ledgerparquet.Write(out, all, digest) })
}
