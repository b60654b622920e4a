package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/hook"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// Names of what hooks report about agents and initiators they cannot tell.
const (
	hookAgentUnknown = "unknown"
	spanHookTool     = "hook-tool"
	spanHookSubagent = "hook-subagent"
	hookStatePrefix  = "hooks:usage:"
	maxPendingTools  = 1000
)

// hookFacts turns hook payloads into the same facts the transcript yields.
//
// A session whose transcript the receiver follows (it lies under
// session_state.include) is counted from its transcript; its hooks add only
// what the transcript does not keep: hook invocations, the reason a session
// ended, and errors the CLI recovered from. A session whose transcript the
// receiver does not see (the collector runs elsewhere) is counted from its
// hooks: sessions from sessionStart and sessionEnd, tool calls and their
// spans from preToolUse/postToolUse pairs, subagent runs, errors, and usage
// from the `usage` object the forwarder adds to every payload, as the
// difference to the last one seen. Not safe for concurrent use.
type hookFacts struct {
	sessions *lru.Cache[string, *hookSession]
	agents   *lru.Cache[string, string] // subagent instance id -> session id
	index    *transcriptIndex
	mode     string         // hooks.accounting
	store    storage.Client // nil: usage seen is kept in memory only
	capture  bool
	log      *zap.Logger
}

// hookSession is what the hooks of one session left to pair and compare.
type hookSession struct {
	ctx       *session.Context
	followed  bool   // counted from its transcript
	path      string // the transcript, once found
	usage     *session.UsageSummary
	loaded    bool
	tools     map[string][]pendingTool
	subagents map[string]time.Time
	seq       int64
}

type pendingTool struct {
	start time.Time
	seq   int64
	links []session.TraceContext
	args  string
	agent session.Agent
}

func (h *hookFacts) session(id string) *hookSession {
	s, ok := h.sessions.Get(id)
	if !ok {
		s = &hookSession{
			ctx:       &session.Context{SessionID: id},
			tools:     map[string][]pendingTool{},
			subagents: map[string]time.Time{},
		}
		h.sessions.Add(id, s)
	}
	return s
}

// own sets the payload's session to the session it belongs to: a
// subagent's hooks name the subagent as their session (see
// hook.Payload.OwnerSessionID).
func (h *hookFacts) own(p *hook.Payload) {
	owner := p.OwnerSessionID(h.agents.Get)
	if p.AgentID != "" && p.AgentID != owner {
		h.agents.Add(p.AgentID, owner)
	}
	p.SessionID = owner
}

// agent is who a payload is about: the main agent, or the subagent whose
// hook it is.
func agentOf(p *hook.Payload) session.Agent {
	if p.AgentID == "" || p.AgentID == p.SessionID || p.Type == hook.SubagentStart || p.Type == hook.SubagentStop {
		return session.Agent{ID: session.MainAgent, Name: session.MainAgent}
	}
	return session.Agent{ID: p.AgentID, Name: subagentName(p)}
}

// subagentName is the name a payload gives its subagent: its name, else
// its type, else unknown.
func subagentName(p *hook.Payload) string {
	switch {
	case p.AgentName != "":
		return p.AgentName
	case p.AgentType != "":
		return p.AgentType
	}
	return hookAgentUnknown
}

// facts are the facts of a payload besides usage. local says that the
// payload comes from this machine (X-Copilot-Hook-Host).
func (h *hookFacts) facts(p *hook.Payload, local bool) (*session.Facts, error) {
	if p.Time.IsZero() {
		p.Time = time.Now()
	}
	s := h.session(p.SessionID)
	h.decide(s, p, local)
	if s.ctx.Cwd == "" && p.Cwd != "" {
		s.ctx.Cwd = p.Cwd
	}
	f := &session.Facts{}
	ctx := s.ctx
	if s.followed && s.path == "" {
		s.path, _ = h.index.locate(p.SessionID, p.TranscriptPath)
	}
	if s.path != "" {
		// The transcript's context: repository, branch, CLI version.
		if c := h.index.context(s.path); c != nil {
			ctx = c
		}
	}
	reason := ""
	switch p.Type {
	case hook.SessionEnd:
		reason = p.Reason
	case hook.AgentStop, hook.SubagentStop:
		reason = p.StopReason
	}
	f.Hooks = append(f.Hooks, session.HookFact{Ctx: ctx, Time: p.Time, Type: p.Type, Reason: reason})
	if p.Type == hook.SessionEnd {
		f.Ends = append(f.Ends, session.EndFact{Ctx: ctx, Time: p.Time, Reason: p.Reason, Usage: p.Usage})
	}
	if p.Type == hook.ErrorOccurred && (!s.followed || p.Recoverable == nil || *p.Recoverable) {
		// An error the CLI could not recover from is also a session.error
		// in the transcript, counted from there.
		typ := p.ErrorName
		if typ == "" {
			typ = "error"
		}
		f.Errors = append(f.Errors, session.ErrorFact{
			Ctx: ctx, Time: p.Time, Agent: session.Agent{ID: session.MainAgent, Name: session.MainAgent},
			Type: typ, Message: p.ErrorMessage, Context: p.ErrorContext,
		})
	}
	if s.followed {
		return f, nil
	}
	if err := h.fromHooks(s, p, f); err != nil {
		return nil, err
	}
	return f, nil
}

