package hook

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// TestPayloadEvent: what hook accounting reads of a payload, in both
// dialects.
func TestPayloadEvent(t *testing.T) {
	main := session.Agent{ID: session.MainAgent, Name: session.MainAgent}
	for name, c := range map[string]struct {
		typ, body string
		want      func(*session.HookEvent)
	}{
		"resumed start": {SessionStart, `{"sessionId":"s","source":"resume","cwd":"/w"}`, func(e *session.HookEvent) {
			e.Kind, e.Resumed, e.Cwd = session.HookSessionStart, true, "/w"
		}},
		"end": {SessionEnd, `{"sessionId":"s","reason":"complete"}`, func(e *session.HookEvent) {
			e.Kind, e.Reason = session.HookSessionEnd, "complete"
		}},
		"claude stop": {"", `{"hook_event_name":"Stop","session_id":"s","stop_reason":"end_turn"}`, func(e *session.HookEvent) {
			e.Type, e.Reason = AgentStop, "end_turn"
		}},
		"pre tool": {PreToolUse, `{"sessionId":"s","toolName":"bash","toolArgs":{"command":"ls"},"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}`, func(e *session.HookEvent) {
			e.Kind, e.Tool, e.Arguments = session.HookToolStart, "bash", `{"command":"ls"}`
			e.Traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		}},
		"post tool": {PostToolUse, `{"sessionId":"s","toolName":"bash","toolResult":{"resultType":"success"}}`, func(e *session.HookEvent) {
			e.Kind, e.Tool, e.Outcome, e.Result = session.HookToolEnd, "bash", session.OutcomeSuccess, `{"resultType":"success"}`
		}},
		"post tool, failed result": {PostToolUse, `{"sessionId":"s","toolName":"bash","toolResult":{"resultType":"denied"}}`, func(e *session.HookEvent) {
			e.Kind, e.Tool, e.Outcome, e.Result = session.HookToolEnd, "bash", session.OutcomeFailure, `{"resultType":"denied"}`
		}},
		"post tool failure": {PostToolUseFailure, `{"sessionId":"s","toolName":"bash"}`, func(e *session.HookEvent) {
			e.Kind, e.Tool, e.Outcome = session.HookToolEnd, "bash", session.OutcomeFailure
		}},
		"a subagent's own tool call": {PreToolUse, `{"sessionId":"s","agentId":"sub-1","agentType":"explore","toolName":"view"}`, func(e *session.HookEvent) {
			e.Kind, e.Tool, e.Agent = session.HookToolStart, "view", session.Agent{ID: "sub-1", Name: "explore"}
		}},
		"subagent start": {SubagentStart, `{"sessionId":"s","agentId":"sub-1","agentName":"explore"}`, func(e *session.HookEvent) {
			e.Kind, e.Subagent = session.HookSubagentStart, session.Agent{ID: "sub-1", Name: "explore"}
		}},
		"subagent stop without a name": {SubagentStop, `{"sessionId":"s","agentId":"sub-1","stopReason":"end_turn"}`, func(e *session.HookEvent) {
			e.Kind, e.Reason, e.Subagent = session.HookSubagentStop, "end_turn", session.Agent{ID: "sub-1", Name: session.AgentUnknown}
		}},
		"error": {ErrorOccurred, `{"sessionId":"s","error":{"message":"boom","name":"APIError"},"errorContext":"model_call","recoverable":true}`, func(e *session.HookEvent) {
			yes := true
			e.Kind, e.ErrorType, e.ErrorMessage, e.ErrorContext, e.Recoverable = session.HookError, "APIError", "boom", "model_call", &yes
		}},
		"usage": {Notification, `{"sessionId":"s","usage":{"totalNanoAiu":7,"modelMetrics":{}}}`, func(e *session.HookEvent) {
			e.Usage = &session.UsageSummary{TotalNanoAIU: 7, ModelMetrics: map[string]session.ModelSummary{}}
		}},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := Decode([]byte(c.body), c.typ, Options{CaptureContent: true})
			require.NoError(t, err)
			want := session.HookEvent{Type: p.Type, Agent: main}
			c.want(&want)
			assert.Equal(t, want, p.Event())
		})
	}
}
