package transcriptgen

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func generate(t testing.TB, o Options) ([]byte, Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := Write(&buf, o)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), st.Bytes)
	return buf.Bytes(), st
}

func lines(b []byte) [][]byte {
	out := bytes.SplitAfter(b, []byte("\n"))
	if len(out) > 0 && len(out[len(out)-1]) == 0 {
		out = out[:len(out)-1]
	}
	return out
}

var combos = map[string]Options{
	"default":       {Seed: 1},
	"byok-subagent": {Seed: 2, Interactions: 5, ToolOutputKB: 2, Subagents: true},
	"billed":        {Seed: 3, Interactions: 5, ToolOutputKB: 2, Billed: true},
	"billed-multi": {Seed: 4, Interactions: 8, ToolOutputKB: 1, Billed: true, Subagents: true,
		Models: []string{"claude-sonnet-4.6", "gpt-5.3-codex", "claude-opus-4.6", "claude-haiku-4.5"}},
	"resume":        {Seed: 5, Interactions: 6, ToolOutputKB: 1, Billed: true, Subagents: true, Resume: true},
	"killed":        {Seed: 6, Interactions: 3, ToolOutputKB: 1, Killed: true},
	"resume-killed": {Seed: 7, Interactions: 4, ToolOutputKB: 1, Billed: true, Subagents: true, Resume: true, Killed: true},
}

func TestDeterministic(t *testing.T) {
	o := Options{Seed: 42, Interactions: 6, ToolOutputKB: 3, Billed: true, Subagents: true, Resume: true,
		Models: []string{"claude-sonnet-4.6", "gpt-5.3-codex"}}
	a, sa := generate(t, o)
	b, sb := generate(t, o)
	require.Equal(t, sha256.Sum256(a), sha256.Sum256(b))
	require.Equal(t, sa, sb)

	o.Seed = 43
	c, _ := generate(t, o)
	require.NotEqual(t, sha256.Sum256(a), sha256.Sum256(c))

	// The session id is the derived one unless given, and then used.
	require.Equal(t, sa.SessionID, Options{Seed: 42}.withDefaults().SessionID)
	o.SessionID = "0b1e1ed0-5a1e-4c0d-9b11-000000000042"
	d, sd := generate(t, o)
	require.Equal(t, o.SessionID, sd.SessionID)
	require.Contains(t, string(lines(d)[0]), `"sessionId":"0b1e1ed0-5a1e-4c0d-9b11-000000000042"`)
}

