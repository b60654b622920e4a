package chargebackprocessor // import "github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor"

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	shared "github.com/otelcol-copilot/otelcol-copilot/internal/chargeback"

	"github.com/otelcol-copilot/otelcol-copilot/internal/crossingrecord"
	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/usagebody"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/budget"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/metadata"
)

// eventCrossing is the event name of a budget crossing record.
const eventCrossing = crossingrecord.EventName

type logsProcessor struct {
	p    *chargeback
	next consumer.Logs
}

func (l *logsProcessor) Start(ctx context.Context, host component.Host) error {
	return l.p.start(ctx, host)
}
func (l *logsProcessor) Shutdown(ctx context.Context) error { return l.p.shutdown(ctx) }
func (l *logsProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

// ConsumeLogs attributes the records: the copilot receiver's by their
// resource (and fills the session cache), others by the session they name.
func (l *logsProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	p := l.p
	for _, rl := range ld.ResourceLogs().All() {
		res := rl.Resource().Attributes()
		sid, fromReceiver := isReceiverResource(res)
		var info sessionInfo
		if fromReceiver {
			info = infoOf(res)
			p.join.fill(sid, info)
		}
		r := resolver{p: p, info: &info}
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				attrs := lr.Attributes()
				agent := strAttr(attrs, semconv.AttrGenAIAgentName)
				if fromReceiver {
					p.putAttribution(attrs, r.resolve(agent), false)
					p.putSessionCost(lr)
					continue
				}
				conv := strAttr(attrs, attrConversation)
				if conv == "" {
					continue
				}
				in, _ := p.joined(conv, 1)
				putContext(attrs, in)
				p.putAttribution(attrs, p.resolve(in.input, agent), false)
			}
		}
	}
	return l.next.ConsumeLogs(ctx, ld)
}

// putSessionCost prices the usage summary of a session's summary or end
// record (the session's usage so far) and puts it on the record: what an
// action exporter writes to a ticket or a message. A body that is not a
// usage summary is counted as unpriced and passed on without a cost.
func (p *chargeback) putSessionCost(lr plog.LogRecord) {
	if p.cfg.Mode == ModeAttribute {
		return // the gateways price
	}
	switch lr.EventName() {
	case semconv.EventCopilotSessionSummary, semconv.EventCopilotSessionEnd:
	default:
		return
	}
	if lr.Body().Type() != pcommon.ValueTypeMap {
		return // an end record without usage (the session had none)
	}
	u, err := usagebody.Get(lr.Body())
	if err != nil {
		p.tel.ProcessorChargebackUnpriced.Add(bg, 1, metric.WithAttributes(attribute.String("reason", "bad_summary")))
		p.logger().Warn("A session's usage summary does not read; it goes on without a cost", zap.String("event", lr.EventName()), zap.Error(err))
		return
	}
	cost, _ := shared.Price(p.pricer, u)
	usagebody.PutCost(lr.Attributes(), cost, p.pricer.Currency())
}

// putContext lends a session's context attributes to an item of the CLI's
// own telemetry.
func putContext(attrs pcommon.Map, info sessionInfo) {
	for k, v := range info.context {
		if _, ok := attrs.Get(k); !ok {
			attrs.PutStr(k, v)
		}
	}
}

// deliverCrossings sends crossings as log records through every logs
// pipeline; false when one refused them (they stay pending and are offered
// to all again: a pipeline that had taken them gets them twice, with the
// same crossing.id to deduplicate by). Without a logs pipeline they are
// written to the collector's log.
func (p *chargeback) deliverCrossings(ctx context.Context, crossings []budget.Crossing) bool {
	if len(p.logs) == 0 {
		for _, c := range crossings {
			p.logger().Warn("Budget threshold crossed", zap.String("budget", c.Budget), zap.String("scope", c.Scope), zap.String("value", c.Value),
				zap.Float64("threshold_percent", c.Threshold), zap.String("spend", c.Spend.String()), zap.String("limit", c.Limit.String()))
		}
		return true
	}
	ok := true
	for _, next := range p.logs {
		if err := next.ConsumeLogs(ctx, p.crossingLogs(crossings)); err != nil {
			p.logger().Warn("Budget crossings were not delivered; they are offered again with the next batch", zap.Error(err))
			ok = false
		}
	}
	return ok
}

// crossingLogs are one record per crossing, with everything an alert
// needs: the budget, its scope and value, the threshold, spend and limit,
// the window, and a stable id to deduplicate by.
func (p *chargeback) crossingLogs(crossings []budget.Crossing) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(semconv.AttrServiceName, semconv.ServiceName)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	cur := p.pricer.Currency()
	for _, c := range crossings {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetEventName(eventCrossing)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(c.Time))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(p.now()))
		if c.Threshold >= 100 {
			lr.SetSeverityNumber(plog.SeverityNumberError)
			lr.SetSeverityText("ERROR")
		} else {
			lr.SetSeverityNumber(plog.SeverityNumberWarn)
			lr.SetSeverityText("WARN")
		}
		lr.Body().SetStr(fmt.Sprintf("Budget %q: %s %q reached %g%% (%s %s of %s %s) in the window %s to %s",
			c.Budget, c.Scope, c.Value, c.Threshold, c.Spend, cur, c.Limit, cur,
			c.WindowStart.Format(time.RFC3339), c.WindowEnd.Format(time.RFC3339)))
		a := lr.Attributes()
		a.PutStr(attrBudget, c.Budget)
		a.PutStr(attrScope, c.Scope)
		a.PutStr(attrValue, c.Value)
		a.PutDouble(crossingrecord.AttrThreshold, c.Threshold)
		a.PutDouble(crossingrecord.AttrSpend, c.Spend.Float64())
		a.PutDouble(crossingrecord.AttrLimit, c.Limit.Float64())
		a.PutStr(crossingrecord.AttrSpend+crossingrecord.ExactSuffix, c.Spend.String())
		a.PutStr(crossingrecord.AttrLimit+crossingrecord.ExactSuffix, c.Limit.String())
		a.PutStr(crossingrecord.AttrCurrency, cur)
		a.PutStr(crossingrecord.AttrWindowStart, c.WindowStart.Format(time.RFC3339))
		a.PutStr(crossingrecord.AttrWindowEnd, c.WindowEnd.Format(time.RFC3339))
		a.PutStr(crossingrecord.AttrID, c.ID)
		if len(c.TopSessions) > 0 {
			top := a.PutEmptySlice(crossingrecord.AttrTopSessions)
			for _, s := range c.TopSessions {
				m := top.AppendEmpty().SetEmptyMap()
				m.PutStr(semconv.AttrSessionID, s.Session)
				m.PutDouble("spend", s.Spend.Float64())
				m.PutStr("spend"+crossingrecord.ExactSuffix, s.Spend.String())
			}
		}
		if name := p.scopeAttr(c.Scope); name != "" {
			a.PutStr(name, c.Value)
		}
	}
	return ld
}

// scopeAttr is the attribute a budget scope's value goes in.
func (p *chargeback) scopeAttr(scope string) string {
	switch scope {
	case budget.ScopeTeam:
		return p.cfg.attrName(keyTeam)
	case budget.ScopeProject:
		return p.cfg.attrName(keyProject)
	case budget.ScopeCostCenter:
		return p.cfg.attrName(keyCostCenter)
	case budget.ScopeTicket:
		return p.cfg.attrName(keyTicket)
	case budget.ScopeUser:
		return semconv.AttrUserName
	case budget.ScopeSession:
		return semconv.AttrSessionID
	}
	return ""
}
