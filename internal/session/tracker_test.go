package session

import (
	"encoding/hex"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
)

const sid = "5fc41fe9-2cf0-4410-b210-6aeb460047e4"

var t0 = time.Date(2026, 11, 22, 16, 0, 0, 0, time.UTC)

// script builds events for a tracker, one second apart.
type script struct {
	n   int
	evs []*transcript.Event
}

func (s *script) add(typ, agent string, data any) *script {
	s.n++
	s.evs = append(s.evs, &transcript.Event{
		Type: typ, ID: "e" + string(rune('a'+s.n%26)), AgentID: agent,
		Timestamp: t0.Add(time.Duration(s.n) * time.Second), Data: data,
	})
	return s
}

func (s *script) start(version string) *script {
	return s.add(transcript.TypeSessionStart, "", &transcript.StartData{
		SessionID: sid, CopilotVersion: version, SelectedModel: "gpt-4.1",
		Context: &transcript.WorkingContext{GitRoot: "/src/app", Branch: "main", Repository: "acme/app", RepositoryHost: "github.com"},
	})
}

func (s *script) resume(cumulative bool) *script {
	return s.add(transcript.TypeSessionResume, "", &transcript.ResumeData{WritesCumulativeShutdown: cumulative})
}

func n(v int64) transcript.Int { return transcript.Int{V: v, Set: true} }

func (s *script) record(agent, model, initiator, src string, seq, in, out, nano int64, cost float64) *script {
	u := transcript.UsageData{
		Model: model, InputTokens: n(in), OutputTokens: n(out), CacheReadTokens: n(in / 2),
		ReasoningTokens: n(5), Cost: cost, Duration: n(100), Initiator: initiator,
		APICallID:  "call-" + src + string(rune('0'+seq)),
		Accounting: &transcript.AccountingID{SourceSessionID: src, Sequence: n(seq)},
	}
	if nano > 0 {
		u.CopilotUsage = &transcript.CopilotUsage{TotalNanoAIU: n(nano)}
	}
	return s.add(transcript.TypeUsageRecord, agent, &transcript.UsageRecordData{Usage: u})
}

func metric(requests, in, out, nano int64, cost float64) transcript.ModelMetric {
	var m transcript.ModelMetric
	m.Requests.Count, m.Requests.Cost = n(requests), cost
	m.Usage = transcript.TokenUsage{InputTokens: n(in), OutputTokens: n(out), CacheReadTokens: n(in / 2), ReasoningTokens: n(5 * requests)}
	m.TotalNanoAIU = n(nano)
	return m
}

// models is the list of model metrics of a map by model, in the order of
// their names.
func models(mm map[string]transcript.ModelMetric) []transcript.ModelMetric {
	var list []transcript.ModelMetric
	for _, name := range slices.Sorted(maps.Keys(mm)) {
		m := mm[name]
		m.Model = name
		list = append(list, m)
	}
	return list
}

func (s *script) shutdown(snapshot bool, mm map[string]transcript.ModelMetric, durMs, userReq int64) *script {
	tot := &transcript.Totals{ModelMetrics: models(mm), APIDurationMs: n(durMs)}
	var nano int64
	var cost float64
	for _, m := range mm {
		nano += m.TotalNanoAIU.V
		cost += m.Requests.Cost
	}
	tot.NanoAIU = n(nano)
	tot.PremiumRequestCost, tot.HasPremium = cost, true
	d := &transcript.ShutdownData{ShutdownType: "routine"}
	if snapshot {
		tot.UserRequests = n(userReq)
		d.Snapshot, d.Cumulative = tot, true
	} else {
		d.Flat = tot
	}
	return s.add(transcript.TypeSessionShutdown, "", d)
}

func (s *script) run(tr *Tracker) *Facts {
	f := &Facts{}
	for _, ev := range s.evs {
		tr.Apply(ev, f)
	}
	return f
}

func total(f *Facts) Usage {
	var u Usage
	for _, x := range f.Usage {
		u.Add(x.Usage)
	}
	return u
}

func byModel(f *Facts) map[string]Usage {
	out := map[string]Usage{}
	for _, x := range f.Usage {
		u := out[x.Model]
		u.Add(x.Usage)
		out[x.Model] = u
	}
	return out
}

