// Package session accounts the usage of a Copilot CLI session from its
// transcript events and turns them into facts (usage, tool calls, spans,
// summaries) that the receiver converts to telemetry.
//
// # Accounting
//
// Usage is counted exactly once per model call and adds up to the CLI's own
// final accounting. The sources, in order of precedence:
//
//  1. session.usage_record (CLI 1.0.102 and later): one per model call,
//     counted once per (accounting.sourceSessionId, accounting.sequence).
//     A resumed session, a replaced or truncated file, a restart: a call
//     already counted is never counted again. Subagent calls carry their own
//     sourceSessionId and the envelope's agentId, and are attributed to that
//     subagent.
//  2. session.shutdown totals, at the end of each leg. Whatever the totals
//     report beyond what was counted from records is counted then, per
//     agent and model, as usage of unknown initiator: all usage of a CLI
//     that writes no records (before 1.0.102), and usage whose record was
//     lost to a damaged line. The accountingSnapshot is used when present,
//     else the flat totals. Since CLI 1.0.66 a shutdown reports the whole
//     session; before, only its leg. A shutdown that carries an
//     accountingSnapshot, accounting watermarks or agentMetrics is
//     cumulative (only cumulative CLIs write those); otherwise the event that
//     began the leg decides: a session.start by CLI 1.0.66 or later, or a
//     session.resume with a sessionLimits member (added in 1.0.66; a resume
//     names no CLI version, and a session started by an older CLI may be
//     resumed by a newer one).
//  3. session.usage_checkpoint: a running total during a leg. Its
//     accountingSnapshot, when present, is reconciled like a cumulative
//     shutdown; a bare totalNanoAiu is counted only while the session has no
//     usage records, attributed to the current model, and a later shutdown
//     never counts more in total than its own session total.
//
// A session that was killed (no shutdown) is counted from its usage records.
// Usage numbers that break the usage rule (transcript.CheckCount: negative,
// not whole, above 2^53) never reach a tracker: package transcript skips
// their line. A skipped shutdown is like a missing one (its records still
// count), and a skipped record like a lost one (the next shutdown's totals
// make up for it). An event that carries usage but no valid timestamp is
// not skipped (package transcript keeps it as repaired): it counts at the
// time of the event before it. Counted usage never decreases: if the
// receiver had counted more than a shutdown reports, nothing is taken back
// and the excess is reported by Stats.
package session

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
)

// Options control what a tracker reports.
type Options struct {
	// CaptureContent keeps prompts, responses and tool arguments and
	// results on the facts. The events must have been decoded with content
	// capture too.
	CaptureContent bool
}

// Stats counts what a tracker noticed besides facts.
type Stats struct {
	// DuplicateRecords are usage records already counted.
	DuplicateRecords int64
	// Excess counts reconciliations where the receiver had counted more
	// than the CLI's totals.
	Excess int64
	// OrphanCompletions are tool or subagent completions without a start.
	OrphanCompletions int64
}

// Tracker follows one session. It is not safe for concurrent use.
type Tracker struct {
	opts  Options
	st    state
	ctx   *Context
	stats Stats
}

type openInteraction struct {
	ID          string    `json:"id"`
	Start       time.Time `json:"start"`
	Last        time.Time `json:"last"`
	Turns       int       `json:"turns,omitempty"`
	AbortReason string    `json:"abort,omitempty"`
	Links       []string  `json:"links,omitempty"`
	Prompt      string    `json:"prompt,omitempty"`
	Response    string    `json:"resp,omitempty"`
}

type openTool struct {
	Name      string    `json:"name"`
	Start     time.Time `json:"start"`
	Agent     string    `json:"agent,omitempty"`
	Parent    spanKey   `json:"parent"`
	MCPServer string    `json:"mcp,omitempty"`
	Arguments string    `json:"args,omitempty"`
}

type openSubagent struct {
	Name       string    `json:"name"`
	ToolCallID string    `json:"tool"`
	Model      string    `json:"model,omitempty"`
	Start      time.Time `json:"start"`
}

// spanKey names a span of the session without its derived id, so that
// state stays readable and small.
type spanKey struct {
	Kind string `json:"k"`
	Key  string `json:"v"`
}

