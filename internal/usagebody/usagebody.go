// Package usagebody is the one reading and writing of a session's usage
// summary as a log record body: the copilot receiver writes it on
// copilot.session.summary and copilot.session.end records, the chargeback
// processor prices it, and the action exporters read it. The body is a map
// with the keys of session.UsageSummary's JSON form.
package usagebody // import "github.com/otelcol-copilot/otelcol-copilot/internal/usagebody"

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// Put writes u into m.
func Put(m pcommon.Map, u session.UsageSummary) {
	m.PutDouble("totalPremiumRequestCost", u.TotalPremiumRequestCost)
	m.PutInt("totalNanoAiu", u.TotalNanoAIU)
	m.PutInt("totalUserRequests", u.TotalUserRequests)
	m.PutInt("totalApiDurationMs", u.TotalAPIDurationMs)
	td := m.PutEmptyMap("tokenDetails")
	td.PutInt("input", u.TokenDetails.Input)
	td.PutInt("output", u.TokenDetails.Output)
	td.PutInt("cacheRead", u.TokenDetails.CacheRead)
	td.PutInt("cacheWrite", u.TokenDetails.CacheWrite)
	td.PutInt("reasoning", u.TokenDetails.Reasoning)
	mm := m.PutEmptyMap("modelMetrics")
	for _, name := range slices.Sorted(maps.Keys(u.ModelMetrics)) {
		s := u.ModelMetrics[name]
		e := mm.PutEmptyMap(name)
		r := e.PutEmptyMap("requests")
		r.PutInt("count", s.Requests.Count)
		r.PutInt("userInitiated", s.Requests.UserInitiated)
		r.PutDouble("premiumCost", s.Requests.PremiumCost)
		us := e.PutEmptyMap("usage")
		us.PutInt("inputTokens", s.Usage.InputTokens)
		us.PutInt("outputTokens", s.Usage.OutputTokens)
		us.PutInt("cacheReadTokens", s.Usage.CacheReadTokens)
		us.PutInt("cacheWriteTokens", s.Usage.CacheWriteTokens)
		us.PutInt("reasoningTokens", s.Usage.ReasoningTokens)
		e.PutInt("totalNanoAiu", s.TotalNanoAIU)
	}
	cc := m.PutEmptyMap("codeChanges")
	cc.PutInt("linesAdded", u.CodeChanges.LinesAdded)
	cc.PutInt("linesRemoved", u.CodeChanges.LinesRemoved)
	cc.PutInt("filesModified", u.CodeChanges.FilesModified)
}

// The cost of the usage summary, which the chargeback processor puts on a
// summary or end record beside its body: a double, an exact decimal and
// the currency.
const (
	AttrCost         = "copilot.session.cost"
	AttrCostExact    = "copilot.session.cost_exact"
	AttrCostCurrency = "copilot.session.cost_currency"
)

// PutCost puts a record's cost on its attributes.
func PutCost(attrs pcommon.Map, cost money.Amount, currency string) {
	attrs.PutDouble(AttrCost, cost.Float64())
	attrs.PutStr(AttrCostExact, cost.String())
	attrs.PutStr(AttrCostCurrency, currency)
}

// Cost reads a record's cost back: found says the record carries one, err
// that what it carries is not a decimal amount.
func Cost(attrs pcommon.Map) (cost money.Amount, currency string, found bool, err error) {
	v, ok := attrs.Get(AttrCostExact)
	if !ok {
		return money.Amount{}, "", false, nil
	}
	cost, err = money.ParseDecimal(v.AsString())
	if err != nil {
		return money.Amount{}, "", true, fmt.Errorf("%s: %w", AttrCostExact, err)
	}
	if c, ok := attrs.Get(AttrCostCurrency); ok {
		currency = c.AsString()
	}
	return cost, currency, true, nil
}

// ErrNoUsage is returned by Get for a body that is not a usage summary:
// not a map, or a map without totalNanoAiu.
var ErrNoUsage = errors.New("the body is not a usage summary (no totalNanoAiu)")

