package tailer

import (
	"context"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/pipeline"
)

// deliverer offers a round's facts to each signal of the pipeline in turn,
// offering a refused one again with backoff and jitter until it is
// accepted, and dropping (and counting) one the pipeline rejects for good
// (pipeline.RejectedForGood: a backend refusing credentials is not).
// Deliveries run on a context of their own, which outlives the tailer's
// reading by the drain timeout, so that a stop lets a delivery under way be
// accepted and committed. Only the tailer's goroutine delivers; drain may
// be called from any goroutine.
type deliverer struct {
	signals          []pipeline.Signal
	obs              Observer
	log              *zap.Logger
	initial, maximum time.Duration

	ctx    context.Context
	cancel context.CancelFunc
}

func newDeliverer(signals []pipeline.Signal, initial, maximum time.Duration, obs Observer, log *zap.Logger) *deliverer {
	d := &deliverer{signals: signals, obs: obs, log: log, initial: initial, maximum: maximum}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d
}

// drain ends deliveries after timeout, or at once when stop is called.
func (d *deliverer) drain(timeout time.Duration) (stop func()) {
	t := time.AfterFunc(timeout, d.cancel)
	return func() {
		t.Stop()
		d.cancel()
	}
}

// deliver offers facts to each signal not in done, marking those that
// accepted (or rejected for good) in done, and calls progress after each
// one while others remain. It returns false when deliveries were ended
// (drain) or ctx ended while a refused signal waited for its retry: the
// facts were not delivered to every signal. A delivery under way is not
// cut short by ctx.
func (d *deliverer) deliver(ctx context.Context, facts *session.Facts, done map[string]bool, progress func(context.Context) error) bool {
	dctx := d.ctx
	remaining := 0
	for _, s := range d.signals {
		if !done[s.Name] {
			remaining++
		}
	}
	for _, s := range d.signals {
		if done[s.Name] {
			continue
		}
		backoff := d.initial
		for {
			err := s.Consume(dctx, facts)
			if err == nil {
				break
			}
			if dctx.Err() != nil {
				return false
			}
			if pipeline.RejectedForGood(err) {
				d.obs.Dropped(s.Name)
				d.log.Error("The pipeline rejected a batch permanently; it is dropped", zap.String("signal", s.Name), zap.Error(err))
				break
			}
			d.obs.Retry(s.Name)
			if pipeline.RefusedCredentials(err) {
				d.log.Error("The backend refuses the collector's credentials; the batch is held and offered again, nothing is dropped: fix the exporter's token or permissions", zap.String("signal", s.Name), zap.Duration("backoff", backoff), zap.Error(err))
			} else {
				d.log.Debug("The pipeline refused a batch; offering it again", zap.String("signal", s.Name), zap.Duration("backoff", backoff), zap.Error(err))
			}
			select {
			case <-ctx.Done():
				return false
			case <-time.After(jitter(backoff)):
			}
			backoff = min(2*backoff, d.maximum)
		}
		done[s.Name] = true
		remaining--
		if remaining > 0 {
			if err := progress(dctx); err != nil {
				d.log.Warn("Could not record delivery progress; after a crash, signals already delivered for this round could be sent again", zap.Error(err))
			}
		}
	}
	return true
}

// jitter spreads retries of many collectors refused at once by a shared
// gateway: d scaled by a factor in [0.75, 1.25).
func jitter(d time.Duration) time.Duration {
	return d*3/4 + time.Duration(rand.Int64N(int64(d)/2+1))
}