type state struct {
	SessionID string  `json:"sid"`
	Ctx       Context `json:"ctx"`
	Started   bool    `json:"started,omitempty"`
	Legs      int     `json:"legs,omitempty"` // start and resume events seen

	LegStart       time.Time  `json:"legStart"`
	LegCumulative  bool       `json:"legCum,omitempty"`
	LegOpen        bool       `json:"legOpen,omitempty"`
	LegSpanDone    bool       `json:"legSpanDone,omitempty"`
	LegRecords     int64      `json:"legRecords,omitempty"`
	LegUserMsgs    int64      `json:"legUserMsgs,omitempty"`
	UserMsgs       int64      `json:"userMsgs,omitempty"`
	Records        int64      `json:"records,omitempty"`
	Model          string     `json:"model,omitempty"`
	Counted        ledger     `json:"counted"`
	LegCounted     ledger     `json:"legCounted"`
	Code           CodeTotals `json:"code"`
	LastCheckpoint time.Time  `json:"lastCheckpoint"`

	Seen       map[string]*seqSet `json:"seen,omitempty"`
	SeenCalls  map[string]bool    `json:"seenCalls,omitempty"`
	AgentNames map[string]string  `json:"agents,omitempty"`

	Interaction  *openInteraction         `json:"interaction,omitempty"`
	PendingLinks []string                 `json:"pendingLinks,omitempty"`
	Tools        map[string]*openTool     `json:"tools,omitempty"`
	Subagents    map[string]*openSubagent `json:"subagents,omitempty"`

	LastEvent   time.Time `json:"lastEvent"`
	ReplayUntil time.Time `json:"replayUntil"`
	// IdleSummarized is the LastEvent of the leg's last idle summary: an
	// idle leg gets one more only after it gained events.
	IdleSummarized time.Time `json:"idleSummarized,omitzero"`

	// For the usage query: when the session started, and the tokens of
	// the main agent's last call.
	StartTime   time.Time `json:"startTime"`
	LastCallIn  int64     `json:"lastCallIn,omitempty"`
	LastCallOut int64     `json:"lastCallOut,omitempty"`
	// LastCallModel is the model of the main agent\'s last call, unless
	// the model was changed after it.
	LastCallModel string `json:"lastCallModel,omitempty"`
}

// New returns a tracker for a session whose id is expected to be
// sessionID (the transcript's directory name); session.start overrides it.
func New(sessionID string, opts Options) *Tracker {
	t := &Tracker{opts: opts}
	t.st.SessionID = sessionID
	t.st.Ctx.SessionID = sessionID
	t.init()
	return t
}

func (t *Tracker) init() {
	if t.st.Counted == nil {
		t.st.Counted = ledger{}
	}
	if t.st.LegCounted == nil {
		t.st.LegCounted = ledger{}
	}
	if t.st.Seen == nil {
		t.st.Seen = map[string]*seqSet{}
	}
	if t.st.AgentNames == nil {
		t.st.AgentNames = map[string]string{}
	}
	if t.st.Tools == nil {
		t.st.Tools = map[string]*openTool{}
	}
	if t.st.Subagents == nil {
		t.st.Subagents = map[string]*openSubagent{}
	}
	c := t.st.Ctx
	t.ctx = &c
}

// Context is the session's current context.
func (t *Tracker) Context() *Context { return t.ctx }

// LastEvent is the time of the newest event applied.
func (t *Tracker) LastEvent() time.Time { return t.st.LastEvent }

// Stats returns what the tracker noticed so far in this process.
func (t *Tracker) Stats() Stats { return t.stats }

// Summary is the session's usage counted so far.
func (t *Tracker) Summary() UsageSummary { return summarize(t.st.Counted, t.st.Code) }

// BeginReplay tells the tracker that its transcript is read again from the
// start (the file was truncated or replaced). Until an event newer than the
// newest one already applied arrives, only usage records are applied, and
// only those not counted yet.
func (t *Tracker) BeginReplay() { t.st.ReplayUntil = t.st.LastEvent }

// Apply applies one event and appends the facts it produces to out. A nil
// out applies the event without reporting anything (catching up on history
// that is not to be exported).
func (t *Tracker) Apply(ev *transcript.Event, out *Facts) {
	if out == nil {
		out = &Facts{}
	}
	if ev.Timestamp.IsZero() {
		// An event that carries usage but whose line had no valid
		// timestamp (the reader keeps it as repaired): its usage counts at
		// the time of the event before it rather than not at all. While
		// a file is read again this is at most ReplayUntil, so an event
		// of the part already applied stays applied once.
		at := *ev
		at.Timestamp = t.st.LastEvent
		ev = &at
	}
	if !t.st.ReplayUntil.IsZero() {
		if !ev.Timestamp.After(t.st.ReplayUntil) {
			if c, ok := ev.Data.(transcript.CallsReporter); ok {
				t.calls(ev, c, out)
			}
			return
		}
		t.st.ReplayUntil = time.Time{}
	}
	if ev.Timestamp.After(t.st.LastEvent) {
		t.st.LastEvent = ev.Timestamp
	}
	defer t.extendInteraction(ev)
	switch d := ev.Data.(type) {
	case *transcript.StartData:
		t.start(ev, d, out)
	case *transcript.ResumeData:
		t.resume(ev, d, out)
	case *transcript.WorkingContext:
		t.setContext(d)
	case *transcript.ModelChangeData:
		if ev.AgentID == "" && d.NewModel != "" {
			t.st.Model = d.NewModel
			t.st.LastCallModel = ""
		}
	case *transcript.UserMessageData:
		t.userMessage(ev, d, out)
	case *transcript.TurnStartData:
		if ev.AgentID == "" {
			if t.st.Interaction == nil || (d.InteractionID != "" && d.InteractionID != t.st.Interaction.ID) {
				t.openInteraction(d.InteractionID, ev.Timestamp, out)
			}
			t.st.Interaction.Turns++
		}
	case *transcript.AssistantMessageData:
		if ev.AgentID == "" && t.st.Interaction != nil && t.opts.CaptureContent && d.Content != "" {
			t.st.Interaction.Response = d.Content
		}
	case *transcript.CheckpointData:
		t.checkpoint(ev, d, out)
	case *transcript.ShutdownData:
		t.shutdown(ev, d, out)
	case *transcript.ToolStartData:
		t.toolStart(ev, d)
	case *transcript.ToolCompleteData:
		t.toolComplete(ev, d, out)
	case *transcript.SubagentData:
		t.subagent(ev, d, out)
	case *transcript.ErrorData:
		out.Errors = append(out.Errors, ErrorFact{
			Ctx: t.ctx, Time: ev.Timestamp, Agent: t.agent(ev.AgentID),
			Type: d.ErrorType, Code: d.ErrorCode, Message: d.Message, StatusCode: d.StatusCode.V,
			Span:    t.spanID(t.currentParent(ev.AgentID)),
			Context: ErrorContextSession,
		})
	case *transcript.AbortData:
		if t.st.Interaction != nil {
			t.st.Interaction.AbortReason = d.Reason
		}
	case *transcript.CompactionData:
		out.Compactions = append(out.Compactions, CompactionFact{Ctx: t.ctx, Time: ev.Timestamp, Success: d.Success, Trigger: d.Trigger})
	case *transcript.HookStartData:
		t.hookStart(d)
	case transcript.CallsReporter:
		t.calls(ev, d, out)
	case transcript.TotalsReporter:
		tot, wm := d.SessionTotals()
		if tot != nil {
			t.reconcile(tot, true, SourceCheckpoint, ev.Timestamp, out)
			t.reconcileCode(tot.CodeChanges, true, ev.Timestamp, out)
		}
		t.raiseWatermarks(wm)
		t.st.LastCheckpoint = ev.Timestamp
	}
}