func TestRecordsCountedOnce(t *testing.T) {
	s := (&script{}).start("1.0.102").
		record("", "gpt-4.1", "user", sid, 1, 1000, 10, 0, 1).
		record("", "gpt-4.1", "agent", sid, 2, 1100, 20, 0, 0).
		record("", "gpt-4.1", "agent", sid, 2, 1100, 20, 0, 0) // the same call again
	tr := New(sid, Options{})
	f := s.run(tr)
	require.Len(t, f.Usage, 2)
	assert.Equal(t, int64(1), tr.Stats().DuplicateRecords)
	u := total(f)
	assert.Equal(t, int64(2100), u.InputTokens)
	assert.Equal(t, int64(2), u.Requests)
	assert.Equal(t, int64(1), u.UserRequests)
	assert.Equal(t, SourceRecord, f.Usage[0].Source)
	assert.Equal(t, f.Usage[0].Time.Add(-100*time.Millisecond), f.Usage[0].Start, "a call starts its duration before its record")
}

func TestShutdownMatchingRecordsAddsNothing(t *testing.T) {
	s := (&script{}).start("1.0.102").
		record("", "m", "user", sid, 1, 1000, 10, 7, 1).
		shutdown(true, map[string]transcript.ModelMetric{"m": metric(1, 1000, 10, 7, 1)}, 100, 1)
	f := s.run(New(sid, Options{}))
	require.Len(t, f.Usage, 1, "totals equal to the records add no usage")
	require.Len(t, f.Summaries, 1)
	assert.Equal(t, int64(7), f.Summaries[0].Usage.TotalNanoAIU)
	assert.Equal(t, int64(1), f.Summaries[0].Usage.ModelMetrics["m"].Requests.UserInitiated)
}

// A record lost to a damaged line is recovered from the shutdown totals.
func TestLostRecordRecoveredFromShutdown(t *testing.T) {
	s := (&script{}).start("1.0.102").
		record("", "m", "user", sid, 1, 1000, 10, 7, 1).
		// the record of call 2 was on a torn line
		shutdown(true, map[string]transcript.ModelMetric{"m": metric(2, 2500, 30, 19, 1)}, 200, 1)
	f := s.run(New(sid, Options{}))
	u := total(f)
	assert.Equal(t, int64(2), u.Requests)
	assert.Equal(t, int64(2500), u.InputTokens)
	assert.Equal(t, int64(30), u.OutputTokens)
	assert.Equal(t, int64(19), u.NanoAIU)
	assert.Equal(t, int64(200), u.APIDurationMs)
	last := f.Usage[len(f.Usage)-1]
	assert.Equal(t, SourceShutdown, last.Source)
	assert.Equal(t, InitiatorUnknown, last.Initiator)
	assert.Equal(t, int64(1500), last.Usage.InputTokens)
}

// CLIs before 1.0.66 report each leg; the session total is their sum.
func TestPerLegShutdowns(t *testing.T) {
	s := (&script{}).start("1.0.60").
		shutdown(false, map[string]transcript.ModelMetric{"m": metric(3, 3000, 30, 0, 0)}, 50, 0).
		resume(false).
		shutdown(false, map[string]transcript.ModelMetric{"m": metric(2, 2500, 20, 0, 0)}, 40, 0)
	f := s.run(New(sid, Options{}))
	u := total(f)
	assert.Equal(t, int64(5), u.Requests)
	assert.Equal(t, int64(5500), u.InputTokens)
	assert.Equal(t, int64(90), u.APIDurationMs)
	require.Len(t, f.Summaries, 2)
	assert.Equal(t, int64(5500), f.Summaries[1].Usage.TokenDetails.Input, "the summary is the session's, not the leg's")
}

