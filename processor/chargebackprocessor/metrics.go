package chargebackprocessor // import "github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor"

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	shared "github.com/otelcol-copilot/otelcol-copilot/internal/chargeback"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/attribution"
	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	sessions "github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/budget"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/metadata"
)

// The metrics the processor adds. It prices the copilot receiver's usage
// metrics (semconv.MetricCopilotUsage*).
const (
	mCost        = "copilot.cost"
	mUtilization = "copilot.budget.utilization"
	mBudgetSpend = "copilot.budget.spend"

	attrCostMethod = "copilot.cost.method"
	attrBudget     = "copilot.budget.name"
	attrScope      = "copilot.budget.scope"
	attrValue      = "copilot.budget.value"
)

type metricsProcessor struct {
	p    *chargeback
	next consumer.Metrics
}

func (m *metricsProcessor) Start(ctx context.Context, host component.Host) error {
	return m.p.start(ctx, host)
}
func (m *metricsProcessor) Shutdown(ctx context.Context) error { return m.p.shutdown(ctx) }
func (m *metricsProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

// ConsumeMetrics attributes and prices the batch and passes it on; only
// once the next consumer took it is its spend counted in the budgets, so
// that a batch refused and sent again is not counted twice.
func (m *metricsProcessor) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	p := m.p
	spends := p.processMetrics(md)
	if err := m.next.ConsumeMetrics(ctx, md); err != nil {
		return err
	}
	if p.budgets != nil && len(spends) > 0 {
		p.countSpend(ctx, spends, m.next)
	}
	return nil
}

// usageGroup is one model call's usage (or the sum of calls with the same
// attributes and times): the points of the three usage metrics that share
// a resource, attributes (but the token type) and times.
type usageGroup struct {
	attrs       pcommon.Map
	start, time pcommon.Timestamp
	model       string
	usage       sessions.Usage // as the receiver counted it; priced as the report prices it
	result      attribution.Result
}

// processMetrics sets the attribution on every data point of Copilot's
// metrics, prices the copilot receiver's usage into copilot.cost points,
// removes session ids unless kept, and returns the spend for the budgets.
// Metrics of other services pass untouched.
//
// The receiver's metrics carry their session's context on the resource
// (session.id only when the receiver is told to put it there). The CLI's
// own metrics are joined to their session when they name it (session.id
// on the resource, or gen_ai.conversation.id on the point; 1.0.102 does
// neither) and get the attribution of nothing otherwise: unattributed.
func (p *chargeback) processMetrics(md pmetric.Metrics) []budget.Spend {
	var spends []budget.Spend
	for _, rm := range md.ResourceMetrics().All() {
		res := rm.Resource().Attributes()
		if !isCopilot(res) {
			continue
		}
		sid := strAttr(res, semconv.AttrSessionID)
		fromReceiver := hasReceiverScope(rm)
		var info sessionInfo
		switch {
		case fromReceiver:
			info = infoOf(res)
			if sid != "" {
				p.join.fill(sid, info)
			}
		case sid != "":
			info, _ = p.joined(sid, 1)
		}
		if fromReceiver && p.cfg.Mode != ModeAttribute && dropUpstreamCost(rm) {
			// Priced by a processor in mode full before this one (a
			// laptop's): this one prices it again, so that the cost is
			// counted once, at the tier nearest the ledger and the budgets.
			p.upstreamPriced.Do(func() {
				p.logger().Warn("Usage arrived priced by a chargeback processor before this one; its copilot.cost is replaced by this processor's, so that it is counted once. Run the processors before this one with mode: attribute")
			})
		}
		r := resolver{p: p, info: &info}
		groups := map[string]*usageGroup{}
		var order []string
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if fromReceiver && p.cfg.Mode != ModeAttribute {
					p.collectUsage(m, groups, &order, r.resolve)
				}
				forEachPoint(m, func(attrs pcommon.Map) {
					res := r.resolve(strAttr(attrs, semconv.AttrGenAIAgentName))
					if conv := strAttr(attrs, attrConversation); conv != "" && !fromReceiver && sid == "" {
						in, _ := p.joined(conv, 1)
						res = p.resolve(in.input, strAttr(attrs, semconv.AttrGenAIAgentName))
					}
					if !p.keepSessionID() {
						attrs.Remove(attrConversation)
					}
					p.putAttribution(attrs, res, true)
				})
			}
		}
		if len(order) > 0 && p.cfg.Mode != ModeAttribute {
			spends = append(spends, p.price(rm, groups, order, sid, info)...)
		}
		if !p.keepSessionID() {
			res.Remove(semconv.AttrSessionID)
		}
	}
	return spends
}

