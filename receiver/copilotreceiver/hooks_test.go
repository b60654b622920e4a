package copilotreceiver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/bearertokenauthextension"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-copilot/otelcol-copilot/internal/hook"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/usage"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
)

// sharedSessions are the real 1.0.102 sessions whose hook payloads were
// recorded with them.
var sharedSessions = []string{
	"3400c9a6-e6e1-4f11-95cb-6aa9148ed529",
	"5fc41fe9-2cf0-4410-b210-6aeb460047e4",
	"91298f1d-4404-4591-b87f-13b09d6dc9ce",
	"a92b1b62-74c7-4c1a-af6c-ac66b8e23ba2",
	"f6f52fa3-9552-4207-8d6e-47987374b948",
}

// recordedHook is one payload the CLI wrote to a hook's stdin.
type recordedHook struct {
	Type string
	Time int64
	Body []byte
}

// recordedHooks reads every payload of a testdata directory's hooks/, in
// the order the CLI fired them.
func recordedHooks(t testing.TB, dir string) []recordedHook {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("../../testdata/copilot-cli", dir, "hooks", "*.jsonl"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var out []recordedHook
	for _, f := range files {
		typ := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, line := range bytes.Split(b, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			var ts struct {
				Timestamp json.RawMessage `json:"timestamp"`
			}
			require.NoError(t, json.Unmarshal(line, &ts))
			p, err := hook.Decode(line, typ, hook.Options{})
			require.NoError(t, err, "%s: %s", f, line)
			out = append(out, recordedHook{Type: p.Type, Time: p.Time.UnixNano(), Body: line})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time < out[j].Time })
	return out
}

// startHooks runs the harness's receiver with the hook endpoint on a free
// loopback port and returns its base URL.
func (h *harness) startHooks(s *sink, edit func(*HooksConfig)) (string, func()) {
	h.t.Helper()
	hc := defaultHooksConfig()
	hc.NetAddr.Endpoint = "127.0.0.1:0"
	if edit != nil {
		edit(&hc)
	}
	h.cfg.Hooks = configoptional.Some(hc)
	stop := h.run(s)
	require.NotNil(h.t, h.recv.hooks)
	return "http://" + h.recv.hooks.addr, stop
}

type hookAnswer struct {
	Code       int
	Status     string
	Error      string
	RetryAfter string
}

func post(t *testing.T, url string, body []byte, header ...string) hookAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderHookClient, "test")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var r response
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &r), "answer %d is not JSON: %s", resp.StatusCode, b)
	return hookAnswer{Code: resp.StatusCode, Status: r.Status, Error: r.Error, RetryAfter: resp.Header.Get("Retry-After")}
}

func get(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if v != nil && resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(b, v), "%s", b)
	}
	return resp.StatusCode
}

// sumWhere adds up the data points of a sum metric whose attributes have
// the given values.
func sumWhere(md pmetric.Metrics, name string, attrs ...string) int64 {
	var n int64
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() != name {
					continue
				}
			points:
				for _, dp := range m.Sum().DataPoints().All() {
					for i := 0; i+1 < len(attrs); i += 2 {
						v, ok := dp.Attributes().Get(attrs[i])
						if !ok || v.AsString() != attrs[i+1] {
							continue points
						}
					}
					n += dp.IntValue()
				}
			}
		}
	}
	return n
}

func copyShared(t *testing.T, h *harness) {
	for _, id := range sharedSessions {
		h.write(id, readTestdata(t, "1.0.102/session-state/"+id+"/events.jsonl"))
	}
}