// extendInteraction makes the open interaction last at least until ev,
// which the agents did for it. Hooks and lifecycle events do not extend
// it: sessionEnd hooks and the shutdown come after the interaction is over.
func (t *Tracker) extendInteraction(ev *transcript.Event) {
	in := t.st.Interaction
	if in == nil || ev.Timestamp.Before(in.Last) {
		return
	}
	switch ev.Type {
	case transcript.TypeHookStart, "hook.end", transcript.TypeSessionShutdown,
		transcript.TypeSessionStart, transcript.TypeSessionResume:
		return
	}
	in.Last = ev.Timestamp
}

func (t *Tracker) start(ev *transcript.Event, d *transcript.StartData, out *Facts) {
	if t.st.Started {
		return
	}
	t.st.Started = true
	if d.SessionID != "" {
		t.st.SessionID = d.SessionID
	}
	t.st.Ctx.CLIVersion = d.CopilotVersion
	t.st.Ctx.SessionID = t.st.SessionID
	t.setContext(d.Context)
	t.beginLeg(ev.Timestamp, parseTime(d.StartTime, ev.Timestamp), versionAtLeast(d.CopilotVersion, 1, 0, 66), d.SelectedModel)
	t.st.StartTime = t.st.LegStart
	out.Lifecycle = append(out.Lifecycle, LifecycleFact{Ctx: t.ctx, Time: ev.Timestamp, State: StateStarted, Leg: t.leg()})
}

func (t *Tracker) resume(ev *transcript.Event, d *transcript.ResumeData, out *Facts) {
	if t.st.LegOpen {
		// The previous leg ended without a shutdown (the CLI was killed).
		t.closeSpans(t.st.LastEvent, out)
		t.endLegSpan(t.st.LastEvent, LegEndIdle, "", out)
	}
	t.setContext(d.Context)
	t.beginLeg(ev.Timestamp, parseTime(d.ResumeTime, ev.Timestamp), d.WritesCumulativeShutdown, d.SelectedModel)
	if t.st.StartTime.IsZero() {
		t.st.StartTime = t.st.LegStart
	}
	out.Lifecycle = append(out.Lifecycle, LifecycleFact{Ctx: t.ctx, Time: ev.Timestamp, State: StateResumed, Leg: t.leg()})
}

func (t *Tracker) beginLeg(ts, start time.Time, cumulative bool, model string) {
	t.st.Legs++
	t.st.LegStart = start
	if start.IsZero() || start.After(ts) {
		t.st.LegStart = ts
	}
	t.st.LegCumulative = cumulative
	t.st.LegOpen = true
	t.st.LegSpanDone = false
	t.st.LegRecords = 0
	t.st.LegUserMsgs = 0
	t.st.LegCounted = ledger{}
	t.st.LastCheckpoint = time.Time{}
	if model != "" {
		t.st.Model = model
	}
}

// leg is the index of the current leg, 0 for the first.
func (t *Tracker) leg() int { return max(t.st.Legs-1, 0) }

func (t *Tracker) setContext(c *transcript.WorkingContext) {
	if c == nil {
		return
	}
	n := t.st.Ctx
	n.Cwd, n.GitRoot, n.Repository, n.RepositoryHost = c.Cwd, c.GitRoot, c.Repository, c.RepositoryHost
	n.Branch, n.HeadCommit = c.Branch, c.HeadCommit
	if n != *t.ctx {
		t.st.Ctx = n
		c := n
		t.ctx = &c
	}
}

