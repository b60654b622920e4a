package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
)

var bg = context.Background()

// report is a usage object with the session's API time and, per model
// (name, calls, input tokens, premium cost), 10 output tokens and 1000
// nano-AIU a call, every call by the user.
func report(apiMs int64, models ...any) *UsageSummary {
	u := &UsageSummary{TotalAPIDurationMs: apiMs, ModelMetrics: map[string]ModelSummary{}}
	for i := 0; i+4 <= len(models); i += 4 {
		calls, in, cost := models[i+1].(int), models[i+2].(int), models[i+3].(float64)
		u.ModelMetrics[models[i].(string)] = ModelSummary{
			Requests:     RequestSummary{Count: int64(calls), UserInitiated: int64(calls), PremiumCost: cost},
			Usage:        TokenSummary{InputTokens: int64(in), OutputTokens: int64(calls * 10)},
			TotalNanoAIU: int64(calls * 1000),
		}
	}
	return u
}

// TestHookUsage: a session's cumulative usage objects become differences
// to what was accepted, per model and field: retries, payloads sent twice
// and late ones count nothing twice; usage going backwards counts nothing.
func TestHookUsage(t *testing.T) {
	type step struct {
		usage  *UsageSummary
		refuse bool // the facts are not delivered: nothing is accepted
		want   map[string]Usage
	}
	// minus is a float difference at run time, as the tracker takes it.
	minus := func(a, b float64) float64 { return a - b }
	calls := func(n, in int64, cost float64, ms int64) Usage {
		return Usage{Requests: n, UserRequests: n, InputTokens: in, OutputTokens: 10 * n, NanoAIU: 1000 * n, PremiumCost: cost, APIDurationMs: ms}
	}
	for name, steps := range map[string][]step{
		"sent twice": {
			{usage: report(100, "gpt-5", 2, 500, 2.0), want: map[string]Usage{"gpt-5": calls(2, 500, 2, 100)}},
			{usage: report(100, "gpt-5", 2, 500, 2.0), want: map[string]Usage{}},
		},
		"refused, then sent again": {
			{usage: report(100, "gpt-5", 2, 500, 2.0), refuse: true, want: map[string]Usage{"gpt-5": calls(2, 500, 2, 100)}},
			{usage: report(100, "gpt-5", 2, 500, 2.0), want: map[string]Usage{"gpt-5": calls(2, 500, 2, 100)}},
			{usage: report(100, "gpt-5", 2, 500, 2.0), want: map[string]Usage{}},
		},
		"a late payload reports less": {
			{usage: report(100, "gpt-5", 2, 500, 2.0), want: map[string]Usage{"gpt-5": calls(2, 500, 2, 100)}},
			{usage: report(300, "gpt-5", 4, 900, 4.0), want: map[string]Usage{"gpt-5": calls(2, 400, 2, 200)}},
			{usage: report(100, "gpt-5", 2, 500, 2.0), want: map[string]Usage{}},
			{usage: report(350, "gpt-5", 5, 950, 5.0), want: map[string]Usage{"gpt-5": calls(1, 50, 1, 50)}},
		},
		"one field going backwards": {
			{usage: report(0, "gpt-5", 2, 500, 0.0), want: map[string]Usage{"gpt-5": calls(2, 500, 0, 0)}},
			{usage: report(0, "gpt-5", 4, 400, 0.0), want: map[string]Usage{"gpt-5": {Requests: 2, UserRequests: 2, OutputTokens: 20, NanoAIU: 2000}}},
			{usage: report(0, "gpt-5", 4, 600, 0.0), want: map[string]Usage{"gpt-5": {InputTokens: 100}}},
		},
		"a model left out keeps what was accepted": {
			{usage: report(0, "gpt-5", 2, 500, 0.0, "o3", 1, 100, 0.0), want: map[string]Usage{"gpt-5": calls(2, 500, 0, 0), "o3": calls(1, 100, 0, 0)}},
			{usage: report(0, "gpt-5", 3, 600, 0.0), want: map[string]Usage{"gpt-5": calls(1, 100, 0, 0)}},
			{usage: report(0, "gpt-5", 3, 600, 0.0, "o3", 2, 150, 0.0), want: map[string]Usage{"o3": {Requests: 1, InputTokens: 50, OutputTokens: 10, NanoAIU: 1000, UserRequests: 1}}},
		},
		// API time is the session's: it goes to the model with the most
		// new calls (the first by name on a tie), and waits for new usage.
		"API time": {
			{usage: report(100, "o3", 1, 10, 0.0, "gpt-5", 1, 10, 0.0), want: map[string]Usage{"gpt-5": calls(1, 10, 0, 100), "o3": calls(1, 10, 0, 0)}},
			{usage: report(250, "o3", 1, 10, 0.0, "gpt-5", 1, 10, 0.0), want: map[string]Usage{}},
			{usage: report(300, "o3", 3, 30, 0.0, "gpt-5", 2, 20, 0.0), want: map[string]Usage{"gpt-5": calls(1, 10, 0, 0), "o3": calls(2, 20, 0, 200)}},
		},
		// A premium cost at most 1e-9 above the accepted one is a float
		// sum's rounding: nothing is counted, nor accepted, and no API
		// time hangs on it; the next real increase counts it all.
		"premium cost rounding": {
			{usage: report(100, "gpt-5", 1, 10, 1.0), want: map[string]Usage{"gpt-5": calls(1, 10, 1, 100)}},
			{usage: report(200, "gpt-5", 1, 10, 1.0+1e-12), want: map[string]Usage{}},
			{usage: report(200, "gpt-5", 1, 10, 1.0+9e-10), want: map[string]Usage{}},
			{usage: report(200, "gpt-5", 2, 20, 1.33), want: map[string]Usage{"gpt-5": calls(1, 10, minus(1.33, 1.0), 100)}},
			{usage: report(200, "gpt-5", 2, 20, 1.33+3e-9), want: map[string]Usage{"gpt-5": {PremiumCost: minus(1.33+3e-9, 1.33)}}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			tr := NewHookTracker(sid, HookOptions{})
			for i, s := range steps {
				f, next, err := tr.Usage(bg, &HookEvent{Kind: HookOther, Time: t0, Usage: s.usage})
				require.NoError(t, err)
				assert.Equal(t, s.want, byModel(f), "step %d", i)
				if !s.refuse {
					require.NoError(t, tr.Accept(bg, next))
				}
			}
		})
	}
}