// TestHooksOnFollowedSessions posts every recorded hook payload of the
// shared sessions to a receiver that also reads their transcripts: the
// usage is the transcripts' (nothing counted twice), and the hooks add
// their invocations, the recoverable errors and the end reasons.
func TestHooksOnFollowedSessions(t *testing.T) {
	h := newHarness(t)
	copyShared(t, h)
	s := &sink{}
	url, stop := h.startHooks(s, nil)
	defer stop()
	require.Eventually(t, func() bool { return s.summaries() == 6 }, 10*time.Second, 10*time.Millisecond)
	before := exported(s.allMetrics())
	toolCallsBefore := sumWhere(s.allMetrics(), mToolCalls)
	sessionsBefore := sumWhere(s.allMetrics(), mSessions)
	require.NotZero(t, toolCallsBefore)

	hooks := recordedHooks(t, "1.0.102")
	byType := map[string]int64{}
	for _, rh := range hooks {
		a := post(t, url+hooksPath+"/"+rh.Type, rh.Body)
		require.Equal(t, http.StatusAccepted, a.Code, "%s: %s", rh.Type, a.Error)
		assert.Equal(t, "accepted", a.Status)
		byType[rh.Type]++
	}
	md := s.allMetrics()
	assert.Equal(t, before, exported(md), "usage changed although the transcripts account for it")
	assert.Equal(t, toolCallsBefore, sumWhere(md, mToolCalls), "tool calls counted from hooks as well")
	assert.Equal(t, sessionsBefore, sumWhere(md, mSessions), "sessions counted from hooks as well")
	assert.Equal(t, int64(len(hooks)), sumWhere(md, mHooks))
	for typ, n := range byType {
		assert.Equal(t, n, sumWhere(md, mHooks, aHookType, typ), typ)
	}
	// Both errorOccurred payloads are recoverable model_call errors, which
	// the transcript does not record.
	assert.Equal(t, int64(2), sumWhere(md, mErrors, aErrorCtx, "model_call"))
	assert.Equal(t, int64(2), sumWhere(md, mErrors))
	// Every sessionEnd of the recording says "complete".
	assert.Equal(t, byType[hook.SessionEnd], sumWhere(md, mHooks, aHookType, hook.SessionEnd, aHookReason, "complete"))
	ends := s.logRecords(eventEnd)
	require.Len(t, ends, int(byType[hook.SessionEnd]))
	for _, lr := range ends {
		reason, _ := lr.Attributes().Get("copilot.session.end_reason")
		assert.Equal(t, "complete", reason.Str())
	}
	// Hook facts carry the transcript's context: the same resource as the
	// session's own metrics.
	for _, rm := range md.ResourceMetrics().All() {
		if hasMetric(rm, mHooks) {
			v, ok := rm.Resource().Attributes().Get("vcs.ref.head.name")
			require.True(t, ok, "hook metrics without the session's branch")
			assert.Equal(t, "feature/PAY-4411-refund-retries", v.Str())
		}
	}
	// No tool spans from hooks: the transcript's have the CLI's call ids.
	for _, sp := range s.spans("") {
		if strings.HasPrefix(sp.Name(), "execute_tool") {
			id, _ := sp.Attributes().Get("gen_ai.tool.call.id")
			assert.NotEmpty(t, id.Str())
		}
	}

	// Every payload again, as a forwarder that timed out would: nothing new.
	for _, rh := range hooks {
		a := post(t, url+hooksPath+"/"+rh.Type, rh.Body)
		require.Equal(t, http.StatusAccepted, a.Code)
		assert.Equal(t, "duplicate", a.Status)
	}
	assert.Equal(t, int64(len(hooks)), sumWhere(s.allMetrics(), mHooks))
}

func hasMetric(rm pmetric.ResourceMetrics, name string) bool {
	for _, sm := range rm.ScopeMetrics().All() {
		for _, m := range sm.Metrics().All() {
			if m.Name() == name {
				return true
			}
		}
	}
	return false
}

// withUsage adds the usage of a transcript, read up to the payload's time,
// to a payload, as the forwarder does.
func withUsage(t *testing.T, body []byte, transcript []byte, until int64) []byte {
	t.Helper()
	dir := t.TempDir()
	var cut []byte
	for _, line := range bytes.SplitAfter(transcript, []byte("\n")) {
		var ev struct {
			Timestamp time.Time `json:"timestamp"`
		}
		if json.Unmarshal(line, &ev) == nil && ev.Timestamp.UnixNano() > until {
			break
		}
		cut = append(cut, line...)
	}
	p := filepath.Join(dir, "s", usage.TranscriptName)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, cut, 0o644))
	f := session.NewCursor(p, session.CursorOptions{})
	_, err := f.Update(nil)
	require.NoError(t, err)
	out, _, err := hook.WithUsage(body, f.Tracker().Summary())
	require.NoError(t, err)
	return out
}