// From 1.0.66 each shutdown reports the whole session.
func TestCumulativeShutdowns(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *script
	}{
		{"started by 1.0.66", (&script{}).start("1.0.66").
			shutdown(false, map[string]transcript.ModelMetric{"m": metric(3, 3000, 30, 0, 0)}, 50, 0).
			resume(true).
			shutdown(false, map[string]transcript.ModelMetric{"m": metric(5, 5500, 50, 0, 0)}, 90, 0)},
		// An old session resumed by a newer CLI: the resume carries
		// sessionLimits, the second shutdown covers both legs.
		{"resumed by a newer CLI", (&script{}).start("1.0.60").
			shutdown(false, map[string]transcript.ModelMetric{"m": metric(3, 3000, 30, 0, 0)}, 50, 0).
			resume(true).
			shutdown(false, map[string]transcript.ModelMetric{"m": metric(5, 5500, 50, 0, 0)}, 90, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := total(tc.s.run(New(sid, Options{})))
			assert.Equal(t, int64(5), u.Requests)
			assert.Equal(t, int64(5500), u.InputTokens)
			assert.Equal(t, int64(90), u.APIDurationMs)
		})
	}
}

// A 1.0.60 leg followed by a 1.0.92 leg: modelMetrics is cumulative while
// agentMetrics covers only the 1.0.92 leg (seen in real transcripts).
func TestModelMetricsAuthorityOverAgentSplit(t *testing.T) {
	s := (&script{}).start("1.0.60").
		shutdown(false, map[string]transcript.ModelMetric{"m": metric(3, 3000, 30, 0, 0)}, 50, 0).
		resume(true)
	d := &transcript.ShutdownData{
		Flat: &transcript.Totals{
			ModelMetrics:  models(map[string]transcript.ModelMetric{"m": metric(6, 6000, 60, 0, 0)}),
			AgentMetrics:  []transcript.AgentMetric{{Agent: "main", TotalAPIDuration: n(30), ModelMetrics: models(map[string]transcript.ModelMetric{"m": metric(3, 3000, 30, 0, 0)})}},
			APIDurationMs: n(80),
		},
		Cumulative: true,
	}
	s.add(transcript.TypeSessionShutdown, "", d)
	u := total(s.run(New(sid, Options{})))
	assert.Equal(t, int64(6), u.Requests)
	assert.Equal(t, int64(6000), u.InputTokens)
	assert.Equal(t, int64(80), u.APIDurationMs)
}

func TestSubagentAttribution(t *testing.T) {
	const agent = "a6e77afc-24bd-482b-8b61-828e5036bbcb"
	s := (&script{}).start("1.0.102").
		add(transcript.TypeUserMessage, "", &transcript.UserMessageData{InteractionID: "i1"}).
		add(transcript.TypeToolStart, "", &transcript.ToolStartData{ToolCallID: "call_task", ToolName: "task"}).
		add(transcript.TypeSubagentStarted, agent, &transcript.SubagentData{ToolCallID: "call_task", AgentName: "explore"}).
		record(agent, "m", "sub-agent", "sub-source", 1, 3000, 30, 0, 0).
		add(transcript.TypeSubagentCompleted, agent, &transcript.SubagentData{ToolCallID: "call_task", AgentName: "explore"}).
		add(transcript.TypeToolComplete, "", &transcript.ToolCompleteData{ToolCallID: "call_task", Success: true})
	f := s.run(New(sid, Options{}))
	require.Len(t, f.Usage, 1)
	assert.Equal(t, Agent{ID: agent, Name: "explore"}, f.Usage[0].Agent)
	require.Len(t, f.Subagents, 1)
	require.Len(t, f.Tools, 1)
	// Span chain: tool under the interaction, subagent under the tool, the
	// subagent's call under the subagent.
	inter := InteractionSpanID(sid, "i1")
	assert.Equal(t, inter, f.Tools[0].Span.Parent)
	assert.Equal(t, f.Tools[0].Span.ID, f.Subagents[0].Span.Parent)
	assert.Equal(t, f.Subagents[0].Span.ID, f.Usage[0].Span.Parent)
	assert.Equal(t, OutcomeCompleted, f.Subagents[0].Outcome)
}

// Records the receiver counted beyond a shutdown's totals are not taken
// back, and are reported.
func TestExcessIsReportedNotSubtracted(t *testing.T) {
	s := (&script{}).start("1.0.102").
		record("", "m", "user", sid, 1, 1000, 10, 0, 0).
		record("", "m", "agent", sid, 2, 1000, 10, 0, 0).
		shutdown(true, map[string]transcript.ModelMetric{"m": metric(1, 1000, 10, 0, 0)}, 100, 1)
	tr := New(sid, Options{})
	f := s.run(tr)
	assert.Equal(t, int64(2), total(f).Requests)
	assert.Positive(t, tr.Stats().Excess)
	for _, u := range f.Usage {
		assert.GreaterOrEqual(t, u.Usage.InputTokens, int64(0))
	}
}

