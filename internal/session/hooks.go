package session

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// HookKind is what a hook payload reports, as hook accounting tells
// payloads apart.
type HookKind int

// Kinds of hook payloads.
const (
	// HookOther is counted as an invocation only: a prompt, an agent
	// stop, a permission request, ...
	HookOther HookKind = iota
	HookSessionStart
	HookSessionEnd
	HookToolStart // before a tool call (preToolUse)
	HookToolEnd   // after a tool call (postToolUse, postToolUseFailure)
	HookSubagentStart
	HookSubagentStop
	HookError // an error the CLI reported (errorOccurred)
)

// HookEvent is one hook payload as hook accounting reads it. Package hook
// makes it from a decoded payload in either dialect (hook.Payload.Event);
// this package knows what each kind counts.
type HookEvent struct {
	Kind HookKind
	// Type is the hook type as the CLI's hook configuration names it
	// (sessionStart, preToolUse, ...): the type of its invocation.
	Type string
	Time time.Time
	Cwd  string
	// Traceparent is the CLI's own trace context, when its OpenTelemetry
	// export is on.
	Traceparent string
	// Agent is who the payload is about: the main agent, or the subagent
	// whose own hook it is.
	Agent Agent
	// Subagent is the subagent run a HookSubagentStart or HookSubagentStop
	// reports; its ID is empty when the payload names none.
	Subagent Agent
	// Resumed says that a HookSessionStart resumes a session.
	Resumed bool
	// Reason is why the session ended (HookSessionEnd) or an agent stopped.
	Reason string
	// Tool is the tool of a HookToolStart or HookToolEnd; Outcome is how a
	// HookToolEnd's call ended (OutcomeSuccess, OutcomeFailure).
	Tool    string
	Outcome string
	// Arguments and Result are the tool call's, with content capture only.
	Arguments, Result string
	// ErrorType, ErrorMessage and ErrorContext describe a HookError;
	// Recoverable says whether the CLI recovered from it (nil: not said).
	ErrorType, ErrorMessage, ErrorContext string
	Recoverable                           *bool
	// Context is the session's context a forwarder read from the
	// transcript, when the payload carries it: what a session counted from
	// hooks alone is attributed by.
	Context *Context
	// Usage is the session's usage so far, cumulative, when the payload
	// carries it (the forwarder adds it to every payload).
	Usage *UsageSummary
}

// Store keeps the usage a HookTracker accepted, and the payloads it
// delivered, across restarts. A storage extension's client
// (storage.Client) satisfies it. A tracker calls it from the goroutine
// that calls the tracker; trackers of different sessions call it
// concurrently, so it must be safe for concurrent use.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte) error
}

// HookOptions control a HookTracker.
type HookOptions struct {
	Options
	// Store keeps the usage accepted for each session; nil keeps it in
	// memory only.
	Store Store
	// Unreadable is told about a stored value that does not decode; the
	// session's usage is then counted anew from its next payload. nil:
	// nobody is told.
	Unreadable func(sessionID string, err error)
}

// hookUsageKey prefixes the key under which a session's accepted usage is
// stored, as a UsageSummary in JSON, with the last payloads delivered
// (hookState).
const hookUsageKey = "hooks:usage:"

// maxOpenHookTools bounds the calls of one tool by one agent waiting for
// their postToolUse; over it the oldest is forgotten.
const maxOpenHookTools = 1000

// HookTracker follows one session from its hook payloads, as Tracker
// follows one from its transcript, and makes the same facts.
//
// A session counted from its transcript gets from its hooks only what the
// transcript does not keep: the invocations, the reason the session ended,
// and errors the CLI recovered from. A session counted from its hooks also
// gets its lifecycle from sessionStart and sessionEnd, tool calls paired
// first in, first out from preToolUse and postToolUse of the same tool and
// agent (the payloads carry no call id), subagent runs, and usage from the
// payloads' usage objects (Usage, Accept).
//
// Only the usage accepted and the last payloads delivered (Record) are kept
// in HookOptions.Store; open tool calls and subagent runs live as long as
// the tracker. It is not safe for concurrent use: the hook endpoint calls
// a session's tracker from one request at a time.
type HookTracker struct {
	opts      HookOptions
	ctx       *Context
	tools     map[string][]openHookTool // by agent and tool name, oldest first
	subagents map[string]time.Time      // start of the subagent runs, by instance id
	seq       int64                     // numbers the tool calls and subagent runs

	// The usage accepted: what the metrics counted, by model, with the
	// session's API time on the models it was given to.
	loaded   bool
	counted  ledger
	code     CodeTotals
	accepted *UsageSummary // nil until usage is accepted or read from the store

	// payloads are the last payloads delivered, oldest first, with the
	// signals that took them (see Delivered).
	payloads []hookPayloadMark
}

