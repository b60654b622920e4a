package copilotreceiver

import (
	"bytes"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// seriesTotal is what the points of one series add up to.
type seriesTotal struct {
	ival       int64
	dval       float64
	count, sum float64
	buckets    []uint64
}

// seriesTotals adds up the points of md by series (resource attributes,
// metric, point attributes) and by the quarter hour of their start and of
// their time: the resolution combining keeps. It also returns the number
// of points. Combining adds points up, which is right for delta sums and
// histograms only (a cumulative sum or a gauge would keep its last point),
// so any other kind of metric fails the test.
func seriesTotals(t *testing.T, md pmetric.Metrics) (map[string]*seriesTotal, int) {
	out := map[string]*seriesTotal{}
	points := 0
	at := func(res pcommon.Resource, name string, attrs pcommon.Map, start, ts pcommon.Timestamp) *seriesTotal {
		points++
		k := strings.Join([]string{resourceKey(res), name, attrKey(attrs),
			start.AsTime().UTC().Truncate(combineSpan).String(), ts.AsTime().UTC().Truncate(combineSpan).String()}, "|")
		if out[k] == nil {
			out[k] = &seriesTotal{}
		}
		return out[k]
	}
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				switch m.Type() {
				case pmetric.MetricTypeSum:
					require.Equal(t, pmetric.AggregationTemporalityDelta, m.Sum().AggregationTemporality(), m.Name())
					for _, dp := range m.Sum().DataPoints().All() {
						s := at(rm.Resource(), m.Name(), dp.Attributes(), dp.StartTimestamp(), dp.Timestamp())
						s.ival += dp.IntValue()
						s.dval += dp.DoubleValue()
					}
				case pmetric.MetricTypeHistogram:
					require.Equal(t, pmetric.AggregationTemporalityDelta, m.Histogram().AggregationTemporality(), m.Name())
					for _, dp := range m.Histogram().DataPoints().All() {
						s := at(rm.Resource(), m.Name(), dp.Attributes(), dp.StartTimestamp(), dp.Timestamp())
						s.count += float64(dp.Count())
						s.sum += dp.Sum()
						if s.buckets == nil {
							s.buckets = make([]uint64, dp.BucketCounts().Len())
						}
						for i, n := range dp.BucketCounts().All() {
							s.buckets[i] += n
						}
					}
				default:
					require.Failf(t, "combining would add up a "+m.Type().String(), m.Name())
				}
			}
		}
	}
	return out, points
}

func attrKey(m pcommon.Map) string {
	kv := make([]string, 0, m.Len())
	for k, v := range m.All() {
		kv = append(kv, k+"="+v.AsString())
	}
	slices.Sort(kv)
	return strings.Join(kv, ",")
}

// requireSameTotals fails unless combined and per-event points add up to
// the same per series and quarter hour: integers exactly, doubles (premium
// requests, histogram sums) but for the rounding of adding them in
// another order.
func requireSameTotals(t *testing.T, perEvent, combined map[string]*seriesTotal) {
	t.Helper()
	require.Equal(t, slices.Sorted(maps.Keys(perEvent)), slices.Sorted(maps.Keys(combined)), "the series (and their quarter hours) differ")
	for k, want := range perEvent {
		got := combined[k]
		assert.Equal(t, want.ival, got.ival, "%s", k)
		assert.InDelta(t, want.dval, got.dval, 1e-9*math.Max(1, math.Abs(want.dval)), "%s", k)
		assert.Equal(t, want.count, got.count, "%s", k)
		assert.InDelta(t, want.sum, got.sum, 1e-9*math.Max(1, math.Abs(want.sum)), "%s", k)
		assert.Equal(t, want.buckets, got.buckets, "%s", k)
	}
}

