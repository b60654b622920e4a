package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/pipeline"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/tailer"
)

const transport = "file"

// signalMetrics names the metrics signal.
const signalMetrics = "metrics"

// copilotReceiver serves the metrics, traces and logs pipelines of one
// configured receiver from one tailer.
type copilotReceiver struct {
	cfg      *Config
	set      receiver.Settings
	onClose  func()
	obsrecv  *receiverhelper.ObsReport
	tel      *metadata.TelemetryBuilder
	metricsB *metricsBuilder
	tracesB  *tracesBuilder
	logsB    *logsBuilder

	mu      sync.Mutex
	metrics consumer.Metrics
	traces  consumer.Traces
	logs    consumer.Logs
	started bool
	stopped bool
	tail    *tailer.Tailer
	hooks   *hookServer
	client  storage.Client
	calls   *storeCalls // the session store's per-call metrics (store_calls.go)
	check   *storeCheck // the session store cross-check (store.go)
}

var (
	_ receiver.Metrics = (*copilotReceiver)(nil)
	_ receiver.Traces  = (*copilotReceiver)(nil)
	_ receiver.Logs    = (*copilotReceiver)(nil)
)

func newReceiver(set receiver.Settings, cfg *Config, onClose func()) (*copilotReceiver, error) {
	obsrecv, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID: set.ID, Transport: transport, ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	res := &resourceBuilder{cfg: cfg.ResourceAttributes, user: cfg.SessionState.User}
	version := set.BuildInfo.Version
	return &copilotReceiver{
		cfg: cfg, set: set, onClose: onClose, obsrecv: obsrecv,
		metricsB: newMetricsBuilder(cfg, res, version, &tailer.WindowClock{}),
		tracesB:  &tracesBuilder{resources: res, version: version, capture: cfg.CaptureContent},
		logsB:    &logsBuilder{resources: res, version: version, events: cfg.Events},
	}, nil
}

func (r *copilotReceiver) setMetrics(c consumer.Metrics) { r.mu.Lock(); r.metrics = c; r.mu.Unlock() }
func (r *copilotReceiver) setTraces(c consumer.Traces)   { r.mu.Lock(); r.traces = c; r.mu.Unlock() }
func (r *copilotReceiver) setLogs(c consumer.Logs)       { r.mu.Lock(); r.logs = c; r.mu.Unlock() }

// Start starts the shared tailer once, whichever pipeline starts first.
// A start that fails part way stops what it had started (the tailer, the
// storage client), as the otlp receiver does with its servers.
func (r *copilotReceiver) Start(ctx context.Context, host component.Host) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return nil
	}
	r.started = true
	if err := r.start(ctx, host); err != nil {
		return errors.Join(err, r.shutdown(ctx))
	}
	return nil
}

func (r *copilotReceiver) start(ctx context.Context, host component.Host) error {
	tel, err := metadata.NewTelemetryBuilder(r.set.TelemetrySettings)
	if err != nil {
		return err
	}
	r.tel = tel
	if r.cfg.SessionState.Storage != nil {
		c, err := storageclient.Get(ctx, host, "session_state::storage", *r.cfg.SessionState.Storage, component.KindReceiver, r.set.ID)
		if err != nil {
			return err
		}
		r.client = c
	} else {
		r.set.Logger.Warn("session_state::storage is not set: checkpoints are kept in memory only, so after a restart every transcript is read and exported again")
	}
	ss := r.cfg.SessionState
	r.tail = tailer.New(tailer.Config{
		Include:        ss.Include,
		Exclude:        ss.Exclude,
		StartAtEnd:     ss.StartAt == StartAtEnd,
		PollInterval:   ss.PollInterval,
		RescanInterval: ss.RescanInterval,
		IdleTimeout:    ss.IdleTimeout,
		MaxLineSize:    int(ss.MaxLineSize),
		RetryInitial:   ss.RetryOnRefused.InitialInterval,
		RetryMax:       ss.RetryOnRefused.MaxInterval,
		Decode:         transcript.Options{CaptureContent: r.cfg.CaptureContent},
		Track:          session.Options{CaptureContent: r.cfg.CaptureContent},
		Clock:          r.metricsB.clock,
		DrainTimeout:   ss.DrainTimeout,

		ProgressInterval: ss.ProgressInterval,
		IncludeNote:      includeNote(ss.Include),
	}, r.client, r.tailerSignals(tel), &observer{tel: tel}, r.set.Logger)
	if err := r.tail.Start(ctx); err != nil {
		return err
	}
	if err := r.startStoreCalls(ctx); err != nil {
		return err
	}
	if r.cfg.Hooks.HasValue() {
		h, err := newHookServer(r, tel)
		if err != nil {
			return err
		}
		if err := h.start(ctx, host); err != nil {
			return err
		}
		r.hooks = h
	}
	return nil
}