// TestHookUsageSummary: what was accepted is the figures reported, whole
// session totals included; a sessionEnd gets it as its summary.
func TestHookUsageSummary(t *testing.T) {
	tr := NewHookTracker(sid, HookOptions{})
	acc, err := tr.Accepted(bg)
	require.NoError(t, err)
	assert.Nil(t, acc, "nothing accepted yet")

	first := report(100, "gpt-5", 1, 10, 0.1)
	first.CodeChanges = CodeSummary{LinesAdded: 5, FilesModified: 1}
	f, next, err := tr.Usage(bg, &HookEvent{Time: t0, Usage: first})
	require.NoError(t, err)
	assert.Empty(t, f.Summaries, "only a sessionEnd has a summary")
	require.Equal(t, []CodeChangeFact{{Ctx: tr.Context(), Start: t0, Time: t0, LinesAdded: 5, FilesModified: 1}}, f.CodeChanges)
	require.NoError(t, tr.Accept(bg, next))

	end := report(300, "gpt-5", 3, 30, 0.3, "o3", 0, 0, 0.0)
	end.CodeChanges = CodeSummary{LinesAdded: 4, LinesRemoved: 2, FilesModified: 1}
	f, next, err = tr.Usage(bg, &HookEvent{Kind: HookSessionEnd, Time: t0.Add(time.Minute), Usage: end})
	require.NoError(t, err)
	require.Equal(t, []CodeChangeFact{{Ctx: tr.Context(), Start: t0.Add(time.Minute), Time: t0.Add(time.Minute), LinesRemoved: 2}}, f.CodeChanges)
	want := UsageSummary{
		TotalPremiumRequestCost: 0.3, TotalNanoAIU: 3000, TotalUserRequests: 3, TotalAPIDurationMs: 300,
		TokenDetails: TokenDetails{Input: 30, Output: 30},
		ModelMetrics: map[string]ModelSummary{
			"gpt-5": {Requests: RequestSummary{Count: 3, UserInitiated: 3, PremiumCost: 0.3}, Usage: TokenSummary{InputTokens: 30, OutputTokens: 30}, TotalNanoAIU: 3000},
			"o3":    {}, // reported, without usage
		},
		CodeChanges: CodeSummary{LinesAdded: 5, LinesRemoved: 2, FilesModified: 1},
	}
	require.Len(t, f.Summaries, 1)
	assert.Equal(t, want, f.Summaries[0].Usage, "0.3 as reported, not 0.1 + (0.3 - 0.1)")
	require.NoError(t, tr.Accept(bg, next))
	acc, err = tr.Accepted(bg)
	require.NoError(t, err)
	assert.Equal(t, &want, acc)

	// A payload without usage has none, and changes nothing.
	f, next, err = tr.Usage(bg, &HookEvent{Time: t0})
	require.NoError(t, err)
	assert.Nil(t, f)
	assert.Nil(t, next)
}