// allFacts is the facts of every real transcript, as one batch.
func allFacts(t *testing.T) *session.Facts {
	all := &session.Facts{}
	for _, path := range transcripts(t) {
		f := readFacts(t, path, false)
		all.Usage = append(all.Usage, f.Usage...)
		all.Lifecycle = append(all.Lifecycle, f.Lifecycle...)
		all.Tools = append(all.Tools, f.Tools...)
		all.Subagents = append(all.Subagents, f.Subagents...)
		all.Errors = append(all.Errors, f.Errors...)
		all.Hooks = append(all.Hooks, f.Hooks...)
		all.CodeChanges = append(all.CodeChanges, f.CodeChanges...)
		all.Compactions = append(all.Compactions, f.Compactions...)
	}
	return all
}

// TestCombinedKeepsTotals: over the real recorded transcripts, combining
// makes fewer points, and every series (resource, metric, attributes) adds
// up to the same per quarter hour of start and of time as one point per
// event does, and so the same per model: tokens by type, nano-AIU, premium
// requests, API requests and durations. With session.id on metrics, each
// session stays its own series.
func TestCombinedKeepsTotals(t *testing.T) {
	for _, sessionID := range []bool{false, true} {
		t.Run(map[bool]string{false: "sessions alike share series", true: "session.id on"}[sessionID], func(t *testing.T) {
			facts := allFacts(t)
			build := func(points string) pmetric.Metrics {
				cfg := testConfig()
				cfg.MetricPoints = points
				cfg.ResourceAttributes.SessionID.Enabled = sessionID
				mb, _, _ := builders(cfg)
				return mb.build(facts, time.Time{})
			}
			perEvent, nPerEvent := seriesTotals(t, build(PointsPerEvent))
			combined, nCombined := seriesTotals(t, build(PointsCombined))
			t.Logf("%d usage facts: %d points per event, %d combined", len(facts.Usage), nPerEvent, nCombined)
			assert.Less(t, nCombined, nPerEvent, "combining should make fewer points")
			requireSameTotals(t, perEvent, combined)

			// The same per model, as a dashboard shows it.
			byModel := func(all map[string]*seriesTotal) map[string]float64 {
				out := map[string]float64{}
				for k, s := range all {
					parts := strings.Split(k, "|")
					metric, attrs := parts[1], parts[2]
					model := ""
					for _, a := range strings.Split(attrs, ",") {
						if v, ok := strings.CutPrefix(a, semconv.AttrGenAIRequestModel+"="); ok {
							model = v
						}
					}
					if model == "" {
						continue
					}
					out[metric+" "+model+" "+attrs] += float64(s.ival) + s.dval + s.count
				}
				return out
			}
			want, got := byModel(perEvent), byModel(combined)
			require.NotEmpty(t, want)
			require.Equal(t, len(want), len(got))
			for k, v := range want {
				assert.InDelta(t, v, got[k], 1e-9*math.Max(1, v), k)
			}
		})
	}
}

