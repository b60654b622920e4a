package consoleexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/consoleexporter"

import (
	"context"
	"io"
	"os"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-copilot/otelcol-copilot/exporter/consoleexporter/internal/metadata"
)

// NewFactory returns the console exporter's factory.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(metadata.Type, createDefaultConfig,
		exporter.WithLogs(createLogs, metadata.LogsStability))
}

func createDefaultConfig() component.Config {
	return &Config{Output: OutputStdout, TimeZone: "Local"}
}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	c := cfg.(*Config)
	var w io.Writer = os.Stdout
	if c.Output == OutputStderr {
		w = os.Stderr
	}
	e, err := newConsole(c, set.TelemetrySettings, w)
	if err != nil {
		return nil, err
	}
	// No queue and no retry: a line is written while the pipeline waits,
	// so that what the copilot receiver commits has been shown.
	return exporterhelper.NewLogs(ctx, set, cfg, e.pushLogs,
		exporterhelper.WithShutdown(e.shutdown),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(exporterhelper.TimeoutConfig{}),
	)
}
