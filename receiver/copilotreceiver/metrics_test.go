package copilotreceiver

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
)

// TestMetricsFollowTheirConfiguration: metrics.<name>.enabled turns a metric
// off, metrics.<name>.attributes keeps fewer attributes (the points that
// become alike are summed), and histograms.<name>.enabled turns a histogram
// off, as the generated configuration says.
func TestMetricsFollowTheirConfiguration(t *testing.T) {
	cfg := testConfig()
	cfg.Metrics.CopilotToolCalls.Enabled = false
	cfg.Metrics.CopilotUsageTokens.EnabledAttributes = []metadata.CopilotUsageTokensMetricAttributeKey{metadata.CopilotUsageTokensMetricAttributeKeyGenAiTokenType}
	cfg.Histograms.TimeToFirstToken.Enabled = false
	mb, _, _ := builders(cfg)
	f := everyFact()
	f.Usage = append(f.Usage, f.Usage[0])
	f.Usage[1].Model, f.Usage[1].Agent.Name = "claude-sonnet-4", "explore"
	md := mb.build(f, time.Time{})

	byName := map[string]pmetric.Metric{}
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for _, m := range ms.All() {
		byName[m.Name()] = m
	}
	assert.NotContains(t, byName, semconv.MetricCopilotToolCalls)
	assert.NotContains(t, byName, semconv.MetricCopilotAPITimeToFirstToken)
	assert.Contains(t, byName, semconv.MetricCopilotAPIDuration)
	tokens, ok := byName[semconv.MetricCopilotUsageTokens]
	require.True(t, ok)
	got := map[string]int64{}
	for _, dp := range tokens.Sum().DataPoints().All() {
		assert.Equal(t, 1, dp.Attributes().Len(), "only gen_ai.token.type is kept")
		tt, _ := dp.Attributes().Get(semconv.AttrGenAITokenType)
		got[tt.Str()] += dp.IntValue()
	}
	assert.Equal(t, map[string]int64{"input": 20, "output": 10, "cache_read": 8, "cache_write": 6, "reasoning": 4}, got, "the two models' points are summed")
	nano := byName[semconv.MetricCopilotUsageNanoAIU].Sum().DataPoints()
	require.Equal(t, 2, nano.Len(), "other metrics keep their attributes")
	assert.Equal(t, 3, nano.At(0).Attributes().Len())
}

// TestAlikeSessionsShareSeries: two sessions whose resources are alike on
// metrics (same branch and commit, session.id off) are one series. In
// received mode they become one resource with summed points, since their
// points have the same times and delta_to_cumulative would keep only the
// first of a stream's points with one timestamp. Combined, their points
// are one resource too, summed when they fall in the same quarter hour;
// per event they stay apart.
func TestAlikeSessionsShareSeries(t *testing.T) {
	for _, tc := range []struct {
		timestamps, points  string
		shift               time.Duration
		resources, inputPts int
	}{
		{TimestampsReceived, PointsCombined, time.Hour, 1, 1},
		{TimestampsEvent, PointsCombined, time.Minute, 1, 1},
		{TimestampsEvent, PointsCombined, time.Hour, 1, 2},
		{TimestampsEvent, PointsPerEvent, time.Minute, 2, 2},
	} {
		t.Run(tc.timestamps+"/"+tc.points+"/"+tc.shift.String(), func(t *testing.T) {
			cfg := testConfig()
			cfg.MetricTimestamps, cfg.MetricPoints = tc.timestamps, tc.points
			mb, _, _ := builders(cfg)
			f := everyFact()
			other := *f.Usage[0].Ctx
			other.SessionID = "0b1e1ed0-5a1e-4c0d-9b11-000000000002"
			second := f.Usage[0]
			second.Ctx = &other
			second.Start, second.Time = second.Start.Add(tc.shift), second.Time.Add(tc.shift)
			f.Usage = append(f.Usage, second)
			md := mb.build(f, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))

			var input int64
			points := 0
			for _, rm := range md.ResourceMetrics().All() {
				for _, m := range rm.ScopeMetrics().At(0).Metrics().All() {
					if m.Name() != semconv.MetricCopilotUsageTokens {
						continue
					}
					for _, dp := range m.Sum().DataPoints().All() {
						if tt, _ := dp.Attributes().Get(semconv.AttrGenAITokenType); tt.Str() == semconv.GenAITokenTypeInput {
							input += dp.IntValue()
							points++
						}
					}
				}
			}
			assert.Equal(t, int64(20), input)
			assert.Equal(t, tc.resources, md.ResourceMetrics().Len())
			assert.Equal(t, tc.inputPts, points)
		})
	}
}

