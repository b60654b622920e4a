package pricing

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
)

func TestAICreditsExact(t *testing.T) {
	p, err := New(Default())
	require.NoError(t, err)
	// The billed session 0b1e1ed0-…-000000000002 reports 4635767500
	// nano-AIU: 4.6357675 credits at US$0.01.
	assert.Equal(t, "0.046357675", p.AICredits(4635767500).String())
	// A million calls of 1 nano-AIU each add up to exactly US$0.00001.
	sum := money.Zero()
	for range 1_000_000 {
		sum = sum.Add(p.AICredits(1))
	}
	assert.Equal(t, "0.00001", sum.String())
	assert.Equal(t, "0.00001", p.AICredits(1_000_000).String())
}

func TestPremiumRequests(t *testing.T) {
	p, err := New(Default())
	require.NoError(t, err)
	assert.Equal(t, "0.08", p.PremiumRequests(2).String())
	assert.Equal(t, "0.0132", p.PremiumRequests(0.33).String())
	assert.Equal(t, "0", p.PremiumRequests(0).String())
	assert.Equal(t, "0", p.PremiumRequests(-1).String())
}

func TestTokensAndPrice(t *testing.T) {
	c := Default()
	c.TokenPrices = map[string]TokenPrices{
		"gpt-4.1": {Input: "2", Output: "8", CacheRead: "0.5"},
	}
	p, err := New(c)
	require.NoError(t, err)
	// 13740 input of which 6869 cached, 65 output (1.0.102-repos shutdown):
	// (13740-6869)*2 + 6869*0.5 + 65*8 = 17696.5 per million.
	a, ok := p.Tokens("gpt-4.1", 13740, 65, 6869, 0)
	require.True(t, ok)
	assert.Equal(t, "0.0176965", a.String())
	_, ok = p.Tokens("claude-sonnet-4", 1, 1, 0, 0)
	assert.False(t, ok)

	// Billed by AI credits: tokens only where there are none (BYOK).
	u := Usage{Model: "gpt-4.1", NanoAIU: 1e9, Input: 13740, Output: 65, CacheRead: 6869, HasNanoAIU: true, HasTokens: true}
	assert.Equal(t, []Cost{{MethodAICredits, money.MustParse("0.01")}}, p.Price(u))
	u.NanoAIU = 0
	assert.Equal(t, []Cost{{MethodTokenPrice, money.MustParse("0.0176965")}}, p.Price(u))
	c.TokenPricing = TokenPricingAlways
	p, _ = New(c)
	u.NanoAIU = 1e9
	assert.Len(t, p.Price(u), 2)
	c.Billing = BillingPremiumRequests
	c.TokenPricing = TokenPricingFallback
	p, _ = New(c)
	u.PremiumRequests = 1
	assert.Equal(t, []Cost{{MethodPremiumRequests, money.MustParse("0.04")}}, p.Price(u))
}

func TestValidate(t *testing.T) {
	c := Default()
	c.Currency = "dollars"
	c.Billing = "monthly"
	c.TokenPricing = "sometimes"
	c.PerCredit = "0.0000000001" // 10 decimals
	c.PerPremiumRequest = "-1"
	c.TokenPrices = map[string]TokenPrices{"m": {Input: "x", Output: "1"}}
	err := c.Validate()
	// Keys are below pricing, which the collector names before them.
	assert.Equal(t, `currency: "dollars" is not an ISO 4217 code such as USD`+"\n"+
		`billing: "monthly" is not "ai_credits" or "premium_requests"`+"\n"+
		`token_pricing: "sometimes" is not "fallback" or "always"`+"\n"+
		`per_credit: "0.0000000001" has more than 9 decimals`+"\n"+
		`per_premium_request: "-1": not a decimal amount such as 0.01 or 12.50`+"\n"+
		`token_prices::m::input: "x": not a decimal amount such as 0.01 or 12.50`, err.Error())
	assert.NoError(t, Default().Validate())
	// Three characters, none of them a lower-case letter, is not enough.
	for _, bad := range []string{"<A>", "1$%", "US", "USDX", "usd", "ÜSD"} {
		c := Default()
		c.Currency = bad
		assert.Error(t, c.Validate(), bad)
	}
}
