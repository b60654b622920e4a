package usageledgerexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/usageledgerexporter"

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/ledger"
	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
)

// The chargeback processor's cost metric and its method attribute.
const (
	metricCost     = "copilot.cost"
	attrCostMethod = "copilot.cost.method"
)

// groupKey is what makes a row within a resource (a session): the usage
// points the chargeback processor prices together.
type groupKey struct {
	model, agent, initiator string
	start, end              pcommon.Timestamp
}

type group struct {
	row     ledger.Row
	costs   []string // exact decimals of the group's copilot.cost points
	methods []string
	// foreign: the group had copilot.cost points in a currency other than
	// the exporter's, not added to costs.
	foreign bool
}

// refusals are the copilot.cost points of a batch not added to a row, and
// the rows not written for them.
type refusals struct {
	// currency: points whose unit is not the exporter's currency, by unit
	// (at most maxRefusedUnits; the others counted in points only).
	currency       int
	currencyAmount map[string]string
	// rowsNotWritten: groups with no cost point left once those in another
	// currency were taken out.
	rowsNotWritten int
	// repeated: points of a method their group already had a point of
	// (priced twice: the row keeps the last); differing: those of them
	// whose amount was not the one kept.
	repeated, differing int
}

// maxRefusedUnits bounds the distinct units a batch's refusals keep for
// the log: the unit is the sender's string.
const maxRefusedUnits = 4

// maxUnitLen bounds a refused unit as the log quotes it.
const maxUnitLen = 32

func (r *refusals) refuseCurrency(unit, amount string) {
	r.currency++
	if len(unit) > maxUnitLen {
		unit = strings.ToValidUTF8(unit[:maxUnitLen], "") + "…"
	}
	if r.currencyAmount == nil {
		r.currencyAmount = map[string]string{}
	}
	if _, ok := r.currencyAmount[unit]; ok || len(r.currencyAmount) < maxRefusedUnits {
		r.currencyAmount[unit] = addDecimal(r.currencyAmount[unit], amount)
	}
}

// rowsOf makes the ledger's rows of a batch: for every resource (a session)
// and every (model, agent, initiator, point window), one row with the
// copilot.cost and the usage points of that group. Metrics of other
// services, and Copilot metrics other than usage, cost, API requests and
// API duration, are not part of the ledger.
//
// A group's row adds one copilot.cost point per method (copilot.cost.method):
// of a method priced twice (two chargeback processors in a row) the last
// point, that of the processor nearest the ledger, is kept and the others
// are refusals. The processor writes one point per method and group, so a
// repeated method is the same usage priced again, never more usage.
//
// A copilot.cost point whose unit is not cfg.Currency is not added to its
// row (the row's BillingCurrency is cfg.Currency), and a group whose every
// cost point is such is not written: its usage was priced, in a currency
// the ledger does not hold, and a row at cost 0 would say it was free.
// Both are returned as refusals, for the exporter to count and log.
func rowsOf(md pmetric.Metrics, cfg *Config) ([]ledger.Row, refusals) {
	var rows []ledger.Row
	var ref refusals
	for _, rm := range md.ResourceMetrics().All() {
		res := rm.Resource().Attributes()
		base := ledger.Row{
			Collector:          cfg.Collector,
			BillingAccountID:   cfg.BillingAccount.ID,
			BillingAccountName: cfg.BillingAccount.Name,
			Currency:           cfg.Currency,
			SessionID:          str(res, semconv.AttrSessionID),
			User:               str(res, semconv.AttrUserName),
			Branch:             str(res, semconv.AttrVCSRefHeadName),
		}
		if owner, repo := str(res, semconv.AttrVCSOwnerName), str(res, semconv.AttrVCSRepositoryName); repo != "" {
			base.Repository = repo
			if owner != "" {
				base.Repository = owner + "/" + repo
			}
		}
		groups := map[groupKey]*group{}
		var order []groupKey
		get := func(attrs pcommon.Map, start, end pcommon.Timestamp, create bool) *group {
			k := groupKey{str(attrs, semconv.AttrGenAIRequestModel), str(attrs, semconv.AttrGenAIAgentName), str(attrs, semconv.AttrCopilotInitiator), start, end}
			g := groups[k]
			if g == nil && create {
				g = &group{row: base}
				g.row.Model, g.row.Agent, g.row.Initiator = k.model, k.agent, k.initiator
				g.row.Start, g.row.End = start.AsTime().UTC(), end.AsTime().UTC()
				groups[k] = g
				order = append(order, k)
			}
			if g != nil && g.row.Team == "" && g.row.Ticket == "" {
				g.row.Team, g.row.Project = str(attrs, cfg.Attributes.Team), str(attrs, cfg.Attributes.Project)
				g.row.CostCenter, g.row.Ticket = str(attrs, cfg.Attributes.CostCenter), str(attrs, cfg.Attributes.Ticket)
			}
			return g
		}
		// Usage and cost make the groups; requests and API time join them.
		for pass := 0; pass < 2; pass++ {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					collect(m, pass, cfg.Currency, get, &ref)
				}
			}
		}
		for _, k := range order {
			g := groups[k]
			if g.foreign && len(g.costs) == 0 {
				ref.rowsNotWritten++
				continue
			}
			rows = append(rows, finish(g))
		}
	}
	return rows, ref
}