func (t *Tracker) userMessage(ev *transcript.Event, d *transcript.UserMessageData, out *Facts) {
	if !d.FromUser(ev.AgentID) {
		return
	}
	t.st.UserMsgs++
	t.st.LegUserMsgs++
	if t.st.Interaction == nil || d.InteractionID == "" || d.InteractionID != t.st.Interaction.ID {
		t.openInteraction(d.InteractionID, ev.Timestamp, out)
	}
	if t.opts.CaptureContent {
		t.st.Interaction.Prompt = d.Content
	}
}

func (t *Tracker) openInteraction(id string, ts time.Time, out *Facts) {
	t.closeInteraction(out)
	if id == "" {
		id = "leg-" + strconv.Itoa(t.leg()) + "@" + ts.UTC().Format(time.RFC3339Nano)
	}
	t.st.Interaction = &openInteraction{ID: id, Start: ts, Last: ts, Links: t.st.PendingLinks}
	t.st.PendingLinks = nil
}

func (t *Tracker) closeInteraction(out *Facts) {
	in := t.st.Interaction
	if in == nil {
		return
	}
	t.st.Interaction = nil
	f := InteractionFact{
		Ctx: t.ctx, Start: in.Start, End: in.Last, ID: in.ID, Turns: in.Turns,
		AbortReason: in.AbortReason, Prompt: in.Prompt, Response: in.Response,
		Span: Span{ID: t.spanID(spanKey{spanInteraction, in.ID}), Parent: t.spanID(t.legKey())},
	}
	for _, l := range in.Links {
		if tc, ok := ParseTraceparent(l); ok {
			f.Links = append(f.Links, tc)
		}
	}
	out.Interactions = append(out.Interactions, f)
}

func (t *Tracker) hookStart(d *transcript.HookStartData) {
	if d.Traceparent == "" {
		return
	}
	if _, ok := ParseTraceparent(d.Traceparent); !ok {
		return
	}
	// A prompt's hook runs before the prompt's user.message: its trace
	// context belongs to the interaction that message opens.
	if d.HookType == "userPromptSubmitted" || d.HookType == "sessionStart" || t.st.Interaction == nil {
		t.st.PendingLinks = appendUnique(t.st.PendingLinks, d.Traceparent)
		return
	}
	t.st.Interaction.Links = appendUnique(t.st.Interaction.Links, d.Traceparent)
}

func appendUnique(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}

func (t *Tracker) agent(agentID string) Agent {
	if agentID == "" || agentID == MainAgent {
		return Agent{ID: MainAgent, Name: MainAgent}
	}
	name := t.st.AgentNames[agentID]
	if name == "" {
		name = "unknown"
	}
	return Agent{ID: agentID, Name: name}
}

func (t *Tracker) legKey() spanKey { return spanKey{spanLeg, strconv.Itoa(t.leg())} }

// currentParent is the span that work of an agent belongs to now.
func (t *Tracker) currentParent(agentID string) spanKey {
	if agentID != "" {
		return spanKey{spanSubagent, agentID}
	}
	if t.st.Interaction != nil {
		return spanKey{spanInteraction, t.st.Interaction.ID}
	}
	return t.legKey()
}

func (t *Tracker) spanID(k spanKey) [8]byte { return SpanID(t.st.SessionID, k.Kind, k.Key) }

// calls counts the model calls an event reports (a usage record: one).
func (t *Tracker) calls(ev *transcript.Event, c transcript.CallsReporter, out *Facts) {
	n := c.Calls()
	for i := range n {
		t.call(ev, c.Call(i), i, n, out)
	}
}

// call counts the i-th of the n model calls an event reports, once.
func (t *Tracker) call(ev *transcript.Event, u *transcript.UsageData, i, n int, out *Facts) {
	var callKey string
	switch {
	case u.Accounting != nil && u.Accounting.SourceSessionID != "" && u.Accounting.Sequence.Set:
		src, seq := u.Accounting.SourceSessionID, u.Accounting.Sequence.V
		s := t.st.Seen[src]
		if s == nil {
			s = &seqSet{}
			t.st.Seen[src] = s
		}
		if !s.add(seq) {
			t.stats.DuplicateRecords++
			return
		}
		callKey = src + "/" + strconv.FormatInt(seq, 10)
	case u.APICallID != "":
		if t.st.SeenCalls == nil {
			t.st.SeenCalls = map[string]bool{}
		}
		if t.st.SeenCalls[u.APICallID] {
			t.stats.DuplicateRecords++
			return
		}
		t.st.SeenCalls[u.APICallID] = true
		callKey = "call/" + u.APICallID
	default:
		// Nothing identifies the call; it is counted as it comes.
		callKey = "event/" + ev.ID
		if n > 1 {
			callKey += "/" + strconv.Itoa(i)
		}
	}
	usage := recordUsage(u)
	agent := t.agent(ev.AgentID)
	key := Key{Agent: agent.ID, Model: u.Model}
	t.st.Counted.add(key, usage)
	t.st.LegCounted.add(key, usage)
	t.st.Records++
	t.st.LegRecords++
	if agent.ID == MainAgent {
		t.st.LastCallIn, t.st.LastCallOut = usage.InputTokens, usage.OutputTokens
		t.st.LastCallModel = u.Model
	}

	f := UsageFact{
		Ctx: t.ctx, Source: SourceRecord, Time: ev.Timestamp,
		Start:     ev.Timestamp.Add(-time.Duration(u.Duration.V) * time.Millisecond),
		Agent:     agent,
		Model:     u.Model,
		Initiator: u.Initiator,
		Usage:     usage,
		Span: Span{
			ID:     SpanID(t.st.SessionID, spanChat, callKey),
			Parent: t.spanID(t.currentParent(ev.AgentID)),
		},
		TTFTMs: u.TimeToFirstTokenMs, HasTTFT: u.TimeToFirstTokenMs > 0,
		APICallID: u.APICallID, FinishReason: u.FinishReason,
		IsByok: u.IsByok, ProviderType: u.ProviderType,
	}
	if f.Initiator == "" {
		f.Initiator = InitiatorUnknown
	}
	if u.Accounting != nil {
		f.SourceSessionID, f.Sequence = u.Accounting.SourceSessionID, u.Accounting.Sequence.V
	}
	if ev.AgentID == "" && t.st.Interaction != nil {
		f.InteractionID = t.st.Interaction.ID
	}
	out.Usage = append(out.Usage, f)
}