// Values of hooks.accounting.
const (
	AccountingAuto       = "auto"
	AccountingTranscript = "transcript"
	AccountingHooks      = "hooks"
)

// decide settles whether a session is counted from its transcript. In
// auto mode it is when the receiver finds the transcript, or when the
// payload comes from this machine and the receiver watches the directory
// the CLI writes the session into: the CLI writes its transcript in
// batches, so the first hooks of a session can come before the file does.
// Once a session is counted from its transcript it stays so.
func (h *hookFacts) decide(s *hookSession, p *hook.Payload, local bool) {
	if s.followed {
		return
	}
	switch h.mode {
	case AccountingHooks:
		return
	case AccountingTranscript:
		s.followed = true
		return
	}
	if path, ok := h.index.locate(p.SessionID, p.TranscriptPath); ok {
		s.followed, s.path = true, path
		return
	}
	s.followed = local && h.index.watches(p.SessionID)
}

// fromHooks adds what a session the receiver does not read the transcript
// of is counted by.
func (h *hookFacts) fromHooks(s *hookSession, p *hook.Payload, f *session.Facts) error {
	ctx := s.ctx
	agent := agentOf(p)
	var links []session.TraceContext
	if tc, ok := session.ParseTraceparent(p.Traceparent); ok {
		links = []session.TraceContext{tc}
	}
	// Calls of the same tool by the same agent are paired first in, first
	// out: the payloads carry no call id.
	toolKey := agent.ID + "\x00" + p.ToolName
	switch p.Type {
	case hook.SessionStart:
		state := session.StateStarted
		if p.Source == "resume" {
			state = session.StateResumed
		}
		f.Lifecycle = append(f.Lifecycle, session.LifecycleFact{Ctx: ctx, Time: p.Time, State: state})
	case hook.SessionEnd:
		f.Lifecycle = append(f.Lifecycle, session.LifecycleFact{Ctx: ctx, Time: p.Time, State: session.StateEnded})
		// Tool calls still open did not finish.
		for _, key := range slices.Sorted(maps.Keys(s.tools)) {
			_, name, _ := strings.Cut(key, "\x00")
			for _, pt := range s.tools[key] {
				f.Tools = append(f.Tools, h.toolFact(s, name, pt, p.Time, session.OutcomeIncomplete, ""))
			}
		}
		clear(s.tools)
	case hook.PreToolUse:
		s.seq++
		q := s.tools[toolKey]
		if len(q) >= maxPendingTools {
			q = q[1:] // a pre without a post, long ago
		}
		s.tools[toolKey] = append(q, pendingTool{start: p.Time, seq: s.seq, links: links, args: string(p.ToolArgs), agent: agent})
	case hook.PostToolUse, hook.PostToolUseFailure:
		outcome := session.OutcomeSuccess
		if p.Type == hook.PostToolUseFailure || (p.ToolResultType != "" && p.ToolResultType != "success") {
			outcome = session.OutcomeFailure
		}
		pt := pendingTool{start: p.Time, links: links, args: string(p.ToolArgs), agent: agent}
		if q := s.tools[toolKey]; len(q) > 0 {
			pt, s.tools[toolKey] = q[0], q[1:]
			if len(s.tools[toolKey]) == 0 {
				delete(s.tools, toolKey)
			}
		} else {
			s.seq++
			pt.seq = s.seq
		}
		f.Tools = append(f.Tools, h.toolFact(s, p.ToolName, pt, p.Time, outcome, string(p.ToolResult)))
	case hook.SubagentStart:
		if p.AgentID != "" {
			s.subagents[p.AgentID] = p.Time
		}
	case hook.SubagentStop:
		start, ok := s.subagents[p.AgentID]
		if !ok {
			start = p.Time
		}
		delete(s.subagents, p.AgentID)
		name := subagentName(p)
		s.seq++
		key := p.AgentID
		if key == "" {
			key = strconv.FormatInt(s.seq, 10)
		}
		f.Subagents = append(f.Subagents, session.SubagentFact{
			Ctx: ctx, Start: start, End: p.Time,
			Span:    session.Span{ID: session.SpanID(ctx.SessionID, spanHookSubagent, key)},
			Agent:   session.Agent{ID: p.AgentID, Name: name},
			Outcome: session.OutcomeCompleted,
		})
	}
	return nil
}