// failingStore fails every call while fail is set.
type failingStore struct {
	Store
	fail bool
}

func (s *failingStore) Get(ctx context.Context, key string) ([]byte, error) {
	if s.fail {
		return nil, errors.New("disk on fire")
	}
	return s.Store.Get(ctx, key)
}

func (s *failingStore) Set(ctx context.Context, key string, v []byte) error {
	if s.fail {
		return errors.New("disk on fire")
	}
	return s.Store.Set(ctx, key, v)
}

// TestHookUsagePersisted: the usage accepted survives the tracker (an LRU
// eviction, a restart) through the store, as a UsageSummary under
// hooks:usage:<session>, and the next tracker counts only what is new.
func TestHookUsagePersisted(t *testing.T) {
	minus := func(a, b float64) float64 { return a - b }
	mem := storageclient.NewMemory()
	store := &failingStore{Store: mem}
	var unreadable []string
	opts := HookOptions{Store: store, Unreadable: func(id string, err error) { unreadable = append(unreadable, id) }}

	a := NewHookTracker(sid, opts)
	_, next, err := a.Usage(bg, &HookEvent{Time: t0, Usage: report(250, "gpt-5", 2, 500, 0.66, "o3", 1, 100, 1.0)})
	require.NoError(t, err)
	require.NoError(t, a.Accept(bg, next))
	raw, err := mem.Get(bg, "hooks:usage:"+sid)
	require.NoError(t, err)
	var stored UsageSummary
	require.NoError(t, json.Unmarshal(raw, &stored))
	accepted, err := a.Accepted(bg)
	require.NoError(t, err)
	assert.Equal(t, *accepted, stored)

	b := NewHookTracker(sid, opts)
	got, err := b.Accepted(bg)
	require.NoError(t, err)
	assert.Equal(t, accepted, got, "read back as it was written")
	f, next, err := b.Usage(bg, &HookEvent{Time: t0, Usage: report(250, "gpt-5", 2, 500, 0.66, "o3", 1, 100, 1.0)})
	require.NoError(t, err)
	assert.Empty(t, f.Usage, "counted before the restart")
	require.NoError(t, b.Accept(bg, next))
	f, _, err = b.Usage(bg, &HookEvent{Time: t0, Usage: report(400, "gpt-5", 3, 600, 0.99, "o3", 1, 100, 1.0)})
	require.NoError(t, err)
	assert.Equal(t, map[string]Usage{"gpt-5": {Requests: 1, InputTokens: 100, OutputTokens: 10, NanoAIU: 1000, PremiumCost: minus(0.99, 0.66), APIDurationMs: 150, UserRequests: 1}}, byModel(f),
		"API time beyond the 250 ms accepted before")

	// A store that fails: an error, and the next attempt reads again.
	store.fail = true
	c := NewHookTracker(sid, opts)
	_, _, err = c.Usage(bg, &HookEvent{Time: t0, Usage: report(0)})
	require.ErrorContains(t, err, "reading the usage hooks reported for session "+sid)
	store.fail = false
	got, err = c.Accepted(bg)
	require.NoError(t, err)
	assert.Equal(t, accepted, got)
	store.fail = true
	_, next, err = c.Usage(bg, &HookEvent{Time: t0, Usage: report(0)})
	require.NoError(t, err, "read once")
	require.ErrorContains(t, c.Accept(bg, next), "saving the usage hooks reported for session "+sid)
	store.fail = false

	// A stored value that does not decode is told about, and the session
	// is counted anew.
	require.NoError(t, mem.Set(bg, "hooks:usage:other", []byte("{not json")))
	d := NewHookTracker("other", opts)
	f, _, err = d.Usage(bg, &HookEvent{Time: t0, Usage: report(0, "gpt-5", 1, 10, 0.0)})
	require.NoError(t, err)
	assert.Equal(t, []string{"other"}, unreadable)
	assert.Equal(t, map[string]Usage{"gpt-5": {Requests: 1, UserRequests: 1, InputTokens: 10, OutputTokens: 10, NanoAIU: 1000}}, byModel(f))
}

