package consoleexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/consoleexporter"

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-copilot/otelcol-copilot/exporter/consoleexporter/internal/metadata"
)

// Event names of the records the exporter writes a line for.
const (
	eventSummary  = "copilot.session.summary"
	eventCrossing = "copilot.budget.crossing"
)

// Values of the kind attribute of the exporter's metrics.
const (
	kindSessionEnd = "session_end"
	kindCrossing   = "budget_crossing"
)

// recentIDs is how many record ids are remembered to write each line once
// when a batch is delivered again.
const recentIDs = 4096

// console writes the lines. pushLogs may be called concurrently: a batch's
// lines are written together, in one write, under mu.
type console struct {
	out io.Writer
	loc *time.Location
	now func() time.Time
	tel *metadata.TelemetryBuilder

	mu   sync.Mutex
	seen *idSet
}

func newConsole(cfg *Config, set component.TelemetrySettings, out io.Writer) (*console, error) {
	loc, err := cfg.location()
	if err != nil {
		return nil, err
	}
	tel, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, err
	}
	return &console{out: out, loc: loc, now: time.Now, tel: tel, seen: newIDSet(recentIDs)}, nil
}

// pushLogs writes one line per session summary and budget crossing in ld.
// A failed write is not retried (the terminal is gone); it is reported
// as permanent so that the pipeline does not offer the batch forever.
func (c *console) pushLogs(ctx context.Context, ld plog.Logs) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var buf bytes.Buffer
	counts := map[string]int64{}
	dups := map[string]int64{}
	now := c.now().In(c.loc)
	for _, rl := range ld.ResourceLogs().All() {
		res := rl.Resource().Attributes()
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				var kind, id, line string
				switch lr.EventName() {
				case eventSummary:
					kind, id = kindSessionEnd, str(lr.Attributes(), attrUID)
					line = summaryLine(res, lr, c.loc, now)
				case eventCrossing:
					kind, id = kindCrossing, str(lr.Attributes(), attrCrossingID)
					line = crossingLine(lr, c.loc, now)
				default:
					continue
				}
				if id != "" && !c.seen.add(kind+"\x00"+id) {
					dups[kind]++
					continue
				}
				buf.WriteString(line)
				buf.WriteByte('\n')
				counts[kind]++
			}
		}
	}
	if buf.Len() == 0 {
		c.count(ctx, dups, c.tel.ExporterConsoleDuplicates)
		return nil
	}
	if _, err := c.out.Write(buf.Bytes()); err != nil {
		return consumererror.NewPermanent(fmt.Errorf("writing to the console: %w", err))
	}
	c.count(ctx, counts, c.tel.ExporterConsoleLines)
	c.count(ctx, dups, c.tel.ExporterConsoleDuplicates)
	return nil
}

func (c *console) count(ctx context.Context, by map[string]int64, counter metric.Int64Counter) {
	for kind, n := range by {
		counter.Add(ctx, n, metric.WithAttributes(attribute.String("kind", kind)))
	}
}

func (c *console) shutdown(context.Context) error {
	c.tel.Shutdown()
	return nil
}

// idSet remembers the last n ids added.
type idSet struct {
	ids  map[string]bool
	ring []string
	next int
}

func newIDSet(n int) *idSet { return &idSet{ids: map[string]bool{}, ring: make([]string, n)} }

// add adds id; false when it was already there.
func (s *idSet) add(id string) bool {
	if s.ids[id] {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.ids, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	s.ids[id] = true
	return true
}