// TestHooksOnlySessions posts the recorded payloads, with the usage a
// forwarder adds, to a receiver that cannot see the transcripts (a central
// collector): sessions, tool calls and usage come from the hooks, exactly.
func TestHooksOnlySessions(t *testing.T) {
	h := newHarness(t) // its session-state stays empty
	s := &sink{}
	url, stop := h.startHooks(s, nil)
	defer stop()

	transcripts := map[string][]byte{}
	want := map[string]modelTotals{}
	for _, id := range sharedSessions {
		transcripts[id] = readTestdata(t, "1.0.102/session-state/"+id+"/events.jsonl")
		dir := t.TempDir()
		p := filepath.Join(dir, id, usage.TranscriptName)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, transcripts[id], 0o644))
		f := session.NewCursor(p, session.CursorOptions{})
		_, err := f.Update(nil)
		require.NoError(t, err)
		for m, ms := range f.Tracker().Summary().ModelMetrics {
			o := want[m]
			o.Requests += ms.Requests.Count
			o.Cost += ms.Requests.PremiumCost
			o.Input += ms.Usage.InputTokens
			o.Output += ms.Usage.OutputTokens
			o.CacheRead += ms.Usage.CacheReadTokens
			o.CacheWrite += ms.Usage.CacheWriteTokens
			o.Reas += ms.Usage.ReasoningTokens
			o.NanoAIU += ms.TotalNanoAIU
			want[m] = o
		}
	}
	require.NotEmpty(t, want)

	hooks := recordedHooks(t, "1.0.102")
	var late [][]byte
	byType := map[string]int64{}
	for _, rh := range hooks {
		var p struct {
			SessionID string `json:"sessionId"`
		}
		require.NoError(t, json.Unmarshal(rh.Body, &p))
		body := withUsage(t, rh.Body, transcripts[p.SessionID], rh.Time)
		if rh.Type == hook.UserPromptSubmitted {
			late = append(late, body) // replayed below, after newer ones
		}
		a := post(t, url+hooksPath+"/"+rh.Type, body)
		require.Equal(t, http.StatusAccepted, a.Code, "%s: %s", rh.Type, a.Error)
		byType[rh.Type]++
	}
	// Payloads a spool replays late carry older, smaller usage: they add
	// nothing (they are new payloads as far as deduplication goes).
	for _, body := range late {
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(body, &m))
		m["timestamp"] = json.RawMessage("1")
		b, _ := json.Marshal(m)
		require.Equal(t, http.StatusAccepted, post(t, url+hooksPath+"/"+hook.UserPromptSubmitted, b).Code)
	}

	md := s.allMetrics()
	got := exported(md)
	delete(got, "") // metrics without a model
	assert.Equal(t, want, got)
	assert.Equal(t, byType[hook.SessionStart], sumWhere(md, mSessions, aState, session.StateStarted)+sumWhere(md, mSessions, aState, session.StateResumed))
	assert.Equal(t, byType[hook.SessionEnd], sumWhere(md, mSessions, aState, session.StateEnded))
	assert.Equal(t, byType[hook.PostToolUse], sumWhere(md, mToolCalls))
	assert.Equal(t, byType[hook.SubagentStop], sumWhere(md, mSubagentRuns))
	assert.Equal(t, int64(2), sumWhere(md, mErrors, aErrorCtx, "model_call"))

	// Tool spans pair each postToolUse with its preToolUse: a span starts
	// at the pre payload's time, and links to the CLI's own trace.
	tools := s.spans("execute_tool bash")
	require.NotEmpty(t, tools)
	for _, sp := range tools {
		assert.Less(t, sp.StartTimestamp(), sp.EndTimestamp(), "span not paired with its preToolUse")
		require.Equal(t, 1, sp.Links().Len())
		assert.True(t, traceOfShared(sp.TraceID()), "span outside the sessions' traces")
	}
	// A summary per sessionEnd, with the session's usage.
	assert.Equal(t, int(byType[hook.SessionEnd]), s.summaries())

	// The live usage of a hook-only session comes from its hooks.
	var m session.UsageMetrics
	require.Equal(t, http.StatusOK, get(t, url+sessionsPath+"/"+sharedSessions[1]+"/usage", &m))
	assert.NotZero(t, m.ModelMetrics["gpt-4.1"].Usage.InputTokens)
}

func traceOfShared(id pcommon.TraceID) bool {
	for _, s := range sharedSessions {
		if pcommon.TraceID(session.TraceID(s)) == id {
			return true
		}
	}
	return false
}

