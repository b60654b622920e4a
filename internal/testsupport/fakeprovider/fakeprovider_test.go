package fakeprovider

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

func start(t *testing.T) *Server {
	t.Helper()
	s := New(Options{})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || !strings.HasSuffix(s.URL(), "/v1") {
		t.Fatalf("URL %q", s.URL())
	}
	return s
}

type msg struct {
	Role       string `json:"role"`
	Content    any    `json:"content"`
	ToolCallID string `json:"tool_call_id,omitempty"`
}

func post(t *testing.T, s *Server, stream bool, msgs []msg) *http.Response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"model":          "gpt-4.1",
		"stream":         stream,
		"stream_options": map[string]any{"include_usage": true},
		"messages":       msgs,
		"tools": []any{map[string]any{"type": "function", "function": map[string]any{
			"name": "bash",
			"parameters": map[string]any{"type": "object", "properties": map[string]any{
				"command": map[string]any{"type": "string"}, "description": map[string]any{"type": "string"},
				"mode": map[string]any{"type": "string"}, "initial_wait": map[string]any{"type": "number"},
			}},
		}}},
	})
	resp, err := http.Post(s.URL()+"/chat/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

type chunk struct {
	Choices []struct {
		Delta struct {
			Content   *string `json:"content"`
			ToolCalls []struct {
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
		PromptDetails    struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
		CompletionDetails struct {
			ReasoningTokens int `json:"reasoning_tokens"`
		} `json:"completion_tokens_details"`
	} `json:"usage"`
}

func readSSE(t *testing.T, r io.Reader) (chunks []chunk, done bool) {
	t.Helper()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("not an SSE data line: %q", line)
		}
		if data == "[DONE]" {
			done = true
			continue
		}
		var c chunk
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, c)
	}
	return chunks, done
}