func collect(m pmetric.Metric, pass int, currency string, get func(pcommon.Map, pcommon.Timestamp, pcommon.Timestamp, bool) *group, ref *refusals) {
	name := m.Name()
	if m.Type() == pmetric.MetricTypeHistogram {
		if pass != 1 || name != semconv.MetricCopilotAPIDuration || m.Histogram().AggregationTemporality() != pmetric.AggregationTemporalityDelta {
			return
		}
		for _, dp := range m.Histogram().DataPoints().All() {
			if g := get(dp.Attributes(), dp.StartTimestamp(), dp.Timestamp(), false); g != nil && dp.HasSum() {
				g.row.APIDurationMs += int64(math.Round(dp.Sum() * 1000))
			}
		}
		return
	}
	if m.Type() != pmetric.MetricTypeSum || m.Sum().AggregationTemporality() != pmetric.AggregationTemporalityDelta {
		return
	}
	first := name == metricCost || name == semconv.MetricCopilotUsageNanoAIU || name == semconv.MetricCopilotUsagePremiumRequests || name == semconv.MetricCopilotUsageTokens
	if (pass == 0) != first || (!first && name != semconv.MetricCopilotAPIRequests) {
		return
	}
	for _, dp := range m.Sum().DataPoints().All() {
		g := get(dp.Attributes(), dp.StartTimestamp(), dp.Timestamp(), first)
		if g == nil {
			continue
		}
		r := &g.row
		switch name {
		case metricCost:
			if m.Unit() != currency {
				g.foreign = true
				ref.refuseCurrency(m.Unit(), decimal(dp.DoubleValue()))
				continue
			}
			amount, method := decimal(dp.DoubleValue()), str(dp.Attributes(), attrCostMethod)
			if i := slices.Index(g.methods, method); i >= 0 {
				// Priced twice: a chargeback processor upstream (an
				// agent's, in mode full) and another after it both
				// priced the usage. The last is the processor nearest
				// the ledger: its prices are kept, once.
				ref.repeated++
				if g.costs[i] != amount {
					ref.differing++
				}
				g.costs[i] = amount
				continue
			}
			g.costs = append(g.costs, amount)
			g.methods = append(g.methods, method)
		case semconv.MetricCopilotUsageNanoAIU:
			r.NanoAIU += dp.IntValue()
		case semconv.MetricCopilotUsagePremiumRequests:
			r.PremiumRequests = addDecimal(r.PremiumRequests, decimal(dp.DoubleValue()))
		case semconv.MetricCopilotUsageTokens:
			n := dp.IntValue()
			switch str(dp.Attributes(), semconv.AttrGenAITokenType) {
			case semconv.GenAITokenTypeInput:
				r.InputTokens += n
			case semconv.GenAITokenTypeOutput:
				r.OutputTokens += n
			case semconv.GenAITokenTypeCacheRead:
				r.CacheReadTokens += n
			case semconv.GenAITokenTypeCacheWrite:
				r.CacheWriteTokens += n
			case semconv.GenAITokenTypeReasoning:
				r.ReasoningTokens += n
			}
		case semconv.MetricCopilotAPIRequests:
			r.Requests += dp.IntValue()
		}
	}
}

// finish sums the group's cost exactly and gives the row its id.
func finish(g *group) ledger.Row {
	r := g.row
	r.Cost = "0"
	for _, c := range g.costs {
		r.Cost = addDecimal(r.Cost, c)
	}
	r.CostMethod = strings.Join(g.methods, "+")
	r.ComputeID()
	return r
}

// decimal is the exact decimal a cost or premium-request double was made
// from: the processor's amounts have far fewer than 15 significant digits,
// so the shortest representation that reads back as the same double is
// that decimal.
func decimal(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// addDecimal adds two non-negative decimals exactly (money's 1e-18 units);
// a value money cannot read (negative, more than 18 decimals) is kept as
// the sum of doubles.
func addDecimal(a, b string) string {
	if a == "" {
		return b
	}
	x, err1 := money.ParseDecimal(a)
	y, err2 := money.ParseDecimal(b)
	if err1 != nil || err2 != nil {
		fa, _ := strconv.ParseFloat(a, 64)
		fb, _ := strconv.ParseFloat(b, 64)
		return decimal(fa + fb)
	}
	return x.Add(y).String()
}

func str(m pcommon.Map, k string) string {
	if v, ok := m.Get(k); ok {
		return v.AsString()
	}
	return ""
}
