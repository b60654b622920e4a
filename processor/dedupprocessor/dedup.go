package dedupprocessor // import "github.com/otelcol-copilot/otelcol-copilot/processor/dedupprocessor"

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"math"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-copilot/otelcol-copilot/processor/dedupprocessor/internal/metadata"
)

type key [16]byte

// memory remembers the keys of the items passed, for window, at most max
// of them, the oldest forgotten first.
type memory struct {
	window time.Duration
	max    int
	now    func() time.Time
	at     map[key]time.Time
	// order is a queue of the keys in the order they were remembered, each
	// with the time it was remembered then: a key remembered again (its
	// window over) is queued again at the back, and its earlier entry,
	// whose time is no longer the key's, is passed over.
	order []queued
	head  int
}

type queued struct {
	k  key
	at int64 // unix ns
}

func newMemory(window time.Duration, max int, now func() time.Time) *memory {
	return &memory{window: window, max: max, now: now, at: map[key]time.Time{}}
}

func (m *memory) has(k key) bool {
	t, ok := m.at[k]
	return ok && m.now().Sub(t) < m.window
}

// add remembers keys and returns how many were forgotten early.
func (m *memory) add(keys []key) (evicted int) {
	now := m.now()
	for _, k := range keys {
		if t, ok := m.at[k]; !ok || !t.Equal(now) {
			m.order = append(m.order, queued{k, now.UnixNano()})
		}
		m.at[k] = now
	}
	for m.head < len(m.order) {
		q := m.order[m.head]
		if t, ok := m.at[q.k]; ok && t.UnixNano() == q.at {
			expired := now.Sub(t) >= m.window
			if !expired && len(m.at) <= m.max {
				break
			}
			if !expired {
				evicted++
			}
			delete(m.at, q.k)
		}
		m.head++
	}
	if m.head > len(m.order)/2 && m.head > 1024 {
		m.order = append([]queued(nil), m.order[m.head:]...)
		m.head = 0
	}
	return evicted
}

// dedup is one signal's processor. A batch is filtered, passed on and,
// once the next consumer took it, remembered, under one lock: a batch the
// next consumer refuses is not remembered (its re-send must pass), and two
// batches with the same items never both pass.
type dedup struct {
	mu     sync.Mutex
	seen   *memory
	tel    *metadata.TelemetryBuilder
	signal string
}

func (d *dedup) Start(context.Context, component.Host) error { return nil }
func (d *dedup) Shutdown(context.Context) error {
	d.tel.Shutdown()
	return nil
}
func (d *dedup) Capabilities() consumer.Capabilities { return consumer.Capabilities{MutatesData: true} }

// pass runs next on what filter left and remembers its keys once taken.
func (d *dedup) pass(ctx context.Context, filter func(drop func(key) bool) (passed []key, empty bool), next func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	dropped := 0
	inBatch := map[key]bool{}
	passed, empty := filter(func(k key) bool {
		if d.seen.has(k) || inBatch[k] {
			dropped++
			return true
		}
		inBatch[k] = true
		return false
	})
	if dropped > 0 {
		d.tel.ProcessorDedupDropped.Add(ctx, int64(dropped), metric.WithAttributes(attribute.String("signal", d.signal)))
	}
	if !empty {
		if err := next(); err != nil {
			return err
		}
	}
	if n := d.seen.add(passed); n > 0 {
		d.tel.ProcessorDedupEvicted.Add(ctx, int64(n))
	}
	return nil
}

// hasher writes the parts of an item's identity.
type hasher struct{ h hash.Hash }

func newHasher() *hasher { return &hasher{h: sha256.New()} }

func (h *hasher) str(s string) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
	h.h.Write(n[:])
	h.h.Write([]byte(s))
}

func (h *hasher) u64(v uint64) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], v)
	h.h.Write(n[:])
}

// value writes v with its type, maps by sorted key: values of different
// types (1 and 1.0, a string and bytes) differ, and a NaN is written as
// its bits, not lost with the rest of its map.
func (h *hasher) value(v pcommon.Value) {
	h.u64(uint64(v.Type()))
	switch v.Type() {
	case pcommon.ValueTypeStr:
		h.str(v.Str())
	case pcommon.ValueTypeInt:
		h.u64(uint64(v.Int()))
	case pcommon.ValueTypeDouble:
		h.u64(math.Float64bits(v.Double()))
	case pcommon.ValueTypeBool:
		if v.Bool() {
			h.u64(1)
		} else {
			h.u64(0)
		}
	case pcommon.ValueTypeBytes:
		h.str(string(v.Bytes().AsRaw()))
	case pcommon.ValueTypeSlice:
		h.u64(uint64(v.Slice().Len()))
		for _, e := range v.Slice().All() {
			h.value(e)
		}
	case pcommon.ValueTypeMap:
		h.attrs(v.Map())
	}
}

// attrs writes a map, its keys sorted.
func (h *hasher) attrs(m pcommon.Map) {
	keys := make([]string, 0, m.Len())
	for k := range m.All() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h.u64(uint64(len(keys)))
	for _, k := range keys {
		v, _ := m.Get(k)
		h.str(k)
		h.value(v)
	}
}

