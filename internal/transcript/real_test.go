package transcript

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRealTranscriptsReadCleanly: every transcript the real CLI wrote
// reads with no skip and no repair, one event a line, however the bytes
// arrive.
func TestRealTranscriptsReadCleanly(t *testing.T) {
	for _, path := range realTranscripts(t) {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		lines := realLines(t, path)
		for _, src := range []struct {
			name  string
			chunk int
		}{{"whole", len(data)}, {"chunks of 97 bytes", 97}} {
			for _, final := range []bool{false, true} {
				r := NewReader(&chunkReader{data: data, n: src.chunk}, 0, 0, Options{CaptureContent: final})
				r.Final = final
				items := readAll(t, r, len(data))
				require.Len(t, items, len(lines), "%s (%s)", path, src.name)
				var end int64
				for i, it := range items {
					require.Nil(t, it.Skip, "%s:%d: %v", path, i+1, it.Skip)
					require.NotNil(t, it.Event, "%s:%d", path, i+1)
					require.False(t, it.Repaired, "%s:%d", path, i+1)
					end += int64(len(lines[i]) + 1)
					require.Equal(t, end, it.End, "%s:%d", path, i+1)
					require.True(t, knownTypes[it.Event.Type])
					require.False(t, it.Event.Timestamp.IsZero())
					require.NotEmpty(t, it.Event.ID)
				}
				require.Equal(t, int64(len(data)), r.Offset())
			}
		}
	}
}