var (
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	tsRE   = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	tpRE   = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`)
)

// envelope is one line as encoding/json reads it.
type envelope struct {
	Type      string          `json:"type"`
	Data      json.RawMessage `json:"data"`
	ID        string          `json:"id"`
	Timestamp string          `json:"timestamp"`
	ParentID  *string         `json:"parentId"`
	AgentID   string          `json:"agentId"`
}

func decodeLine(t *testing.T, line []byte) envelope {
	t.Helper()
	require.True(t, bytes.HasPrefix(line, []byte(`{"type":"`)), "type comes first: %.80s", line)
	require.True(t, bytes.HasSuffix(line, []byte("}\n")))
	require.True(t, json.Valid(line), "invalid JSON: %.200s", line)

	// The members, in order.
	dec := json.NewDecoder(bytes.NewReader(line))
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		keys = append(keys, k.(string))
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	want := []string{"type", "data", "id", "timestamp", "parentId"}
	if len(keys) == 6 {
		want = []string{"type", "data", "agentId", "id", "timestamp", "parentId"}
	}
	require.Equal(t, want, keys)

	var ev envelope
	require.NoError(t, json.Unmarshal(line, &ev))
	require.True(t, json.Valid(ev.Data) && ev.Data[0] == '{', "data is an object")
	require.Regexp(t, uuidRE, ev.ID)
	require.Regexp(t, tsRE, ev.Timestamp)
	if ev.AgentID != "" {
		require.Regexp(t, uuidRE, ev.AgentID)
	}
	return ev
}

type hookData struct {
	HookInvocationID string                     `json:"hookInvocationId"`
	HookType         string                     `json:"hookType"`
	Input            map[string]json.RawMessage `json:"input"`
	Success          *bool                      `json:"success"`
	ParentToolCallID string                     `json:"parentToolCallId"`
}

// TestLines checks every line of several sessions: valid JSON with the
// envelope of the CLI, ids chained, time moving forward, hooks paired.
func TestLines(t *testing.T) {
	for name, o := range combos {
		t.Run(name, func(t *testing.T) {
			b, st := generate(t, o)
			ls := lines(b)
			require.Len(t, ls, st.Events)
			var prevID string
			var prevTS time.Time
			open := map[string]string{} // hook invocation -> type
			hookCounts := map[string]int{}
			subagents := map[string]bool{}
			maxLine := 0
			for i, line := range ls {
				maxLine = max(maxLine, len(line))
				ev := decodeLine(t, line)
				if i == 0 {
					require.Equal(t, "session.start", ev.Type)
					require.Nil(t, ev.ParentID)
				} else {
					require.NotNil(t, ev.ParentID)
					require.Equal(t, prevID, *ev.ParentID)
				}
				prevID = ev.ID
				ts, err := time.Parse(time.RFC3339Nano, ev.Timestamp)
				require.NoError(t, err)
				require.False(t, ts.Before(prevTS), "line %d goes back in time", i+1)
				prevTS = ts

				switch ev.Type {
				case "hook.start":
					var h hookData
					require.NoError(t, json.Unmarshal(ev.Data, &h))
					require.Regexp(t, uuidRE, h.HookInvocationID)
					require.NotContains(t, open, h.HookInvocationID)
					open[h.HookInvocationID] = h.HookType
					hookCounts[h.HookType]++
					require.Contains(t, h.Input, "sessionId")
					require.Contains(t, h.Input, "cwd")
					if tp, ok := h.Input["traceparent"]; ok {
						var s string
						require.NoError(t, json.Unmarshal(tp, &s))
						require.Regexp(t, tpRE, s)
					}
					switch h.HookType {
					case "postToolUse":
						require.Contains(t, h.Input, "toolName")
						require.Contains(t, h.Input, "toolArgs")
						var res struct {
							TextResultForLlm *string         `json:"textResultForLlm"`
							ResultType       string          `json:"resultType"`
							ToolTelemetry    json.RawMessage `json:"toolTelemetry"`
						}
						require.NoError(t, json.Unmarshal(h.Input["toolResult"], &res))
						require.NotNil(t, res.TextResultForLlm)
						require.Equal(t, "success", res.ResultType)
						require.NotEmpty(t, res.ToolTelemetry)
					case "preToolUse":
						require.Contains(t, h.Input, "toolCalls")
					case "agentStop", "subagentStop", "subagentStart":
						require.Contains(t, h.Input, "transcriptPath")
					}
					require.Equal(t, ev.AgentID != "", h.ParentToolCallID != "")
				case "hook.end":
					var h hookData
					require.NoError(t, json.Unmarshal(ev.Data, &h))
					require.Equal(t, open[h.HookInvocationID], h.HookType, "hook.end without its start")
					delete(open, h.HookInvocationID)
					require.NotNil(t, h.Success)
				case "subagent.started":
					require.NotEmpty(t, ev.AgentID)
					subagents[ev.AgentID] = true
				case "subagent.configured", "subagent.selected", "subagent.completed":
					require.True(t, subagents[ev.AgentID], "%s of an unknown subagent", ev.Type)
				}
			}
			require.Empty(t, open, "hooks without hook.end")
			require.Equal(t, maxLine, st.MaxLineBytes)
			require.Equal(t, st.Subagents, len(subagents))
			if o.Subagents {
				require.NotZero(t, st.Subagents, "no subagent ran; pick another seed")
			}
			require.Equal(t, hookCounts["userPromptSubmitted"]-st.Subagents, o.withDefaults().Interactions)
			require.NotZero(t, hookCounts["preToolUse"])
			require.NotZero(t, hookCounts["postToolUse"])
			if !o.Killed {
				require.Equal(t, st.Shutdowns, hookCounts["sessionEnd"])
			}
		})
	}
}

// ---- accounting, computed independently ----

type metricJSON struct {
	Requests struct {
		Count float64 `json:"count"`
		Cost  float64 `json:"cost"`
	} `json:"requests"`
	Usage struct {
		InputTokens      float64 `json:"inputTokens"`
		OutputTokens     float64 `json:"outputTokens"`
		CacheReadTokens  float64 `json:"cacheReadTokens"`
		CacheWriteTokens float64 `json:"cacheWriteTokens"`
		ReasoningTokens  float64 `json:"reasoningTokens"`
	} `json:"usage"`
	TotalNanoAiu float64 `json:"totalNanoAiu"`
}

type agentJSON struct {
	AgentName          string                `json:"agentName"`
	AgentDisplayName   string                `json:"agentDisplayName"`
	TotalAPIDurationMs float64               `json:"totalApiDurationMs"`
	TotalNanoAiu       float64               `json:"totalNanoAiu"`
	ModelMetrics       map[string]metricJSON `json:"modelMetrics"`
}

type codeJSON struct {
	LinesAdded         float64  `json:"linesAdded"`
	LinesRemoved       float64  `json:"linesRemoved"`
	FilesModifiedCount *float64 `json:"filesModifiedCount"`
	FilesModified      []string `json:"filesModified"`
}

type shutdownJSON struct {
	Snapshot struct {
		TotalPremiumRequestCost float64               `json:"totalPremiumRequestCost"`
		TotalUserRequests       float64               `json:"totalUserRequests"`
		TotalNanoAiu            float64               `json:"totalNanoAiu"`
		TotalAPIDurationMs      float64               `json:"totalApiDurationMs"`
		CodeChanges             codeJSON              `json:"codeChanges"`
		ModelMetrics            map[string]metricJSON `json:"modelMetrics"`
		AgentMetrics            map[string]agentJSON  `json:"agentMetrics"`
		ProviderModelMetrics    []struct {
			ModelID string     `json:"modelId"`
			Metrics metricJSON `json:"metrics"`
		} `json:"providerModelMetrics"`
		CurrentModel        string  `json:"currentModel"`
		LastCallInputTokens float64 `json:"lastCallInputTokens"`
	} `json:"accountingSnapshot"`
	Watermarks           map[string]float64    `json:"usageAccountingWatermarks"`
	ShutdownType         string                `json:"shutdownType"`
	TotalPremiumRequests float64               `json:"totalPremiumRequests"`
	TotalNanoAiu         float64               `json:"totalNanoAiu"`
	TotalAPIDurationMs   float64               `json:"totalApiDurationMs"`
	EventsFileSizeBytes  float64               `json:"eventsFileSizeBytes"`
	CodeChanges          codeJSON              `json:"codeChanges"`
	ModelMetrics         map[string]metricJSON `json:"modelMetrics"`
	AgentMetrics         map[string]agentJSON  `json:"agentMetrics"`
}

type recordJSON struct {
	Usage struct {
		Model            string  `json:"model"`
		InputTokens      int64   `json:"inputTokens"`
		OutputTokens     int64   `json:"outputTokens"`
		CacheReadTokens  int64   `json:"cacheReadTokens"`
		CacheWriteTokens int64   `json:"cacheWriteTokens"`
		ReasoningTokens  int64   `json:"reasoningTokens"`
		Cost             float64 `json:"cost"`
		Duration         int64   `json:"duration"`
		Initiator        string  `json:"initiator"`
		IsByok           bool    `json:"isByok"`
		ParentToolCallID string  `json:"parentToolCallId"`
		Accounting       *struct {
			SourceSessionID string `json:"sourceSessionId"`
			Sequence        int64  `json:"sequence"`
			UsageID         string `json:"usageId"`
		} `json:"accounting"`
		CopilotUsage *struct {
			Model        string `json:"model"`
			TotalNanoAiu int64  `json:"totalNanoAiu"`
		} `json:"copilotUsage"`
	} `json:"usage"`
}

// sums is the running accounting of the records read so far.
type sums struct {
	byModel   map[string]*ModelTotals
	byAgent   map[string]map[string]*ModelTotals
	agentDur  map[string]int64
	agentNano map[string]int64
	cost      float64
	nano      int64
	dur       int64
	user      int64
	seq       map[string]int64
	lastMain  int64
	added     int64
	removed   int64
	files     map[string]bool
}

func newSums() *sums {
	return &sums{byModel: map[string]*ModelTotals{}, byAgent: map[string]map[string]*ModelTotals{},
		agentDur: map[string]int64{}, agentNano: map[string]int64{}, seq: map[string]int64{}, files: map[string]bool{}}
}

func (s *sums) add(t *testing.T, agent string, r recordJSON, billed bool) {
	u := r.Usage
	require.NotNil(t, u.Accounting)
	require.Equal(t, u.Accounting.UsageID, "chatcmpl-"+u.Accounting.UsageID[len("chatcmpl-"):])
	require.Equal(t, s.seq[u.Accounting.SourceSessionID]+1, u.Accounting.Sequence, "sequences count up per source")
	s.seq[u.Accounting.SourceSessionID] = u.Accounting.Sequence
	require.Equal(t, !billed, u.IsByok)
	var nano int64
	if billed {
		require.NotNil(t, u.CopilotUsage)
		require.Equal(t, u.Model, u.CopilotUsage.Model)
		nano = u.CopilotUsage.TotalNanoAiu
		require.Positive(t, nano)
	} else {
		require.Nil(t, u.CopilotUsage)
		require.Zero(t, u.Cost)
	}
	require.LessOrEqual(t, u.CacheReadTokens+u.CacheWriteTokens, u.InputTokens)
	require.LessOrEqual(t, u.ReasoningTokens, u.OutputTokens)
	m := ModelTotals{Requests: 1, InputTokens: u.InputTokens, OutputTokens: u.OutputTokens,
		CacheReadTokens: u.CacheReadTokens, CacheWriteTokens: u.CacheWriteTokens, ReasoningTokens: u.ReasoningTokens,
		NanoAIU: nano, Cost: u.Cost, APIDurationMs: u.Duration}
	if s.byModel[u.Model] == nil {
		s.byModel[u.Model] = &ModelTotals{}
	}
	s.byModel[u.Model].add(m)
	if s.byAgent[agent] == nil {
		s.byAgent[agent] = map[string]*ModelTotals{}
	}
	if s.byAgent[agent][u.Model] == nil {
		s.byAgent[agent][u.Model] = &ModelTotals{}
	}
	s.byAgent[agent][u.Model].add(m)
	s.agentDur[agent] += u.Duration
	s.agentNano[agent] += nano
	s.cost += u.Cost
	s.nano += nano
	s.dur += u.Duration
	if u.Initiator == "user" {
		s.user++
	}
	if agent == "main" {
		s.lastMain = u.InputTokens
	}
}

func requireMetric(t *testing.T, want *ModelTotals, got metricJSON, what string) {
	t.Helper()
	require.NotNil(t, want, what)
	require.Equal(t, float64(want.Requests), got.Requests.Count, what)
	require.Equal(t, want.Cost, got.Requests.Cost, what)
	require.Equal(t, float64(want.InputTokens), got.Usage.InputTokens, what)
	require.Equal(t, float64(want.OutputTokens), got.Usage.OutputTokens, what)
	require.Equal(t, float64(want.CacheReadTokens), got.Usage.CacheReadTokens, what)
	require.Equal(t, float64(want.CacheWriteTokens), got.Usage.CacheWriteTokens, what)
	require.Equal(t, float64(want.ReasoningTokens), got.Usage.ReasoningTokens, what)
	require.Equal(t, float64(want.NanoAIU), got.TotalNanoAiu, what)
}

func requireModels(t *testing.T, want map[string]*ModelTotals, got map[string]metricJSON, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for m, w := range want {
		requireMetric(t, w, got[m], what+" "+m)
	}
}

func (s *sums) check(t *testing.T, sd shutdownJSON, bytesBefore int64) {
	snap := sd.Snapshot
	requireModels(t, s.byModel, snap.ModelMetrics, "snapshot modelMetrics")
	requireModels(t, s.byModel, sd.ModelMetrics, "flat modelMetrics")
	require.Len(t, snap.ProviderModelMetrics, len(s.byModel))
	for _, p := range snap.ProviderModelMetrics {
		requireMetric(t, s.byModel[p.ModelID], p.Metrics, "providerModelMetrics "+p.ModelID)
	}
	for _, am := range []map[string]agentJSON{snap.AgentMetrics, sd.AgentMetrics} {
		require.Len(t, am, len(s.byAgent))
		for agent, models := range s.byAgent {
			a, ok := am[agent]
			require.True(t, ok, "agentMetrics lacks %s", agent)
			requireModels(t, models, a.ModelMetrics, "agentMetrics "+agent)
			require.Equal(t, float64(s.agentDur[agent]), a.TotalAPIDurationMs)
			require.Equal(t, float64(s.agentNano[agent]), a.TotalNanoAiu)
			if agent != "main" {
				require.NotEmpty(t, a.AgentName)
				require.NotEmpty(t, a.AgentDisplayName)
			}
		}
	}
	require.Equal(t, s.cost, snap.TotalPremiumRequestCost)
	require.Equal(t, s.cost, sd.TotalPremiumRequests)
	require.Equal(t, float64(s.nano), snap.TotalNanoAiu)
	require.Equal(t, float64(s.nano), sd.TotalNanoAiu)
	require.Equal(t, float64(s.dur), snap.TotalAPIDurationMs)
	require.Equal(t, float64(s.dur), sd.TotalAPIDurationMs)
	require.Equal(t, float64(s.user), snap.TotalUserRequests)
	require.Equal(t, float64(s.lastMain), snap.LastCallInputTokens)
	require.Equal(t, float64(bytesBefore), sd.EventsFileSizeBytes)
	require.Equal(t, "routine", sd.ShutdownType)
	require.Len(t, sd.Watermarks, len(s.seq))
	for src, n := range s.seq {
		require.Equal(t, float64(n), sd.Watermarks[src], "watermark of %s", src)
	}
	for _, cc := range []codeJSON{snap.CodeChanges, sd.CodeChanges} {
		require.Equal(t, float64(s.added), cc.LinesAdded)
		require.Equal(t, float64(s.removed), cc.LinesRemoved)
		got := append([]string(nil), cc.FilesModified...)
		sort.Strings(got)
		var want []string
		for f := range s.files {
			want = append(want, f)
		}
		sort.Strings(want)
		require.Equal(t, want, got)
	}
	require.NotNil(t, snap.CodeChanges.FilesModifiedCount)
	require.Equal(t, float64(len(s.files)), *snap.CodeChanges.FilesModifiedCount)
}

// TestShutdownTotals checks that every shutdown reports exactly the sums of
// the usage records written before it, and that Stats agree.
func TestShutdownTotals(t *testing.T) {
	for name, o := range combos {
		t.Run(name, func(t *testing.T) {
			b, st := generate(t, o)
			s := newSums()
			var offset int64
			shutdowns, resumes := 0, 0
			for _, line := range lines(b) {
				var ev envelope
				require.NoError(t, json.Unmarshal(line, &ev))
				switch ev.Type {
				case "session.usage_record":
					var r recordJSON
					require.NoError(t, json.Unmarshal(ev.Data, &r))
					agent := "main"
					if ev.AgentID != "" {
						agent = ev.AgentID
						require.NotEmpty(t, r.Usage.ParentToolCallID)
						require.NotEqual(t, st.SessionID, r.Usage.Accounting.SourceSessionID)
						require.Equal(t, "sub-agent", r.Usage.Initiator)
					} else {
						require.Equal(t, st.SessionID, r.Usage.Accounting.SourceSessionID)
					}
					s.add(t, agent, r, o.Billed)
				case "tool.execution_complete":
					var d struct {
						FileEdits []struct {
							Path string `json:"path"`
						} `json:"fileEdits"`
						ToolTelemetry struct {
							Metrics struct {
								LinesAdded   int64 `json:"linesAdded"`
								LinesRemoved int64 `json:"linesRemoved"`
							} `json:"metrics"`
						} `json:"toolTelemetry"`
					}
					require.NoError(t, json.Unmarshal(ev.Data, &d))
					for _, f := range d.FileEdits {
						s.files[f.Path] = true
						s.added += d.ToolTelemetry.Metrics.LinesAdded
						s.removed += d.ToolTelemetry.Metrics.LinesRemoved
					}
				case "session.shutdown":
					var sd shutdownJSON
					require.NoError(t, json.Unmarshal(ev.Data, &sd))
					s.check(t, sd, offset)
					shutdowns++
				case "session.resume":
					var d struct {
						EventsFileSizeBytes int64 `json:"eventsFileSizeBytes"`
					}
					require.NoError(t, json.Unmarshal(ev.Data, &d))
					require.Equal(t, offset, d.EventsFileSizeBytes)
					require.Equal(t, 1, shutdowns, "session.resume follows the first leg's shutdown")
					resumes++
				}
				offset += int64(len(line))
			}
			wantShutdowns := 1
			if o.Resume {
				wantShutdowns = 2
				require.Equal(t, 1, resumes)
			}
			if o.Killed {
				wantShutdowns--
			}
			require.Equal(t, wantShutdowns, shutdowns)
			require.Equal(t, wantShutdowns, st.Shutdowns)

			// Stats are the same sums.
			require.Len(t, st.Totals, len(s.byModel))
			var records int64
			for m, w := range s.byModel {
				require.Equal(t, *w, st.Totals[m], m)
				records += w.Requests
			}
			require.Equal(t, int64(st.UsageRecords), records)
			require.Equal(t, int64(st.UserRequests), s.user)
			if o.Billed {
				require.Positive(t, st.Total().NanoAIU)
				require.Positive(t, st.Total().Cost)
			}
		})
	}
}

func TestKilled(t *testing.T) {
	b, st := generate(t, Options{Seed: 11, Interactions: 2, ToolOutputKB: 1, Killed: true})
	require.Zero(t, st.Shutdowns)
	require.NotContains(t, string(b), `"session.shutdown"`)
	require.NotContains(t, string(b), `"hookType":"sessionEnd"`)
	require.Positive(t, st.UsageRecords)
	// Killed during a tool call: it started and never completed.
	ls := lines(b)
	starts := bytes.Count(b, []byte(`{"type":"tool.execution_start"`))
	completes := bytes.Count(b, []byte(`{"type":"tool.execution_complete"`))
	require.Equal(t, completes+1, starts)
	require.Contains(t, string(ls[len(ls)-1]), `"hookType":"preToolUse"`)
}

func TestResume(t *testing.T) {
	b, st := generate(t, Options{Seed: 12, Interactions: 3, ToolOutputKB: 1, Resume: true})
	require.Equal(t, 2, st.Shutdowns)
	var totals []float64
	var resumeSeen bool
	for _, line := range lines(b) {
		var ev envelope
		require.NoError(t, json.Unmarshal(line, &ev))
		switch ev.Type {
		case "session.shutdown":
			var sd shutdownJSON
			require.NoError(t, json.Unmarshal(ev.Data, &sd))
			totals = append(totals, sd.Snapshot.ModelMetrics["claude-sonnet-4.6"].Requests.Count)
		case "session.resume":
			resumeSeen = true
		case "hook.start":
			if resumeSeen && bytes.Contains(ev.Data, []byte(`"hookType":"sessionStart"`)) {
				require.Contains(t, string(ev.Data), `"source":"resume"`)
			}
		}
	}
	require.Len(t, totals, 2)
	require.Less(t, totals[0], totals[1])
	require.Equal(t, float64(st.UsageRecords), totals[1], "the second shutdown covers the whole session")
}

func TestSizes(t *testing.T) {
	// Sizes follow the options.
	small, _ := generate(t, Options{Seed: 21, Interactions: 10, ToolOutputKB: 1})
	big, st := generate(t, Options{Seed: 21, Interactions: 10, ToolOutputKB: 32})
	require.Greater(t, len(big), 5*len(small))
	require.LessOrEqual(t, st.MaxLineBytes, 1_800_000)

	for _, o := range []Options{
		{Seed: 22, Interactions: 20, ToolOutputKB: 8},
		{Seed: 23, Interactions: 12, ToolOutputKB: 16, Subagents: true},
		{Seed: 24, Interactions: 30, ToolOutputKB: 2, Billed: true},
	} {
		_, st := generate(t, o)
		ratio := float64(st.Bytes) / float64(o.EstimateBytes())
		require.InDelta(t, 1, ratio, 0.5, "%+v: %d bytes, estimated %d", o, st.Bytes, o.EstimateBytes())
	}

	// The system prompt has the requested size.
	b, _ := generate(t, Options{Seed: 25, Interactions: 1, SystemPromptKB: 40})
	for _, line := range lines(b) {
		if bytes.HasPrefix(line, []byte(`{"type":"system.message"`)) {
			require.InDelta(t, 40<<10, len(line), 2000)
		}
	}

	// Tool outputs spread around the typical size, a few far larger.
	g := newGenerator(io.Discard, Options{Seed: 26, ToolOutputKB: 8}.withDefaults(), nil)
	var sizes []int
	for i := 0; i < 20000; i++ {
		sizes = append(sizes, g.outputSize())
	}
	sort.Ints(sizes)
	require.InDelta(t, 8<<10, sizes[len(sizes)/2], 1500)
	require.GreaterOrEqual(t, sizes[0], 2<<10)
	require.Greater(t, sizes[len(sizes)-10], 256<<10)
	require.LessOrEqual(t, sizes[len(sizes)-1], maxOutputBytes)
}

func TestCorpus(t *testing.T) {
	dir := t.TempDir()
	cs, err := Corpus(dir, 5, 4<<20)
	require.NoError(t, err)
	require.GreaterOrEqual(t, cs.Bytes, int64(4<<20))
	require.Less(t, cs.Bytes, int64(6<<20))
	require.Greater(t, len(cs.Sessions), 5)

	var onDisk int64
	var records int
	ids := map[string]bool{}
	for _, s := range cs.Sessions {
		require.Equal(t, filepath.Join(dir, s.Stats.SessionID, "events.jsonl"), s.Path)
		require.False(t, ids[s.Stats.SessionID])
		ids[s.Stats.SessionID] = true
		fi, err := os.Stat(s.Path)
		require.NoError(t, err)
		require.Equal(t, s.Stats.Bytes, fi.Size())
		onDisk += fi.Size()
		records += s.Stats.UsageRecords
	}
	require.Equal(t, cs.Bytes, onDisk)
	require.Equal(t, cs.UsageRecords, records)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, len(cs.Sessions))

	// Every line of the corpus is JSON.
	for _, s := range cs.Sessions[:3] {
		f, err := os.Open(s.Path)
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			require.True(t, json.Valid(sc.Bytes()))
		}
		require.NoError(t, sc.Err())
		f.Close()
	}

	// The same seed gives the same corpus.
	again, err := Corpus(t.TempDir(), 5, 4<<20)
	require.NoError(t, err)
	require.Equal(t, len(cs.Sessions), len(again.Sessions))
	for i := range cs.Sessions {
		require.Equal(t, cs.Sessions[i].Stats, again.Sessions[i].Stats)
	}

	_, err = Corpus(dir, 1, 0)
	require.Error(t, err)
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n--; w.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	_, err := Write(&failWriter{n: 1}, Options{Seed: 1, Interactions: 50, ToolOutputKB: 64})
	require.EqualError(t, err, "disk full")
}

