package hook

import "github.com/otelcol-copilot/otelcol-copilot/internal/session"

// kinds tells hook accounting's kinds of payloads by hook type; the other
// types are session.HookOther.
var kinds = map[string]session.HookKind{
	SessionStart:       session.HookSessionStart,
	SessionEnd:         session.HookSessionEnd,
	PreToolUse:         session.HookToolStart,
	PostToolUse:        session.HookToolEnd,
	PostToolUseFailure: session.HookToolEnd,
	SubagentStart:      session.HookSubagentStart,
	SubagentStop:       session.HookSubagentStop,
	ErrorOccurred:      session.HookError,
}

// Event is the payload as hook accounting reads it
// (session.HookTracker). Who a payload is about depends on the session it
// belongs to: set SessionID to OwnerSessionID first.
func (p *Payload) Event() session.HookEvent {
	ev := session.HookEvent{
		Kind: kinds[p.Type], Type: p.Type, Time: p.Time, Cwd: p.Cwd, Traceparent: p.Traceparent,
		Agent:   session.Agent{ID: session.MainAgent, Name: session.MainAgent},
		Resumed: p.Source == "resume",
		Tool:    p.ToolName, Arguments: string(p.ToolArgs), Result: string(p.ToolResult),
		ErrorType: p.ErrorName, ErrorMessage: p.ErrorMessage, ErrorContext: p.ErrorContext, Recoverable: p.Recoverable,
		Usage: p.Usage,
	}
	if c := p.Context; c != nil {
		ev.Context = &session.Context{Repository: c.Repository, Branch: c.Branch, GitRoot: c.GitRoot, HeadCommit: c.HeadCommit}
	}
	switch p.Type {
	case SessionEnd:
		ev.Reason = p.Reason
	case AgentStop:
		ev.Reason = p.StopReason
	case PostToolUse, PostToolUseFailure:
		ev.Outcome = session.OutcomeSuccess
		if p.Type == PostToolUseFailure || (p.ToolResultType != "" && p.ToolResultType != "success") {
			ev.Outcome = session.OutcomeFailure
		}
	case SubagentStart, SubagentStop:
		// The session's own hook, about the subagent it runs.
		ev.Subagent = session.Agent{ID: p.AgentID, Name: p.subagentName()}
		if p.Type == SubagentStop {
			ev.Reason = p.StopReason
		}
		return ev
	}
	if p.AgentID != "" && p.AgentID != p.SessionID {
		// A subagent's own hook: its prompt, its tool calls, its agentStop.
		ev.Agent = session.Agent{ID: p.AgentID, Name: p.subagentName()}
	}
	return ev
}

// subagentName is the name a payload gives its subagent: its name, else
// its type, else session.AgentUnknown.
func (p *Payload) subagentName() string {
	return first(p.AgentName, p.AgentType, session.AgentUnknown)
}