// TestCombiningKeepsSeriesApart: points of different series are never
// combined: not of sessions with different resources (another branch, or
// session.id on), nor of different models, initiators, agents or token
// types, even when they are read together at the same times.
func TestCombiningKeepsSeriesApart(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 16, 0, 0, 0, time.UTC)
	base := everyFact()
	ctxA := base.Usage[0].Ctx
	ctxB := *ctxA
	ctxB.Branch = "main" // another resource
	ctxC := *ctxA
	ctxC.SessionID = "0b1e1ed0-5a1e-4c0d-9b11-000000000003" // alike, unless session.id is on
	call := func(ctx *session.Context, model, initiator, agent string, at time.Duration, in int64) session.UsageFact {
		u := base.Usage[0]
		u.Ctx, u.Model, u.Initiator, u.Agent = ctx, model, initiator, session.Agent{ID: agent, Name: agent}
		u.Start, u.Time = t0.Add(at), t0.Add(at+time.Second)
		u.Usage.InputTokens, u.Usage.NanoAIU = in, in*100
		return u
	}
	f := &session.Facts{Usage: []session.UsageFact{
		call(ctxA, "gpt-4.1", session.InitiatorUser, "main", 0, 1),
		call(ctxA, "gpt-4.1", session.InitiatorUser, "main", time.Minute, 2),
		call(&ctxB, "gpt-4.1", session.InitiatorUser, "main", 0, 4),
		call(&ctxC, "gpt-4.1", session.InitiatorUser, "main", 0, 8),
		call(ctxA, "claude-sonnet-4.6", session.InitiatorUser, "main", 0, 16),
		call(ctxA, "gpt-4.1", session.InitiatorAgent, "main", 0, 32),
		call(ctxA, "gpt-4.1", session.InitiatorUser, "explore", 0, 64),
	}, Tools: base.Tools}
	for _, sessionID := range []bool{false, true} {
		cfg := testConfig()
		cfg.ResourceAttributes.SessionID.Enabled = sessionID
		cfg.MetricPoints = PointsPerEvent
		mbPerEvent, _, _ := builders(cfg)
		cfg.MetricPoints = PointsCombined
		mb, _, _ := builders(cfg)
		perEvent, _ := seriesTotals(t, mbPerEvent.build(f, time.Time{}))
		md := mb.build(f, time.Time{})
		combined, _ := seriesTotals(t, md)
		requireSameTotals(t, perEvent, combined)

		// Each input-token point is one series' own: its value is a sum of
		// distinct powers of two, so a point that mixed series would show.
		inputs := map[int64]bool{}
		for _, rm := range md.ResourceMetrics().All() {
			for _, m := range rm.ScopeMetrics().At(0).Metrics().All() {
				if m.Name() != semconv.MetricCopilotUsageTokens {
					continue
				}
				for _, dp := range m.Sum().DataPoints().All() {
					if tt, _ := dp.Attributes().Get(semconv.AttrGenAITokenType); tt.Str() == semconv.GenAITokenTypeInput {
						inputs[dp.IntValue()] = true
					}
				}
			}
		}
		want := map[int64]bool{1 + 2: true, 4: true, 16: true, 32: true, 64: true}
		wantResources := 2
		if sessionID {
			wantResources = 3
			want[8] = true
		} else {
			want[1+2+8] = true
			delete(want, 1+2) // session C is alike to A: one series
		}
		assert.Equal(t, want, inputs, "session.id on: %v", sessionID)
		assert.Equal(t, wantResources, md.ResourceMetrics().Len())

		// Nor do the times of one session's points come from another's: the
		// session on main made one call, from t0 to t0+1s, while the others
		// went on to t0+61s.
		for _, rm := range md.ResourceMetrics().All() {
			if b, _ := rm.Resource().Attributes().Get(semconv.AttrVCSRefHeadName); b.Str() != "main" {
				continue
			}
			for _, m := range rm.ScopeMetrics().At(0).Metrics().All() {
				if m.Type() != pmetric.MetricTypeSum {
					continue
				}
				for _, dp := range m.Sum().DataPoints().All() {
					assert.Equal(t, t0, dp.StartTimestamp().AsTime(), m.Name())
					assert.Equal(t, t0.Add(time.Second), dp.Timestamp().AsTime(), m.Name())
				}
			}
		}
	}
}