// A bare nano-AIU checkpoint is counted on the current model; a later
// shutdown never makes the session total exceed its own.
func TestCheckpointThenShutdownCapped(t *testing.T) {
	s := (&script{}).start("1.0.102").
		add(transcript.TypeUsageCheckpoint, "", &transcript.CheckpointData{TotalNanoAIU: n(100)}).
		shutdown(true, map[string]transcript.ModelMetric{
			"gpt-4.1": metric(1, 10, 1, 60, 0),
			"other":   metric(1, 10, 1, 40, 0),
		}, 0, 0)
	f := s.run(New(sid, Options{}))
	assert.Equal(t, int64(100), total(f).NanoAIU)
	assert.Equal(t, SourceCheckpoint, f.Usage[0].Source)
}

func TestStateRoundTrip(t *testing.T) {
	full := (&script{}).start("1.0.102").
		add(transcript.TypeUserMessage, "", &transcript.UserMessageData{InteractionID: "i1"}).
		record("", "m", "user", sid, 1, 1000, 10, 5, 1).
		add(transcript.TypeToolStart, "", &transcript.ToolStartData{ToolCallID: "c1", ToolName: "bash"}).
		add(transcript.TypeToolComplete, "", &transcript.ToolCompleteData{ToolCallID: "c1", Success: true}).
		record("", "m", "agent", sid, 2, 1100, 20, 6, 0).
		shutdown(true, map[string]transcript.ModelMetric{"m": metric(2, 2100, 30, 11, 1)}, 200, 1)
	whole := full.run(New(sid, Options{}))
	for cut := 1; cut < len(full.evs); cut++ {
		a := New(sid, Options{})
		first := &Facts{}
		for _, ev := range full.evs[:cut] {
			a.Apply(ev, first)
		}
		state, err := a.MarshalState()
		require.NoError(t, err)
		b, err := Restore(state, Options{})
		require.NoError(t, err)
		second := &Facts{}
		for _, ev := range full.evs[cut:] {
			b.Apply(ev, second)
		}
		assert.Equal(t, total(whole), sumUsage(total(first), total(second)), "cut at %d", cut)
		assert.Equal(t, len(whole.Tools), len(first.Tools)+len(second.Tools), "cut at %d", cut)
		assert.Equal(t, whole.Summaries[0].Usage, second.Summaries[0].Usage, "cut at %d", cut)
	}
	_, err := Restore([]byte(`{"v":99}`), Options{})
	assert.ErrorContains(t, err, "version 99")
}

func sumUsage(a, b Usage) Usage { a.Add(b); return a }

func TestReplaySkipsWhatWasSeen(t *testing.T) {
	s := (&script{}).start("1.0.102").
		record("", "m", "user", sid, 1, 1000, 10, 0, 0).
		add(transcript.TypeToolStart, "", &transcript.ToolStartData{ToolCallID: "c1", ToolName: "bash"}).
		add(transcript.TypeToolComplete, "", &transcript.ToolCompleteData{ToolCallID: "c1", Success: true})
	tr := New(sid, Options{})
	first := s.run(tr)
	tr.BeginReplay()
	again := s.run(tr)
	assert.Equal(t, 0, again.Len(), "events already applied produce nothing when read again")
	s.record("", "m", "agent", sid, 2, 1000, 10, 0, 0)
	third := &Facts{}
	tr.Apply(s.evs[len(s.evs)-1], third)
	assert.Len(t, third.Usage, 1)
	assert.Len(t, first.Tools, 1)
}

func TestIdleClosesOpenSpans(t *testing.T) {
	s := (&script{}).start("1.0.102").
		add(transcript.TypeUserMessage, "", &transcript.UserMessageData{InteractionID: "i1"}).
		add(transcript.TypeToolStart, "", &transcript.ToolStartData{ToolCallID: "c1", ToolName: "bash"})
	tr := New(sid, Options{})
	s.run(tr)
	f := &Facts{}
	tr.Idle(f)
	require.Len(t, f.Tools, 1)
	assert.Equal(t, OutcomeIncomplete, f.Tools[0].Outcome)
	require.Len(t, f.Legs, 1)
	assert.Equal(t, LegEndIdle, f.Legs[0].EndReason)
	require.Len(t, f.Interactions, 1)
	again := &Facts{}
	tr.Idle(again)
	assert.Equal(t, 0, again.Len(), "a leg's span is ended once")
}