type openHookTool struct {
	start time.Time
	seq   int64
	links []TraceContext
	args  string
	agent Agent
}

// NewHookTracker returns the hook accounting of a session.
func NewHookTracker(sessionID string, opts HookOptions) *HookTracker {
	return &HookTracker{
		opts:      opts,
		ctx:       &Context{SessionID: sessionID},
		tools:     map[string][]openHookTool{},
		subagents: map[string]time.Time{},
		counted:   ledger{},
	}
}

// Context is the session's context as its hooks give it (the session id
// and the first working directory a payload names).
func (t *HookTracker) Context() *Context { return t.ctx }

// Apply applies one payload and appends its facts, besides usage, to out.
// fromTranscript says that the session is counted from its transcript;
// then tc, when not nil, is the session's context as the transcript gives
// it, which the facts carry. Call it once per payload: a payload applied
// twice pairs its tool calls twice.
func (t *HookTracker) Apply(ev *HookEvent, tc *Context, fromTranscript bool, out *Facts) {
	if t.ctx.Cwd == "" && ev.Cwd != "" {
		t.ctx.Cwd = ev.Cwd
	}
	if c := ev.Context; c != nil && t.ctx.Repository == "" && t.ctx.Branch == "" && t.ctx.GitRoot == "" {
		// The first payload that says where the session runs says it for
		// the session: its facts all carry one context.
		t.ctx.Repository, t.ctx.RepositoryHost, t.ctx.Branch = c.Repository, c.RepositoryHost, c.Branch
		t.ctx.GitRoot, t.ctx.HeadCommit = c.GitRoot, c.HeadCommit
	}
	ctx := t.ctx
	if fromTranscript && tc != nil {
		ctx = tc
	}
	out.Hooks = append(out.Hooks, HookFact{Ctx: ctx, Time: ev.Time, Type: ev.Type, Reason: ev.Reason})
	switch ev.Kind {
	case HookSessionEnd:
		out.Ends = append(out.Ends, EndFact{Ctx: ctx, Time: ev.Time, Reason: ev.Reason, Usage: ev.Usage})
	case HookError:
		// An error the CLI could not recover from is also a session.error
		// in the transcript, counted from there.
		if !fromTranscript || ev.Recoverable == nil || *ev.Recoverable {
			typ := ev.ErrorType
			if typ == "" {
				typ = "error"
			}
			out.Errors = append(out.Errors, ErrorFact{
				Ctx: ctx, Time: ev.Time, Agent: Agent{ID: MainAgent, Name: MainAgent},
				Type: typ, Message: ev.ErrorMessage, Context: ev.ErrorContext,
			})
		}
	}
	if !fromTranscript {
		t.fromHooks(ev, out)
	}
}

