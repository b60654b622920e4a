// Package pricing turns Copilot usage into money, exactly: AI credits from
// integer nano-AIU (1e9 nano-AIU = 1 credit) at a price per credit, legacy
// premium requests at a price per request, and tokens at a per-model price
// per million tokens, for bring-your-own-key models or as an estimate where
// the CLI reports no AI credits.
package pricing

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
)

// Methods a price was made by.
const (
	MethodAICredits       = "ai_credits"
	MethodPremiumRequests = "premium_requests"
	MethodTokenPrice      = "token_price"
)

// Values of Config.Billing.
const (
	BillingAICredits       = "ai_credits"
	BillingPremiumRequests = "premium_requests"
)

// Values of Config.TokenPricing.
const (
	// TokenPricingFallback prices tokens only where the billing method
	// gives nothing (no nano-AIU, or no premium requests).
	TokenPricingFallback = "fallback"
	// TokenPricingAlways prices tokens on top of the billing method (the
	// cost of a bring-your-own-key provider).
	TokenPricingAlways = "always"
)

// Config is the pricing configuration.
type Config struct {
	// Currency is the ISO 4217 code of the prices, the unit of the costs.
	Currency string `mapstructure:"currency"`
	// Billing is how the CLI's usage is billed: ai_credits (usage-based
	// billing, since 2026-06-01) or premium_requests (legacy).
	Billing string `mapstructure:"billing"`
	// PerCredit is the price of one AI credit (1e9 nano-AIU).
	PerCredit string `mapstructure:"per_credit"`
	// PerPremiumRequest is the price of one premium request.
	PerPremiumRequest string `mapstructure:"per_premium_request"`
	// TokenPrices are prices per million tokens, by model.
	TokenPrices map[string]TokenPrices `mapstructure:"token_prices"`
	// TokenPricing says when token prices apply: fallback or always.
	TokenPricing string `mapstructure:"token_pricing"`
}

// TokenPrices are a model's prices per million tokens. Input is the price
// of input tokens that were not read from or written to the cache;
// CacheRead and CacheWrite default to Input. Output includes reasoning
// tokens, as the CLI counts them.
type TokenPrices struct {
	Input      string `mapstructure:"input"`
	Output     string `mapstructure:"output"`
	CacheRead  string `mapstructure:"cache_read"`
	CacheWrite string `mapstructure:"cache_write"`
}

// Default is the default configuration: US$0.01 per AI credit, US$0.04
// per premium request, billed by AI credits.
func Default() Config {
	return Config{
		Currency: "USD", Billing: BillingAICredits, PerCredit: "0.01", PerPremiumRequest: "0.04",
		TokenPricing: TokenPricingFallback,
	}
}

// maxPriceDecimals keeps every product of a count and a price exact in
// money.Amount's 18 decimals: nano-AIU are divided by 1e9.
const maxPriceDecimals = 9

func parsePrice(key, s string) (money.Amount, error) {
	a, err := money.ParseDecimal(s)
	if err != nil {
		return a, fmt.Errorf("%s: %w", key, err)
	}
	if _, frac, ok := strings.Cut(strings.TrimSpace(s), "."); ok && len(strings.TrimRight(frac, "0")) > maxPriceDecimals {
		return a, fmt.Errorf("%s: %q has more than %d decimals", key, s, maxPriceDecimals)
	}
	return a, nil
}

// Validate checks the configuration, naming the key at fault.
func (c Config) Validate() error {
	_, err := New(c)
	return err
}

// Pricer prices usage. It is safe for concurrent use.
type Pricer struct {
	cfg        Config
	perCredit  money.Amount
	perPremium money.Amount
	tokens     map[string]tokenPrices
}

type tokenPrices struct{ input, output, cacheRead, cacheWrite money.Amount }

