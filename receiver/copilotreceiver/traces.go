package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	conventions "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
)

// providerName is gen_ai.provider.name, as the CLI's own spans set it.
const providerName = "github"

// attrConversation is the session id on every span, as the CLI's own spans
// carry it, in the GenAI conventions of the semantic conventions version
// metadata.yaml declares.
//
// Span attributes that metadata.yaml declares (for metrics and logs) come
// from package semconv; those only spans have, which metadata.yaml cannot
// describe, are named where they are set, below.
const attrConversation = string(conventions.GenAIConversationIDKey)

// tracesBuilder turns facts into spans: one trace per session, with ids
// derived from the session id, so that reading a transcript twice yields the
// same spans.
type tracesBuilder struct {
	resources *resourceBuilder
	version   string
	capture   bool
}

type spanBatch struct {
	b     *tracesBuilder
	byCtx map[*session.Context]ptrace.SpanSlice
	td    ptrace.Traces
}

func (b *tracesBuilder) build(f *session.Facts) ptrace.Traces {
	sb := &spanBatch{b: b, byCtx: map[*session.Context]ptrace.SpanSlice{}, td: ptrace.NewTraces()}
	for _, l := range f.Legs {
		s := sb.span(l.Ctx, l.Span, "copilot.session", ptrace.SpanKindInternal, l.Start, l.End)
		a := s.Attributes()
		// Sized for the span's attributes at once: growing the slice
		// attribute by attribute allocated four times per span.
		a.EnsureCapacity(5)
		a.PutStr(attrConversation, l.Ctx.SessionID)
		a.PutInt(semconv.AttrCopilotSessionLeg, int64(l.Leg))
		a.PutStr("copilot.session.end", l.EndReason)
		if l.ShutdownType != "" {
			a.PutStr(semconv.AttrCopilotShutdownType, l.ShutdownType)
		}
		if l.Model != "" {
			a.PutStr(semconv.AttrGenAIRequestModel, l.Model)
		}
		if l.ShutdownType == "error" {
			s.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	for _, in := range f.Interactions {
		s := sb.span(in.Ctx, in.Span, "invoke_agent", ptrace.SpanKindInternal, in.Start, in.End)
		a := s.Attributes()
		a.EnsureCapacity(9)
		a.PutStr("gen_ai.operation.name", "invoke_agent")
		a.PutStr("gen_ai.provider.name", providerName)
		a.PutStr(semconv.AttrGenAIAgentName, session.MainAgent)
		a.PutStr(attrConversation, in.Ctx.SessionID)
		a.PutStr("copilot.interaction.id", in.ID)
		a.PutInt("copilot.turns", int64(in.Turns))
		if in.AbortReason != "" {
			a.PutStr("copilot.abort.reason", in.AbortReason)
		}
		if b.capture {
			putIf(a, "gen_ai.prompt", in.Prompt)
			putIf(a, "gen_ai.completion", in.Response)
		}
		putLinks(s, in.Links)
	}
	for _, sa := range f.Subagents {
		s := sb.span(sa.Ctx, sa.Span, "invoke_agent "+sa.Agent.Name, ptrace.SpanKindInternal, sa.Start, sa.End)
		a := s.Attributes()
		a.EnsureCapacity(9)
		a.PutStr("gen_ai.operation.name", "invoke_agent")
		a.PutStr("gen_ai.provider.name", providerName)
		a.PutStr(semconv.AttrGenAIAgentName, sa.Agent.Name)
		a.PutStr("gen_ai.agent.id", sa.Agent.ID)
		a.PutStr(attrConversation, sa.Ctx.SessionID)
		a.PutStr("gen_ai.tool.call.id", sa.ToolCallID)
		a.PutStr(semconv.AttrCopilotSubagentOutcome, sa.Outcome)
		putIf(a, semconv.AttrGenAIRequestModel, sa.Model)
		if sa.TotalTokens > 0 {
			a.PutInt("copilot.subagent.total_tokens", sa.TotalTokens)
		}
		if sa.Outcome == session.OutcomeFailed {
			s.Status().SetCode(ptrace.StatusCodeError)
			s.Status().SetMessage(sa.Error)
		}
	}
	for i := range f.Usage {
		u := &f.Usage[i]
		if u.Source != session.SourceRecord {
			continue // usage known only from totals has no call to show
		}
		s := sb.span(u.Ctx, u.Span, "chat "+u.Model, ptrace.SpanKindClient, u.Start, u.Time)
		a := s.Attributes()
		a.EnsureCapacity(20)
		a.PutStr("gen_ai.operation.name", "chat")
		a.PutStr("gen_ai.provider.name", providerName)
		a.PutStr(semconv.AttrGenAIRequestModel, u.Model)
		a.PutStr(attrConversation, u.Ctx.SessionID)
		a.PutStr(semconv.AttrGenAIAgentName, u.Agent.Name)
		putIf(a, "gen_ai.response.id", u.APICallID)
		if u.FinishReason != "" {
			a.PutEmptySlice("gen_ai.response.finish_reasons").AppendEmpty().SetStr(u.FinishReason)
		}
		a.PutInt("gen_ai.usage.input_tokens", u.Usage.InputTokens)
		a.PutInt("gen_ai.usage.output_tokens", u.Usage.OutputTokens)
		a.PutInt("gen_ai.usage.cache_read.input_tokens", u.Usage.CacheReadTokens)
		a.PutInt("gen_ai.usage.cache_creation.input_tokens", u.Usage.CacheWriteTokens)
		a.PutInt("gen_ai.usage.reasoning.output_tokens", u.Usage.ReasoningTokens)
		a.PutInt("copilot.usage.nano_aiu", u.Usage.NanoAIU)
		a.PutDouble("copilot.usage.premium_requests", u.Usage.PremiumCost)
		a.PutStr(semconv.AttrCopilotInitiator, u.Initiator)
		a.PutBool("copilot.byok", u.IsByok)
		putIf(a, "copilot.interaction.id", u.InteractionID)
		putIf(a, "copilot.accounting.source_session_id", u.SourceSessionID)
		if u.SourceSessionID != "" {
			a.PutInt("copilot.accounting.sequence", u.Sequence)
		}
		if u.HasTTFT {
			a.PutDouble("gen_ai.response.time_to_first_chunk", u.TTFTMs/1000)
		}
	}
	for _, t := range f.Tools {
		s := sb.span(t.Ctx, t.Span, "execute_tool "+t.Name, ptrace.SpanKindInternal, t.Start, t.End)
		a := s.Attributes()
		a.EnsureCapacity(13)
		a.PutStr("gen_ai.operation.name", "execute_tool")
		a.PutStr("gen_ai.provider.name", providerName)
		a.PutStr(semconv.AttrGenAIToolName, t.Name)
		a.PutStr("gen_ai.tool.call.id", t.CallID)
		a.PutStr("gen_ai.tool.type", "function")
		a.PutStr(attrConversation, t.Ctx.SessionID)
		a.PutStr(semconv.AttrGenAIAgentName, t.Agent.Name)
		a.PutStr(semconv.AttrCopilotToolOutcome, t.Outcome)
		putIf(a, "copilot.mcp.server", t.MCPServer)
		if t.ExitCode != nil {
			a.PutInt("process.exit.code", *t.ExitCode)
		}
		if t.Outcome == session.OutcomeFailure {
			s.Status().SetCode(ptrace.StatusCodeError)
			if t.ErrorCode != "" {
				a.PutStr(semconv.AttrErrorType, t.ErrorCode)
			}
		}
		putLinks(s, t.Links)
		if b.capture {
			putIf(a, "gen_ai.tool.call.arguments", t.Arguments)
			putIf(a, "gen_ai.tool.call.result", t.Result)
		}
	}
	return sb.td
}

// putLinks links a span to the CLI's own trace.
func putLinks(s ptrace.Span, links []session.TraceContext) {
	for _, l := range links {
		link := s.Links().AppendEmpty()
		link.SetTraceID(l.TraceID)
		link.SetSpanID(l.SpanID)
		if l.Sampled {
			link.SetFlags(1)
		}
		link.Attributes().PutStr("copilot.link", "copilot_cli_trace")
	}
}

func putIf(a pcommon.Map, k, v string) {
	if v != "" {
		a.PutStr(k, v)
	}
}

func (sb *spanBatch) span(ctx *session.Context, id session.Span, name string, kind ptrace.SpanKind, start, end time.Time) ptrace.Span {
	spans, ok := sb.byCtx[ctx]
	if !ok {
		rs := sb.td.ResourceSpans().AppendEmpty()
		sb.b.resources.fill(rs.Resource(), ctx, true)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName(metadata.ScopeName)
		ss.Scope().SetVersion(sb.b.version)
		spans = ss.Spans()
		sb.byCtx[ctx] = spans
	}
	s := spans.AppendEmpty()
	s.SetTraceID(session.TraceID(ctx.SessionID))
	s.SetSpanID(id.ID)
	if id.Parent != ([8]byte{}) {
		s.SetParentSpanID(id.Parent)
	}
	s.SetName(name)
	s.SetKind(kind)
	if end.Before(start) {
		end = start
	}
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	return s
}