func TestTraceLinksGoToTheInteractionOfThePrompt(t *testing.T) {
	const tp1 = "00-89e93110fcae8e64a03c97b2ae2eed18-e41284090b957ee5-01"
	const tp2 = "00-19e93110fcae8e64a03c97b2ae2eed18-a41284090b957ee5-01"
	s := (&script{}).start("1.0.102").
		add(transcript.TypeHookStart, "", &transcript.HookStartData{HookType: "userPromptSubmitted", Traceparent: tp1}).
		add(transcript.TypeUserMessage, "", &transcript.UserMessageData{InteractionID: "i1"}).
		add(transcript.TypeHookStart, "", &transcript.HookStartData{HookType: "agentStop", Traceparent: tp1}).
		add(transcript.TypeHookStart, "", &transcript.HookStartData{HookType: "userPromptSubmitted", Traceparent: tp2}).
		add(transcript.TypeUserMessage, "", &transcript.UserMessageData{InteractionID: "i2"})
	tr := New(sid, Options{})
	f := s.run(tr)
	tr.Idle(f)
	require.Len(t, f.Interactions, 2)
	require.Len(t, f.Interactions[0].Links, 1)
	assert.Equal(t, "89e93110fcae8e64a03c97b2ae2eed18", hex.EncodeToString(f.Interactions[0].Links[0].TraceID[:]))
	require.Len(t, f.Interactions[1].Links, 1)
	assert.Equal(t, "19e93110fcae8e64a03c97b2ae2eed18", hex.EncodeToString(f.Interactions[1].Links[0].TraceID[:]))
}

func TestIDs(t *testing.T) {
	id := TraceID(sid)
	assert.Equal(t, "5fc41fe92cf04410b2106aeb460047e4", hex.EncodeToString(id[:]))
	other := TraceID("not-a-uuid")
	assert.NotEqual(t, [16]byte{}, other)
	assert.Equal(t, other, TraceID("not-a-uuid"))
	assert.Equal(t, SpanID(sid, "tool", "c1"), ToolSpanID(sid, "c1"))
	assert.NotEqual(t, ToolSpanID(sid, "c1"), ToolSpanID(sid, "c2"))
	_, ok := ParseTraceparent("00-00000000000000000000000000000000-e41284090b957ee5-01")
	assert.False(t, ok)
	tc, ok := ParseTraceparent("00-89e93110fcae8e64a03c97b2ae2eed18-e41284090b957ee5-01")
	require.True(t, ok)
	assert.True(t, tc.Sampled)
}

func TestVersionAtLeast(t *testing.T) {
	for v, want := range map[string]bool{
		"1.0.66": true, "1.0.102": true, "1.0.65": false, "1.0.66-2": false, "1.1.0": true,
		"0.0.400": false, "2.0.0": true, "v1.0.70": true, "": false, "x": false,
	} {
		assert.Equal(t, want, versionAtLeast(v, 1, 0, 66), v)
	}
}

func TestSeqSet(t *testing.T) {
	var s seqSet
	assert.True(t, s.add(1))
	assert.True(t, s.add(3))
	assert.False(t, s.add(3))
	assert.True(t, s.add(2))
	assert.Equal(t, seqSet{Low: 3}, s)
	assert.False(t, s.add(2))
	s.raise(6)
	assert.False(t, s.add(5))
	assert.True(t, s.add(8))
	assert.True(t, s.add(7))
	assert.Equal(t, seqSet{Low: 8}, s)
}

// A legacy shutdown reporting calls of two models: the API time goes with
// the calls, so that every model's calls and time stay together.
func TestDurationSpreadOverModels(t *testing.T) {
	s := (&script{}).start("1.0.60").
		shutdown(false, map[string]transcript.ModelMetric{
			"a": metric(3, 3000, 30, 0, 0),
			"b": metric(1, 1000, 10, 0, 0),
		}, 1001, 0)
	f := s.run(New(sid, Options{}))
	got := byModel(f)
	assert.Equal(t, int64(3), got["a"].Requests)
	assert.Equal(t, int64(1), got["b"].Requests)
	assert.Equal(t, int64(751), got["a"].APIDurationMs)
	assert.Equal(t, int64(250), got["b"].APIDurationMs)
	assert.Equal(t, int64(1001), total(f).APIDurationMs)
}