// TestCombinedUsageGroupsShareWindows: the combined points of one model,
// initiator and agent have one window (earliest start, latest time), the
// same for every metric, so that a consumer that puts a call's tokens,
// nano-AIU and premium requests together by attributes and times (the
// chargeback processor, the usage ledger) finds them together: a call
// without cache reads does not give the cache-read tokens another window.
// Calls billed differently (here one without nano-AIU) are not combined,
// so that such a consumer prices each part as it prices its calls; nor are
// calls in another quarter hour.
func TestCombinedUsageGroupsShareWindows(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 16, 0, 10, 0, time.UTC)
	base := everyFact().Usage[0]
	call := func(from, to time.Duration, in, cacheRead, nano int64, premium float64) session.UsageFact {
		u := base
		u.Start, u.Time = t0.Add(from), t0.Add(to)
		u.Usage.InputTokens, u.Usage.CacheReadTokens, u.Usage.NanoAIU, u.Usage.PremiumCost = in, cacheRead, nano, premium
		u.HasTTFT = false
		return u
	}
	f := &session.Facts{Usage: []session.UsageFact{
		call(0, time.Second, 10, 0, 5, 0),                            // no cache reads, earliest
		call(2*time.Second, 3*time.Second, 3, 0, 0, 0),               // not billed
		call(5*time.Second, 6*time.Second, 20, 8, 7, 0),              // billed, cache reads, latest
		call(20*time.Minute, 20*time.Minute+time.Second, 1, 1, 1, 0), // the next quarter hour
	}}
	mb, _, _ := builders(testConfig())
	md := mb.build(f, time.Time{})
	require.Equal(t, 1, md.ResourceMetrics().Len())

	type window struct{ start, ts time.Time }
	// By window, metric and token type, as the chargeback processor groups.
	got := map[window]map[string]float64{}
	for _, m := range md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().All() {
		if m.Type() != pmetric.MetricTypeSum {
			continue
		}
		for _, dp := range m.Sum().DataPoints().All() {
			w := window{dp.StartTimestamp().AsTime(), dp.Timestamp().AsTime()}
			if got[w] == nil {
				got[w] = map[string]float64{}
			}
			name := m.Name()
			if tt, ok := dp.Attributes().Get(semconv.AttrGenAITokenType); ok {
				name += " " + tt.Str()
			}
			got[w][name] += float64(dp.IntValue()) + dp.DoubleValue()
		}
	}
	billed := window{t0, t0.Add(6 * time.Second)}
	unbilled := window{t0.Add(2 * time.Second), t0.Add(3 * time.Second)}
	later := window{t0.Add(20 * time.Minute), t0.Add(20*time.Minute + time.Second)}
	require.ElementsMatch(t, []window{billed, unbilled, later}, slices.Collect(maps.Keys(got)))
	assert.Equal(t, 30.0, got[billed]["copilot.usage.tokens input"])
	assert.Equal(t, 8.0, got[billed]["copilot.usage.tokens cache_read"], "cache reads of the billed calls share their window")
	assert.Equal(t, 12.0, got[billed][semconv.MetricCopilotUsageNanoAIU])
	assert.Equal(t, 2.0, got[billed][semconv.MetricCopilotAPIRequests])
	assert.Equal(t, 3.0, got[unbilled]["copilot.usage.tokens input"])
	assert.NotContains(t, got[unbilled], semconv.MetricCopilotUsageNanoAIU)
	assert.Equal(t, 1.0, got[later][semconv.MetricCopilotUsageNanoAIU])
}

// TestReceiverCombinesRounds runs the receiver over every real transcript,
// both ways: what the tailer's rounds deliver combined adds up to what it
// delivers one point per event, per series and quarter hour.
func TestReceiverCombinesRounds(t *testing.T) {
	run := func(points string) (map[string]*seriesTotal, int) {
		h := newHarness(t)
		h.cfg.MetricPoints = points
		events := 0
		for _, path := range transcripts(t) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			events += bytes.Count(b, []byte("\n"))
			h.write(filepath.Base(filepath.Dir(path)), b)
		}
		s := &sink{}
		stop := h.run(s)
		require.Eventually(t, func() bool { return eventsRead(h) >= int64(events) }, 30*time.Second, 10*time.Millisecond)
		stop()
		return seriesTotals(t, s.allMetrics())
	}
	perEvent, nPerEvent := run(PointsPerEvent)
	combined, nCombined := run(PointsCombined)
	t.Logf("%d points per event, %d combined", nPerEvent, nCombined)
	assert.Less(t, nCombined, nPerEvent)
	requireSameTotals(t, perEvent, combined)
}