// envelope is a whole line decoded by encoding/json, the reference the
// selective decoder is held to.
type envelope struct {
	Type      string          `json:"type"`
	ID        string          `json:"id"`
	ParentID  *string         `json:"parentId"`
	AgentID   string          `json:"agentId"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

func decodeRef(tb testing.TB, raw []byte, v any) {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	require.NoError(tb, dec.Decode(v))
}

// exactInt is the exact value of a JSON number that must be whole.
func exactInt(tb testing.TB, v any) int64 {
	tb.Helper()
	n, ok := v.(json.Number)
	require.True(tb, ok, "%v (%T) is not a number", v, v)
	r, ok := new(big.Rat).SetString(string(n))
	require.True(tb, ok)
	require.True(tb, r.IsInt(), "%s is not whole", n)
	require.True(tb, r.Num().IsInt64())
	return r.Num().Int64()
}

func float(tb testing.TB, v any) float64 {
	tb.Helper()
	n, ok := v.(json.Number)
	require.True(tb, ok, "%v (%T) is not a number", v, v)
	f, err := strconv.ParseFloat(string(n), 64)
	require.NoError(tb, err)
	return f
}

// requireInt checks a decoded count against the member key of m.
func requireInt(tb testing.TB, m map[string]any, key string, got Int, where string) {
	tb.Helper()
	v, present := m[key]
	if !present || v == nil {
		require.Equal(tb, Int{}, got, "%s: %s", where, key)
		return
	}
	require.Equal(tb, Int{V: exactInt(tb, v), Set: true}, got, "%s: %s", where, key)
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// TestUsageRecordsMatchEncodingJSON: decoding only what the accounting
// needs gives, for every usage record the real CLI wrote, the figures
// encoding/json finds in the whole line.
func TestUsageRecordsMatchEncodingJSON(t *testing.T) {
	records, billed := 0, 0
	for _, path := range realTranscripts(t) {
		for i, line := range realLines(t, path) {
			where := fmt.Sprintf("%s:%d", path, i+1)
			var env envelope
			decodeRef(t, line, &env)
			ev, err := Decode(line, Options{})
			require.NoError(t, err, where)

			require.Equal(t, env.Type, ev.Type, where)
			require.Equal(t, env.ID, ev.ID, where)
			if env.ParentID != nil {
				require.Equal(t, *env.ParentID, ev.ParentID, where)
			}
			require.Equal(t, env.AgentID, ev.AgentID, where)
			ts, err := time.Parse(time.RFC3339Nano, env.Timestamp)
			require.NoError(t, err)
			require.True(t, ts.Equal(ev.Timestamp), where)

			if env.Type != TypeUsageRecord {
				continue
			}
			records++
			var data struct {
				Usage map[string]any `json:"usage"`
			}
			decodeRef(t, env.Data, &data)
			ref := data.Usage
			got := ev.Data.(*UsageRecordData).Usage

			require.Equal(t, str(ref, "model"), got.Model, where)
			require.NotEmpty(t, got.Model, where)
			for key, v := range map[string]Int{
				"inputTokens":      got.InputTokens,
				"outputTokens":     got.OutputTokens,
				"cacheReadTokens":  got.CacheReadTokens,
				"cacheWriteTokens": got.CacheWriteTokens,
				"reasoningTokens":  got.ReasoningTokens,
				"duration":         got.Duration,
			} {
				requireInt(t, ref, key, v, where)
			}
			require.True(t, got.InputTokens.Set && got.OutputTokens.Set && got.Duration.Set, where)
			require.Equal(t, float(t, ref["cost"]), got.Cost, where)
			require.Equal(t, float(t, ref["timeToFirstTokenMs"]), got.TimeToFirstTokenMs, where)
			require.Equal(t, str(ref, "initiator"), got.Initiator, where)
			require.Equal(t, ref["isByok"], got.IsByok, where)
			require.Equal(t, str(ref, "providerType"), got.ProviderType, where)
			require.Equal(t, str(ref, "apiCallId"), got.APICallID, where)
			require.Equal(t, str(ref, "finishReason"), got.FinishReason, where)

			if cu, ok := ref["copilotUsage"].(map[string]any); ok {
				require.NotNil(t, got.CopilotUsage, where)
				requireInt(t, cu, "totalNanoAiu", got.CopilotUsage.TotalNanoAIU, where)
				if got.CopilotUsage.TotalNanoAIU.V > 0 {
					billed++
				}
			} else {
				require.Nil(t, got.CopilotUsage, where)
			}

			acc, ok := ref["accounting"].(map[string]any)
			require.True(t, ok, "%s: no accounting", where)
			require.NotNil(t, got.Accounting, where)
			require.Equal(t, str(acc, "sourceSessionId"), got.Accounting.SourceSessionID, where)
			require.NotEmpty(t, got.Accounting.SourceSessionID, where)
			requireInt(t, acc, "sequence", got.Accounting.Sequence, where)
			require.Equal(t, str(acc, "usageId"), got.Accounting.UsageID, where)
		}
	}
	require.Equal(t, 57, records, "usage records in the real transcripts")
	require.Equal(t, 14, billed, "usage records with nano-AIU")
}

// TestShutdownsMatchEncodingJSON does the same for the session totals of
// every real shutdown.
func TestShutdownsMatchEncodingJSON(t *testing.T) {
	shutdowns := 0
	for _, path := range realTranscripts(t) {
		for i, line := range realLines(t, path) {
			var env envelope
			decodeRef(t, line, &env)
			if env.Type != TypeSessionShutdown {
				continue
			}
			shutdowns++
			where := fmt.Sprintf("%s:%d", path, i+1)
			ev, err := Decode(line, Options{})
			require.NoError(t, err, where)
			got := ev.Data.(*ShutdownData)
			var ref map[string]any
			decodeRef(t, env.Data, &ref)
			snap := ref["accountingSnapshot"].(map[string]any)
			require.NotNil(t, got.Snapshot, where)
			require.True(t, got.Cumulative, where)
			tot := got.Totals()
			requireInt(t, snap, "totalNanoAiu", tot.NanoAIU, where)
			requireInt(t, snap, "totalUserRequests", tot.UserRequests, where)
			requireInt(t, snap, "totalApiDurationMs", tot.APIDurationMs, where)
			require.Equal(t, float(t, snap["totalPremiumRequestCost"]), tot.PremiumRequestCost, where)
			require.True(t, tot.HasPremium, where)
			mm := snap["modelMetrics"].(map[string]any)
			require.Len(t, tot.ModelMetrics, len(mm), where)
			for _, gm := range tot.ModelMetrics {
				m, ok := mm[gm.Model].(map[string]any)
				require.True(t, ok, "%s: model %q", where, gm.Model)
				req := m["requests"].(map[string]any)
				requireInt(t, req, "count", gm.Requests.Count, where)
				require.Equal(t, float(t, req["cost"]), gm.Requests.Cost, where)
				u := m["usage"].(map[string]any)
				requireInt(t, u, "inputTokens", gm.Usage.InputTokens, where)
				requireInt(t, u, "outputTokens", gm.Usage.OutputTokens, where)
				requireInt(t, u, "cacheReadTokens", gm.Usage.CacheReadTokens, where)
				requireInt(t, u, "cacheWriteTokens", gm.Usage.CacheWriteTokens, where)
				requireInt(t, u, "reasoningTokens", gm.Usage.ReasoningTokens, where)
				requireInt(t, m, "totalNanoAiu", gm.TotalNanoAIU, where)
			}
			wm := ref["usageAccountingWatermarks"].(map[string]any)
			require.Len(t, got.Watermarks, len(wm), where)
			for src, v := range wm {
				require.Equal(t, exactInt(t, v), got.Watermarks[src], where)
			}
			// The flat totals older CLIs write agree with the snapshot,
			// which is why they are not decoded beside it.
			require.Nil(t, got.Flat, where)
			requireInt(t, ref, "totalNanoAiu", tot.NanoAIU, where)
		}
	}
	require.Equal(t, 17, shutdowns)
}

// TestContentCapture: prompts, responses and tool arguments and results
// are decoded only when content capture is on.
func TestContentCapture(t *testing.T) {
	seen := map[string]int{}
	for _, path := range realTranscripts(t) {
		for i, line := range realLines(t, path) {
			where := fmt.Sprintf("%s:%d", path, i+1)
			var env envelope
			decodeRef(t, line, &env)
			var ref map[string]any
			decodeRef(t, env.Data, &ref)
			off, err := Decode(line, Options{})
			require.NoError(t, err, where)
			on, err := Decode(line, Options{CaptureContent: true})
			require.NoError(t, err, where)

			switch env.Type {
			case TypeUserMessage:
				d0, d1 := off.Data.(*UserMessageData), on.Data.(*UserMessageData)
				require.Empty(t, d0.Content, where)
				require.Equal(t, str(ref, "content"), d1.Content, where)
				require.NotEmpty(t, d1.Content, where)
				require.Equal(t, str(ref, "interactionId"), d0.InteractionID, where)
				require.Equal(t, d1.InteractionID, d0.InteractionID, where)
				seen[env.Type]++
			case TypeAssistantMessage:
				require.Nil(t, off.Data, where)
				d1 := on.Data.(*AssistantMessageData)
				require.Equal(t, str(ref, "content"), d1.Content, where)
				require.Equal(t, str(ref, "apiCallId"), d1.APICallID, where)
				if d1.Content != "" {
					seen[env.Type]++
				}
			case TypeToolStart:
				d0, d1 := off.Data.(*ToolStartData), on.Data.(*ToolStartData)
				require.Empty(t, d0.Arguments, where)
				args, err := json.Marshal(ref["arguments"])
				require.NoError(t, err)
				require.JSONEq(t, string(args), d1.Arguments, where)
				require.Equal(t, str(ref, "toolCallId"), d0.ToolCallID, where)
				require.Equal(t, str(ref, "toolName"), d0.ToolName, where)
				d0.Arguments = d1.Arguments
				require.Equal(t, d1, d0, where)
				seen[env.Type]++
			case TypeToolComplete:
				d0, d1 := off.Data.(*ToolCompleteData), on.Data.(*ToolCompleteData)
				require.Empty(t, d0.Result, where)
				if res, ok := ref["result"].(map[string]any); ok {
					require.Equal(t, str(res, "content"), d1.Result, where)
					require.NotEmpty(t, d1.Result, where)
				} else {
					// A failed call has an error instead of a result.
					require.Empty(t, d1.Result, where)
					require.False(t, d1.Success, where)
					require.NotNil(t, d1.Error, where)
					require.Equal(t, str(ref["error"].(map[string]any), "message"), d1.Error.Message, where)
				}
				require.Equal(t, str(ref, "toolCallId"), d0.ToolCallID, where)
				require.Equal(t, ref["success"], d0.Success, where)
				d0.Result = d1.Result
				require.Equal(t, d1, d0, where)
				seen[env.Type]++
			case TypeHookStart:
				d := off.Data.(*HookStartData)
				input := ref["input"].(map[string]any)
				require.Equal(t, str(input, "traceparent"), d.Traceparent, where)
				require.Equal(t, str(ref, "hookType"), d.HookType, where)
				if d.Traceparent != "" {
					seen["traceparent"]++
				}
			default:
				require.Equal(t, off, on, where)
			}
		}
	}
	for _, typ := range []string{TypeUserMessage, TypeAssistantMessage, TypeToolStart, TypeToolComplete, "traceparent"} {
		require.NotZero(t, seen[typ], "no real %s with content", typ)
	}
}