// TestHookTools: tool calls pair first in, first out, per tool and agent,
// across payloads; a postToolUse without its preToolUse is a call of its
// own; calls still open at sessionEnd end incomplete.
func TestHookTools(t *testing.T) {
	tr := NewHookTracker(sid, HookOptions{Options: Options{CaptureContent: true}})
	main := Agent{ID: MainAgent, Name: MainAgent}
	sub := Agent{ID: "sub-1", Name: "explore"}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var out Facts
	for _, ev := range []HookEvent{
		{Kind: HookToolStart, Time: at(1), Agent: main, Tool: "bash", Arguments: "ls", Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		{Kind: HookToolStart, Time: at(2), Agent: main, Tool: "bash", Arguments: "pwd"},
		{Kind: HookToolStart, Time: at(3), Agent: sub, Tool: "view"},
		{Kind: HookToolStart, Time: at(4), Agent: sub, Tool: "bash"},
		{Kind: HookToolEnd, Time: at(5), Agent: main, Tool: "bash", Outcome: OutcomeSuccess, Result: "a b"},
		{Kind: HookToolEnd, Time: at(6), Agent: main, Tool: "bash", Outcome: OutcomeFailure},
		{Kind: HookToolEnd, Time: at(7), Agent: main, Tool: "view", Outcome: OutcomeSuccess}, // its pre was the subagent's
		{Kind: HookSessionEnd, Time: at(8)},
	} {
		tr.Apply(&ev, nil, false, &out)
	}
	span := func(seq string) Span { return Span{ID: SpanID(sid, "hook-tool", seq)} }
	tp, _ := ParseTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	ctx := tr.Context()
	assert.Equal(t, []ToolFact{
		{Ctx: ctx, Start: at(1), End: at(5), Span: span("1"), Name: "bash", Agent: main, Outcome: OutcomeSuccess, Arguments: "ls", Result: "a b", Links: []TraceContext{tp}},
		{Ctx: ctx, Start: at(2), End: at(6), Span: span("2"), Name: "bash", Agent: main, Outcome: OutcomeFailure, Arguments: "pwd"},
		{Ctx: ctx, Start: at(7), End: at(7), Span: span("5"), Name: "view", Agent: main, Outcome: OutcomeSuccess},
		// At the end, by agent and tool.
		{Ctx: ctx, Start: at(4), End: at(8), Span: span("4"), Name: "bash", Agent: sub, Outcome: OutcomeIncomplete},
		{Ctx: ctx, Start: at(3), End: at(8), Span: span("3"), Name: "view", Agent: sub, Outcome: OutcomeIncomplete},
	}, out.Tools)

	// Without content capture, no arguments or results.
	tr = NewHookTracker(sid, HookOptions{})
	out = Facts{}
	tr.Apply(&HookEvent{Kind: HookToolStart, Time: at(1), Agent: main, Tool: "bash", Arguments: "ls"}, nil, false, &out)
	tr.Apply(&HookEvent{Kind: HookToolEnd, Time: at(2), Agent: main, Tool: "bash", Result: "a b", Outcome: OutcomeSuccess}, nil, false, &out)
	require.Len(t, out.Tools, 1)
	assert.Empty(t, out.Tools[0].Arguments+out.Tools[0].Result)
}

// TestHookLifecycle: sessions start, resume and end; subagent runs end at
// their subagentStop, from their subagentStart when there was one.
func TestHookLifecycle(t *testing.T) {
	tr := NewHookTracker(sid, HookOptions{})
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	explore := Agent{ID: "sub-1", Name: "explore"}
	var out Facts
	for _, ev := range []HookEvent{
		{Kind: HookSessionStart, Type: "sessionStart", Time: at(1), Cwd: "/src/app"},
		{Kind: HookSubagentStart, Type: "subagentStart", Time: at(2), Subagent: explore},
		{Kind: HookSubagentStop, Type: "subagentStop", Time: at(3), Subagent: explore, Reason: "end_turn"},
		{Kind: HookSubagentStop, Type: "subagentStop", Time: at(4), Subagent: Agent{ID: "sub-2", Name: "task"}},
		{Kind: HookSubagentStop, Type: "subagentStop", Time: at(5), Subagent: Agent{Name: AgentUnknown}},
		{Kind: HookSessionEnd, Type: "sessionEnd", Time: at(6), Reason: "complete", Cwd: "/elsewhere"},
		{Kind: HookSessionStart, Type: "sessionStart", Time: at(7), Resumed: true},
	} {
		tr.Apply(&ev, nil, false, &out)
	}
	ctx := tr.Context()
	assert.Equal(t, "/src/app", ctx.Cwd, "the first working directory")
	assert.Equal(t, []LifecycleFact{
		{Ctx: ctx, Time: at(1), State: StateStarted},
		{Ctx: ctx, Time: at(6), State: StateEnded},
		{Ctx: ctx, Time: at(7), State: StateResumed},
	}, out.Lifecycle)
	assert.Equal(t, []SubagentFact{
		{Ctx: ctx, Start: at(2), End: at(3), Span: Span{ID: SpanID(sid, "hook-subagent", "sub-1")}, Agent: explore, Outcome: OutcomeCompleted},
		{Ctx: ctx, Start: at(4), End: at(4), Span: Span{ID: SpanID(sid, "hook-subagent", "sub-2")}, Agent: Agent{ID: "sub-2", Name: "task"}, Outcome: OutcomeCompleted},
		{Ctx: ctx, Start: at(5), End: at(5), Span: Span{ID: SpanID(sid, "hook-subagent", "3")}, Agent: Agent{Name: AgentUnknown}, Outcome: OutcomeCompleted},
	}, out.Subagents)
	require.Len(t, out.Hooks, 7, "every payload is an invocation")
	assert.Equal(t, "end_turn", out.Hooks[2].Reason)
	assert.Equal(t, []EndFact{{Ctx: ctx, Time: at(6), Reason: "complete"}}, out.Ends)
}

// TestHookFromTranscript: a session counted from its transcript gets from
// its hooks only what the transcript lacks, with the transcript's context.
func TestHookFromTranscript(t *testing.T) {
	yes, no := true, false
	tc := &Context{SessionID: sid, Repository: "acme/app", Branch: "main"}
	for name, c := range map[string]struct {
		tc     *Context
		fromTr bool
		errors int // of the three errorOccurred
		counts bool
	}{
		"counted from its hooks":                     {fromTr: false, errors: 3, counts: true},
		"counted from its transcript":                {tc: tc, fromTr: true, errors: 2},
		"counted from a transcript not written yet":  {fromTr: true, errors: 2},
		"a transcript context for a hook-only count": {tc: tc, fromTr: false, errors: 3, counts: true},
	} {
		t.Run(name, func(t *testing.T) {
			tr := NewHookTracker(sid, HookOptions{})
			var out Facts
			for _, ev := range []HookEvent{
				{Kind: HookSessionStart, Type: "sessionStart", Time: t0},
				{Kind: HookToolStart, Type: "preToolUse", Time: t0, Tool: "bash"},
				{Kind: HookToolEnd, Type: "postToolUse", Time: t0, Tool: "bash", Outcome: OutcomeSuccess},
				{Kind: HookError, Type: "errorOccurred", Time: t0, ErrorType: "APIError", ErrorContext: "model_call", Recoverable: &yes},
				{Kind: HookError, Type: "errorOccurred", Time: t0, Recoverable: &no},
				{Kind: HookError, Type: "errorOccurred", Time: t0},
				{Kind: HookSessionEnd, Type: "sessionEnd", Time: t0, Reason: "complete"},
			} {
				tr.Apply(&ev, c.tc, c.fromTr, &out)
			}
			want := tr.Context()
			if c.fromTr && c.tc != nil {
				want = c.tc
			}
			require.Len(t, out.Hooks, 7)
			for _, h := range out.Hooks {
				assert.Same(t, want, h.Ctx)
			}
			require.Len(t, out.Errors, c.errors)
			assert.Equal(t, ErrorFact{Ctx: want, Time: t0, Agent: Agent{ID: MainAgent, Name: MainAgent}, Type: "APIError", Context: "model_call"}, out.Errors[0])
			assert.Equal(t, "error", out.Errors[len(out.Errors)-1].Type, "an error without a name")
			assert.Len(t, out.Ends, 1)
			assert.Equal(t, c.counts, len(out.Lifecycle) == 2 && len(out.Tools) == 1, "lifecycle %v, tools %v", out.Lifecycle, out.Tools)
			if !c.counts {
				assert.Empty(t, out.Lifecycle)
				assert.Empty(t, out.Tools)
			}
		})
	}
}

// TestHookResumedSession: a resumed session is one session: its usage
// objects stay cumulative across legs, and each leg's end summarizes the
// whole session so far.
func TestHookResumedSession(t *testing.T) {
	tr := NewHookTracker(sid, HookOptions{})
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var out Facts
	var totals []int64
	for _, ev := range []HookEvent{
		{Kind: HookSessionStart, Time: at(1), Usage: report(0)},
		{Kind: HookOther, Time: at(2), Usage: report(100, "gpt-5", 2, 200, 0.0)},
		{Kind: HookSessionEnd, Time: at(3), Usage: report(100, "gpt-5", 2, 200, 0.0)},
		{Kind: HookSessionStart, Time: at(4), Resumed: true, Usage: report(100, "gpt-5", 2, 200, 0.0)},
		{Kind: HookOther, Time: at(5), Usage: report(180, "gpt-5", 3, 300, 0.0)},
		{Kind: HookSessionEnd, Time: at(6), Usage: report(180, "gpt-5", 3, 300, 0.0)},
	} {
		tr.Apply(&ev, nil, false, &out)
		f, next, err := tr.Usage(bg, &ev)
		require.NoError(t, err)
		out.Usage = append(out.Usage, f.Usage...)
		for _, s := range f.Summaries {
			totals = append(totals, s.Usage.TokenDetails.Input)
		}
		require.NoError(t, tr.Accept(bg, next))
	}
	assert.Equal(t, []string{StateStarted, StateEnded, StateResumed, StateEnded}, []string{out.Lifecycle[0].State, out.Lifecycle[1].State, out.Lifecycle[2].State, out.Lifecycle[3].State})
	assert.Equal(t, map[string]Usage{"gpt-5": {Requests: 3, UserRequests: 3, InputTokens: 300, OutputTokens: 30, NanoAIU: 3000, APIDurationMs: 180}}, byModel(&out))
	assert.Equal(t, []int64{200, 300}, totals, "each end summarizes the whole session")
}

// TestHookPayloadsDelivered: which signals have not taken a payload is
// kept with the session's usage, in one value, across trackers (a
// restart), for the last HookPayloadsKept payloads; a value of the shape
// before payloads were kept still reads, and one with payloads but no
// usage has none.
func TestHookPayloadsDelivered(t *testing.T) {
	mem := storageclient.NewMemory()
	opts := HookOptions{Store: mem}
	a := NewHookTracker(sid, opts)
	require.NoError(t, a.Record(bg, nil, "p0", []string{"traces", "logs"}))
	b := NewHookTracker(sid, opts)
	acc, err := b.Accepted(bg)
	require.NoError(t, err)
	assert.Nil(t, acc, "no usage was accepted")
	pending, found, err := b.Delivered(bg, "p0")
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, []string{"logs", "traces"}, pending)
	_, found, err = b.Delivered(bg, "p-unknown")
	require.NoError(t, err)
	assert.False(t, found)

	_, next, err := b.Usage(bg, &HookEvent{Time: t0, Usage: report(250, "gpt-5", 2, 500, 0.66)})
	require.NoError(t, err)
	require.NoError(t, b.Record(bg, next, "p0", nil))
	for i := 1; i <= HookPayloadsKept; i++ {
		require.NoError(t, b.Record(bg, nil, fmt.Sprintf("p%d", i), nil))
	}
	raw, err := mem.Get(bg, "hooks:usage:"+sid)
	require.NoError(t, err)
	var stored UsageSummary
	require.NoError(t, json.Unmarshal(raw, &stored), "still a UsageSummary")
	assert.Equal(t, int64(500), stored.TokenDetails.Input)
	var st struct {
		Payloads string `json:"hookPayloads"`
	}
	require.NoError(t, json.Unmarshal(raw, &st))
	assert.Len(t, st.Payloads, 12*HookPayloadsKept-1, "11 bytes and a space a payload")

	c := NewHookTracker(sid, opts)
	_, found, err = c.Delivered(bg, "p0")
	require.NoError(t, err)
	assert.False(t, found, "older than the last HookPayloadsKept")
	for _, id := range []string{"p1", fmt.Sprint("p", HookPayloadsKept)} {
		pending, found, err = c.Delivered(bg, id)
		require.NoError(t, err)
		assert.True(t, found, id)
		assert.Empty(t, pending, id)
	}
	acc, err = c.Accepted(bg)
	require.NoError(t, err)
	assert.Equal(t, int64(500), acc.TokenDetails.Input)

	// The shape before: a UsageSummary alone.
	old, err := json.Marshal(stored)
	require.NoError(t, err)
	require.NoError(t, mem.Set(bg, "hooks:usage:old", old))
	d := NewHookTracker("old", opts)
	acc, err = d.Accepted(bg)
	require.NoError(t, err)
	assert.Equal(t, int64(500), acc.TokenDetails.Input)
	_, found, err = d.Delivered(bg, "p1")
	require.NoError(t, err)
	assert.False(t, found)
}

