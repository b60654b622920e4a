package jiraexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/jiraexporter"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-copilot/otelcol-copilot/exporter/jiraexporter/internal/metadata"
)

// NewFactory returns the jira exporter's factory.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(metadata.Type, createDefaultConfig,
		exporter.WithLogs(createLogs, metadata.LogsStability))
}

func createDefaultConfig() component.Config {
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = 30 * time.Second
	// Retry until Jira answers: a request the exporter helper gives up on
	// after max_elapsed_time is dropped with its comments (and a field no
	// later summary of the ticket rewrites). Refusals retrying cannot fix
	// (400, 401, 403, 404) are not retried, whatever this says.
	retry := configretry.NewDefaultBackOffConfig()
	retry.MaxElapsedTime = 0
	return &Config{
		ClientConfig:    client,
		Deployment:      deploymentCloud,
		Fields:          Fields{Value: valueCredits},
		TicketAttribute: "ticket",
		Unattributed:    "unattributed",
		TimeoutConfig:   exporterhelper.NewDefaultTimeoutConfig(),
		QueueConfig:     configoptional.Default(exporterhelper.NewDefaultQueueConfig()),
		RetryConfig:     retry,
	}
}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	c := cfg.(*Config)
	e, err := newJiraExporter(c, set)
	if err != nil {
		return nil, err
	}
	return exporterhelper.NewLogs(ctx, set, cfg, e.pushLogs,
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(c.TimeoutConfig),
		exporterhelper.WithQueue(c.QueueConfig),
		exporterhelper.WithRetry(c.RetryConfig),
	)
}
