package session

import (
	"encoding/json"
	"slices"

	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
)

// Usage is an amount of model use, as the CLI accounts it. InputTokens
// includes cached tokens and OutputTokens includes reasoning tokens, as in
// the CLI's own figures.
type Usage struct {
	InputTokens      int64   `json:"in,omitempty"`
	OutputTokens     int64   `json:"out,omitempty"`
	CacheReadTokens  int64   `json:"cr,omitempty"`
	CacheWriteTokens int64   `json:"cw,omitempty"`
	ReasoningTokens  int64   `json:"rs,omitempty"`
	NanoAIU          int64   `json:"nano,omitempty"`
	PremiumCost      float64 `json:"cost,omitempty"` // premium requests (the model multiplier), not money
	Requests         int64   `json:"req,omitempty"`
	UserRequests     int64   `json:"ureq,omitempty"`
	APIDurationMs    int64   `json:"ms,omitempty"`
}

// Add adds o to u.
func (u *Usage) Add(o Usage) {
	u.InputTokens += o.InputTokens
	u.OutputTokens += o.OutputTokens
	u.CacheReadTokens += o.CacheReadTokens
	u.CacheWriteTokens += o.CacheWriteTokens
	u.ReasoningTokens += o.ReasoningTokens
	u.NanoAIU += o.NanoAIU
	u.PremiumCost += o.PremiumCost
	u.Requests += o.Requests
	u.UserRequests += o.UserRequests
	u.APIDurationMs += o.APIDurationMs
}

// IsZero reports whether u counts nothing.
func (u Usage) IsZero() bool { return u == Usage{} }

// costEpsilon absorbs the rounding of float sums done in another order: the
// premium cost is a sum of multipliers such as 0.33, which the CLI adds in
// its own order.
const costEpsilon = 1e-9

// shortfall returns, field by field, how much target exceeds have; fields
// where have is already at or over target are zero. Counters only grow, so
// a shortfall is never negative.
func shortfall(target, have Usage) Usage {
	pos := func(t, h int64) int64 { return max(t-h, 0) }
	d := Usage{
		InputTokens:      pos(target.InputTokens, have.InputTokens),
		OutputTokens:     pos(target.OutputTokens, have.OutputTokens),
		CacheReadTokens:  pos(target.CacheReadTokens, have.CacheReadTokens),
		CacheWriteTokens: pos(target.CacheWriteTokens, have.CacheWriteTokens),
		ReasoningTokens:  pos(target.ReasoningTokens, have.ReasoningTokens),
		NanoAIU:          pos(target.NanoAIU, have.NanoAIU),
		Requests:         pos(target.Requests, have.Requests),
		UserRequests:     pos(target.UserRequests, have.UserRequests),
		APIDurationMs:    pos(target.APIDurationMs, have.APIDurationMs),
	}
	if c := target.PremiumCost - have.PremiumCost; c > costEpsilon {
		d.PremiumCost = c
	}
	return d
}

// raise lifts the usage of k to target where target is higher, field by
// field as shortfall measures it, and returns by how much. A raised
// premium cost becomes target's own rather than the float sum of the two:
// a ledger of cumulative reports holds the figures reported.
func (l ledger) raise(k Key, target Usage) Usage {
	d := shortfall(target, l.get(k))
	l.add(k, d)
	if d.PremiumCost > 0 {
		l[k].PremiumCost = target.PremiumCost
	}
	return d
}

// takeUpTo moves, field by field, as much of want as remaining still holds
// out of remaining, and returns it.
func takeUpTo(remaining *Usage, want Usage) Usage {
	take := func(r *int64, w int64) int64 {
		v := min(*r, max(w, 0))
		*r -= v
		return v
	}
	g := Usage{
		InputTokens:      take(&remaining.InputTokens, want.InputTokens),
		OutputTokens:     take(&remaining.OutputTokens, want.OutputTokens),
		CacheReadTokens:  take(&remaining.CacheReadTokens, want.CacheReadTokens),
		CacheWriteTokens: take(&remaining.CacheWriteTokens, want.CacheWriteTokens),
		ReasoningTokens:  take(&remaining.ReasoningTokens, want.ReasoningTokens),
		NanoAIU:          take(&remaining.NanoAIU, want.NanoAIU),
		Requests:         take(&remaining.Requests, want.Requests),
		UserRequests:     take(&remaining.UserRequests, want.UserRequests),
		APIDurationMs:    take(&remaining.APIDurationMs, want.APIDurationMs),
	}
	if c := min(remaining.PremiumCost, max(want.PremiumCost, 0)); c > costEpsilon {
		g.PremiumCost = c
		remaining.PremiumCost -= c
		if remaining.PremiumCost < costEpsilon {
			remaining.PremiumCost = 0
		}
	}
	return g
}

// excess reports whether have counts more than target in any field, which
// means the receiver counted something the CLI did not.
func excess(target, have Usage) bool {
	return have.InputTokens > target.InputTokens || have.OutputTokens > target.OutputTokens ||
		have.CacheReadTokens > target.CacheReadTokens || have.CacheWriteTokens > target.CacheWriteTokens ||
		have.ReasoningTokens > target.ReasoningTokens || have.NanoAIU > target.NanoAIU ||
		have.Requests > target.Requests || have.PremiumCost > target.PremiumCost+costEpsilon
}