// TestHookStateOfEarlierVersions: a session's hook state as earlier
// versions stored it still gives the usage they accepted, so that the
// first payload after an upgrade counts only what is new, and the payloads
// they marked as delivered stay so. The values are what
// NewHookTracker(sid, ...).Usage of report(250, "gpt-5", 2, 500, 0.66),
// then Record(..., next, "p1", <logs, metrics, traces>) and Record(...,
// nil, "p2", <metrics>) stored at c0d7550 (marks as a JSON list of
// 96-bit digests and the signals that took each) and at d90649d (the
// same in one string), the signals being the done ones of those versions.
func TestHookStateOfEarlierVersions(t *testing.T) {
	const usage = `{"totalPremiumRequestCost":0.66,"totalNanoAiu":2000,"totalUserRequests":2,"totalApiDurationMs":250,"tokenDetails":{"input":500,"output":20,"cacheRead":0,"cacheWrite":0,"reasoning":0},"modelMetrics":{"gpt-5":{"requests":{"count":2,"userInitiated":2,"premiumCost":0.66},"usage":{"inputTokens":500,"outputTokens":20,"cacheReadTokens":0,"cacheWriteTokens":0,"reasoningTokens":0},"totalNanoAiu":2000}},"codeChanges":{"linesAdded":0,"linesRemoved":0,"filesModified":0},`
	for version, stored := range map[string]string{
		"c0d7550": usage + `"hookPayloads":[{"id":"9kVR_NbweCPLh5cc","done":["logs","metrics","traces"]},{"id":"OUbKZP942TymEJCk","done":["metrics"]}]}`,
		"d90649d": usage + `"hookPayloads":"9kVR_NbweCPLh5cc:logs,metrics,traces OUbKZP942TymEJCk:metrics"}`,
	} {
		t.Run(version, func(t *testing.T) {
			mem := storageclient.NewMemory()
			require.NoError(t, mem.Set(bg, "hooks:usage:"+sid, []byte(stored)))
			var unreadable error
			tr := NewHookTracker(sid, HookOptions{Store: mem, Unreadable: func(_ string, err error) { unreadable = err }})
			acc, err := tr.Accepted(bg)
			require.NoError(t, err)
			require.NoError(t, unreadable)
			require.NotNil(t, acc, "the usage accepted before the upgrade")
			assert.Equal(t, int64(500), acc.TokenDetails.Input)

			f, _, err := tr.Usage(bg, &HookEvent{Time: t0, Usage: report(300, "gpt-5", 3, 800, 0.99)})
			require.NoError(t, err)
			require.Len(t, f.Usage, 1)
			assert.Equal(t, int64(300), f.Usage[0].Usage.InputTokens, "only what is beyond the accepted usage")
			assert.Equal(t, int64(1), f.Usage[0].Usage.Requests)

			pending, found, err := tr.Delivered(bg, "p1")
			require.NoError(t, err)
			assert.True(t, found)
			assert.Empty(t, pending)
			pending, found, err = tr.Delivered(bg, "p2")
			require.NoError(t, err)
			assert.True(t, found)
			assert.Equal(t, []string{"logs", "traces"}, pending)
		})
	}
}

