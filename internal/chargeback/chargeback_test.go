package chargeback

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/attribution"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/pricing"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

func TestDefault(t *testing.T) {
	c := Default()
	require.NoError(t, c.Attribution.Validate())
	require.NoError(t, c.Pricing.Validate())
	res, err := attribution.New(c.Attribution, nil)
	require.NoError(t, err)
	ctx := &session.Context{Repository: "acme/payments-api", Branch: "feature/PAY-4411-refund-retries"}
	got := res.Resolve(Input(ctx, "dev", session.MainAgent))
	assert.Equal(t, "PAY-4411", got.Ticket)
	assert.Equal(t, attribution.DefaultUnattributed, got.Team)
}

func TestPricingUsage(t *testing.T) {
	u := session.Usage{InputTokens: 1000, OutputTokens: 100, CacheReadTokens: 400, CacheWriteTokens: 100, ReasoningTokens: 20, NanoAIU: 2_500_000_000, PremiumCost: 0.33, Requests: 1}
	assert.Equal(t, pricing.Usage{
		Model: "gpt-4.1", NanoAIU: 2_500_000_000, PremiumRequests: 0.33, Input: 1000, Output: 100, CacheRead: 400, CacheWrite: 100,
		HasNanoAIU: true, HasPremium: true, HasTokens: true,
	}, PricingUsage("gpt-4.1", u))
	assert.False(t, PricingUsage("m", session.Usage{Requests: 1}).HasTokens)
	assert.True(t, PricingUsage("m", session.Usage{ReasoningTokens: 1}).HasTokens)

	p, err := pricing.New(Default().Pricing)
	require.NoError(t, err)
	costs := p.Price(PricingUsage("gpt-4.1", u))
	require.Len(t, costs, 1)
	assert.Equal(t, "0.025", costs[0].Amount.String())
}