func (h *hookFacts) toolFact(s *hookSession, name string, pt pendingTool, end time.Time, outcome, result string) session.ToolFact {
	t := session.ToolFact{
		Ctx: s.ctx, Start: pt.start, End: end,
		Span:    session.Span{ID: session.SpanID(s.ctx.SessionID, spanHookTool, strconv.FormatInt(pt.seq, 10))},
		Name:    name,
		Agent:   pt.agent,
		Outcome: outcome,
		Links:   pt.links,
	}
	if h.capture {
		t.Arguments, t.Result = pt.args, result
	}
	return t
}

// usage returns the usage a payload reports beyond the usage accepted so
// far for its session, and the new watermark, to be committed once the
// metrics pipeline took them. The usage object is cumulative: a payload
// that arrives late (a spooled one) reports less, and adds nothing; and
// since the difference is always taken from what was accepted, a payload
// refused and sent again after a later one counts nothing twice. Sessions
// counted from their transcript, and payloads without usage, have none.
func (h *hookFacts) usage(p *hook.Payload) (*session.Facts, *session.UsageSummary, error) {
	s := h.session(p.SessionID)
	if p.Usage == nil || s.followed {
		return nil, nil, nil
	}
	if err := h.loadUsage(s); err != nil {
		return nil, nil, err
	}
	f := &session.Facts{}
	prev := s.usage
	if prev == nil {
		prev = &session.UsageSummary{}
	}
	next := session.UsageSummary{ModelMetrics: map[string]session.ModelSummary{}}
	agent := session.Agent{ID: hookAgentUnknown, Name: hookAgentUnknown}
	for _, m := range slices.Sorted(maps.Keys(prev.ModelMetrics)) {
		if _, ok := p.Usage.ModelMetrics[m]; !ok {
			next.ModelMetrics[m] = prev.ModelMetrics[m]
		}
	}
	durModel, durReq := "", int64(-1)
	for _, m := range slices.Sorted(maps.Keys(p.Usage.ModelMetrics)) {
		cur, old := p.Usage.ModelMetrics[m], prev.ModelMetrics[m]
		hi := session.ModelSummary{
			Requests: session.RequestSummary{
				Count:         max(cur.Requests.Count, old.Requests.Count),
				UserInitiated: max(cur.Requests.UserInitiated, old.Requests.UserInitiated),
				PremiumCost:   max(cur.Requests.PremiumCost, old.Requests.PremiumCost),
			},
			Usage: session.TokenSummary{
				InputTokens:      max(cur.Usage.InputTokens, old.Usage.InputTokens),
				OutputTokens:     max(cur.Usage.OutputTokens, old.Usage.OutputTokens),
				CacheReadTokens:  max(cur.Usage.CacheReadTokens, old.Usage.CacheReadTokens),
				CacheWriteTokens: max(cur.Usage.CacheWriteTokens, old.Usage.CacheWriteTokens),
				ReasoningTokens:  max(cur.Usage.ReasoningTokens, old.Usage.ReasoningTokens),
			},
			TotalNanoAIU: max(cur.TotalNanoAIU, old.TotalNanoAIU),
		}
		next.ModelMetrics[m] = hi
		d := session.Usage{
			InputTokens:      hi.Usage.InputTokens - old.Usage.InputTokens,
			OutputTokens:     hi.Usage.OutputTokens - old.Usage.OutputTokens,
			CacheReadTokens:  hi.Usage.CacheReadTokens - old.Usage.CacheReadTokens,
			CacheWriteTokens: hi.Usage.CacheWriteTokens - old.Usage.CacheWriteTokens,
			ReasoningTokens:  hi.Usage.ReasoningTokens - old.Usage.ReasoningTokens,
			NanoAIU:          hi.TotalNanoAIU - old.TotalNanoAIU,
			PremiumCost:      hi.Requests.PremiumCost - old.Requests.PremiumCost,
			Requests:         hi.Requests.Count - old.Requests.Count,
			UserRequests:     hi.Requests.UserInitiated - old.Requests.UserInitiated,
		}
		if d == (session.Usage{}) {
			continue
		}
		if d.Requests > durReq {
			durModel, durReq = m, d.Requests
		}
		f.Usage = append(f.Usage, session.UsageFact{
			Ctx: s.ctx, Source: sourceHook, Start: p.Time, Time: p.Time,
			Agent: agent, Model: m, Initiator: session.InitiatorUnknown, Usage: d,
		})
	}
	// The usage object gives API time for the whole session only: new time
	// goes to the model with the most new calls, and waits for a payload
	// with calls if this one has none.
	next.TotalAPIDurationMs = prev.TotalAPIDurationMs
	if dur := p.Usage.TotalAPIDurationMs - prev.TotalAPIDurationMs; dur > 0 && durModel != "" {
		for i := range f.Usage {
			if f.Usage[i].Model == durModel {
				f.Usage[i].Usage.APIDurationMs = dur
			}
		}
		next.TotalAPIDurationMs = p.Usage.TotalAPIDurationMs
	}

	cc, oc := p.Usage.CodeChanges, prev.CodeChanges
	next.CodeChanges = session.CodeSummary{
		LinesAdded:    max(cc.LinesAdded, oc.LinesAdded),
		LinesRemoved:  max(cc.LinesRemoved, oc.LinesRemoved),
		FilesModified: max(cc.FilesModified, oc.FilesModified),
	}
	if next.CodeChanges != oc {
		f.CodeChanges = append(f.CodeChanges, session.CodeChangeFact{
			Ctx: s.ctx, Start: p.Time, Time: p.Time,
			LinesAdded:    next.CodeChanges.LinesAdded - oc.LinesAdded,
			LinesRemoved:  next.CodeChanges.LinesRemoved - oc.LinesRemoved,
			FilesModified: next.CodeChanges.FilesModified - oc.FilesModified,
		})
	}
	recomputeTotals(&next)
	if p.Type == hook.SessionEnd {
		f.Summaries = append(f.Summaries, session.SummaryFact{Ctx: s.ctx, Time: p.Time, Usage: next})
	}
	return f, &next, nil
}