// Get reads a usage summary back from a record's body. Keys it does not
// know are ignored and keys it knows may be missing (zero), except
// totalNanoAiu, which marks the body as a usage summary. A count that is
// not a whole number, or is negative, is an error naming its key: the body
// came from elsewhere and a number in it cannot be trusted.
func Get(body pcommon.Value) (session.UsageSummary, error) {
	var u session.UsageSummary
	if body.Type() != pcommon.ValueTypeMap {
		return u, ErrNoUsage
	}
	m := body.Map()
	if _, ok := m.Get("totalNanoAiu"); !ok {
		return u, ErrNoUsage
	}
	r := reader{}
	u.TotalNanoAIU = r.count(m, "totalNanoAiu")
	u.TotalPremiumRequestCost = r.amount(m, "totalPremiumRequestCost")
	u.TotalUserRequests = r.count(m, "totalUserRequests")
	u.TotalAPIDurationMs = r.count(m, "totalApiDurationMs")
	if td, ok := r.sub(m, "tokenDetails"); ok {
		u.TokenDetails = session.TokenDetails{
			Input: r.count(td, "input"), Output: r.count(td, "output"),
			CacheRead: r.count(td, "cacheRead"), CacheWrite: r.count(td, "cacheWrite"),
			Reasoning: r.count(td, "reasoning"),
		}
	}
	if mm, ok := r.sub(m, "modelMetrics"); ok {
		u.ModelMetrics = make(map[string]session.ModelSummary, mm.Len())
		for name, v := range mm.All() {
			if v.Type() != pcommon.ValueTypeMap {
				r.fail("modelMetrics." + name)
				continue
			}
			e := v.Map()
			var s session.ModelSummary
			s.TotalNanoAIU = r.count(e, "totalNanoAiu")
			if q, ok := r.sub(e, "requests"); ok {
				s.Requests = session.RequestSummary{Count: r.count(q, "count"), UserInitiated: r.count(q, "userInitiated"), PremiumCost: r.amount(q, "premiumCost")}
			}
			if us, ok := r.sub(e, "usage"); ok {
				s.Usage = session.TokenSummary{
					InputTokens: r.count(us, "inputTokens"), OutputTokens: r.count(us, "outputTokens"),
					CacheReadTokens: r.count(us, "cacheReadTokens"), CacheWriteTokens: r.count(us, "cacheWriteTokens"),
					ReasoningTokens: r.count(us, "reasoningTokens"),
				}
			}
			u.ModelMetrics[name] = s
		}
	}
	if cc, ok := r.sub(m, "codeChanges"); ok {
		u.CodeChanges = session.CodeSummary{LinesAdded: r.count(cc, "linesAdded"), LinesRemoved: r.count(cc, "linesRemoved"), FilesModified: r.count(cc, "filesModified")}
	}
	if r.bad != "" {
		return u, fmt.Errorf("usage summary body: %s is not a count or amount", r.bad)
	}
	return u, nil
}

// Credits is nano-AIU as AI credits, exactly: n / 1e9 as a decimal
// without trailing zeros ("4.6357675", "0", "-0.5").
func Credits(n int64) string {
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
	}
	s := strings.TrimRight(strings.TrimRight(fmt.Sprintf("%d.%09d", u/1e9, u%1e9), "0"), ".")
	if neg {
		s = "-" + s
	}
	return s
}

// reader keeps the first bad key.
type reader struct{ bad string }

func (r *reader) fail(key string) {
	if r.bad == "" {
		r.bad = key
	}
}

func (r *reader) sub(m pcommon.Map, key string) (pcommon.Map, bool) {
	v, ok := m.Get(key)
	if !ok {
		return pcommon.Map{}, false
	}
	if v.Type() != pcommon.ValueTypeMap {
		r.fail(key)
		return pcommon.Map{}, false
	}
	return v.Map(), true
}

// count is a whole, non-negative number, as an int or a double that holds
// one exactly.
func (r *reader) count(m pcommon.Map, key string) int64 {
	v, ok := m.Get(key)
	if !ok {
		return 0
	}
	switch v.Type() {
	case pcommon.ValueTypeInt:
		if v.Int() >= 0 {
			return v.Int()
		}
	case pcommon.ValueTypeDouble:
		if f := v.Double(); f >= 0 && f == math.Trunc(f) && f < 1<<53 {
			return int64(f)
		}
	}
	r.fail(key)
	return 0
}

// amount is a non-negative number (premium requests are fractional).
func (r *reader) amount(m pcommon.Map, key string) float64 {
	v, ok := m.Get(key)
	if !ok {
		return 0
	}
	switch v.Type() {
	case pcommon.ValueTypeInt:
		if v.Int() >= 0 {
			return float64(v.Int())
		}
	case pcommon.ValueTypeDouble:
		if f := v.Double(); f >= 0 && !math.IsInf(f, 0) {
			return f
		}
	}
	r.fail(key)
	return 0
}