// itemKey is the key of an item: its context's bytes, then its own.
func itemKey(context []byte, parts func(h *hasher)) key {
	h := newHasher()
	h.h.Write(context)
	parts(h)
	var k key
	copy(k[:], h.h.Sum(nil))
	return k
}

// contextBytes are the resource's and the scope's identity.
func contextBytes(res pcommon.Resource, scope pcommon.InstrumentationScope) []byte {
	h := newHasher()
	h.attrs(res.Attributes())
	h.str(scope.Name())
	h.str(scope.Version())
	h.attrs(scope.Attributes())
	return h.h.Sum(nil)
}

type metricsProcessor struct {
	*dedup
	next consumer.Metrics
}

func (p *metricsProcessor) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	return p.pass(ctx, func(drop func(key) bool) ([]key, bool) {
		var passed []key
		md.ResourceMetrics().RemoveIf(func(rm pmetric.ResourceMetrics) bool {
			rm.ScopeMetrics().RemoveIf(func(sm pmetric.ScopeMetrics) bool {
				ctxb := contextBytes(rm.Resource(), sm.Scope())
				sm.Metrics().RemoveIf(func(m pmetric.Metric) bool {
					keep := func(parts func(h *hasher)) bool {
						k := itemKey(ctxb, func(h *hasher) {
							h.str(m.Name())
							h.u64(uint64(m.Type()))
							parts(h)
						})
						if drop(k) {
							return true
						}
						passed = append(passed, k)
						return false
					}
					number := func(dp pmetric.NumberDataPoint) bool {
						return keep(func(h *hasher) {
							h.attrs(dp.Attributes())
							h.u64(uint64(dp.StartTimestamp()))
							h.u64(uint64(dp.Timestamp()))
							h.u64(uint64(dp.ValueType()))
							h.u64(uint64(dp.IntValue()))
							h.u64(math.Float64bits(dp.DoubleValue()))
						})
					}
					switch m.Type() {
					case pmetric.MetricTypeSum:
						m.Sum().DataPoints().RemoveIf(number)
						return m.Sum().DataPoints().Len() == 0
					case pmetric.MetricTypeGauge:
						m.Gauge().DataPoints().RemoveIf(number)
						return m.Gauge().DataPoints().Len() == 0
					case pmetric.MetricTypeHistogram:
						m.Histogram().DataPoints().RemoveIf(func(dp pmetric.HistogramDataPoint) bool {
							return keep(func(h *hasher) {
								h.attrs(dp.Attributes())
								h.u64(uint64(dp.StartTimestamp()))
								h.u64(uint64(dp.Timestamp()))
								h.u64(dp.Count())
								h.u64(math.Float64bits(dp.Sum()))
								h.u64(uint64(dp.BucketCounts().Len()))
								for _, c := range dp.BucketCounts().All() {
									h.u64(c)
								}
								h.u64(uint64(dp.ExplicitBounds().Len()))
								for _, b := range dp.ExplicitBounds().All() {
									h.u64(math.Float64bits(b))
								}
							})
						})
						return m.Histogram().DataPoints().Len() == 0
					}
					return false // other types pass as they are
				})
				return sm.Metrics().Len() == 0
			})
			return rm.ScopeMetrics().Len() == 0
		})
		return passed, md.ResourceMetrics().Len() == 0
	}, func() error { return p.next.ConsumeMetrics(ctx, md) })
}

type logsProcessor struct {
	*dedup
	next consumer.Logs
}

func (p *logsProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	return p.pass(ctx, func(drop func(key) bool) ([]key, bool) {
		var passed []key
		ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
			rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
				ctxb := contextBytes(rl.Resource(), sl.Scope())
				sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
					k := itemKey(ctxb, func(h *hasher) {
						h.str(lr.EventName())
						h.u64(uint64(lr.Timestamp()))
						h.u64(uint64(lr.ObservedTimestamp()))
						h.str(lr.TraceID().String())
						h.str(lr.SpanID().String())
						h.attrs(lr.Attributes())
						h.value(lr.Body())
					})
					if drop(k) {
						return true
					}
					passed = append(passed, k)
					return false
				})
				return sl.LogRecords().Len() == 0
			})
			return rl.ScopeLogs().Len() == 0
		})
		return passed, ld.ResourceLogs().Len() == 0
	}, func() error { return p.next.ConsumeLogs(ctx, ld) })
}

type tracesProcessor struct {
	*dedup
	next consumer.Traces
}

func (p *tracesProcessor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	return p.pass(ctx, func(drop func(key) bool) ([]key, bool) {
		var passed []key
		td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
			rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
				ctxb := contextBytes(rs.Resource(), ss.Scope())
				ss.Spans().RemoveIf(func(s ptrace.Span) bool {
					k := itemKey(ctxb, func(h *hasher) {
						h.str(s.TraceID().String())
						h.str(s.SpanID().String())
						h.str(s.Name())
						h.u64(uint64(s.StartTimestamp()))
						h.u64(uint64(s.EndTimestamp()))
					})
					if drop(k) {
						return true
					}
					passed = append(passed, k)
					return false
				})
				return ss.Spans().Len() == 0
			})
			return rs.ScopeSpans().Len() == 0
		})
		return passed, td.ResourceSpans().Len() == 0
	}, func() error { return p.next.ConsumeTraces(ctx, td) })
}