// signals lists the pipelines this receiver feeds, in the order they are
// delivered: metrics first, the figures users are charged by. mb turns
// facts into metrics; it is not safe for concurrent use, so the tailer and
// the hook endpoint each have their own.
func (r *copilotReceiver) signals(mb *metricsBuilder) []pipeline.Signal {
	var out []pipeline.Signal
	if r.metrics != nil {
		out = append(out, pipeline.Signal{Name: signalMetrics, Consume: func(ctx context.Context, f *session.Facts) error {
			md := mb.build(f, time.Now())
			n := md.DataPointCount()
			if n == 0 {
				return nil
			}
			ctx = r.obsrecv.StartMetricsOp(ctx)
			err := r.metrics.ConsumeMetrics(ctx, md)
			r.obsrecv.EndMetricsOp(ctx, metadata.Type.String(), n, err)
			return err
		}})
	}
	if r.logs != nil {
		out = append(out, pipeline.Signal{Name: "logs", Consume: func(ctx context.Context, f *session.Facts) error {
			ld := r.logsB.build(f)
			n := ld.LogRecordCount()
			if n == 0 {
				return nil
			}
			ctx = r.obsrecv.StartLogsOp(ctx)
			err := r.logs.ConsumeLogs(ctx, ld)
			r.obsrecv.EndLogsOp(ctx, metadata.Type.String(), n, err)
			return err
		}})
	}
	if r.traces != nil {
		out = append(out, pipeline.Signal{Name: "traces", Consume: func(ctx context.Context, f *session.Facts) error {
			td := r.tracesB.build(f)
			n := td.SpanCount()
			if n == 0 {
				return nil
			}
			ctx = r.obsrecv.StartTracesOp(ctx)
			err := r.traces.ConsumeTraces(ctx, td)
			r.obsrecv.EndTracesOp(ctx, metadata.Type.String(), n, err)
			return err
		}})
	}
	return out
}

// Shutdown stops the tailer once and releases the storage client. It is
// safe to call without Start and more than once.
func (r *copilotReceiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.shutdown(ctx)
}

// shutdown is Shutdown with r.mu held.
func (r *copilotReceiver) shutdown(ctx context.Context) error {
	if r.stopped {
		return nil
	}
	r.stopped = true
	if r.onClose != nil {
		r.onClose()
	}
	var errs []error
	if r.hooks != nil {
		errs = append(errs, r.hooks.shutdown(ctx))
	}
	if r.calls != nil {
		r.calls.stop()
	}
	if r.tail != nil {
		errs = append(errs, r.tail.Stop(ctx))
	}
	if r.client != nil {
		errs = append(errs, r.client.Close(ctx))
	}
	if r.tel != nil {
		r.tel.Shutdown()
	}
	return errors.Join(errs...)
}

// observer feeds the tailer's counts into the receiver's own metrics.
type observer struct{ tel *metadata.TelemetryBuilder }

var bg = context.Background()

func (o *observer) LineSkipped(reason string) {
	o.tel.ReceiverCopilotLinesSkipped.Add(bg, 1, metric.WithAttributes(attribute.String(semconv.AttrReason, reason)))
}
func (o *observer) LineRepaired() { o.tel.ReceiverCopilotLinesRepaired.Add(bg, 1) }
func (o *observer) Read(events int, bytes int64) {
	o.tel.ReceiverCopilotEventsRead.Add(bg, int64(events))
	o.tel.ReceiverCopilotBytesRead.Add(bg, bytes)
}
func (o *observer) DuplicateRecords(n int64) {
	if n > 0 {
		o.tel.ReceiverCopilotUsageRecordsDuplicate.Add(bg, n)
	}
}
func (o *observer) AccountingExcess(n int64) {
	if n > 0 {
		o.tel.ReceiverCopilotAccountingExcess.Add(bg, n)
	}
}
func (o *observer) Retry(signal string) {
	o.tel.ReceiverCopilotConsumeRetries.Add(bg, 1, metric.WithAttributes(attribute.String(semconv.AttrSignal, signal)))
}
func (o *observer) Dropped(signal string) {
	o.tel.ReceiverCopilotBatchesDropped.Add(bg, 1, metric.WithAttributes(attribute.String(semconv.AttrSignal, signal)))
}
func (o *observer) FilesTracked(n int) { o.tel.ReceiverCopilotFilesTracked.Record(bg, int64(n)) }
func (o *observer) SnapshotEvicted()   { o.tel.ReceiverCopilotSessionSnapshotsEvicted.Add(bg, 1) }
