package hook

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// realPayloads returns every hook payload the real CLI wrote, by file.
func realPayloads(t testing.TB) map[string][][]byte {
	files, err := filepath.Glob("../../testdata/copilot-cli/*/hooks/*.jsonl")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out := map[string][][]byte{}
	for _, f := range files {
		fh, err := os.Open(f)
		require.NoError(t, err)
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
				out[f] = append(out[f], bytes.Clone(l))
			}
		}
		require.NoError(t, fh.Close())
	}
	return out
}

// TestRealPayloads decodes every payload of both dialects: the hook type
// comes from the file name (as the forwarder's argument would give it) for
// the CLI's dialect and from the payload for the Claude one.
func TestRealPayloads(t *testing.T) {
	n := 0
	for f, lines := range realPayloads(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		want, ok := Canonical(name)
		require.True(t, ok, name)
		claude := strings.Contains(f, "claude-dialect")
		for _, l := range lines {
			hint := name
			if claude {
				hint = "" // the payload names itself
			}
			p, err := Decode(l, hint, Options{})
			require.NoError(t, err, "%s: %s", f, l)
			assert.Equal(t, want, p.Type)
			assert.NotEmpty(t, p.SessionID)
			assert.False(t, p.Time.IsZero())
			assert.True(t, p.Time.After(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
			if claude {
				assert.Equal(t, DialectClaude, p.Dialect)
			} else {
				assert.Equal(t, DialectCopilot, p.Dialect)
			}
			assert.Empty(t, p.Prompt)
			assert.Empty(t, p.ToolArgs)
			switch p.Type {
			case AgentStop, SubagentStop:
				assert.NotEmpty(t, p.TranscriptPath, "%s", l)
				assert.NotEmpty(t, p.StopReason)
			case SessionEnd:
				assert.NotEmpty(t, p.Reason)
			case PreToolUse, PostToolUse, PermissionRequest:
				assert.NotEmpty(t, p.ToolName)
			case ErrorOccurred:
				assert.NotEmpty(t, p.ErrorMessage)
				assert.Equal(t, "model_call", p.ErrorContext)
			case SubagentStart:
				assert.NotEmpty(t, p.AgentID)
			}
			n++
		}
	}
	assert.Greater(t, n, 100)
}

func TestTypeFromURLAndPayloadMustAgree(t *testing.T) {
	stop := []byte(`{"hook_event_name":"Stop","session_id":"s","timestamp":"2026-11-22T17:41:48.327Z"}`)
	p, err := Decode(stop, "agentStop", Options{})
	require.NoError(t, err)
	assert.Equal(t, AgentStop, p.Type)
	_, err = Decode(stop, "sessionEnd", Options{})
	assert.ErrorContains(t, err, `"Stop" hook but was sent as "sessionEnd"`)
	_, err = Decode([]byte(`{"sessionId":"s","timestamp":1795363647009}`), "", Options{})
	assert.ErrorContains(t, err, "hook type is not known")
	_, err = Decode([]byte(`{"sessionId":"s"}`), "bogus", Options{})
	assert.ErrorContains(t, err, `"bogus" is not a hook type`)
}

func TestBadPayloads(t *testing.T) {
	for body, want := range map[string]string{
		``:                                   "not a JSON object",
		`[1]`:                                "not a JSON object",
		`{"sessionId":`:                      "not valid JSON",
		`{"sessionId":"s"} {}`:               "data after",
		`{"timestamp":1795363647009}`:        "no sessionId",
		`{"sessionId":"s","timestamp":"x"}`:  "not an RFC 3339 time",
		`{"sessionId":"s","timestamp":-5}`:   "not epoch milliseconds",
		`{"sessionId":"s","timestamp":true}`: "neither epoch",
		`{"sessionId":"s","usage":{"totalNanoAiu":"lots"}}`: "usage object",
		`{"sessionId":"s","error":5}`:                       "error is neither",
	} {
		_, err := Decode([]byte(body), "sessionEnd", Options{})
		assert.ErrorContains(t, err, want, body)
	}
}

func TestCaptureContent(t *testing.T) {
	body := []byte(`{"sessionId":"s","timestamp":1795363646956,"toolName":"bash","toolArgs":{"command":"echo hi"},"toolResult":{"resultType":"success","textResultForLlm":"hi"}}`)
	p, err := Decode(body, PostToolUse, Options{CaptureContent: true})
	require.NoError(t, err)
	assert.JSONEq(t, `{"command":"echo hi"}`, string(p.ToolArgs))
	assert.Equal(t, "success", p.ToolResultType)
	assert.Contains(t, string(p.ToolResult), "hi")
}

func TestWithUsageFrom(t *testing.T) {
	u := session.UsageSummary{TotalNanoAIU: 7, ModelMetrics: map[string]session.ModelSummary{"m": {Requests: session.RequestSummary{Count: 2}}}}
	out, added, err := WithUsageFrom([]byte(`{"sessionId":"s","timestamp":1}`), u, UsageFromStore)
	require.NoError(t, err)
	require.True(t, added)
	assert.Contains(t, string(out), `"source":"store"`)
	p, err := Decode(out, PreToolUse, Options{})
	require.NoError(t, err)
	require.NotNil(t, p.Usage)
	assert.Equal(t, u, *p.Usage)
	assert.Equal(t, UsageFromStore, p.UsageSource)

	out, _, err = WithUsageFrom([]byte(`{"sessionId":"s","timestamp":1}`), u, "")
	require.NoError(t, err)
	assert.NotContains(t, string(out), `"source"`)
	p, err = Decode(out, PreToolUse, Options{})
	require.NoError(t, err)
	assert.Empty(t, p.UsageSource)
}

func TestWithUsage(t *testing.T) {
	u := session.UsageSummary{TotalNanoAIU: 7, TotalUserRequests: 1, ModelMetrics: map[string]session.ModelSummary{}}
	body := []byte(`{"sessionId":"s","timestamp":1795363647009,"reason":"complete"}`)
	out, added, err := WithUsage(body, u)
	require.NoError(t, err)
	require.True(t, added)
	assert.True(t, bytes.HasPrefix(out, []byte(`{"sessionId":"s","timestamp":1795363647009,"reason":"complete","usage":{`)), string(out))
	p, err := Decode(out, SessionEnd, Options{})
	require.NoError(t, err)
	require.NotNil(t, p.Usage)
	assert.Equal(t, int64(7), p.Usage.TotalNanoAIU)

	// A payload that carries its own usage keeps it.
	again, added, err := WithUsage(out, session.UsageSummary{TotalNanoAIU: 99})
	require.NoError(t, err)
	assert.False(t, added)
	assert.Equal(t, out, again)

	out, added, err = WithUsage([]byte(`{}`), u)
	require.NoError(t, err)
	assert.True(t, added)
	assert.True(t, json.Valid(out))
	out, _, err = WithUsage([]byte(`{"usage":null,"sessionId":"s"}`), u)
	require.NoError(t, err)
	assert.Contains(t, string(out), `"totalNanoAiu":7`)
	_, _, err = WithUsage([]byte(`not json`), u)
	assert.Error(t, err)
	_, _, err = WithUsage([]byte(`{"sessionId":"s",`), u)
	assert.Error(t, err, "a torn object is not appended to")
	// A usage key written with an escape is a usage key.
	escaped := []byte(`{"sessionId":"s","\u0075sage":{"totalNanoAiu":3}}`)
	out, added, err = WithUsage(escaped, u)
	require.NoError(t, err)
	assert.False(t, added)
	assert.Equal(t, escaped, out)
	// Text that mentions usage is not a usage member.
	out, added, err = WithUsage([]byte(`{"sessionId":"s","toolResult":"the \"usage\" was fine"}`), u)
	require.NoError(t, err)
	assert.True(t, added)
	p, err = Decode(out, PostToolUse, Options{})
	require.NoError(t, err)
	require.NotNil(t, p.Usage)
	assert.Equal(t, int64(7), p.Usage.TotalNanoAIU)
}

func TestClaudeNames(t *testing.T) {
	for _, typ := range Types {
		if c, ok := ClaudeName(typ); ok {
			back, ok := Canonical(c)
			require.True(t, ok)
			assert.Equal(t, typ, back)
		}
	}
	_, ok := ClaudeName(ErrorOccurred)
	assert.False(t, ok)
}

// FuzzDecode feeds arbitrary bytes to the decoder: it must not panic, and
// what it accepts has a session and a known type.
func FuzzDecode(f *testing.F) {
	for _, lines := range realPayloads(f) {
		for _, l := range lines {
			f.Add(l, "")
			f.Add(l, "agentStop")
		}
	}
	f.Add([]byte(`{"sessionId":"s","usage":{"modelMetrics":{"m":{"requests":{"count":1}}}}}`), "sessionEnd")
	f.Fuzz(func(t *testing.T, body []byte, hint string) {
		p, err := Decode(body, hint, Options{CaptureContent: true})
		if err != nil {
			return
		}
		if p.SessionID == "" {
			t.Fatal("accepted a payload without a session")
		}
		if _, ok := Canonical(p.Type); !ok {
			t.Fatalf("accepted unknown type %q", p.Type)
		}
		if out, _, err := WithUsage(body, session.UsageSummary{}); err == nil && !json.Valid(out) {
			t.Fatalf("WithUsage made invalid JSON of %q", body)
		}
	})
}

// TestOwnerSessionID: every payload the real CLI wrote belongs to one of
// the sessions whose transcripts were recorded with it, although a
// subagent's own hooks name the subagent as their session.
func TestOwnerSessionID(t *testing.T) {
	subagentPayloads := 0
	for f, lines := range realPayloads(t) {
		dir := filepath.Dir(filepath.Dir(f))
		name := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		for _, l := range lines {
			hint := name
			if strings.Contains(f, "claude-dialect") {
				hint = ""
			}
			p, err := Decode(l, hint, Options{})
			require.NoError(t, err)
			owner := p.OwnerSessionID(nil)
			_, err = os.Stat(filepath.Join(dir, "session-state", owner, "events.jsonl"))
			assert.NoError(t, err, "%s: payload of session %s belongs to no recorded session (owner %s)", f, p.SessionID, owner)
			if owner != p.SessionID {
				subagentPayloads++
			}
		}
	}
	assert.Positive(t, subagentPayloads, "the recordings hold subagent hooks")

	// A subagent of a subagent names its parent subagent; the caller maps
	// it to the session.
	p := Payload{SessionID: "sub-2", AgentID: "sub-2", ParentAgentID: "sub-1"}
	assert.Equal(t, "sub-1", p.OwnerSessionID(nil))
	assert.Equal(t, "s", p.OwnerSessionID(func(id string) (string, bool) { return "s", id == "sub-1" }))
}

// BenchmarkWithUsage adds usage to a postToolUse payload with 1 MiB of
// tool output, the forwarder's largest payloads.
func BenchmarkWithUsage(b *testing.B) {
	body := []byte(`{"sessionId":"s","timestamp":1795363647009,"toolName":"bash","toolResult":{"resultType":"success","textResultForLlm":"` +
		strings.Repeat("line of build output ", 1<<20/21) + `"}}`)
	u := session.UsageSummary{TotalNanoAIU: 7, ModelMetrics: map[string]session.ModelSummary{"gpt-4.1": {}}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := WithUsage(body, u); err != nil {
			b.Fatal(err)
		}
	}
}

// TestInvalidUsageObject: a usage object whose numbers break the usage
// rule (negative, not whole where a count is expected, above 2^53) is an
// error that names the number; the number forms transcripts use are read.
func TestInvalidUsageObject(t *testing.T) {
	for usage, field := range map[string]string{
		`{"totalNanoAiu":-5}`:                                             "usage.totalNanoAiu",
		`{"totalNanoAiu":9.3e18}`:                                         "usage.totalNanoAiu",
		`{"totalNanoAiu":9000000000000000000}`:                            "usage.totalNanoAiu",
		`{"totalUserRequests":1.5}`:                                       "usage.totalUserRequests",
		`{"totalApiDurationMs":-1}`:                                       "usage.totalApiDurationMs",
		`{"totalPremiumRequestCost":-50}`:                                 "usage.totalPremiumRequestCost",
		`{"tokenDetails":{"input":-5}}`:                                   "usage.tokenDetails.input",
		`{"codeChanges":{"linesAdded":-3}}`:                               "usage.codeChanges.linesAdded",
		`{"modelMetrics":{"gpt-5":{"usage":{"inputTokens":-5}}}}`:         `usage.modelMetrics["gpt-5"].usage.inputTokens`,
		`{"modelMetrics":{"gpt-5":{"usage":{"reasoningTokens":9.3e18}}}}`: `usage.modelMetrics["gpt-5"].usage.reasoningTokens`,
		`{"modelMetrics":{"gpt-5":{"requests":{"count":2.5}}}}`:           `usage.modelMetrics["gpt-5"].requests.count`,
		`{"modelMetrics":{"gpt-5":{"requests":{"premiumCost":-1}}}}`:      `usage.modelMetrics["gpt-5"].requests.premiumCost`,
		`{"modelMetrics":{"gpt-5":{"totalNanoAiu":9007199254740993}}}`:    `usage.modelMetrics["gpt-5"].totalNanoAiu`,
	} {
		_, err := Decode([]byte(`{"sessionId":"s","timestamp":1795363647009,"usage":`+usage+`}`), SessionEnd, Options{})
		require.ErrorIs(t, err, ErrInvalidUsage, usage)
		assert.ErrorContains(t, err, field, usage)
	}
	p, err := Decode([]byte(`{"sessionId":"s","usage":{"totalNanoAiu":4737390000.0,"totalPremiumRequestCost":0.33,"modelMetrics":{"m":{"requests":{"count":4.0},"totalNanoAiu":4.73739e9}}}}`), SessionEnd, Options{})
	require.NoError(t, err)
	assert.Equal(t, int64(4737390000), p.Usage.TotalNanoAIU)
	assert.Equal(t, int64(4737390000), p.Usage.ModelMetrics["m"].TotalNanoAIU)
	assert.Equal(t, int64(4), p.Usage.ModelMetrics["m"].Requests.Count)
	_, err = Decode([]byte(`{"sessionId":"s","usage":{"totalNanoAiu":"lots"}}`), SessionEnd, Options{})
	assert.NotErrorIs(t, err, ErrInvalidUsage, "a usage object of the wrong shape is malformed")
}

// TestSession reads the session of a payload of either dialect, whatever
// its type.
func TestSession(t *testing.T) {
	for body, want := range map[string][2]string{
		`{"sessionId":"s1","reason":"complete"}`:                                            {"s1", ""},
		`{"session_id":"s2","transcript_path":"/h/.copilot/session-state/s2/events.jsonl"}`: {"s2", "/h/.copilot/session-state/s2/events.jsonl"},
		`{"sessionId":"s3","transcriptPath":"/t/s3/events.jsonl","stopReason":"end_turn"}`:  {"s3", "/t/s3/events.jsonl"},
	} {
		sid, path, err := Session([]byte(body))
		require.NoError(t, err, body)
		assert.Equal(t, want, [2]string{sid, path}, body)
	}
	for _, bad := range []string{``, `[]`, `{"cwd":"/x"}`, `{"sessionId":`} {
		_, _, err := Session([]byte(bad))
		assert.Error(t, err, bad)
	}
}

// A forwarder adds the session's context from its transcript; the
// collector reads it back, and a context that is not a bounded object is
// refused.
func TestSessionContext(t *testing.T) {
	body := []byte(`{"sessionId":"s","timestamp":1795363646805,"cwd":"/home/dev/src/payments-api"}`)
	out, added, err := WithContext(body, SessionContext{Repository: "acme/payments-api", Branch: "feature/PAY-4411-x", GitRoot: "/home/dev/src/payments-api"})
	require.NoError(t, err)
	require.True(t, added)
	again, added, err := WithContext(out, SessionContext{Branch: "other"})
	require.NoError(t, err)
	assert.False(t, added, "a payload that has a context keeps it")
	assert.Equal(t, out, again)
	p, err := Decode(out, "sessionStart", Options{})
	require.NoError(t, err)
	require.NotNil(t, p.Context)
	assert.Equal(t, SessionContext{Repository: "acme/payments-api", Branch: "feature/PAY-4411-x", GitRoot: "/home/dev/src/payments-api"}, *p.Context)
	ev := p.Event()
	require.NotNil(t, ev.Context)
	assert.Equal(t, "feature/PAY-4411-x", ev.Context.Branch)

	_, err = Decode([]byte(`{"sessionId":"s","timestamp":1,"sessionContext":{"branch":"`+strings.Repeat("b", 2000)+`"}}`), "sessionStart", Options{})
	assert.ErrorContains(t, err, "sessionContext.branch is longer than 1024 bytes")
	_, err = Decode([]byte(`{"sessionId":"s","timestamp":1,"sessionContext":"main"}`), "sessionStart", Options{})
	assert.Error(t, err)
}

func TestValidForwarderID(t *testing.T) {
	assert.True(t, ValidForwarderID("0123456789abcdef0123456789abcdef"))
	for _, bad := range []string{"", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0", "0123456789ABCDEF0123456789abcdef", "0123456789abcdef0123456789abcdeg", "../../../../etc/passwd/0123456789a"} {
		assert.False(t, ValidForwarderID(bad), bad)
	}
}