// TestHookStatusCodes checks the answers a caller acts on.
func TestHookStatusCodes(t *testing.T) {
	h := newHarness(t)
	s := &sink{}
	url, stop := h.startHooks(s, func(c *HooksConfig) { c.MaxRequestBodySize = 4096 })
	defer stop()
	good := []byte(`{"sessionId":"5fc41fe9-2cf0-4410-b210-6aeb460047e4","timestamp":1795363646917,"cwd":"/w","toolName":"bash"}`)

	for name, c := range map[string]struct {
		path string
		body []byte
		code int
		msg  string
	}{
		"malformed":         {"/preToolUse", []byte(`{"sessionId":`), 400, "not valid JSON"},
		"not an object":     {"/preToolUse", []byte(`[1,2]`), 400, "not a JSON object"},
		"trailing data":     {"/preToolUse", append(append([]byte{}, good...), []byte(` {}`)...), 400, "after its JSON object"},
		"no session":        {"/preToolUse", []byte(`{"timestamp":1}`), 400, "no sessionId"},
		"unknown url type":  {"/beforeLunch", good, 400, "not a hook type"},
		"no type anywhere":  {"", good, 400, "hook type is not known"},
		"type disagreement": {"/sessionStart", []byte(`{"hook_event_name":"Stop","session_id":"s1"}`), 400, "was sent as"},
		"bad timestamp":     {"/preToolUse", []byte(`{"sessionId":"s","timestamp":"yesterday"}`), 400, "timestamp"},
		"event name number": {"", []byte(`{"hook_event_name":5,"session_id":"s"}`), 400, "not valid JSON"},
		"bad usage":         {"/agentStop", []byte(`{"sessionId":"s","usage":{"totalNanoAiu":"lots"}}`), 400, "usage object"},
		"too large":         {"/preToolUse", append([]byte(`{"sessionId":"s","toolArgs":"`), bytes.Repeat([]byte("x"), 8192)...), 413, "max_request_body_size"},
		"claude in body":    {"", []byte(`{"hook_event_name":"Stop","session_id":"s2","stop_hook_active":false}`), 202, ""},
		"claude pascal url": {"/PreToolUse", good, 202, ""},
	} {
		a := post(t, url+hooksPath+c.path, c.body)
		assert.Equal(t, c.code, a.Code, name)
		if c.msg != "" {
			assert.Contains(t, a.Error, c.msg, name)
		}
	}
	resp, err := http.Get(url + hooksPath + "/preToolUse")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, http.StatusNotFound, get(t, url+"/v2/anything", nil))
	var health response
	assert.Equal(t, http.StatusOK, get(t, url+healthPath, &health))
	assert.Equal(t, "ok", health.Status)

	// A refusing pipeline: 503 with Retry-After; the retry is counted once.
	s.refuseMetrics.Store(1)
	body := []byte(`{"sessionId":"s3","timestamp":1795363646917,"toolName":"bash"}`)
	a := post(t, url+hooksPath+"/preToolUse", body, HeaderHookID, "id-1")
	assert.Equal(t, http.StatusServiceUnavailable, a.Code)
	assert.Equal(t, "5", a.RetryAfter)
	a = post(t, url+hooksPath+"/preToolUse", body, HeaderHookID, "id-1")
	assert.Equal(t, http.StatusAccepted, a.Code)
	assert.Equal(t, "accepted", a.Status)
	a = post(t, url+hooksPath+"/preToolUse", body, HeaderHookID, "id-1")
	assert.Equal(t, "duplicate", a.Status)
	// The PascalCase one above, and this one.
	assert.Equal(t, int64(2), sumWhere(s.allMetrics(), mHooks, aHookType, hook.PreToolUse))

	// Logs refused after metrics took the payload: only logs are offered
	// it again.
	s.blockLogs.Store(true)
	end := []byte(`{"sessionId":"s4","timestamp":1795363646917,"reason":"complete"}`)
	assert.Equal(t, http.StatusServiceUnavailable, post(t, url+hooksPath+"/sessionEnd", end).Code)
	s.blockLogs.Store(false)
	assert.Equal(t, http.StatusAccepted, post(t, url+hooksPath+"/sessionEnd", end).Code)
	assert.Equal(t, int64(1), sumWhere(s.allMetrics(), mHooks, aHookType, hook.SessionEnd))
	assert.Len(t, s.logRecords(eventEnd), 1)

	// Metrics rejected for good are dropped and counted; the rest is
	// delivered and the caller is not asked to retry.
	s.permanent.Store(true)
	s.refuseMetrics.Store(1)
	a = post(t, url+hooksPath+"/preToolUse", []byte(`{"sessionId":"s5","timestamp":1}`))
	assert.Equal(t, http.StatusAccepted, a.Code, "metrics rejected for good are dropped and counted, the rest delivered")
	s.permanent.Store(false)

	// Metrics refused for the collector's credentials (a backend's 401,
	// permanent to the OTLP exporters) are not dropped: the caller is
	// asked to send the payload again, and then it counts.
	s.credentials.Store(true)
	s.refuseMetrics.Store(1)
	held := []byte(`{"sessionId":"s6","timestamp":1}`)
	assert.Equal(t, http.StatusServiceUnavailable, post(t, url+hooksPath+"/preToolUse", held).Code, "metrics refused for credentials are held, not dropped")
	s.credentials.Store(false)
	before := sumWhere(s.allMetrics(), mHooks, aHookType, hook.PreToolUse)
	assert.Equal(t, http.StatusAccepted, post(t, url+hooksPath+"/preToolUse", held).Code)
	assert.Equal(t, before+1, sumWhere(s.allMetrics(), mHooks, aHookType, hook.PreToolUse))

	rejected, err := h.tel.GetMetric("otelcol_receiver_copilot_hooks_rejected")
	require.NoError(t, err)
	reasons := map[string]int64{}
	for _, dp := range rejected.Data.(metricdata.Sum[int64]).DataPoints {
		r, _ := dp.Attributes.Value("reason")
		reasons[r.AsString()] += dp.Value
	}
	assert.Equal(t, int64(1), reasons[rejectTooLarge])
	assert.Equal(t, int64(2), reasons[rejectUnknownType], "unknown type in the URL, no type at all; a hook_event_name that is no string is malformed: %v", reasons)
	assert.Positive(t, reasons[rejectMalformed])
	assert.Equal(t, int64(1), reasons[rejectMethod])
	assert.Equal(t, int64(1), reasons[rejectNotFound])
	refused, err := h.tel.GetMetric("otelcol_receiver_copilot_hooks_refused")
	require.NoError(t, err)
	assert.Len(t, refused.Data.(metricdata.Sum[int64]).DataPoints, 2, "refusals by signal")
}