// fromHooks adds what a session counted from its hooks is counted by,
// besides usage.
func (t *HookTracker) fromHooks(ev *HookEvent, out *Facts) {
	var links []TraceContext
	if tc, ok := ParseTraceparent(ev.Traceparent); ok {
		links = []TraceContext{tc}
	}
	toolKey := ev.Agent.ID + "\x00" + ev.Tool
	switch ev.Kind {
	case HookSessionStart:
		state := StateStarted
		if ev.Resumed {
			state = StateResumed
		}
		out.Lifecycle = append(out.Lifecycle, LifecycleFact{Ctx: t.ctx, Time: ev.Time, State: state})
	case HookSessionEnd:
		out.Lifecycle = append(out.Lifecycle, LifecycleFact{Ctx: t.ctx, Time: ev.Time, State: StateEnded})
		// Tool calls still open did not finish.
		for _, key := range slices.Sorted(maps.Keys(t.tools)) {
			_, name, _ := strings.Cut(key, "\x00")
			for _, ot := range t.tools[key] {
				out.Tools = append(out.Tools, t.toolFact(name, ot, ev.Time, OutcomeIncomplete, ""))
			}
		}
		clear(t.tools)
	case HookToolStart:
		t.seq++
		q := t.tools[toolKey]
		if len(q) >= maxOpenHookTools {
			q = q[1:] // a preToolUse without a postToolUse, long ago
		}
		t.tools[toolKey] = append(q, openHookTool{start: ev.Time, seq: t.seq, links: links, args: ev.Arguments, agent: ev.Agent})
	case HookToolEnd:
		ot := openHookTool{start: ev.Time, links: links, args: ev.Arguments, agent: ev.Agent}
		if q := t.tools[toolKey]; len(q) > 0 {
			ot, t.tools[toolKey] = q[0], q[1:]
			if len(t.tools[toolKey]) == 0 {
				delete(t.tools, toolKey)
			}
		} else {
			t.seq++
			ot.seq = t.seq
		}
		out.Tools = append(out.Tools, t.toolFact(ev.Tool, ot, ev.Time, ev.Outcome, ev.Result))
	case HookSubagentStart:
		if ev.Subagent.ID != "" {
			t.subagents[ev.Subagent.ID] = ev.Time
		}
	case HookSubagentStop:
		start, ok := t.subagents[ev.Subagent.ID]
		if !ok {
			start = ev.Time
		}
		delete(t.subagents, ev.Subagent.ID)
		t.seq++
		key := ev.Subagent.ID
		if key == "" {
			key = strconv.FormatInt(t.seq, 10)
		}
		out.Subagents = append(out.Subagents, SubagentFact{
			Ctx: t.ctx, Start: start, End: ev.Time,
			Span:    Span{ID: SpanID(t.ctx.SessionID, spanHookSubagent, key)},
			Agent:   ev.Subagent,
			Outcome: OutcomeCompleted,
		})
	}
}

func (t *HookTracker) toolFact(name string, ot openHookTool, end time.Time, outcome, result string) ToolFact {
	f := ToolFact{
		Ctx: t.ctx, Start: ot.start, End: end,
		Span:    Span{ID: SpanID(t.ctx.SessionID, spanHookTool, strconv.FormatInt(ot.seq, 10))},
		Name:    name,
		Agent:   ot.agent,
		Outcome: outcome,
		Links:   ot.links,
	}
	if t.opts.CaptureContent {
		f.Arguments, f.Result = ot.args, result
	}
	return f
}

// HookUsage is the usage accepted for a session once a payload's usage
// facts are delivered: what Usage found, for Accept.
type HookUsage struct {
	counted ledger
	code    CodeTotals
	summary UsageSummary
}