// commitUsage makes next the usage accepted for the payload's session.
func (h *hookFacts) commitUsage(sessionID string, next *session.UsageSummary) error {
	s := h.session(sessionID)
	s.usage = next
	return h.saveUsage(s)
}

// summary is the usage hooks reported for a session the receiver does not
// read the transcript of, if any was seen.
func (h *hookFacts) summary(sessionID string) (*session.UsageSummary, error) {
	s, ok := h.sessions.Get(sessionID)
	if !ok {
		if h.store == nil {
			return nil, nil
		}
		s = h.session(sessionID)
	}
	if err := h.loadUsage(s); err != nil {
		return nil, err
	}
	return s.usage, nil
}

// recomputeTotals sets the session totals of a summary from its models.
func recomputeTotals(u *session.UsageSummary) {
	u.TotalPremiumRequestCost, u.TotalNanoAIU, u.TotalUserRequests = 0, 0, 0
	u.TokenDetails = session.TokenDetails{}
	for _, m := range slices.Sorted(maps.Keys(u.ModelMetrics)) {
		s := u.ModelMetrics[m]
		u.TotalPremiumRequestCost += s.Requests.PremiumCost
		u.TotalNanoAIU += s.TotalNanoAIU
		u.TotalUserRequests += s.Requests.UserInitiated
		u.TokenDetails.Input += s.Usage.InputTokens
		u.TokenDetails.Output += s.Usage.OutputTokens
		u.TokenDetails.CacheRead += s.Usage.CacheReadTokens
		u.TokenDetails.CacheWrite += s.Usage.CacheWriteTokens
		u.TokenDetails.Reasoning += s.Usage.ReasoningTokens
	}
}

func (h *hookFacts) loadUsage(s *hookSession) error {
	if s.loaded || h.store == nil {
		s.loaded = true
		return nil
	}
	b, err := h.store.Get(context.Background(), hookStatePrefix+s.ctx.SessionID)
	if err != nil {
		return fmt.Errorf("reading the usage hooks reported for session %s: %w", s.ctx.SessionID, err)
	}
	if b != nil {
		var u session.UsageSummary
		if err := json.Unmarshal(b, &u); err != nil {
			h.log.Warn("Stored hook usage is not readable; counting the session's usage from its next payload on", zap.String("session", s.ctx.SessionID), zap.Error(err))
		} else {
			s.usage = &u
		}
	}
	s.loaded = true
	return nil
}

func (h *hookFacts) saveUsage(s *hookSession) error {
	if h.store == nil {
		return nil
	}
	b, err := json.Marshal(s.usage)
	if err != nil {
		return err
	}
	if err := h.store.Set(context.Background(), hookStatePrefix+s.ctx.SessionID, b); err != nil {
		return fmt.Errorf("saving the usage hooks reported for session %s: %w", s.ctx.SessionID, err)
	}
	return nil
}

// sourceHook marks usage counted from a hook payload's usage object.
const sourceHook = "hook"