// TestHookTranscriptPathConfined: a payload naming a transcript outside
// the session directories (by ../, an absolute path, or a link) does not
// get it read. A canary transcript outside the roots would lend its
// repository to the hook's metrics if it were.
func TestHookTranscriptPathConfined(t *testing.T) {
	h := newHarness(t)
	s := &sink{}
	url, stop := h.startHooks(s, nil)
	defer stop()

	outside := filepath.Join(filepath.Dir(h.root), "elsewhere")
	canary := filepath.Join(outside, "c0ffee00-0000-4000-8000-000000000001", "events.jsonl")
	require.NoError(t, os.MkdirAll(filepath.Dir(canary), 0o755))
	require.NoError(t, os.WriteFile(canary, readTestdata(t, "1.0.102-repos/session-state/"+firstSession(t, "1.0.102-repos")+"/events.jsonl"), 0o644))
	// A session directory in the root that links outside, and a
	// transcript that links outside.
	require.NoError(t, os.Symlink(filepath.Dir(canary), filepath.Join(h.root, "c0ffee00-0000-4000-8000-000000000002")))
	require.NoError(t, os.MkdirAll(filepath.Join(h.root, "c0ffee00-0000-4000-8000-000000000003"), 0o755))
	require.NoError(t, os.Symlink(canary, filepath.Join(h.root, "c0ffee00-0000-4000-8000-000000000003", "events.jsonl")))

	for i, path := range []string{
		canary,
		filepath.Join(h.root, "..", "elsewhere", "c0ffee00-0000-4000-8000-000000000001", "events.jsonl"),
		h.root + "/x/../../elsewhere/c0ffee00-0000-4000-8000-000000000001/events.jsonl",
		filepath.Join(h.root, "c0ffee00-0000-4000-8000-000000000002", "events.jsonl"),
		filepath.Join(h.root, "c0ffee00-0000-4000-8000-000000000003", "events.jsonl"),
		"/etc/passwd",
		"relative/events.jsonl",
	} {
		sid := []string{"c0ffee00-0000-4000-8000-000000000001", "c0ffee00-0000-4000-8000-000000000001", "c0ffee00-0000-4000-8000-000000000001",
			"c0ffee00-0000-4000-8000-000000000002", "c0ffee00-0000-4000-8000-000000000003", "s", "s"}[i]
		body, _ := json.Marshal(map[string]any{"sessionId": sid, "timestamp": 1795363646917 + i, "transcriptPath": path, "stopReason": "end_turn"})
		a := post(t, url+hooksPath+"/agentStop", body)
		require.Equal(t, http.StatusAccepted, a.Code, path)
	}
	md := s.allMetrics()
	require.Equal(t, int64(7), sumWhere(md, mHooks))
	for _, rm := range md.ResourceMetrics().All() {
		_, ok := rm.Resource().Attributes().Get("vcs.repository.name")
		assert.False(t, ok, "a transcript outside the roots was read")
	}
	for _, id := range []string{"c0ffee00-0000-4000-8000-000000000002", "c0ffee00-0000-4000-8000-000000000003"} {
		assert.Equal(t, http.StatusNotFound, get(t, url+sessionsPath+"/"+id+"/usage", nil), id)
	}
	assert.Equal(t, http.StatusBadRequest, get(t, url+sessionsPath+"/..%2f..%2fetc/usage", nil))
}

func firstSession(t *testing.T, dir string) string {
	ents, err := os.ReadDir(filepath.Join("../../testdata/copilot-cli", dir, "session-state"))
	require.NoError(t, err)
	require.NotEmpty(t, ents)
	return ents[0].Name()
}

// TestUsageQuery: the live usage of a followed session is the CLI's own
// accounting snapshot; the list shows recent sessions with their usage.
func TestUsageQuery(t *testing.T) {
	h := newHarness(t)
	copyShared(t, h)
	s := &sink{}
	url, stop := h.startHooks(s, nil)
	defer stop()

	id := "91298f1d-4404-4591-b87f-13b09d6dc9ce" // main agent and a subagent
	var m session.UsageMetrics
	require.Equal(t, http.StatusOK, get(t, url+sessionsPath+"/"+id+"/usage", &m))
	f := session.NewCursor(filepath.Join(h.root, id, "events.jsonl"), session.CursorOptions{})
	_, err := f.Update(nil)
	require.NoError(t, err)
	assert.Equal(t, f.Tracker().Metrics(), m)
	assert.Len(t, m.AgentMetrics, 2)
	assert.Equal(t, int64(4), m.ModelMetrics["gpt-4.1"].Requests.Count, "the shutdown's accountingSnapshot counts 4 calls")

	// Live: the transcript grows, the answer follows.
	grown := readTestdata(t, "1.0.102-billed/session-state/0b1e1ed0-5a1e-4c0d-9b11-000000000001/events.jsonl")
	lines := bytes.SplitAfter(grown, []byte("\n"))
	p := h.write("0b1e1ed0-5a1e-4c0d-9b11-000000000001", bytes.Join(lines[:len(lines)/2], nil))
	var half, whole session.UsageMetrics
	require.Equal(t, http.StatusOK, get(t, url+sessionsPath+"/0b1e1ed0-5a1e-4c0d-9b11-000000000001/usage", &half))
	h.appendTo(p, bytes.Join(lines[len(lines)/2:], nil))
	require.Equal(t, http.StatusOK, get(t, url+sessionsPath+"/0b1e1ed0-5a1e-4c0d-9b11-000000000001/usage", &whole))
	assert.Less(t, half.TotalNanoAIU, whole.TotalNanoAIU)
	assert.NotZero(t, whole.TotalNanoAIU)

	var list sessionList
	require.Equal(t, http.StatusOK, get(t, url+sessionsPath+"?limit=3", &list))
	require.Len(t, list.Sessions, 3)
	assert.Equal(t, "0b1e1ed0-5a1e-4c0d-9b11-000000000001", list.Sessions[0].SessionID, "the newest first")
	assert.Equal(t, whole.TotalNanoAIU, list.Sessions[0].Usage.TotalNanoAIU)
	require.Equal(t, http.StatusOK, get(t, url+sessionsPath, &list))
	assert.Len(t, list.Sessions, len(sharedSessions)+1)

	assert.Equal(t, http.StatusBadRequest, get(t, url+sessionsPath+"?limit=0", nil))
	assert.Equal(t, http.StatusBadRequest, get(t, url+sessionsPath+"?limit=x", nil))
	assert.Equal(t, http.StatusNotFound, get(t, url+sessionsPath+"/00000000-0000-4000-8000-000000000000/usage", nil))
	assert.Equal(t, http.StatusBadRequest, get(t, url+sessionsPath+"/a.b/usage", nil))
}

