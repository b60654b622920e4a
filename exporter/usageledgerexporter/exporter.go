package usageledgerexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/usageledgerexporter"

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/ledger"
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
	mu     sync.Mutex // one merge of a day file at a time
}

func newWriter(cfg *Config, logger *zap.Logger) *writer {
	return &writer{cfg: cfg, logger: logger}
}

func (w *writer) start(context.Context, component.Host) error {
	w.logger.Info("Writing the usage ledger", zap.String("directory", w.cfg.Directory), zap.String("collector", w.cfg.Collector))
	return nil
}

func (w *writer) shutdown(context.Context) error { return nil }

func (w *writer) pushMetrics(_ context.Context, md pmetric.Metrics) error {
	rows := rowsOf(md, w.cfg)
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

// merge adds rows to a day file, keeping each id once.
func (w *writer) merge(path string, rows []ledger.Row) error {
	have, err := ledger.ReadFile(path)
	if err != nil {
		return err
	}
	all := ledger.Dedup(append(have, rows...))
	if len(all) == len(have) {
		return nil // all there already: a batch delivered again
	}
	ledger.Sort(all)
	return ledger.WriteFile(path, all)
}