func (t *Tracker) checkpoint(ev *transcript.Event, d *transcript.CheckpointData, out *Facts) {
	switch {
	case d.Snapshot != nil:
		t.reconcile(d.Snapshot, true, SourceCheckpoint, ev.Timestamp, out)
		t.reconcileCode(d.Snapshot.CodeChanges, true, ev.Timestamp, out)
	case t.st.Records == 0 && d.TotalNanoAIU.Set:
		// Only a running nano-AIU total: counted on the current model
		// while nothing better is known.
		have := t.st.Counted.total().NanoAIU
		if delta := d.TotalNanoAIU.V - have; delta > 0 {
			key := Key{Agent: MainAgent, Model: t.st.Model}
			t.emitAdjustment(key, Usage{NanoAIU: delta}, SourceCheckpoint, t.since(), ev.Timestamp, out)
		}
	}
	t.raiseWatermarks(d.Watermarks)
	t.st.LastCheckpoint = ev.Timestamp
}

func (t *Tracker) since() time.Time {
	if !t.st.LastCheckpoint.IsZero() {
		return t.st.LastCheckpoint
	}
	return t.st.LegStart
}

func (t *Tracker) shutdown(ev *transcript.Event, d *transcript.ShutdownData, out *Facts) {
	cumulative := d.Cumulative || t.st.LegCumulative
	if tot := d.Totals(); tot != nil {
		t.reconcile(tot, cumulative, SourceShutdown, ev.Timestamp, out)
		t.reconcileCode(tot.CodeChanges, cumulative, ev.Timestamp, out)
	}
	t.raiseWatermarks(d.Watermarks)
	t.closeSpans(ev.Timestamp, out)
	t.endLegSpan(ev.Timestamp, LegEndShutdown, d.ShutdownType, out)
	out.Summaries = append(out.Summaries, SummaryFact{
		Ctx: t.ctx, Time: ev.Timestamp, Leg: t.leg(), ShutdownType: d.ShutdownType, Usage: t.Summary(),
	})
	out.Lifecycle = append(out.Lifecycle, LifecycleFact{Ctx: t.ctx, Time: ev.Timestamp, State: StateEnded, Leg: t.leg(), ShutdownType: d.ShutdownType})
	t.st.LegOpen = false
	t.st.LastCheckpoint = time.Time{}
}

func (t *Tracker) raiseWatermarks(w map[string]int64) {
	for src, seq := range w {
		s := t.st.Seen[src]
		if s == nil {
			s = &seqSet{}
			t.st.Seen[src] = s
		}
		s.raise(seq)
	}
}