func TestStreamToolCallThenText(t *testing.T) {
	s := start(t)
	conv := []msg{{Role: "system", Content: "Current working directory: /home/dev/src/x"}, {Role: "user", Content: "Do the task [scenario:simple]"}}
	resp := post(t, s, true, conv)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	chunks, done := readSSE(t, resp.Body)
	if !done || len(chunks) != 3 {
		t.Fatalf("done=%v, %d chunks", done, len(chunks))
	}
	calls := chunks[0].Choices[0].Delta.ToolCalls
	if len(calls) != 1 || calls[0].Function.Name != "bash" {
		t.Fatalf("tool calls %+v", calls)
	}
	var args map[string]any
	if err := json.Unmarshal([]byte(calls[0].Function.Arguments), &args); err != nil {
		t.Fatal(err)
	}
	if args["command"] != "echo hello > out.txt && cat out.txt" || args["mode"] != "sync" {
		t.Fatalf("arguments %v", args)
	}
	if fr := chunks[1].Choices[0].FinishReason; fr == nil || *fr != "tool_calls" {
		t.Fatalf("finish reason %v", fr)
	}
	u := chunks[2].Usage
	if len(chunks[2].Choices) != 0 || u == nil {
		t.Fatalf("usage chunk %+v", chunks[2])
	}
	if u.CompletionTokens != 30 || u.PromptDetails.CachedTokens != u.PromptTokens/2 ||
		u.CompletionDetails.ReasoningTokens != 5 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Fatalf("usage %+v", u)
	}

	// the tool result comes back: the scenario ends with a text
	conv = append(conv, msg{Role: "assistant", Content: nil}, msg{Role: "tool", Content: "hello", ToolCallID: calls[0].ID})
	chunks, _ = readSSE(t, post(t, s, true, conv).Body)
	if c := chunks[0].Choices[0].Delta.Content; c == nil || *c != "All done." {
		t.Fatalf("content %v", c)
	}
	if fr := chunks[1].Choices[0].FinishReason; fr == nil || *fr != "stop" {
		t.Fatalf("finish reason %v", fr)
	}
	if chunks[2].Usage.CompletionTokens != 35 {
		t.Fatalf("completion tokens %d", chunks[2].Usage.CompletionTokens)
	}

	reqs := s.Requests()
	if len(reqs) != 2 || reqs[0].Scenario != "simple" || reqs[0].Action != "tool:bash" || reqs[1].Action != "text" ||
		reqs[1].Step != 1 || reqs[0].Method != "POST" || reqs[0].Path != "/v1/chat/completions" || reqs[0].Status != 200 {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestNonStream(t *testing.T) {
	s := start(t)
	resp := post(t, s, false, []msg{{Role: "user", Content: []any{map[string]any{"type": "text", "text": "go [scenario:multi]"}}}})
	var out struct {
		Object  string `json:"object"`
		Choices []struct {
			Message struct {
				ToolCalls []struct {
					Function struct {
						Arguments string `json:"arguments"`
					} `json:"function"`
				} `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Object != "chat.completion" || len(out.Choices) != 1 || out.Choices[0].FinishReason != "tool_calls" ||
		!strings.Contains(out.Choices[0].Message.ToolCalls[0].Function.Arguments, "echo step0") || out.Usage.PromptTokens == 0 {
		t.Fatalf("response %+v", out)
	}
}

func TestModels(t *testing.T) {
	s := start(t)
	resp, err := http.Get(s.URL() + "/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"id":"gpt-4.1"`) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if r := s.Requests(); len(r) != 1 || r[0].Method != "GET" || r[0].Action != "models" {
		t.Fatalf("requests %+v", r)
	}
}

func TestFlakyAndRateLimit(t *testing.T) {
	for _, tc := range []struct {
		scenario   string
		status     int
		retryAfter string
	}{
		{ScenarioFlaky, 500, ""},
		{ScenarioRateLimit, 429, "1"},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			s := start(t)
			conv := []msg{{Role: "user", Content: "Do the task [scenario:" + tc.scenario + "]"}}
			first := post(t, s, true, conv)
			if first.StatusCode != tc.status || first.Header.Get("Retry-After") != tc.retryAfter {
				t.Fatalf("status %d, Retry-After %q", first.StatusCode, first.Header.Get("Retry-After"))
			}
			var e struct {
				Error struct {
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.NewDecoder(first.Body).Decode(&e); err != nil || e.Error.Message == "" {
				t.Fatalf("error body: %v %+v", err, e)
			}
			// the retry of the same conversation succeeds, like simple
			retry := post(t, s, true, conv)
			if retry.StatusCode != 200 {
				t.Fatalf("retry status %d", retry.StatusCode)
			}
			chunks, _ := readSSE(t, retry.Body)
			if len(chunks[0].Choices[0].Delta.ToolCalls) != 1 {
				t.Fatalf("retry answered %+v", chunks[0])
			}
			// another session fails once too
			other := post(t, s, true, []msg{{Role: "user", Content: "again [scenario:" + tc.scenario + "]"}})
			if other.StatusCode != tc.status {
				t.Fatalf("other session status %d", other.StatusCode)
			}
			reqs := s.Requests()
			if len(reqs) != 3 || reqs[0].Status != tc.status || reqs[0].Action != "error" || reqs[1].Status != 200 || reqs[0].Scenario != tc.scenario {
				t.Fatalf("requests %+v", reqs)
			}
		})
	}
}

func TestScenarios(t *testing.T) {
	s := start(t)
	first := func(conv []msg) (string, map[string]any) {
		t.Helper()
		chunks, _ := readSSE(t, post(t, s, true, conv).Body)
		d := chunks[0].Choices[0].Delta
		if len(d.ToolCalls) == 0 {
			return "text", nil
		}
		var args map[string]any
		_ = json.Unmarshal([]byte(d.ToolCalls[0].Function.Arguments), &args)
		return d.ToolCalls[0].Function.Name, args
	}
	sys := msg{Role: "system", Content: "* Current working directory: /home/dev/src/payments-api\n"}
	tool := msg{Role: "tool", Content: "ok"}

	if name, args := first([]msg{sys, {Role: "user", Content: "[scenario:subagent]"}}); name != "task" || args["agent_type"] != "explore" || args["name"] != "explorer" {
		t.Fatalf("subagent: %s %v", name, args)
	}
	if name, args := first([]msg{sys, {Role: "user", Content: SubagentMarker + ": list the files"}}); name != "bash" || !strings.Contains(args["command"].(string), "echo hello") {
		t.Fatalf("subagent child: %s %v", name, args)
	}
	if r := s.Requests(); !r[1].Subagent || r[1].Scenario != ScenarioSimple {
		t.Fatalf("child request %+v", r[1])
	}
	if name, args := first([]msg{sys, {Role: "user", Content: "[scenario:edit]"}}); name != "create" || args["path"] != "/home/dev/src/payments-api/src/app.py" {
		t.Fatalf("edit: %s %v", name, args)
	}
	if name, _ := first([]msg{sys, {Role: "user", Content: "[scenario:edit]"}, tool}); name != "edit" {
		t.Fatalf("edit step 1: %s", name)
	}
	if name, args := first([]msg{sys, {Role: "user", Content: "[scenario:slow]"}}); name != "bash" || args["command"] != "sleep 30" {
		t.Fatalf("slow: %s %v", name, args)
	}
	multi := []msg{sys, {Role: "user", Content: "[scenario:multi]"}, tool, tool, tool}
	if name, args := first(multi); name != "bash" || !strings.HasPrefix(args["command"].(string), "echo step3") {
		t.Fatalf("multi step 3: %s %v", name, args)
	}
	if name, _ := first(append(multi, tool)); name != "text" {
		t.Fatalf("multi step 4: %s", name)
	}
	// a resume prompt: the last marker wins and steps count from it
	resumed := append(append([]msg{}, multi...), tool, msg{Role: "user", Content: "continue [scenario:continue]"})
	if name, _ := first(resumed); name != "bash" {
		t.Fatalf("continue: %s", name)
	}
	if name, _ := first(append(resumed, tool)); name != "text" {
		t.Fatalf("continue step 1: %s", name)
	}
	if name, _ := first([]msg{{Role: "user", Content: "no marker"}}); name != "text" {
		t.Fatalf("no marker: %s", name)
	}
}

func TestUnknownPath(t *testing.T) {
	s := start(t)
	resp, err := http.Post(s.URL()+"/responses", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || s.Requests()[0].Status != 404 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestCloseWaits checks that Close returns only when the server's
// goroutines are gone.
func TestCloseWaits(t *testing.T) {
	before := runtime.NumGoroutine()
	s := New(Options{})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{}}
	for i := 0; i < 3; i++ {
		resp, err := c.Post(s.URL()+"/chat/completions", "application/json", strings.NewReader(`{"stream":true,"messages":[{"role":"user","content":"[scenario:simple]"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // a second Close is harmless
		t.Fatal(err)
	}
	c.CloseIdleConnections()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after Close:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}