// An event that carries usage but no timestamp (the reader keeps it as
// repaired) counts at the time of the event before it: its usage is not
// lost, and not placed at the zero time. Read again, it stays counted once.
func TestTimelessUsageCountsAtTheEventBefore(t *testing.T) {
	s := (&script{}).start("1.0.60").
		add(transcript.TypeTurnStart, "", &transcript.TurnStartData{}).
		shutdown(false, map[string]transcript.ModelMetric{"m": metric(3, 3000, 30, 0, 0)}, 50, 0)
	before := s.evs[1].Timestamp
	s.evs[2].Timestamp = time.Time{}
	tr := New(sid, Options{})
	f := s.run(tr)
	assert.Equal(t, int64(3000), total(f).InputTokens)
	require.NotEmpty(t, f.Usage)
	for _, u := range f.Usage {
		assert.Equal(t, before, u.Time)
	}
	require.Len(t, f.Summaries, 1)
	assert.Equal(t, before, f.Summaries[0].Time)
	assert.True(t, s.evs[2].Timestamp.IsZero(), "the caller's event is not changed")

	tr.BeginReplay()
	again := s.run(tr)
	assert.Equal(t, 0, again.Len(), "read again, the shutdown is not counted twice")
}

// usageBatch stands for an event type the CLI does not write today: data
// that reports several model calls at once. It needs nothing of package
// session but the two methods of transcript.CallsReporter.
type usageBatch struct{ calls []transcript.UsageData }

func (b *usageBatch) Calls() int                       { return len(b.calls) }
func (b *usageBatch) Call(i int) *transcript.UsageData { return &b.calls[i] }

// usageTotals stands for a new event type that reports the session's
// running totals (transcript.TotalsReporter).
type usageTotals struct{ totals *transcript.Totals }

func (u *usageTotals) SessionTotals() (*transcript.Totals, map[string]int64) {
	return u.totals, map[string]int64{sid: 3}
}

// TestNewUsageEventTypes: an event type that reports model calls, or the
// session's totals, is accounted by what it implements, not by its name:
// calls once each (also against usage records and while the transcript is
// read again), totals reconciled like a checkpoint's snapshot.
func TestNewUsageEventTypes(t *testing.T) {
	call := func(seq, in int64) transcript.UsageData {
		return transcript.UsageData{
			Model: "m", InputTokens: n(in), OutputTokens: n(10), Duration: n(100), Initiator: "agent",
			Accounting: &transcript.AccountingID{SourceSessionID: sid, Sequence: n(seq)},
		}
	}
	s := (&script{}).start("1.0.102").
		record("", "m", "user", sid, 1, 1000, 10, 0, 0).
		add("session.usage_batch", "", &usageBatch{calls: []transcript.UsageData{call(1, 1000), call(2, 200), call(3, 300)}})
	tr := New(sid, Options{})
	f := s.run(tr)
	require.Len(t, f.Usage, 3, "sequence 1 is counted from its record, 2 and 3 from the batch, which repeats 1")
	assert.Equal(t, int64(1500), total(f).InputTokens)

	tr.BeginReplay()
	assert.Zero(t, s.run(tr).Len(), "read again, the batch counts nothing again")

	// Totals that report more than was counted: the shortfall is counted
	// once, as of a checkpoint.
	mm := map[string]transcript.ModelMetric{"m": metric(4, 1900, 40, 0, 0)}
	s.add("session.usage_totals", "", &usageTotals{totals: &transcript.Totals{ModelMetrics: models(mm)}})
	more := &Facts{}
	tr.Apply(s.evs[len(s.evs)-1], more)
	require.Len(t, more.Usage, 1)
	assert.Equal(t, SourceCheckpoint, more.Usage[0].Source)
	assert.Equal(t, int64(400), more.Usage[0].Usage.InputTokens)
	assert.Equal(t, int64(1), more.Usage[0].Usage.Requests)
}
