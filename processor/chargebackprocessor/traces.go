package chargebackprocessor // import "github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
)

type tracesProcessor struct {
	p    *chargeback
	next consumer.Traces
}

func (t *tracesProcessor) Start(ctx context.Context, host component.Host) error {
	return t.p.start(ctx, host)
}
func (t *tracesProcessor) Shutdown(ctx context.Context) error { return t.p.shutdown(ctx) }
func (t *tracesProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

// ConsumeTraces attributes spans. The copilot receiver's spans carry their
// session's context on the resource (and fill the session cache); the
// CLI's own spans name only the session (gen_ai.conversation.id) and get
// the context from the cache. Spans of a session the cache does not know
// yet are held, up to join.hold_time, or passed unattributed.
func (t *tracesProcessor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	p := t.p
	hold := p.cfg.Join.OnMiss == OnMissHold
	var held map[string]*holding // by session
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		res := rs.Resource().Attributes()
		if sid, ok := isReceiverResource(res); ok {
			info := infoOf(res)
			p.join.fill(sid, info)
			r := resolver{p: p, info: &info}
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					p.putAttribution(s.Attributes(), r.resolve(strAttr(s.Attributes(), semconv.AttrGenAIAgentName)), false)
				}
			}
			return false
		}
		for _, ss := range rs.ScopeSpans().All() {
			ss.Spans().RemoveIf(func(s ptrace.Span) bool {
				sid := strAttr(s.Attributes(), attrConversation)
				if sid == "" {
					return false // not a Copilot session's span
				}
				if info, ok := p.join.lookup(sid); ok {
					p.join.count(outcomeHit, 1)
					p.attributeNative(s, &info)
					return false
				}
				if hold {
					if held == nil {
						held = map[string]*holding{}
					}
					h, ok := held[sid]
					if !ok {
						h = &holding{td: ptrace.NewTraces()}
						held[sid] = h
					}
					h.add(rs, ss, s)
					return true
				}
				p.join.count(outcomePassed, 1)
				p.attributeNative(s, nil)
				return false
			})
		}
		return rs.ScopeSpans().Len() > 0 && spanCount(rs) == 0
	})
	for sid, hg := range held {
		h := hg.td
		info, known, ok := p.join.hold(sid, h, t.next)
		switch {
		case known: // the context arrived meanwhile
			p.join.count(outcomeHit, h.SpanCount())
			p.attributeAll(h, &info)
			h.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
		case ok:
			p.join.count(outcomeHeld, h.SpanCount())
		default: // the hold is full
			p.join.count(outcomePassed, h.SpanCount())
			p.attributeAll(h, nil)
			h.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
		}
	}
	if td.ResourceSpans().Len() == 0 {
		return nil
	}
	return t.next.ConsumeTraces(ctx, td)
}

// attributeNative puts a session's context and attribution on one of the
// CLI's own spans; without a context, the attribution of nothing
// (unattributed, unless a catch-all rule says otherwise).
func (p *chargeback) attributeNative(s ptrace.Span, info *sessionInfo) {
	var in sessionInfo
	if info != nil {
		in = *info
		putContext(s.Attributes(), in)
	}
	p.putAttribution(s.Attributes(), p.resolve(in.input, strAttr(s.Attributes(), semconv.AttrGenAIAgentName)), false)
}

func (p *chargeback) attributeAll(td ptrace.Traces, info *sessionInfo) {
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				p.attributeNative(s, info)
			}
		}
	}
}

// releaseHeld passes on spans that were held: with their session's
// context, or unattributed when the wait is over.
func (p *chargeback) releaseHeld(sid string, info *sessionInfo, batches []heldBatch) {
	for _, b := range batches {
		p.attributeAll(b.td, info)
		if err := b.next.ConsumeTraces(context.Background(), b.td); err != nil {
			p.logger().Error("Held spans of the CLI could not be delivered; they are dropped", zap.String("session", sid), zap.Int("spans", b.td.SpanCount()), zap.Error(err))
		}
	}
}

// holding gathers the spans of one session that one batch holds back,
// under copies of their resources and scopes.
type holding struct {
	td     ptrace.Traces
	srcRS  ptrace.ResourceSpans
	srcSS  ptrace.ScopeSpans
	dstRS  ptrace.ResourceSpans
	dstSS  ptrace.ScopeSpans
	copied bool
}

// add copies a span, with its resource and scope when they are not the
// ones of the span added before it.
func (h *holding) add(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, s ptrace.Span) {
	if !h.copied || h.srcRS != rs {
		h.dstRS = h.td.ResourceSpans().AppendEmpty()
		rs.Resource().CopyTo(h.dstRS.Resource())
		h.dstRS.SetSchemaUrl(rs.SchemaUrl())
		h.srcRS, h.copied = rs, true
		h.srcSS = ptrace.ScopeSpans{}
	}
	if h.srcSS != ss {
		h.dstSS = h.dstRS.ScopeSpans().AppendEmpty()
		ss.Scope().CopyTo(h.dstSS.Scope())
		h.dstSS.SetSchemaUrl(ss.SchemaUrl())
		h.srcSS = ss
	}
	s.CopyTo(h.dstSS.Spans().AppendEmpty())
}

func spanCount(rs ptrace.ResourceSpans) int {
	n := 0
	for _, ss := range rs.ScopeSpans().All() {
		n += ss.Spans().Len()
	}
	return n
}