// sized returns o with as many interactions as make about target bytes.
func sized(o Options, target int64) Options {
	o.Interactions = 1
	per := o.EstimateBytes()
	o.Interactions = 2
	per = o.EstimateBytes() - per
	o.Interactions = int(max(1, target/per))
	return o
}

func benchWrite(b *testing.B, o Options, w func(b *testing.B) io.Writer) {
	getPools()
	for i := 0; i < b.N; i++ {
		dst := w(b)
		b.StartTimer()
		st, err := Write(dst, o)
		if c, ok := dst.(io.Closer); ok && err == nil {
			err = c.Close()
		}
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(st.Bytes)
	}
}

func discard(*testing.B) io.Writer { return io.Discard }

func tempFile(b *testing.B) io.Writer {
	f, err := os.Create(filepath.Join(b.TempDir(), "events.jsonl"))
	require.NoError(b, err)
	return f
}

// BenchmarkWrite measures generation alone, for a session of about 64 MB.
func BenchmarkWrite(b *testing.B) {
	benchWrite(b, sized(Options{Seed: 1, ToolOutputKB: 16, Billed: true, Subagents: true}, 64<<20), discard)
}

// BenchmarkWrite1GB generates one session of about 1 GB into io.Discard;
// run it with -benchtime=1x.
func BenchmarkWrite1GB(b *testing.B) {
	benchWrite(b, sized(Options{Seed: 1, ToolOutputKB: 24, Billed: true, Subagents: true}, 1<<30), discard)
}

// BenchmarkWrite1GBFile writes the same session to a file in the test's
// temporary directory (set TMPDIR to choose the file system).
func BenchmarkWrite1GBFile(b *testing.B) {
	benchWrite(b, sized(Options{Seed: 1, ToolOutputKB: 24, Billed: true, Subagents: true}, 1<<30), tempFile)
}

// BenchmarkCorpus1GB writes a corpus of about 1 GB to the test's temporary
// directory; run it with -benchtime=1x.
func BenchmarkCorpus1GB(b *testing.B) {
	getPools()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		b.StartTimer()
		cs, err := Corpus(dir, int64(i), 1<<30)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(cs.Bytes)
		b.ReportMetric(float64(len(cs.Sessions)), "sessions/op")
		require.NoError(b, os.RemoveAll(dir))
	}
}