// TestHooksConfigValidate: an endpoint reachable from other machines must
// have an authenticator.
func TestHooksConfigValidate(t *testing.T) {
	for endpoint, ok := range map[string]bool{
		"127.0.0.1:4320": true, "localhost:4320": true, "[::1]:4320": true,
		"0.0.0.0:4320": false, ":4320": false, "10.1.2.3:4320": false, "example.com:4320": false,
	} {
		c := defaultHooksConfig()
		c.NetAddr.Endpoint = endpoint
		err := c.Validate()
		if ok {
			assert.NoError(t, err, endpoint)
		} else {
			assert.ErrorContains(t, err, "auth: required", endpoint)
		}
	}
	c := defaultHooksConfig()
	c.MaxRequestBodySize, c.DedupEntries, c.MaxSessions, c.RetryAfter = -1, 0, 0, 0
	err := c.Validate()
	for _, key := range []string{"max_request_body_size", "dedup_entries", "max_sessions", "retry_after"} {
		assert.ErrorContains(t, err, key)
	}
}

func TestHookEndpointInUse(t *testing.T) {
	h := newHarness(t)
	url, stop := h.startHooks(&sink{}, nil)
	defer stop()
	h2 := newHarness(t)
	hc := defaultHooksConfig()
	hc.NetAddr.Endpoint = strings.TrimPrefix(url, "http://")
	h2.cfg.SessionState.Storage = nil
	h2.cfg.Hooks = configoptional.Some(hc)
	r, err := NewFactory().CreateMetrics(t.Context(), receivertest.NewNopSettings(metadata.Type), h2.cfg, (&sink{}).metricsConsumer())
	require.NoError(t, err)
	err = r.Start(t.Context(), componenttest.NewNopHost())
	require.ErrorContains(t, err, "hooks::endpoint: cannot listen")
	require.NoError(t, r.Shutdown(t.Context()))
}

// FuzzHookEndpoint sends arbitrary bodies to the hook handler: every one
// gets a 202 or a 400 naming the problem, never a panic.
func FuzzHookEndpoint(f *testing.F) {
	for _, dir := range []string{"1.0.102", "1.0.102-claude-dialect"} {
		files, _ := filepath.Glob(filepath.Join("../../testdata/copilot-cli", dir, "hooks", "*.jsonl"))
		for _, file := range files {
			b, _ := os.ReadFile(file)
			for _, line := range bytes.Split(b, []byte("\n")) {
				if len(bytes.TrimSpace(line)) > 0 {
					f.Add(strings.TrimSuffix(filepath.Base(file), ".jsonl"), line)
				}
			}
		}
	}
	f.Add("", []byte(`{"hook_event_name":"Stop","session_id":"s","usage":{"modelMetrics":{"m":{"requests":{"count":-1}}}}}`))
	h := newHarness(f)
	hc := defaultHooksConfig()
	hc.NetAddr.Endpoint = "127.0.0.1:0"
	h.cfg.Hooks = configoptional.Some(hc)
	f.Cleanup(h.run(&sink{discard: true}))
	f.Fuzz(func(t *testing.T, typ string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, hooksPath+"/"+url.PathEscape(typ), bytes.NewReader(body))
		req.SetPathValue("type", typ)
		rec := httptest.NewRecorder()
		h.recv.hooks.handleHook(rec, req)
		switch rec.Code {
		case http.StatusAccepted, http.StatusBadRequest:
		default:
			t.Fatalf("status %d for %q %q: %s", rec.Code, typ, body, rec.Body)
		}
		var r response
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &r))
		if rec.Code == http.StatusBadRequest {
			require.NotEmpty(t, r.Error)
		}
	})
}