// Usage returns the facts of the usage ev reports beyond the usage
// accepted so far, and the usage to Accept once they are delivered; both
// nil when ev carries no usage object. It changes nothing: a payload
// refused downstream and sent again is worked out again from what was
// accepted, so nothing is counted twice.
//
// The usage object is cumulative, so a payload that arrives late (a
// spooled one) reports less and adds nothing. Each model counts what it
// reports beyond what was accepted for it, field by field (the difference
// the transcript side takes to a shutdown's totals; a premium cost at most
// 1e-9 above the accepted one is the rounding of a float sum, counted as
// nothing and left to the next payload). The object gives API time for the
// whole session only: new time goes to the model with the most new calls,
// and waits for a payload with new usage if this one has none. Usage has
// initiator and agent AgentUnknown. A sessionEnd also gets the session's
// summary.
func (t *HookTracker) Usage(ctx context.Context, ev *HookEvent) (*Facts, *HookUsage, error) {
	if ev.Usage == nil {
		return nil, nil, nil
	}
	if err := t.load(ctx); err != nil {
		return nil, nil, err
	}
	rep := ev.Usage
	next := &HookUsage{counted: t.counted.clone(), code: t.code}
	deltas := ledger{}
	for _, m := range slices.Sorted(maps.Keys(rep.ModelMetrics)) {
		// A model reported without usage is listed too.
		d := next.counted.raise(Key{Agent: AgentUnknown, Model: m}, modelUsage(rep.ModelMetrics[m]))
		if !d.IsZero() {
			deltas.add(Key{Agent: AgentUnknown, Model: m}, d)
		}
	}
	if dur := rep.TotalAPIDurationMs - t.counted.total().APIDurationMs; dur > 0 {
		if m := dominantModel(deltas, AgentUnknown, ""); m != "" {
			k := Key{Agent: AgentUnknown, Model: m}
			deltas.add(k, Usage{APIDurationMs: dur})
			next.counted.add(k, Usage{APIDurationMs: dur})
		}
	}
	f := &Facts{}
	for _, k := range deltas.keys() {
		f.Usage = append(f.Usage, UsageFact{
			Ctx: t.ctx, Source: SourceHook, Start: ev.Time, Time: ev.Time,
			Agent: Agent{ID: AgentUnknown, Name: AgentUnknown}, Model: k.Model, Initiator: InitiatorUnknown, Usage: *deltas[k],
		})
	}

	rc := rep.CodeChanges
	d := CodeTotals{
		LinesAdded:    max(rc.LinesAdded-t.code.LinesAdded, 0),
		LinesRemoved:  max(rc.LinesRemoved-t.code.LinesRemoved, 0),
		FilesModified: max(rc.FilesModified-t.code.FilesModified, 0),
	}
	if d != (CodeTotals{}) {
		next.code.LinesAdded += d.LinesAdded
		next.code.LinesRemoved += d.LinesRemoved
		next.code.FilesModified += d.FilesModified
		f.CodeChanges = append(f.CodeChanges, CodeChangeFact{
			Ctx: t.ctx, Start: ev.Time, Time: ev.Time,
			LinesAdded: d.LinesAdded, LinesRemoved: d.LinesRemoved, FilesModified: d.FilesModified,
		})
	}
	next.summary = summarize(next.counted, next.code)
	if ev.Kind == HookSessionEnd {
		f.Summaries = append(f.Summaries, SummaryFact{Ctx: t.ctx, Time: ev.Time, Usage: next.summary})
	}
	return f, next, nil
}

// Accept makes u, which the last call of Usage returned, the usage
// accepted for the session, and stores it.
func (t *HookTracker) Accept(ctx context.Context, u *HookUsage) error {
	return t.Record(ctx, u, "", nil)
}

// Accepted is the usage accepted for the session so far, read from the
// store the first time; nil when there is none.
func (t *HookTracker) Accepted(ctx context.Context) (*UsageSummary, error) {
	if err := t.load(ctx); err != nil {
		return nil, err
	}
	return t.accepted, nil
}

// load reads the usage accepted from the store, once.
func (t *HookTracker) load(ctx context.Context) error {
	if t.loaded || t.opts.Store == nil {
		t.loaded = true
		return nil
	}
	b, err := t.opts.Store.Get(ctx, hookUsageKey+t.ctx.SessionID)
	if err != nil {
		return fmt.Errorf("reading the usage hooks reported for session %s: %w", t.ctx.SessionID, err)
	}
	t.loaded = true
	if b == nil {
		return nil
	}
	var st storedHookState
	if err := json.Unmarshal(b, &st); err != nil {
		if t.opts.Unreadable != nil {
			t.opts.Unreadable(t.ctx.SessionID, err)
		}
		return nil
	}
	t.payloads = decodeStoredMarks(st.Payloads)
	if len(t.payloads) > HookPayloadsKept {
		t.payloads = t.payloads[len(t.payloads)-HookPayloadsKept:]
	}
	if st.UsageSummary == nil {
		return nil // payloads delivered, no usage accepted yet
	}
	u := st.UsageSummary
	// A summary has API time for the session only: it is put on the model
	// with the most calls (only a model's new usage ever carries new time).
	for m, ms := range u.ModelMetrics {
		t.counted.add(Key{Agent: AgentUnknown, Model: m}, modelUsage(ms))
	}
	if u.TotalAPIDurationMs > 0 {
		t.counted.add(Key{Agent: AgentUnknown, Model: dominantModel(t.counted, AgentUnknown, "")}, Usage{APIDurationMs: u.TotalAPIDurationMs})
	}
	t.code = CodeTotals{LinesAdded: u.CodeChanges.LinesAdded, LinesRemoved: u.CodeChanges.LinesRemoved, FilesModified: u.CodeChanges.FilesModified}
	s := summarize(t.counted, t.code)
	t.accepted = &s
	return nil
}
