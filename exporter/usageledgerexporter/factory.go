package usageledgerexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/usageledgerexporter"

import (
	"context"
	"os"
	"regexp"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-copilot/otelcol-copilot/exporter/usageledgerexporter/internal/metadata"
)

// NewFactory returns the usage_ledger exporter's factory.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(metadata.Type, createDefaultConfig,
		exporter.WithMetrics(createMetrics, metadata.MetricsStability))
}

var notInName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func createDefaultConfig() component.Config {
	host, _ := os.Hostname()
	host = notInName.ReplaceAllString(host, "-")
	if host == "" || host[0] == '.' || host[0] == '-' || host[0] == '_' {
		host = "collector" + host
	}
	return &Config{
		Collector:      host,
		Formats:        []string{formatCSV},
		BillingAccount: BillingAccount{ID: "github-copilot", Name: "GitHub Copilot"},
		Currency:       "USD",
		Attributes:     Attributes{Team: "team", Project: "project", CostCenter: "cost_center", Ticket: "ticket"},
		TimeoutConfig:  exporterhelper.NewDefaultTimeoutConfig(),
		// Off unless configured: without a queue a batch is acknowledged
		// only once its rows are in the day's file.
		QueueConfig: configoptional.Default(exporterhelper.NewDefaultQueueConfig()),
		RetryConfig: configretry.NewDefaultBackOffConfig(),
	}
}

func createMetrics(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
	c := cfg.(*Config)
	w, err := newWriter(c, set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return exporterhelper.NewMetrics(ctx, set, cfg, w.pushMetrics,
		exporterhelper.WithStart(w.start),
		exporterhelper.WithShutdown(w.shutdown),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(c.TimeoutConfig),
		exporterhelper.WithQueue(c.QueueConfig),
		exporterhelper.WithRetry(c.RetryConfig),
	)
}
