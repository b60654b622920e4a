package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/otelcol-copilot/otelcol-copilot/internal/statedir"
	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
)

// NewFactory returns the factory of the copilot receiver.
func NewFactory() receiver.Factory {
	f := &factory{instances: map[*Config]*copilotReceiver{}}
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithMetrics(f.createMetrics, metadata.MetricsStability),
		receiver.WithTraces(f.createTraces, metadata.TracesStability),
		receiver.WithLogs(f.createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		SessionState: SessionStateConfig{
			Include:        defaultInclude(),
			StartAt:        StartAtBeginning,
			PollInterval:   time.Second,
			RescanInterval: 30 * time.Second,
			MaxLineSize:    transcript.DefaultMaxLineSize,
			IdleTimeout:    time.Hour,
			User:           statedir.User(),
			RetryOnRefused: RetryConfig{InitialInterval: 100 * time.Millisecond, MaxInterval: 10 * time.Second},
			DrainTimeout:   10 * time.Second,
			// A line every few seconds while a backfill is read.
			ProgressInterval: 5 * time.Second,
			Store:            StoreAuto,
		},
		MetricTimestamps: TimestampsEvent,
		MetricPoints:     PointsCombined,
		Histograms: HistogramsConfig{
			APIDuration:      HistogramConfig{Enabled: true, Buckets: defaultDurationBuckets},
			TimeToFirstToken: HistogramConfig{Enabled: true, Buckets: defaultTTFTBuckets},
			// Off by default: see store_calls.go.
			ServerTimeToFirstToken:   HistogramConfig{Buckets: semconvTTFTBuckets},
			ServerTimePerOutputToken: HistogramConfig{Buckets: semconvTPOTBuckets},
		},
		MetricsBuilderConfig: metadata.NewDefaultMetricsBuilderConfig(),
		Events:               metadata.DefaultEventsConfig(),
		Hooks:                configoptional.Default(defaultHooksConfig()),
	}
}

// factory keeps one receiver per configuration: the metrics, traces and
// logs pipelines of one configured receiver share one tailer, so that each
// transcript is read once and checkpointed once.
type factory struct {
	mu        sync.Mutex
	instances map[*Config]*copilotReceiver
}

func (f *factory) instance(set receiver.Settings, cfg component.Config) (*copilotReceiver, error) {
	c := cfg.(*Config)
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.instances[c]; r != nil {
		return r, nil
	}
	r, err := newReceiver(set, c, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.instances, c)
	})
	if err != nil {
		return nil, err
	}
	f.instances[c] = r
	return r, nil
}

func (f *factory) createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	r, err := f.instance(set, cfg)
	if err != nil {
		return nil, err
	}
	r.setMetrics(next)
	return r, nil
}

func (f *factory) createTraces(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
	r, err := f.instance(set, cfg)
	if err != nil {
		return nil, err
	}
	r.setTraces(next)
	return r, nil
}

func (f *factory) createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	r, err := f.instance(set, cfg)
	if err != nil {
		return nil, err
	}
	r.setLogs(next)
	return r, nil
}