// New compiles the configuration.
func New(c Config) (*Pricer, error) {
	var errs []error
	p := &Pricer{cfg: c, tokens: map[string]tokenPrices{}}
	if !money.IsCurrencyCode(c.Currency) {
		errs = append(errs, fmt.Errorf("currency: %q is not an ISO 4217 code such as USD", c.Currency))
	}
	switch c.Billing {
	case BillingAICredits, BillingPremiumRequests:
	default:
		errs = append(errs, fmt.Errorf("billing: %q is not %q or %q", c.Billing, BillingAICredits, BillingPremiumRequests))
	}
	switch c.TokenPricing {
	case TokenPricingFallback, TokenPricingAlways:
	default:
		errs = append(errs, fmt.Errorf("token_pricing: %q is not %q or %q", c.TokenPricing, TokenPricingFallback, TokenPricingAlways))
	}
	var err error
	if p.perCredit, err = parsePrice("per_credit", c.PerCredit); err != nil {
		errs = append(errs, err)
	}
	if p.perPremium, err = parsePrice("per_premium_request", c.PerPremiumRequest); err != nil {
		errs = append(errs, err)
	}
	models := make([]string, 0, len(c.TokenPrices))
	for m := range c.TokenPrices {
		models = append(models, m)
	}
	slices.Sort(models)
	for _, m := range models {
		tp := c.TokenPrices[m]
		key := "token_prices::" + m
		var t tokenPrices
		if t.input, err = parsePrice(key+"::input", tp.Input); err != nil {
			errs = append(errs, err)
		}
		if t.output, err = parsePrice(key+"::output", tp.Output); err != nil {
			errs = append(errs, err)
		}
		t.cacheRead, t.cacheWrite = t.input, t.input
		if tp.CacheRead != "" {
			if t.cacheRead, err = parsePrice(key+"::cache_read", tp.CacheRead); err != nil {
				errs = append(errs, err)
			}
		}
		if tp.CacheWrite != "" {
			if t.cacheWrite, err = parsePrice(key+"::cache_write", tp.CacheWrite); err != nil {
				errs = append(errs, err)
			}
		}
		p.tokens[m] = t
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// Currency is the currency of the prices.
func (p *Pricer) Currency() string { return p.cfg.Currency }

// Usage is one model's usage, as the copilot receiver reports it: input
// includes cached tokens, output includes reasoning tokens.
type Usage struct {
	Model                                string
	NanoAIU                              int64
	PremiumRequests                      float64
	Input, Output, CacheRead, CacheWrite int64
	HasNanoAIU, HasPremium, HasTokens    bool
}

// Cost is a priced amount and how it was priced.
type Cost struct {
	Method string
	Amount money.Amount
}

// AICredits prices nano-AIU: exact, as the price has at most 9 decimals.
func (p *Pricer) AICredits(nanoAIU int64) money.Amount {
	a, _ := p.perCredit.MulInt(nanoAIU).DivInt(1e9)
	return a
}

// PremiumRequests prices premium requests. The CLI reports them as a
// float (a sum of model multipliers); its shortest decimal form is priced,
// rounded to 1e-18.
func (p *Pricer) PremiumRequests(n float64) money.Amount {
	if n <= 0 {
		return money.Zero()
	}
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(n, 'f', -1, 64))
	if !ok {
		return money.Zero()
	}
	r.Mul(r, new(big.Rat).SetInt(p.perPremium.Atto()))
	q, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if new(big.Int).Mul(rem, big.NewInt(2)).Cmp(r.Denom()) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	return money.FromAtto(q)
}

// Tokens prices tokens at the model's prices per million; false when the
// model has no prices.
func (p *Pricer) Tokens(model string, input, output, cacheRead, cacheWrite int64) (money.Amount, bool) {
	t, ok := p.tokens[model]
	if !ok {
		return money.Zero(), false
	}
	plain := max(input-cacheRead-cacheWrite, 0)
	sum := t.input.MulInt(plain).Add(t.cacheRead.MulInt(cacheRead)).Add(t.cacheWrite.MulInt(cacheWrite)).Add(t.output.MulInt(output))
	a, _ := sum.DivInt(1e6) // exact: prices per million have at most 9 decimals
	return a, true
}

// Price prices one model's usage by the configured billing, with token
// prices as the fallback or on top, as configured. It returns nothing for
// usage no method prices.
func (p *Pricer) Price(u Usage) []Cost {
	var out []Cost
	billed := false
	switch p.cfg.Billing {
	case BillingAICredits:
		if u.NanoAIU > 0 {
			out = append(out, Cost{MethodAICredits, p.AICredits(u.NanoAIU)})
			billed = true
		}
	case BillingPremiumRequests:
		if u.PremiumRequests > 0 {
			out = append(out, Cost{MethodPremiumRequests, p.PremiumRequests(u.PremiumRequests)})
			billed = true
		}
	}
	if u.HasTokens && (!billed || p.cfg.TokenPricing == TokenPricingAlways) {
		if a, ok := p.Tokens(u.Model, u.Input, u.Output, u.CacheRead, u.CacheWrite); ok && !a.IsZero() {
			out = append(out, Cost{MethodTokenPrice, a})
		}
	}
	return out
}