// dropUpstreamCost removes the copilot.cost an earlier chargeback
// processor added to a resource of the receiver's, and reports whether
// there was one.
func dropUpstreamCost(rm pmetric.ResourceMetrics) bool {
	dropped := false
	rm.ScopeMetrics().RemoveIf(func(sm pmetric.ScopeMetrics) bool {
		if sm.Scope().Name() != metadata.ScopeName {
			return false
		}
		sm.Metrics().RemoveIf(func(m pmetric.Metric) bool {
			if m.Name() == mCost {
				dropped = true
				return true
			}
			return false
		})
		return sm.Metrics().Len() == 0
	})
	return dropped
}

// hasReceiverScope reports whether metrics come from the copilot receiver.
func hasReceiverScope(rm pmetric.ResourceMetrics) bool {
	for _, sm := range rm.ScopeMetrics().All() {
		if sm.Scope().Name() == semconv.ReceiverScope {
			return true
		}
	}
	return false
}

// forEachPoint calls fn with the attributes of every data point.
func forEachPoint(m pmetric.Metric, fn func(pcommon.Map)) {
	switch m.Type() {
	case pmetric.MetricTypeSum:
		for _, dp := range m.Sum().DataPoints().All() {
			fn(dp.Attributes())
		}
	case pmetric.MetricTypeGauge:
		for _, dp := range m.Gauge().DataPoints().All() {
			fn(dp.Attributes())
		}
	case pmetric.MetricTypeHistogram:
		for _, dp := range m.Histogram().DataPoints().All() {
			fn(dp.Attributes())
		}
	case pmetric.MetricTypeExponentialHistogram:
		for _, dp := range m.ExponentialHistogram().DataPoints().All() {
			fn(dp.Attributes())
		}
	case pmetric.MetricTypeSummary:
		for _, dp := range m.Summary().DataPoints().All() {
			fn(dp.Attributes())
		}
	}
}

