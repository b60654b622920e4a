// Package chargeback is what the chargeback processor and the report
// command share beyond the rules (attribution) and the prices (pricing):
// the configuration shape of the two, its defaults, and the glue from the
// session accounting's usage and context to attribution and pricing, so
// that both attribute and price a model call the same way.
package chargeback

import (
	"maps"
	"slices"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/attribution"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/pricing"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// Config is the part of the chargeback processor's configuration that
// attributes and prices: its attribution and pricing keys.
type Config struct {
	Attribution attribution.Config `mapstructure:"attribution"`
	Pricing     pricing.Config     `mapstructure:"pricing"`
}

// Default is the processor's default attribution and pricing: tickets
// from the branch, nothing else attributed, AI credits at US$0.01.
func Default() Config {
	return Config{
		Attribution: attribution.Config{
			ReloadInterval: attribution.DefaultReloadInterval,
			Unattributed:   attribution.DefaultUnattributed,
		},
		Pricing: pricing.Default(),
	}
}

// Input is where a session's spend happened, as the processor reads it
// from the copilot receiver's resource: the repository ("owner/name"), the
// branch, the git root, the user the receiver reports, and the agent
// ("main" or a subagent's name).
func Input(c *session.Context, user, agent string) attribution.Input {
	return attribution.Input{Repository: c.Repository, Branch: c.Branch, GitRoot: c.GitRoot, User: user, Agent: agent}
}

// PricingUsage is what pricing reads of a model's usage: the nano-AIU, the
// premium requests and the tokens by type the receiver reports for it
// (input including the cached tokens). Reasoning tokens are part of the
// output and are not priced apart.
func PricingUsage(model string, u session.Usage) pricing.Usage {
	return pricing.Usage{
		Model:           model,
		NanoAIU:         u.NanoAIU,
		PremiumRequests: u.PremiumCost,
		Input:           u.InputTokens,
		Output:          u.OutputTokens,
		CacheRead:       u.CacheReadTokens,
		CacheWrite:      u.CacheWriteTokens,
		HasNanoAIU:      u.NanoAIU != 0,
		HasPremium:      u.PremiumCost != 0,
		HasTokens: u.InputTokens != 0 || u.OutputTokens != 0 || u.CacheReadTokens != 0 ||
			u.CacheWriteTokens != 0 || u.ReasoningTokens != 0,
	}
}

// Charge is who pays for a session and what its usage so far cost.
type Charge struct {
	Attribution attribution.Result
	Cost        money.Amount
	Currency    string
	// Methods are the pricing methods that priced something, sorted.
	Methods []string
}

// SessionCharge attributes a session by its main agent and prices its
// usage so far with Price.
func SessionCharge(r *attribution.Resolver, p *pricing.Pricer, c *session.Context, user string, u session.UsageSummary) Charge {
	ch := Charge{Attribution: r.Resolve(Input(c, user, session.MainAgent)), Currency: p.Currency()}
	ch.Cost, ch.Methods = Price(p, u)
	return ch
}

// Price prices a session's usage so far (the summary's per-model usage)
// as the processor prices each call, and returns the pricing methods that
// priced something, sorted. Every method is linear in its quantity, so the
// total is the processor's to within the last decimal of a per-million
// token price.
func Price(p *pricing.Pricer, u session.UsageSummary) (money.Amount, []string) {
	var total money.Amount
	var methods []string
	for _, model := range slices.Sorted(maps.Keys(u.ModelMetrics)) {
		m := u.ModelMetrics[model]
		use := session.Usage{
			InputTokens: m.Usage.InputTokens, OutputTokens: m.Usage.OutputTokens,
			CacheReadTokens: m.Usage.CacheReadTokens, CacheWriteTokens: m.Usage.CacheWriteTokens,
			ReasoningTokens: m.Usage.ReasoningTokens, NanoAIU: m.TotalNanoAIU,
			PremiumCost: m.Requests.PremiumCost, Requests: m.Requests.Count,
		}
		for _, cost := range p.Price(PricingUsage(model, use)) {
			total = total.Add(cost.Amount)
			if !slices.Contains(methods, cost.Method) {
				methods = append(methods, cost.Method)
			}
		}
	}
	slices.Sort(methods)
	return total, methods
}
