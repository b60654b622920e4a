package chargebackprocessor // import "github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor"

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/metadata"
)

// Outcomes of a lookup.
const (
	outcomeHit      = "hit"
	outcomeHeld     = "held"
	outcomePassed   = "passed"
	outcomeReleased = "released"
	outcomeExpired  = "expired"
)

// joinCache maps session ids to what the copilot receiver reported of the
// sessions, for the CLI's own telemetry, which names only the session id
// (gen_ai.conversation.id). Spans that come before their session's context
// can be held for a while. It is safe for concurrent use.
type joinCache struct {
	cfg     JoinConfig
	tel     *metadata.TelemetryBuilder
	release func(sid string, info *sessionInfo, held []heldBatch)
	now     func() time.Time

	mu       sync.Mutex
	sessions *simplelru.LRU[string, cached]
	held     map[string]*heldSession
	nHeld    int

	releases chan released
	stopCh   chan struct{}
	done     chan struct{}
}

type cached struct {
	info sessionInfo
	seen time.Time
}

// heldBatch is spans held and the pipeline they go on in.
type heldBatch struct {
	td   ptrace.Traces
	next consumer.Traces
}

type heldSession struct {
	batches []heldBatch
	spans   int
	until   time.Time // when the first batch gives up waiting
}

type released struct {
	sid     string
	info    *sessionInfo // nil: expired, pass unattributed
	batches []heldBatch
}

func newJoinCache(cfg JoinConfig, tel *metadata.TelemetryBuilder, release func(string, *sessionInfo, []heldBatch)) *joinCache {
	j := &joinCache{
		cfg: cfg, tel: tel, release: release, now: time.Now,
		held:     map[string]*heldSession{},
		releases: make(chan released, 64),
		stopCh:   make(chan struct{}),
		done:     make(chan struct{}),
	}
	j.sessions, _ = simplelru.NewLRU[string, cached](cfg.MaxSessions, func(string, cached) {
		tel.ProcessorChargebackJoinEvictions.Add(bg, 1)
	})
	return j
}

func (j *joinCache) count(outcome string, n int) {
	if n > 0 {
		j.tel.ProcessorChargebackJoinLookups.Add(bg, int64(n), metric.WithAttributes(attribute.String("outcome", outcome)))
	}
}

// fill records a session's context, and releases the spans held for it.
func (j *joinCache) fill(sid string, info sessionInfo) {
	j.mu.Lock()
	j.sessions.Add(sid, cached{info: info, seen: j.now()})
	h := j.held[sid]
	if h != nil {
		delete(j.held, sid)
		j.nHeld -= h.spans
	}
	j.mu.Unlock()
	if h != nil {
		j.count(outcomeReleased, h.spans)
		r := released{sid: sid, info: &info, batches: h.batches}
		select {
		case j.releases <- r:
		case <-j.stopCh:
			j.release(r.sid, r.info, r.batches)
		}
	}
}

// lookup returns a session's context, if it is known and fresh.
func (j *joinCache) lookup(sid string) (sessionInfo, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	c, ok := j.sessions.Get(sid)
	if !ok {
		return sessionInfo{}, false
	}
	if j.now().Sub(c.seen) > j.cfg.TTL {
		j.sessions.Remove(sid) // counted as an eviction
		return sessionInfo{}, false
	}
	return c.info, true
}

// hold keeps spans of a session whose context is not known yet; false when
// the hold is full (the caller passes them unattributed). A context that
// arrived meanwhile is returned instead.
func (j *joinCache) hold(sid string, td ptrace.Traces, next consumer.Traces) (sessionInfo, bool, bool) {
	n := td.SpanCount()
	j.mu.Lock()
	defer j.mu.Unlock()
	if c, ok := j.sessions.Get(sid); ok {
		return c.info, true, false
	}
	if j.nHeld+n > j.cfg.MaxHeld {
		return sessionInfo{}, false, false
	}
	h := j.held[sid]
	if h == nil {
		h = &heldSession{until: j.now().Add(j.cfg.HoldTime)}
		j.held[sid] = h
	}
	h.batches = append(h.batches, heldBatch{td: td, next: next})
	h.spans += n
	j.nHeld += n
	return sessionInfo{}, false, true
}

func (j *joinCache) start() { go j.loop() }

func (j *joinCache) loop() {
	defer close(j.done)
	tick := time.NewTicker(max(min(j.cfg.HoldTime/4, time.Second), 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case r := <-j.releases:
			j.release(r.sid, r.info, r.batches)
		case <-tick.C:
			for _, r := range j.expire(false) {
				j.release(r.sid, nil, r.batches)
			}
		case <-j.stopCh:
			for {
				select {
				case r := <-j.releases:
					j.release(r.sid, r.info, r.batches)
					continue
				default:
				}
				break
			}
			for _, r := range j.expire(true) {
				j.release(r.sid, nil, r.batches)
			}
			return
		}
	}
}

// expire takes the held spans whose wait is over (all of them with all).
func (j *joinCache) expire(all bool) []released {
	now := j.now()
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []released
	for sid, h := range j.held {
		if all || !now.Before(h.until) {
			out = append(out, released{sid: sid, batches: h.batches})
			delete(j.held, sid)
			j.nHeld -= h.spans
			j.count(outcomeExpired, h.spans)
		}
	}
	return out
}

// stop passes on what is held, unattributed, and stops the loop.
func (j *joinCache) stop(ctx context.Context) {
	close(j.stopCh)
	select {
	case <-j.done:
	case <-ctx.Done():
	}
}