// recordUsage is the usage of one usage record.
func recordUsage(u *transcript.UsageData) Usage {
	out := Usage{
		InputTokens:      u.InputTokens.V,
		OutputTokens:     u.OutputTokens.V,
		CacheReadTokens:  u.CacheReadTokens.V,
		CacheWriteTokens: u.CacheWriteTokens.V,
		ReasoningTokens:  u.ReasoningTokens.V,
		PremiumCost:      u.Cost,
		Requests:         1,
		APIDurationMs:    u.Duration.V,
	}
	if u.CopilotUsage != nil {
		out.NanoAIU = u.CopilotUsage.TotalNanoAIU.V
	}
	if u.Initiator == InitiatorUser {
		out.UserRequests = 1
	}
	return out
}

// metricUsage is the usage of one model metric of a shutdown or checkpoint.
func metricUsage(m transcript.ModelMetric) Usage {
	return Usage{
		InputTokens:      m.Usage.InputTokens.V,
		OutputTokens:     m.Usage.OutputTokens.V,
		CacheReadTokens:  m.Usage.CacheReadTokens.V,
		CacheWriteTokens: m.Usage.CacheWriteTokens.V,
		ReasoningTokens:  m.Usage.ReasoningTokens.V,
		NanoAIU:          m.TotalNanoAIU.V,
		PremiumCost:      m.Requests.Cost,
		Requests:         m.Requests.Count.V,
	}
}

// modelUsage is the usage a model of a usage summary reports. A summary
// has API time for the whole session only, not by model.
func modelUsage(m ModelSummary) Usage {
	return Usage{
		InputTokens:      m.Usage.InputTokens,
		OutputTokens:     m.Usage.OutputTokens,
		CacheReadTokens:  m.Usage.CacheReadTokens,
		CacheWriteTokens: m.Usage.CacheWriteTokens,
		ReasoningTokens:  m.Usage.ReasoningTokens,
		NanoAIU:          m.TotalNanoAIU,
		PremiumCost:      m.Requests.PremiumCost,
		Requests:         m.Requests.Count,
		UserRequests:     m.Requests.UserInitiated,
	}
}

// Key identifies what usage is attributed to: an agent ("main", or a
// subagent instance id) and a model.
type Key struct {
	Agent string `json:"a"`
	Model string `json:"m"`
}

// ledger is usage by key.
type ledger map[Key]*Usage

func (l ledger) add(k Key, u Usage) {
	if p := l[k]; p != nil {
		p.Add(u)
		return
	}
	v := u
	l[k] = &v
}

func (l ledger) clone() ledger {
	c := make(ledger, len(l))
	for k, u := range l {
		c.add(k, *u)
	}
	return c
}

func (l ledger) get(k Key) Usage {
	if p := l[k]; p != nil {
		return *p
	}
	return Usage{}
}

func (l ledger) total() Usage {
	var t Usage
	for _, k := range l.keys() {
		t.Add(*l[k])
	}
	return t
}

// agentTotal is the usage of one agent over all models.
func (l ledger) agentTotal(agent string) Usage {
	var t Usage
	for _, k := range l.keys() {
		if k.Agent == agent {
			t.Add(*l[k])
		}
	}
	return t
}

// keys returns the keys in a fixed order, so that float sums and the order
// of emitted facts do not depend on map iteration.
func (l ledger) keys() []Key { return ledgerKeys(make([]Key, 0, len(l)), l) }

// seqSet is the set of accounting sequence numbers of one source counted so
// far: every sequence up to Low, and the sparse ones above it. Sequences
// arrive in order almost always, so the set stays a single number.
type seqSet struct {
	Low  int64   `json:"low"`
	High []int64 `json:"high,omitempty"`
}

// add records seq and reports whether it was new.
func (s *seqSet) add(seq int64) bool {
	if seq <= s.Low {
		return false
	}
	i, found := slices.BinarySearch(s.High, seq)
	if found {
		return false
	}
	s.High = slices.Insert(s.High, i, seq)
	for len(s.High) > 0 && s.High[0] == s.Low+1 {
		s.Low++
		s.High = s.High[1:]
	}
	if len(s.High) == 0 {
		s.High = nil
	}
	return true
}

// raise marks every sequence up to seq as counted (a shutdown's watermark
// says the CLI's totals include them).
func (s *seqSet) raise(seq int64) {
	if seq <= s.Low {
		return
	}
	s.Low = seq
	i := 0
	for i < len(s.High) && s.High[i] <= seq {
		i++
	}
	s.High = s.High[i:]
	for len(s.High) > 0 && s.High[0] == s.Low+1 {
		s.Low++
		s.High = s.High[1:]
	}
	if len(s.High) == 0 {
		s.High = nil
	}
}

type ledgerEntry struct {
	Key
	Usage Usage `json:"u"`
}

// MarshalJSON writes the ledger as a list in key order.
func (l ledger) MarshalJSON() ([]byte, error) {
	entries := make([]ledgerEntry, 0, len(l))
	for _, k := range l.keys() {
		entries = append(entries, ledgerEntry{Key: k, Usage: *l[k]})
	}
	return json.Marshal(entries)
}

// UnmarshalJSON reads a ledger written by MarshalJSON.
func (l *ledger) UnmarshalJSON(b []byte) error {
	var entries []ledgerEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		return err
	}
	*l = make(ledger, len(entries))
	for _, e := range entries {
		l.add(e.Key, e.Usage)
	}
	return nil
}