// groupKey appends to buf what identifies a usage group: the point's
// attributes but the token type, in key order, and its times.
func groupKey(buf []byte, attrs pcommon.Map, start, ts pcommon.Timestamp) []byte {
	var kb [16]string
	keys := kb[:0]
	for k := range attrs.All() {
		if k != semconv.AttrGenAITokenType {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, _ := attrs.Get(k)
		buf = append(buf, k...)
		buf = append(buf, 0)
		if v.Type() == pcommon.ValueTypeStr {
			buf = append(buf, v.Str()...)
		} else {
			buf = append(buf, v.AsString()...)
		}
		buf = append(buf, 0)
	}
	buf = binary.LittleEndian.AppendUint64(buf, uint64(start))
	return binary.LittleEndian.AppendUint64(buf, uint64(ts))
}

// collectUsage adds a usage metric's points to their groups, before the
// attribution is put on them.
func (p *chargeback) collectUsage(m pmetric.Metric, groups map[string]*usageGroup, order *[]string, resolve func(string) attribution.Result) {
	name := m.Name()
	if (name != semconv.MetricCopilotUsageNanoAIU && name != semconv.MetricCopilotUsagePremiumRequests && name != semconv.MetricCopilotUsageTokens) || m.Type() != pmetric.MetricTypeSum {
		return
	}
	sum := m.Sum()
	if sum.AggregationTemporality() != pmetric.AggregationTemporalityDelta {
		p.tel.ProcessorChargebackUnpriced.Add(bg, int64(sum.DataPoints().Len()), metric.WithAttributes(attribute.String("reason", "cumulative")))
		return
	}
	var buf []byte
	for _, dp := range sum.DataPoints().All() {
		buf = groupKey(buf[:0], dp.Attributes(), dp.StartTimestamp(), dp.Timestamp())
		g := groups[string(buf)]
		if g == nil {
			key := string(buf)
			g = &usageGroup{attrs: pcommon.NewMap(), start: dp.StartTimestamp(), time: dp.Timestamp()}
			for k, v := range dp.Attributes().All() {
				if k != semconv.AttrGenAITokenType {
					v.CopyTo(g.attrs.PutEmpty(k))
				}
			}
			g.model = strAttr(dp.Attributes(), semconv.AttrGenAIRequestModel)
			g.result = resolve(strAttr(dp.Attributes(), semconv.AttrGenAIAgentName))
			groups[key] = g
			*order = append(*order, key)
		}
		switch name {
		case semconv.MetricCopilotUsageNanoAIU:
			g.usage.NanoAIU += dp.IntValue()
		case semconv.MetricCopilotUsagePremiumRequests:
			g.usage.PremiumCost += dp.DoubleValue()
		case semconv.MetricCopilotUsageTokens:
			switch strAttr(dp.Attributes(), semconv.AttrGenAITokenType) {
			case semconv.GenAITokenTypeInput:
				g.usage.InputTokens += dp.IntValue()
			case semconv.GenAITokenTypeOutput:
				g.usage.OutputTokens += dp.IntValue()
			case semconv.GenAITokenTypeCacheRead:
				g.usage.CacheReadTokens += dp.IntValue()
			case semconv.GenAITokenTypeCacheWrite:
				g.usage.CacheWriteTokens += dp.IntValue()
			case semconv.GenAITokenTypeReasoning:
				g.usage.ReasoningTokens += dp.IntValue()
			}
		}
	}
}

// keepSessionID: session.id stays on metrics when configured, and in mode
// attribute, where the gateways after need it.
func (p *chargeback) keepSessionID() bool {
	return p.cfg.Metrics.SessionID || p.cfg.Mode == ModeAttribute
}

// price appends the groups' costs to the resource as copilot.cost and
// returns them as spend.
func (p *chargeback) price(rm pmetric.ResourceMetrics, groups map[string]*usageGroup, order []string, sid string, info sessionInfo) []budget.Spend {
	var cost pmetric.NumberDataPointSlice
	var spends []budget.Spend
	for _, key := range order {
		g := groups[key]
		costs := p.pricer.Price(shared.PricingUsage(g.model, g.usage))
		if len(costs) == 0 {
			if g.usage.NanoAIU > 0 || g.usage.PremiumCost > 0 || g.usage.InputTokens > 0 {
				p.tel.ProcessorChargebackUnpriced.Add(bg, 1, metric.WithAttributes(attribute.String("reason", "no_price")))
			}
			continue
		}
		if cost == (pmetric.NumberDataPointSlice{}) {
			sm := rm.ScopeMetrics().AppendEmpty()
			sm.Scope().SetName(metadata.ScopeName)
			m := sm.Metrics().AppendEmpty()
			m.SetName(mCost)
			m.SetDescription("What the usage costs, by the pricing method that priced it (copilot.cost.method).")
			m.SetUnit(p.pricer.Currency())
			s := m.SetEmptySum()
			s.SetIsMonotonic(true)
			s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			cost = s.DataPoints()
		}
		for _, c := range costs {
			dp := cost.AppendEmpty()
			g.attrs.CopyTo(dp.Attributes())
			p.putAttribution(dp.Attributes(), g.result, true)
			dp.Attributes().PutStr(attrCostMethod, c.Method)
			dp.SetStartTimestamp(g.start)
			dp.SetTimestamp(g.time)
			dp.SetDoubleValue(c.Amount.Float64())
			spends = append(spends, budget.Spend{
				Time:   g.time.AsTime(),
				Scopes: scopes(g.result, info.input.User, sid),
				Amount: c.Amount,
			})
		}
	}
	return spends
}

// scopes are the values a spend counts under in budgets: the attribution
// as resolved (not capped), the user and the session.
func scopes(r attribution.Result, user, sid string) map[string]string {
	s := map[string]string{
		budget.ScopeTeam: r.Team, budget.ScopeProject: r.Project, budget.ScopeCostCenter: r.CostCenter,
		budget.ScopeTicket: r.Ticket,
	}
	if user != "" {
		s[budget.ScopeUser] = user
	}
	if sid != "" {
		s[budget.ScopeSession] = sid
	}
	return s
}

// countSpend adds a delivered batch's spend to the budgets and sends the
// crossings it caused as log records, then the budgets' utilization as
// metrics. The spend is committed either way; a crossing is committed once
// delivered, and one whose delivery failed stays pending: offered again
// with the next batch, or after a restart.
func (p *chargeback) countSpend(ctx context.Context, spends []budget.Spend, next consumer.Metrics) {
	p.budgetMu.Lock()
	defer p.budgetMu.Unlock()
	delivered := p.now()
	for i := range spends {
		spends[i].Delivered = delivered
	}
	if len(p.uncounted) > 0 {
		spends = append(p.uncounted, spends...)
		p.uncounted = nil
	}
	var failed error
	for _, s := range spends {
		_, err := p.budgets.Add(ctx, s)
		switch {
		case err == nil:
		case errors.Is(err, budget.ErrPendingNotSaved):
			// Counted, and its crossings returned: not to be counted again.
			p.logger().Error("Could not record the budgets' crossings as pending; they are delivered now, but a crash before they are delivered would forget them", zap.Error(err))
		default:
			// Nothing counted: counted again with the next batch.
			p.uncounted = append(p.uncounted, s)
			failed = err
		}
	}
	for _, b := range p.budgets.Unscoped() {
		attr := map[string]string{budget.ScopeSession: semconv.AttrSessionID, budget.ScopeUser: semconv.AttrUserName}[b.Scope]
		if attr == "" {
			attr = b.Scope
		}
		p.logger().Warn("A budget is given spend without the value it is kept by: it counts none of that spend; put the attribute on the copilot receiver's metrics (for session.id: resource_attributes: {session.id: {enabled: true}} on the receiver)",
			zap.String("budget", b.Name), zap.String("scope", b.Scope), zap.String("missing_attribute", attr))
	}
	if n := len(p.uncounted); n > 0 {
		if over := n - maxUncounted; over > 0 {
			p.uncounted = slices.Delete(p.uncounted, 0, over)
			p.logger().Error("Could not count spend in the budgets for too long: the oldest spend is dropped from them (the usage itself was delivered)", zap.Int("dropped", over), zap.Error(failed))
		}
		p.logger().Error("Could not count spend in the budgets; it is counted with the next batch", zap.Int("held", len(p.uncounted)), zap.Error(failed))
	}
	crossings := p.budgets.Pending()
	if len(crossings) > 0 {
		if p.deliverCrossings(ctx, crossings) {
			p.tel.ProcessorChargebackBudgetCrossings.Add(bg, int64(len(crossings)))
		} else {
			// Offered again with the next batch, or after a restart: the
			// Commit below stores the spend, not the crossings as sent.
			p.budgets.Refused()
		}
	}
	if err := p.budgets.Commit(ctx); err != nil {
		p.logger().Error("Could not save the budgets' state", zap.Error(err))
	}
	if util := spentOn(p.budgets.Utilizations(), spends); len(util) > 0 {
		if err := next.ConsumeMetrics(ctx, p.utilizationMetrics(util)); err != nil {
			p.logger().Warn("The budgets' utilization was not delivered; it is sent again with the next batch", zap.Error(err))
		}
	}
}

// maxUncounted bounds the spend held for the budgets while their store
// cannot be read: beyond it the oldest is dropped, and logged.
const maxUncounted = 10000

// spentOn keeps the utilizations of the scope values the spends counted
// under: a batch reports the budgets it moved, not every budget in memory.
func spentOn(util []budget.Utilization, spends []budget.Spend) []budget.Utilization {
	type sv struct{ scope, value string }
	touched := map[sv]bool{}
	for _, s := range spends {
		for scope, value := range s.Scopes {
			touched[sv{scope, value}] = true
		}
	}
	return slices.DeleteFunc(util, func(u budget.Utilization) bool { return !touched[sv{u.Scope, u.Value}] })
}

// utilizationMetrics are gauges of budgets' current windows.
func (p *chargeback) utilizationMetrics(util []budget.Utilization) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(semconv.AttrServiceName, semconv.ServiceName)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(metadata.ScopeName)
	um := sm.Metrics().AppendEmpty()
	um.SetName(mUtilization)
	um.SetDescription("Spend in the budget's current window as a fraction of the budget (1 = 100%).")
	um.SetUnit("1")
	sp := sm.Metrics().AppendEmpty()
	sp.SetName(mBudgetSpend)
	sp.SetDescription("Spend in the budget's current window.")
	sp.SetUnit(p.pricer.Currency())
	now := pcommon.NewTimestampFromTime(p.now())
	for _, u := range util {
		for _, g := range []struct {
			m pmetric.Metric
			v float64
		}{{um, u.Ratio}, {sp, u.Spend.Float64()}} {
			var pts pmetric.NumberDataPointSlice
			if g.m.Type() == pmetric.MetricTypeEmpty {
				pts = g.m.SetEmptyGauge().DataPoints()
			} else {
				pts = g.m.Gauge().DataPoints()
			}
			dp := pts.AppendEmpty()
			dp.SetTimestamp(now)
			dp.SetStartTimestamp(pcommon.NewTimestampFromTime(u.WindowStart))
			dp.SetDoubleValue(g.v)
			a := dp.Attributes()
			a.PutStr(attrBudget, u.Budget)
			a.PutStr(attrScope, u.Scope)
			a.PutStr(attrValue, p.limiter.admit(u.Scope, u.Value))
		}
	}
	return md
}