// reconcile counts what the CLI's totals report beyond what was counted.
// The totals by model (modelMetrics) are the authority; the split by agent
// (agentMetrics) only says which agent the difference belongs to, because a
// CLI that resumes an older session reports every model's session total but
// only its own leg by agent. Whatever no agent's figures account for goes to
// the main agent.
func (t *Tracker) reconcile(tot *transcript.Totals, cumulative bool, source string, ts time.Time, out *Facts) {
	base := t.st.Counted
	if !cumulative {
		base = t.st.LegCounted
	}
	byAgent := ledger{}
	agentDur := map[string]int64{}
	for _, am := range tot.AgentMetrics {
		a := am.Agent
		if a != MainAgent && am.AgentName != "" {
			t.st.AgentNames[a] = am.AgentName
		}
		for _, mm := range am.ModelMetrics {
			byAgent.add(Key{Agent: a, Model: mm.Model}, metricUsage(mm))
		}
		agentDur[a] = am.TotalAPIDuration.V
	}
	byModel := map[string]Usage{}
	for _, mm := range tot.ModelMetrics {
		byModel[mm.Model] = metricUsage(mm)
	}
	if len(byModel) == 0 {
		for _, k := range byAgent.keys() {
			u := byModel[k.Model]
			u.Add(*byAgent[k])
			byModel[k.Model] = u
		}
	}

	deltas := ledger{}
	for _, m := range slices.Sorted(maps.Keys(byModel)) {
		var have Usage
		for _, k := range base.keys() {
			if k.Model == m {
				have.Add(*base[k])
			}
		}
		if excess(byModel[m], have) {
			t.stats.Excess++
		}
		remaining := shortfall(byModel[m], have)
		// Give each subagent what its own figures show it is owed; the
		// main agent gets the rest.
		for _, k := range byAgent.keys() {
			if k.Model != m || k.Agent == MainAgent {
				continue
			}
			owed := shortfall(*byAgent[k], base.get(k))
			if give := takeUpTo(&remaining, owed); !give.IsZero() {
				deltas.add(k, give)
			}
		}
		if !remaining.IsZero() {
			deltas.add(Key{Agent: MainAgent, Model: m}, remaining)
		}
	}

	// API time: the session total, split by agent as far as the agents'
	// figures go.
	durLeft := tot.APIDurationMs.V - base.total().APIDurationMs
	for _, a := range slices.Sorted(maps.Keys(agentDur)) {
		if a == MainAgent || durLeft <= 0 {
			continue
		}
		if d := min(agentDur[a]-base.agentTotal(a).APIDurationMs, durLeft); d > 0 {
			spreadDuration(deltas, a, d, dominantModel(byAgent, a, t.st.Model))
			durLeft -= d
		}
	}
	if durLeft > 0 {
		spreadDuration(deltas, MainAgent, durLeft, dominantModel(modelLedger(byModel), MainAgent, t.st.Model))
	}

	// User requests: the snapshot's session total; without one, the prompts
	// typed in the leg (or in the session, for cumulative totals).
	userTarget := t.st.LegUserMsgs
	switch {
	case tot.UserRequests.Set:
		userTarget = tot.UserRequests.V
	case cumulative:
		userTarget = t.st.UserMsgs
	}
	if d := userTarget - base.total().UserRequests; d > 0 {
		deltas.add(Key{Agent: MainAgent, Model: dominantModel(modelLedger(byModel), MainAgent, t.st.Model)}, Usage{UserRequests: d})
	}

	// Never count more in total than the session totals report.
	have := base.total()
	if tot.NanoAIU.Set {
		capField(deltas, tot.NanoAIU.V-have.NanoAIU, func(u *Usage) *int64 { return &u.NanoAIU })
	}
	if tot.HasPremium {
		capCost(deltas, tot.PremiumRequestCost-have.PremiumCost)
	}
	for _, k := range deltas.keys() {
		t.emitAdjustment(k, *deltas[k], source, t.since(), ts, out)
	}
}

// spreadDuration gives an agent's API time that the totals report beyond
// what was counted to the agent's calls counted in the same
// reconciliation, in proportion to their number per model (largest
// remainders get the odd milliseconds), so that the calls and their time
// stay together; with no such calls, to fallback.
func spreadDuration(deltas ledger, agent string, ms int64, fallback string) {
	var calls int64
	var keys []Key
	for _, k := range deltas.keys() {
		if k.Agent == agent && deltas[k].Requests > 0 {
			calls += deltas[k].Requests
			keys = append(keys, k)
		}
	}
	if calls == 0 {
		deltas.add(Key{Agent: agent, Model: fallback}, Usage{APIDurationMs: ms})
		return
	}
	type share struct {
		k   Key
		ms  int64
		rem int64
	}
	shares := make([]share, len(keys))
	given := int64(0)
	for i, k := range keys {
		n := deltas[k].Requests
		shares[i] = share{k: k, ms: ms * n / calls, rem: ms * n % calls}
		given += shares[i].ms
	}
	sort.SliceStable(shares, func(i, j int) bool { return shares[i].rem > shares[j].rem })
	for i := 0; given < ms; i++ {
		shares[i%len(shares)].ms++
		given++
	}
	for _, s := range shares {
		deltas.add(s.k, Usage{APIDurationMs: s.ms})
	}
}

// modelLedger puts usage by model on the main agent, for dominantModel.
func modelLedger(byModel map[string]Usage) ledger {
	l := ledger{}
	for m, u := range byModel {
		l.add(Key{Agent: MainAgent, Model: m}, u)
	}
	return l
}

func (t *Tracker) emitAdjustment(k Key, d Usage, source string, start, ts time.Time, out *Facts) {
	if d.IsZero() {
		return
	}
	t.st.Counted.add(k, d)
	t.st.LegCounted.add(k, d)
	if start.IsZero() || start.After(ts) {
		start = ts
	}
	out.Usage = append(out.Usage, UsageFact{
		Ctx: t.ctx, Source: source, Start: start, Time: ts,
		Agent: t.agent(agentIDOf(k.Agent)), Model: k.Model, Initiator: InitiatorUnknown, Usage: d,
	})
}

func agentIDOf(key string) string {
	if key == MainAgent {
		return ""
	}
	return key
}

// dominantModel is the model an agent made most calls with in the totals,
// where usage that the totals do not split by model is put.
func dominantModel(target ledger, agent, fallback string) string {
	best, n := "", int64(-1)
	for _, k := range target.keys() {
		if k.Agent == agent && target[k].Requests > n {
			best, n = k.Model, target[k].Requests
		}
	}
	if best == "" {
		return fallback
	}
	return best
}

