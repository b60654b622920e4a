package chargebackprocessor // import "github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor"

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/metadata"
)

// NewFactory returns the factory of the chargeback processor.
func NewFactory() processor.Factory { return newFactory(time.Now) }

// newFactory is NewFactory with a clock, for tests.
func newFactory(now func() time.Time) processor.Factory {
	f := &factory{instances: map[*Config]*chargeback{}, now: now}
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithMetrics(f.createMetrics, metadata.MetricsStability),
		processor.WithTraces(f.createTraces, metadata.TracesStability),
		processor.WithLogs(f.createLogs, metadata.LogsStability),
	)
}

// factory keeps one processor per configuration: its metrics, traces and
// logs pipelines share the session cache, the budgets (spend is counted
// from metrics, crossings leave through the logs pipeline) and the
// cardinality limits. Each pipeline keeps its own next consumer.
type factory struct {
	mu        sync.Mutex
	instances map[*Config]*chargeback
	now       func() time.Time
}

func (f *factory) instance(set processor.Settings, cfg component.Config) (*chargeback, error) {
	c := cfg.(*Config)
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.instances[c]; p != nil {
		return p, nil
	}
	p, err := newChargeback(set, c, f.now, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.instances, c)
	})
	if err != nil {
		return nil, err
	}
	f.instances[c] = p
	return p, nil
}

func (f *factory) createMetrics(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	p, err := f.instance(set, cfg)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.inMetrics = true
	p.mu.Unlock()
	return &metricsProcessor{p: p, next: next}, nil
}

func (f *factory) createTraces(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	p, err := f.instance(set, cfg)
	if err != nil {
		return nil, err
	}
	return &tracesProcessor{p: p, next: next}, nil
}

func (f *factory) createLogs(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	p, err := f.instance(set, cfg)
	if err != nil {
		return nil, err
	}
	p.setLogs(next)
	return &logsProcessor{p: p, next: next}, nil
}
