package session

import (
	"maps"
	"slices"
)

// UsageSummary is a session's usage in the shape proposed for a `usage`
// object in hook payloads (Option A of github/copilot-cli#3686): the
// session log record's body, and what the hook forwarder adds to payloads.
type UsageSummary struct {
	TotalPremiumRequestCost float64                 `json:"totalPremiumRequestCost"`
	TotalNanoAIU            int64                   `json:"totalNanoAiu"`
	TotalUserRequests       int64                   `json:"totalUserRequests"`
	TotalAPIDurationMs      int64                   `json:"totalApiDurationMs"`
	TokenDetails            TokenDetails            `json:"tokenDetails"`
	ModelMetrics            map[string]ModelSummary `json:"modelMetrics"`
	CodeChanges             CodeSummary             `json:"codeChanges"`
}

// TokenDetails is the session's tokens by type, over all models.
type TokenDetails struct {
	Input      int64 `json:"input"`
	Output     int64 `json:"output"`
	CacheRead  int64 `json:"cacheRead"`
	CacheWrite int64 `json:"cacheWrite"`
	Reasoning  int64 `json:"reasoning"`
}

// ModelSummary is the usage of one model.
type ModelSummary struct {
	Requests     RequestSummary `json:"requests"`
	Usage        TokenSummary   `json:"usage"`
	TotalNanoAIU int64          `json:"totalNanoAiu"`
}

// RequestSummary counts a model's API calls.
type RequestSummary struct {
	Count         int64   `json:"count"`
	UserInitiated int64   `json:"userInitiated"`
	PremiumCost   float64 `json:"premiumCost"`
}

// TokenSummary is a model's tokens by type.
type TokenSummary struct {
	InputTokens      int64 `json:"inputTokens"`
	OutputTokens     int64 `json:"outputTokens"`
	CacheReadTokens  int64 `json:"cacheReadTokens"`
	CacheWriteTokens int64 `json:"cacheWriteTokens"`
	ReasoningTokens  int64 `json:"reasoningTokens"`
}

// CodeSummary is the code a session changed.
type CodeSummary struct {
	LinesAdded    int64 `json:"linesAdded"`
	LinesRemoved  int64 `json:"linesRemoved"`
	FilesModified int64 `json:"filesModified"`
}

// CodeTotals is code changes as counted.
type CodeTotals struct {
	LinesAdded    int64 `json:"add,omitempty"`
	LinesRemoved  int64 `json:"rm,omitempty"`
	FilesModified int64 `json:"files,omitempty"`
}

func summarize(l ledger, code CodeTotals) UsageSummary {
	s := UsageSummary{
		ModelMetrics: map[string]ModelSummary{},
		CodeChanges: CodeSummary{
			LinesAdded:    code.LinesAdded,
			LinesRemoved:  code.LinesRemoved,
			FilesModified: code.FilesModified,
		},
	}
	for _, k := range l.keys() {
		u := *l[k]
		s.TotalPremiumRequestCost += u.PremiumCost
		s.TotalNanoAIU += u.NanoAIU
		s.TotalUserRequests += u.UserRequests
		s.TotalAPIDurationMs += u.APIDurationMs
		s.TokenDetails.Input += u.InputTokens
		s.TokenDetails.Output += u.OutputTokens
		s.TokenDetails.CacheRead += u.CacheReadTokens
		s.TokenDetails.CacheWrite += u.CacheWriteTokens
		s.TokenDetails.Reasoning += u.ReasoningTokens
		m := s.ModelMetrics[k.Model]
		m.Requests.Count += u.Requests
		m.Requests.UserInitiated += u.UserRequests
		m.Requests.PremiumCost += u.PremiumCost
		m.Usage.InputTokens += u.InputTokens
		m.Usage.OutputTokens += u.OutputTokens
		m.Usage.CacheReadTokens += u.CacheReadTokens
		m.Usage.CacheWriteTokens += u.CacheWriteTokens
		m.Usage.ReasoningTokens += u.ReasoningTokens
		m.TotalNanoAIU += u.NanoAIU
		s.ModelMetrics[k.Model] = m
	}
	return s
}

// Calls is the model calls the summary counts, over all models.
func (u UsageSummary) Calls() int64 {
	var n int64
	for _, m := range u.ModelMetrics {
		n += m.Requests.Count
	}
	return n
}

// Retotal sets the session totals that are sums over models (premium
// requests, nano-AIU, user requests, tokens by type) from ModelMetrics, in
// the models' name order. The API time and the code changes, which are
// not kept per model, are left as they are.
func (u *UsageSummary) Retotal() {
	u.TotalPremiumRequestCost, u.TotalNanoAIU, u.TotalUserRequests = 0, 0, 0
	u.TokenDetails = TokenDetails{}
	for _, name := range slices.Sorted(maps.Keys(u.ModelMetrics)) {
		m := u.ModelMetrics[name]
		u.TotalPremiumRequestCost += m.Requests.PremiumCost
		u.TotalNanoAIU += m.TotalNanoAIU
		u.TotalUserRequests += m.Requests.UserInitiated
		u.TokenDetails.Input += m.Usage.InputTokens
		u.TokenDetails.Output += m.Usage.OutputTokens
		u.TokenDetails.CacheRead += m.Usage.CacheReadTokens
		u.TokenDetails.CacheWrite += m.Usage.CacheWriteTokens
		u.TokenDetails.Reasoning += m.Usage.ReasoningTokens
	}
}