// capField lowers the deltas of one integer field, in key order, so that
// their sum does not exceed limit.
func capField(deltas ledger, limit int64, field func(*Usage) *int64) {
	limit = max(limit, 0)
	for _, k := range deltas.keys() {
		p := field(deltas[k])
		if *p > limit {
			*p = limit
		}
		limit -= *p
	}
}

func capCost(deltas ledger, limit float64) {
	limit = max(limit, 0)
	for _, k := range deltas.keys() {
		u := deltas[k]
		if u.PremiumCost > limit+costEpsilon {
			u.PremiumCost = limit
		}
		limit -= u.PremiumCost
	}
}

func (t *Tracker) reconcileCode(c transcript.CodeChanges, cumulative bool, ts time.Time, out *Facts) {
	target := CodeTotals{LinesAdded: c.LinesAdded.V, LinesRemoved: c.LinesRemoved.V, FilesModified: c.Files()}
	base := t.st.Code
	if !cumulative {
		base = CodeTotals{}
	}
	d := CodeTotals{
		LinesAdded:    max(target.LinesAdded-base.LinesAdded, 0),
		LinesRemoved:  max(target.LinesRemoved-base.LinesRemoved, 0),
		FilesModified: max(target.FilesModified-base.FilesModified, 0),
	}
	if d == (CodeTotals{}) {
		return
	}
	t.st.Code.LinesAdded += d.LinesAdded
	t.st.Code.LinesRemoved += d.LinesRemoved
	t.st.Code.FilesModified += d.FilesModified
	out.CodeChanges = append(out.CodeChanges, CodeChangeFact{
		Ctx: t.ctx, Start: t.st.LegStart, Time: ts,
		LinesAdded: d.LinesAdded, LinesRemoved: d.LinesRemoved, FilesModified: d.FilesModified,
	})
}

func (t *Tracker) toolStart(ev *transcript.Event, d *transcript.ToolStartData) {
	t.st.Tools[d.ToolCallID] = &openTool{
		Name: d.ToolName, Start: ev.Timestamp, Agent: ev.AgentID,
		Parent: t.currentParent(ev.AgentID), MCPServer: d.MCPServerName, Arguments: d.Arguments,
	}
}

func (t *Tracker) toolComplete(ev *transcript.Event, d *transcript.ToolCompleteData, out *Facts) {
	tool := t.st.Tools[d.ToolCallID]
	if tool == nil {
		t.stats.OrphanCompletions++
		tool = &openTool{Name: "unknown", Start: ev.Timestamp, Agent: ev.AgentID, Parent: t.currentParent(ev.AgentID)}
	}
	delete(t.st.Tools, d.ToolCallID)
	f := t.toolFact(d.ToolCallID, tool, ev.Timestamp)
	f.Outcome = OutcomeSuccess
	if !d.Success {
		f.Outcome = OutcomeFailure
	}
	if d.Error != nil {
		f.ErrorCode = d.Error.Code
	}
	if d.ShellExecution != nil && d.ShellExecution.ExitCode.Set {
		v := d.ShellExecution.ExitCode.V
		f.ExitCode = &v
	}
	if t.opts.CaptureContent {
		f.Result = d.Result
	}
	out.Tools = append(out.Tools, f)
}

func (t *Tracker) toolFact(callID string, tool *openTool, end time.Time) ToolFact {
	f := ToolFact{
		Ctx: t.ctx, Start: tool.Start, End: end, Name: tool.Name, CallID: callID,
		MCPServer: tool.MCPServer, Agent: t.agent(tool.Agent), Outcome: OutcomeIncomplete,
		Span: Span{ID: t.spanID(spanKey{spanTool, callID}), Parent: t.spanID(tool.Parent)},
	}
	if t.opts.CaptureContent {
		f.Arguments = tool.Arguments
	}
	return f
}

func (t *Tracker) subagent(ev *transcript.Event, d *transcript.SubagentData, out *Facts) {
	id := ev.AgentID
	if id == "" {
		id = "tool:" + d.ToolCallID
	}
	if ev.Type == transcript.TypeSubagentStarted {
		if d.AgentName != "" {
			t.st.AgentNames[id] = d.AgentName
		}
		t.st.Subagents[id] = &openSubagent{Name: d.AgentName, ToolCallID: d.ToolCallID, Model: d.Model, Start: ev.Timestamp}
		return
	}
	sa := t.st.Subagents[id]
	if sa == nil {
		t.stats.OrphanCompletions++
		sa = &openSubagent{Name: d.AgentName, ToolCallID: d.ToolCallID, Model: d.Model, Start: ev.Timestamp}
	}
	delete(t.st.Subagents, id)
	f := t.subagentFact(id, sa, ev.Timestamp)
	switch {
	case ev.Type == transcript.TypeSubagentFailed:
		f.Outcome, f.Error = OutcomeFailed, d.Error
	case d.Cancelled:
		f.Outcome = OutcomeCancelled
	default:
		f.Outcome = OutcomeCompleted
	}
	if d.Model != "" {
		f.Model = d.Model
	}
	f.ToolCalls, f.TotalTokens = d.TotalToolCalls.V, d.TotalTokens.V
	out.Subagents = append(out.Subagents, f)
}