// TestBuilderKeepsNothingBetweenBatches: a builder reuses its batch and
// keeps each session's resource for the next batch, yet every batch's
// metrics are what a new builder makes of the same facts, point order
// included; also when a session's context changes in place between
// batches, as the hook tracker changes it, and when sessions alike on
// metrics are merged.
func TestBuilderKeepsNothingBetweenBatches(t *testing.T) {
	read := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var batches []*session.Facts
	for _, path := range transcripts(t) {
		batches = append(batches, readFacts(t, path, false))
	}
	f := everyFact()
	ctx := f.Usage[0].Ctx
	other := *ctx
	other.SessionID = "0b1e1ed0-5a1e-4c0d-9b11-000000000002"
	second := f.Usage[0]
	second.Ctx = &other
	f.Usage = append(f.Usage, second)
	batches = append(batches, f, f, f)
	for _, tc := range []struct {
		name       string
		timestamps string
		points     string
	}{
		{"combined", TimestampsEvent, PointsCombined},
		{"per_event", TimestampsEvent, PointsPerEvent},
		{"received", TimestampsReceived, PointsPerEvent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MetricTimestamps, cfg.MetricPoints = tc.timestamps, tc.points
			reused, _, _ := builders(cfg)
			var m pmetric.JSONMarshaler
			ctx.Branch = "feature/PAY-1"
			for i, facts := range batches {
				facts.ReadStart, facts.ReadEnd = read, read.Add(time.Second)
				if i == len(batches)-1 {
					ctx.Branch = "feature/PAY-2" // changed in place
				}
				fresh, _, _ := builders(cfg)
				want, err := m.MarshalMetrics(fresh.build(facts, read))
				require.NoError(t, err)
				got, err := m.MarshalMetrics(reused.build(facts, read))
				require.NoError(t, err)
				require.Equal(t, string(want), string(got), "batch %d", i)
			}
			assert.Contains(t, func() string {
				b, _ := m.MarshalMetrics(reused.build(f, read))
				return string(b)
			}(), "feature/PAY-2")
		})
	}
}

// TestFilledKeyIsResourceKey: for the resources fill makes, two have the
// same filledKey exactly when they have the same resourceKey.
func TestFilledKeyIsResourceKey(t *testing.T) {
	cfg := testConfig()
	cfg.ResourceAttributes.SessionID.Enabled = false
	res := &resourceBuilder{cfg: cfg.ResourceAttributes, user: "dev"}
	base := everyFact().Usage[0].Ctx
	var ctxs []*session.Context
	for _, change := range []func(c *session.Context){
		func(*session.Context) {},
		func(c *session.Context) { c.SessionID = "other" }, // off: alike
		func(c *session.Context) { c.Branch = "" },
		func(c *session.Context) { c.Branch, c.HeadCommit = "", "" },
		func(c *session.Context) { c.HeadCommit = "" },
		func(c *session.Context) { c.Repository = "payments-api" },
		func(c *session.Context) { c.Repository, c.Cwd = "payments-api", "" },
		func(c *session.Context) { c.CLIVersion = "" },
		func(c *session.Context) { *c = session.Context{} },
	} {
		c := *base
		change(&c)
		ctxs = append(ctxs, &c)
	}
	made := func(c *session.Context) pcommon.Resource {
		r := pcommon.NewResource()
		res.fill(r, c, false)
		return r
	}
	for _, a := range ctxs {
		for _, b := range ctxs {
			ra, rb := made(a), made(b)
			assert.Equal(t, resourceKey(ra) == resourceKey(rb), string(filledKey(nil, ra)) == string(filledKey(nil, rb)), "%+v\n%+v", a, b)
		}
	}
}

// TestBuildConcurrently: the hook endpoint builds the metrics of
// different sessions' payloads at once with one builder (in event mode),
// so each build has a batch of its own. Run with -race.
func TestBuildConcurrently(t *testing.T) {
	mb, _, _ := builders(testConfig())
	fresh, _, _ := builders(testConfig())
	var m pmetric.JSONMarshaler
	want, err := m.MarshalMetrics(fresh.build(everyFact(), time.Time{}))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := everyFact()
			for range 50 {
				got, err := m.MarshalMetrics(mb.build(f, time.Time{}))
				assert.NoError(t, err)
				if !assert.Equal(t, string(want), string(got)) {
					return
				}
			}
		}()
	}
	wg.Wait()
}
