package dedupprocessor // import "github.com/otelcol-copilot/otelcol-copilot/processor/dedupprocessor"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/otelcol-copilot/otelcol-copilot/processor/dedupprocessor/internal/metadata"
)

// NewFactory returns the factory of the dedup processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		func() component.Config { return createDefaultConfig() },
		processor.WithMetrics(createMetrics, metadata.MetricsStability),
		processor.WithTraces(createTraces, metadata.TracesStability),
		processor.WithLogs(createLogs, metadata.LogsStability),
	)
}

func newDedup(set processor.Settings, cfg component.Config, signal string) (*dedup, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	c := cfg.(*Config)
	return &dedup{seen: newMemory(c.Window, c.MaxEntries, time.Now), tel: tel, signal: signal}, nil
}

func createMetrics(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	d, err := newDedup(set, cfg, "metrics")
	if err != nil {
		return nil, err
	}
	return &metricsProcessor{dedup: d, next: next}, nil
}

func createLogs(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	d, err := newDedup(set, cfg, "logs")
	if err != nil {
		return nil, err
	}
	return &logsProcessor{dedup: d, next: next}, nil
}

func createTraces(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	d, err := newDedup(set, cfg, "traces")
	if err != nil {
		return nil, err
	}
	return &tracesProcessor{dedup: d, next: next}, nil
}