func (t *Tracker) subagentFact(id string, sa *openSubagent, end time.Time) SubagentFact {
	name := sa.Name
	if name == "" {
		name = t.agent(id).Name
	}
	return SubagentFact{
		Ctx: t.ctx, Start: sa.Start, End: end, Agent: Agent{ID: id, Name: name},
		ToolCallID: sa.ToolCallID, Model: sa.Model, Outcome: OutcomeIncomplete,
		Span: Span{ID: t.spanID(spanKey{spanSubagent, id}), Parent: t.spanID(spanKey{spanTool, sa.ToolCallID})},
	}
}

// closeSpans ends the open interaction, tool calls and subagent runs at end.
func (t *Tracker) closeSpans(end time.Time, out *Facts) {
	for _, id := range sortedKeys(t.st.Subagents) {
		out.Subagents = append(out.Subagents, t.subagentFact(id, t.st.Subagents[id], end))
	}
	clear(t.st.Subagents)
	for _, id := range sortedKeys(t.st.Tools) {
		out.Tools = append(out.Tools, t.toolFact(id, t.st.Tools[id], end))
	}
	clear(t.st.Tools)
	t.closeInteraction(out)
}

func (t *Tracker) endLegSpan(end time.Time, reason, shutdownType string, out *Facts) {
	if t.st.LegSpanDone || t.st.Legs == 0 {
		return
	}
	t.st.LegSpanDone = true
	k := t.legKey()
	f := LegFact{
		Ctx: t.ctx, Start: t.st.LegStart, End: end, Leg: t.leg(), EndReason: reason,
		ShutdownType: shutdownType, Model: t.st.Model,
		Span: Span{ID: t.spanID(k)},
	}
	if t.leg() > 0 {
		f.Span.Parent = LegSpanID(t.st.SessionID, 0)
	}
	if f.End.Before(f.Start) {
		f.End = f.Start
	}
	out.Legs = append(out.Legs, f)
}

// Idle ends what is open in the session at its last event: the interaction,
// tool calls and subagent runs still running, and the leg's span. Call it
// when the transcript has not grown for a while, so that a session that was
// killed still shows up whole. Usage is not affected; a later shutdown is
// still reconciled.
func (t *Tracker) Idle(out *Facts) {
	if !t.st.LegOpen {
		return
	}
	t.closeSpans(t.st.LastEvent, out)
	t.endLegSpan(t.st.LastEvent, LegEndIdle, "", out)
	if t.st.Legs > 0 && !t.st.LastEvent.Equal(t.st.IdleSummarized) {
		// No shutdown will say what the leg used (the CLI was killed, or
		// is quiet): its usage so far, as counted, is the summary.
		t.st.IdleSummarized = t.st.LastEvent
		out.Summaries = append(out.Summaries, SummaryFact{
			Ctx: t.ctx, Time: t.st.LastEvent, Leg: t.leg(), ShutdownType: ShutdownIdle, Usage: t.Summary(),
		})
	}
}

// Open reports whether Idle would end something: the session has a leg
// without a shutdown whose span, or an interaction, tool call or subagent
// run of which, is still open, or which gained events since its last idle
// summary.
func (t *Tracker) Open() bool {
	if !t.st.LegOpen {
		return false
	}
	return !t.st.LegSpanDone || t.st.Interaction != nil || len(t.st.Tools) > 0 || len(t.st.Subagents) > 0 ||
		(t.st.Legs > 0 && !t.st.LastEvent.Equal(t.st.IdleSummarized))
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

func parseTime(s string, fallback time.Time) time.Time {
	if s == "" {
		return fallback
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fallback
	}
	return ts
}

// versionAtLeast compares a CLI version such as "1.0.66" or "1.0.66-2"
// with major.minor.patch; a pre-release is older than its release.
func versionAtLeast(v string, major, minor, patch int) bool {
	core, pre, _ := strings.Cut(strings.TrimPrefix(v, "v"), "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return false
	}
	want := []int{major, minor, patch}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return false
		}
		if n != want[i] {
			return n > want[i]
		}
	}
	return pre == ""
}

// stateVersion is the version of the persisted state; Restore rejects
// others, and the caller then reads the transcript from its start.
const stateVersion = 1

type persisted struct {
	Version int   `json:"v"`
	State   state `json:"s"`
}

// MarshalState returns the tracker's state, to be restored by Restore: the
// JSON encoding/json makes of persisted, written by appendState without
// reflection.
func (t *Tracker) MarshalState() ([]byte, error) {
	return marshalState(&t.st)
}

// Restore returns a tracker in the state MarshalState returned.
func Restore(data []byte, opts Options) (*Tracker, error) {
	var p persisted
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("session state is not readable: %w", err)
	}
	if p.Version != stateVersion {
		return nil, fmt.Errorf("session state has version %d, this build reads version %d", p.Version, stateVersion)
	}
	t := &Tracker{opts: opts, st: p.State}
	t.init()
	return t, nil
}
