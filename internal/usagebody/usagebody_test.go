package usagebody

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

func TestRoundTrip(t *testing.T) {
	u := session.UsageSummary{
		TotalPremiumRequestCost: 2.5, TotalNanoAIU: 4635767500, TotalUserRequests: 2, TotalAPIDurationMs: 80,
		TokenDetails: session.TokenDetails{Input: 44525, Output: 250, CacheRead: 30000, CacheWrite: 7, Reasoning: 3},
		ModelMetrics: map[string]session.ModelSummary{
			"gpt-5-mini":      {Requests: session.RequestSummary{Count: 3, UserInitiated: 1, PremiumCost: 0.5}, Usage: session.TokenSummary{InputTokens: 40000, OutputTokens: 200, CacheReadTokens: 30000}, TotalNanoAIU: 4000000000},
			"claude-sonnet-4": {Requests: session.RequestSummary{Count: 1, PremiumCost: 2}, Usage: session.TokenSummary{InputTokens: 4525, OutputTokens: 50, CacheWriteTokens: 7, ReasoningTokens: 3}, TotalNanoAIU: 635767500},
		},
		CodeChanges: session.CodeSummary{LinesAdded: 12, LinesRemoved: 3, FilesModified: 2},
	}
	v := pcommon.NewValueEmpty()
	Put(v.SetEmptyMap(), u)
	got, err := Get(v)
	require.NoError(t, err)
	assert.Equal(t, u, got)
}

func TestGetRefuses(t *testing.T) {
	_, err := Get(pcommon.NewValueStr("session ended"))
	assert.ErrorIs(t, err, ErrNoUsage)
	_, err = Get(pcommon.NewValueMap())
	assert.ErrorIs(t, err, ErrNoUsage)

	for name, put := range map[string]func(m pcommon.Map){
		"totalNanoAiu":   func(m pcommon.Map) { m.PutInt("totalNanoAiu", -1) },
		"tokenDetails":   func(m pcommon.Map) { m.PutStr("tokenDetails", "x") },
		"input":          func(m pcommon.Map) { m.PutEmptyMap("tokenDetails").PutDouble("input", 1.5) },
		"modelMetrics.m": func(m pcommon.Map) { m.PutEmptyMap("modelMetrics").PutStr("m", "x") },
		"premiumCost": func(m pcommon.Map) {
			m.PutEmptyMap("modelMetrics").PutEmptyMap("m").PutEmptyMap("requests").PutDouble("premiumCost", -2)
		},
		"totalPremiumRequestCost": func(m pcommon.Map) { m.PutStr("totalPremiumRequestCost", "2") },
	} {
		v := pcommon.NewValueMap()
		v.Map().PutInt("totalNanoAiu", 1)
		put(v.Map())
		_, err := Get(v)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), name+" is not", name)
	}

	// Whole doubles are counts (a JSON round trip makes them so).
	v := pcommon.NewValueMap()
	v.Map().PutDouble("totalNanoAiu", 7e9)
	u, err := Get(v)
	require.NoError(t, err)
	assert.Equal(t, int64(7e9), u.TotalNanoAIU)
}

func TestCredits(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 1: "0.000000001", 1_500_000_000: "1.5", 42_000_000_000: "42", -2_500_000_000: "-2.5", -1 << 63: "-9223372036.854775808"} {
		assert.Equal(t, want, Credits(n))
	}
}

func TestCost(t *testing.T) {
	a := pcommon.NewMap()
	_, _, found, err := Cost(a)
	assert.False(t, found)
	assert.NoError(t, err)
	PutCost(a, money.MustParse("0.046357675"), "USD")
	c, cur, found, err := Cost(a)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "0.046357675", c.String())
	assert.Equal(t, "USD", cur)
	v, _ := a.Get(AttrCost)
	assert.InDelta(t, 0.046357675, v.Double(), 1e-15)
	a.PutStr(AttrCostExact, "")
	_, _, found, err = Cost(a)
	assert.True(t, found)
	assert.ErrorContains(t, err, AttrCostExact)
}