// TestHookAuth: with an authenticator, every path wants credentials.
func TestHookAuth(t *testing.T) {
	f := bearertokenauthextension.NewFactory()
	cfg := f.CreateDefaultConfig().(*bearertokenauthextension.Config)
	cfg.BearerToken = "s3cret"
	ext, err := f.Create(t.Context(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(t.Context(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, ext.Shutdown(t.Context())) }()
	id := component.NewID(f.Type())

	h := newHarness(t)
	h.exts = map[component.ID]extension.Extension{id: ext}
	s := &sink{}
	url, stop := h.startHooks(s, func(c *HooksConfig) {
		c.NetAddr.Endpoint = "127.0.0.1:0"
		c.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: id}})
	})
	defer stop()

	body := []byte(`{"sessionId":"s1","timestamp":1795363646917,"reason":"complete"}`)
	send := func(method, path, token string) int {
		req, err := http.NewRequest(method, url+path, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(HeaderHookClient, "test")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{hooksPath + "/sessionEnd", healthPath, sessionsPath} {
		method := http.MethodGet
		if strings.HasPrefix(path, hooksPath) {
			method = http.MethodPost
		}
		assert.Equal(t, http.StatusUnauthorized, send(method, path, ""), path)
		assert.Equal(t, http.StatusUnauthorized, send(method, path, "guess"), path)
	}
	assert.Zero(t, sumWhere(s.allMetrics(), mHooks), "an unauthenticated payload was counted")
	assert.Equal(t, http.StatusAccepted, send(http.MethodPost, hooksPath+"/sessionEnd", "s3cret"))
	assert.Equal(t, http.StatusOK, send(http.MethodGet, sessionsPath, "s3cret"))
	assert.Equal(t, int64(1), sumWhere(s.allMetrics(), mHooks))
}

// BenchmarkHookEndpoint posts real hook payloads over loopback HTTP to a
// running receiver, one at a time with a kept-alive connection, as
// forwarders do; payloads/s is the endpoint's throughput. "followed": the
// sessions' transcripts are read by the receiver too; "hooks-only": they
// are not, and usage comes from the payloads' usage objects.
//
//	go test ./receiver/copilotreceiver -run '^$' -bench HookEndpoint -benchmem
func BenchmarkHookEndpoint(b *testing.B) {
	hooks := recordedHooks(b, "1.0.102")
	for _, mode := range []string{"followed", "hooks-only"} {
		b.Run(mode, func(b *testing.B) {
			h := newHarness(b)
			if mode == "followed" {
				for _, id := range sharedSessions {
					h.write(id, readTestdata(b, "1.0.102/session-state/"+id+"/events.jsonl"))
				}
			}
			url, stop := h.startHooks(&sink{discard: true}, nil)
			defer stop()
			bodies := make([][]byte, len(hooks))
			for i, rh := range hooks {
				bodies[i] = rh.Body
				if mode == "hooks-only" {
					var m map[string]json.RawMessage
					require.NoError(b, json.Unmarshal(rh.Body, &m))
					m["usage"] = json.RawMessage(`{"totalNanoAiu":1000,"modelMetrics":{"gpt-4.1":{"requests":{"count":2,"userInitiated":1},"usage":{"inputTokens":1000,"outputTokens":50},"totalNanoAiu":1000}}}`)
					bodies[i], _ = json.Marshal(m)
				}
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				rh := hooks[i%len(hooks)]
				req, _ := http.NewRequest(http.MethodPost, url+hooksPath+"/"+rh.Type, bytes.NewReader(bodies[i%len(hooks)]))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(HeaderHookClient, "bench")
				req.Header.Set(HeaderHookID, strconv.Itoa(i)) // each one new
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payloads/s")
		})
	}
}

// TestHookAccountingModes: which sessions hooks count, by hooks.accounting
// and the machine a payload comes from.
func TestHookAccountingModes(t *testing.T) {
	host, err := os.Hostname()
	require.NoError(t, err)
	start := []byte(`{"sessionId":"0b1e1ed0-5a1e-4c0d-9b11-000000000001","timestamp":1795363646917,"source":"new"}`)
	for _, c := range []struct {
		mode, host string
		counted    bool // the hook's sessionStart counts a session
	}{
		{AccountingAuto, "", true},          // another machine, as far as the receiver knows
		{AccountingAuto, "elsewhere", true}, // another machine
		{AccountingAuto, host, false},       // this machine: the transcript will come
		{AccountingTranscript, "", false},   // never from hooks
		{AccountingHooks, host, true},       // always from hooks
	} {
		t.Run(c.mode+"/"+c.host, func(t *testing.T) {
			h := newHarness(t) // watches an existing, empty session-state
			s := &sink{}
			url, stop := h.startHooks(s, func(hc *HooksConfig) { hc.Accounting = c.mode })
			defer stop()
			a := post(t, url+hooksPath+"/sessionStart", start, HeaderHookHost, c.host)
			require.Equal(t, http.StatusAccepted, a.Code)
			want := int64(0)
			if c.counted {
				want = 1
			}
			assert.Equal(t, want, sumWhere(s.allMetrics(), mSessions))
			assert.Equal(t, int64(1), sumWhere(s.allMetrics(), mHooks))
		})
	}

	// Once the transcript arrives, the session is counted once, from it.
	h := newHarness(t)
	s := &sink{}
	url, stop := h.startHooks(s, nil)
	defer stop()
	require.Equal(t, http.StatusAccepted, post(t, url+hooksPath+"/sessionStart", start, HeaderHookHost, host).Code)
	h.write("0b1e1ed0-5a1e-4c0d-9b11-000000000001", readTestdata(t, "1.0.102-billed/session-state/0b1e1ed0-5a1e-4c0d-9b11-000000000001/events.jsonl"))
	require.Eventually(t, func() bool { return s.summaries() > 0 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, int64(1), sumWhere(s.allMetrics(), mSessions, aState, session.StateStarted))
}

// TestForwarderDropTotals: the drops a machine's forwarder reports are
// counted by their increase, once each.
func TestForwarderDropTotals(t *testing.T) {
	h := newHarness(t)
	url, stop := h.startHooks(&sink{}, nil)
	body := func(i int) []byte { return []byte(fmt.Sprintf(`{"sessionId":"s","timestamp":%d}`, 1795363646917+i)) }
	for i, total := range []string{"5", "3", "8", "8", "x"} {
		require.Equal(t, http.StatusAccepted, post(t, url+hooksPath+"/notification", body(i), HeaderHookHost, "dev-a", HeaderHookDroppedTotal, total).Code)
	}
	require.Equal(t, http.StatusAccepted, post(t, url+hooksPath+"/notification", body(9), HeaderHookHost, "dev-b", HeaderHookDroppedTotal, "2").Code)
	dropped := func() int64 {
		m, err := h.tel.GetMetric("otelcol_receiver_copilot_hooks_forwarder_dropped")
		require.NoError(t, err)
		var n int64
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			n += dp.Value
		}
		return n
	}
	assert.Equal(t, int64(10), dropped())
	stop()

	// After a restart the totals already counted are not counted again.
	url, stop = h.startHooks(&sink{}, nil)
	defer stop()
	require.Equal(t, http.StatusAccepted, post(t, url+hooksPath+"/notification", body(20), HeaderHookHost, "dev-a", HeaderHookDroppedTotal, "9").Code)
	assert.Equal(t, int64(1), dropped())
}

// forwarderDropped is the sum of otelcol_receiver_copilot_hooks_forwarder_dropped.
func forwarderDropped(t *testing.T, h *harness) int64 {
	t.Helper()
	m, err := h.tel.GetMetric("otelcol_receiver_copilot_hooks_forwarder_dropped")
	require.NoError(t, err)
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		n += dp.Value
	}
	return n
}

// TestForwarderDropTotalsBySpool: two spools of one machine (two users of
// a shared host) each report their own running total; the receiver counts
// each spool's increase, so 5 and 3 dropped payloads count 8, not 5.
func TestForwarderDropTotalsBySpool(t *testing.T) {
	const spoolA, spoolB = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	h := newHarness(t)
	url, stop := h.startHooks(&sink{}, nil)
	report := dropReporter(t, &url)
	report(spoolA, "5")
	report(spoolB, "3")
	report(spoolA, "5")
	assert.Equal(t, int64(8), forwarderDropped(t, h))
	stop()

	// After a restart each spool counts on from its own total.
	url, stop = h.startHooks(&sink{}, nil)
	defer stop()
	report(spoolB, "3")
	report(spoolA, "6")
	report(spoolB, "4")
	assert.Equal(t, int64(2), forwarderDropped(t, h))
}

// TestForwarderDropTotalsUpgrade: a host's total stored before its
// forwarder sent spool ids is the highest total any of its spools reported
// then. A spool's first total counts only what it has beyond it, so no
// drop is counted twice; from then on each spool counts its own increase.
func TestForwarderDropTotalsUpgrade(t *testing.T) {
	const spoolA, spoolB = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	h := newHarness(t)
	url, stop := h.startHooks(&sink{}, nil)
	report := dropReporter(t, &url)
	report("", "5") // an older forwarder: the host's total
	assert.Equal(t, int64(5), forwarderDropped(t, h))
	stop()

	url, stop = h.startHooks(&sink{}, nil)
	report(spoolA, "7")           // the spool that reported 5, upgraded: 2 more
	report(spoolB, "3")           // a spool whose total was under the host's: its start
	report("not-a-spool-id", "5") // taken as the host's total, which is 5
	assert.Equal(t, int64(2), forwarderDropped(t, h))
	stop()

	// A spool's starting point survives a restart.
	url, stop = h.startHooks(&sink{}, nil)
	defer stop()
	report(spoolB, "4")
	report(spoolB, "4")
	assert.Equal(t, int64(1), forwarderDropped(t, h))
}

// dropReporter posts a hook payload from host devbox whose forwarder's
// spool reports a drop total, to the endpoint *url names (a restart
// changes it). Spool "" sends no spool id, as a forwarder older than the
// header.
func dropReporter(t *testing.T, url *string) func(spool, total string) {
	n := 0
	return func(spool, total string) {
		t.Helper()
		n++
		body := []byte(fmt.Sprintf(`{"sessionId":"s","timestamp":%d}`, 1795363646917+n))
		hdr := []string{HeaderHookHost, "devbox", HeaderHookDroppedTotal, total}
		if spool != "" {
			hdr = append(hdr, HeaderHookSpool, spool)
		}
		require.Equal(t, http.StatusAccepted, post(t, *url+hooksPath+"/notification", body, hdr...).Code)
	}
}

// TestForwarderDropTotalsBounded: the drop totals in memory are bounded,
// whatever spool ids clients send; a total let go is read again from
// storage, so a spool that reports again counts only its increase.
func TestForwarderDropTotalsBounded(t *testing.T) {
	old := maxDropTotalsInMemory
	maxDropTotalsInMemory = 4
	t.Cleanup(func() { maxDropTotalsInMemory = old })
	h := newHarness(t)
	url, stop := h.startHooks(&sink{}, nil)
	defer stop()
	report := dropReporter(t, &url)
	spool := func(i int) string { return fmt.Sprintf("%032x", i+1) }
	for i := range 10 {
		report(spool(i), "2")
	}
	assert.Equal(t, int64(20), forwarderDropped(t, h))
	h.recv.hooks.droppedMu.Lock()
	held := len(h.recv.hooks.dropped)
	h.recv.hooks.droppedMu.Unlock()
	assert.LessOrEqual(t, held, 4, "drop totals held in memory")
	for i := range 10 {
		report(spool(i), "3")
	}
	assert.Equal(t, int64(30), forwarderDropped(t, h), "each spool counted its increase once")
}