// A session counted from hooks alone is attributed by the context the
// first payload that carries one gives; later ones do not move it.
func TestHookContextFromPayload(t *testing.T) {
	tr := NewHookTracker("s", HookOptions{})
	f := &Facts{}
	tr.Apply(&HookEvent{Kind: HookSessionStart, Type: "sessionStart", Cwd: "/home/dev/src/payments-api"}, nil, false, f)
	assert.Empty(t, tr.Context().Branch)
	tr.Apply(&HookEvent{Kind: HookToolStart, Type: "preToolUse", Tool: "bash",
		Context: &Context{Repository: "acme/payments-api", Branch: "feature/PAY-4411-x", GitRoot: "/home/dev/src/payments-api"}}, nil, false, f)
	tr.Apply(&HookEvent{Kind: HookToolEnd, Type: "postToolUse", Tool: "bash", Context: &Context{Branch: "main"}}, nil, false, f)
	c := tr.Context()
	assert.Equal(t, "acme/payments-api", c.Repository)
	assert.Equal(t, "feature/PAY-4411-x", c.Branch)
	assert.Equal(t, "/home/dev/src/payments-api", c.Cwd)
	for _, h := range f.Hooks {
		assert.Same(t, c, h.Ctx, "every fact carries the session's one context")
	}
}
