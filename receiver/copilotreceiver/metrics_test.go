package copilotreceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
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
