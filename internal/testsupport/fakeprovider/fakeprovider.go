// Package fakeprovider is a scripted OpenAI-compatible chat-completions
// server for tests and for recording real GitHub Copilot CLI transcripts
// offline (the CLI's bring-your-own-key mode, COPILOT_OFFLINE=true with
// COPILOT_PROVIDER_BASE_URL pointing at URL()).
//
// What the server answers is decided by a "[scenario:NAME]" marker in the
// conversation's user messages (the last user message carrying one wins) and
// by how many tool results follow that message. A conversation whose user
// messages contain "subagent-task-marker" and no scenario marker is a
// subagent started by the "subagent" scenario; it behaves like "simple".
//
// Token usage is deterministic: prompt tokens are the request body size in
// bytes divided by 8, half of them cached, 5 reasoning tokens, and
// completion tokens 30 + 5 per tool result in the whole conversation.
package fakeprovider

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Scenario names understood by the server.
const (
	ScenarioSimple    = "simple"
	ScenarioMulti     = "multi"
	ScenarioEdit      = "edit"
	ScenarioSubagent  = "subagent"
	ScenarioFlaky     = "flaky"
	ScenarioRateLimit = "ratelimit"
	ScenarioSlow      = "slow"
	ScenarioContinue  = "continue"
)

// SubagentMarker is the text the "subagent" scenario puts into the task
// prompt it hands to the subagent, by which the subagent's own requests are
// recognised.
const SubagentMarker = "subagent-task-marker"

// DefaultModel is the model the server lists and reports when a request
// names none.
const DefaultModel = "gpt-4.1"

// Options configure a Server. The zero value is usable.
type Options struct {
	// Models listed by GET /v1/models. Empty means DefaultModel.
	Models []string
	// WorkDir is the directory the "edit" scenario creates src/app.py in
	// when the conversation does not tell the working directory. Empty
	// means a relative path.
	WorkDir string
	// KeepBodies keeps each request body in Requests().
	KeepBodies bool
	// SlowCommand is the shell command of the "slow" scenario. Empty means
	// "sleep 30".
	SlowCommand string
}

// Request is what the server saw and answered, one per HTTP request.
type Request struct {
	Time     time.Time
	Method   string
	Path     string
	Model    string
	Stream   bool
	Scenario string // "" when the conversation carries no marker
	Subagent bool   // the conversation is the subagent of "subagent"
	Step     int    // tool results after the scenario's user message
	Status   int
	Action   string // "tool:<name>", "text", "error", "models", "not_found"
	Body     []byte // only with Options.KeepBodies
}

// Server is a fake OpenAI-compatible provider on loopback.
type Server struct {
	opts Options

	mu       sync.Mutex
	requests []Request
	failed   map[string]bool // sessions whose first request was failed

	ln   net.Listener
	srv  *http.Server
	wg   sync.WaitGroup
	url  string
	once sync.Once
}

// New returns a server that is not listening yet.
func New(opts Options) *Server {
	if len(opts.Models) == 0 {
		opts.Models = []string{DefaultModel}
	}
	if opts.SlowCommand == "" {
		opts.SlowCommand = "sleep 30"
	}
	return &Server{opts: opts, failed: map[string]bool{}}
}

// Start listens on 127.0.0.1 on a free port and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String() + "/v1"
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.handle),
		ReadHeaderTimeout: 10 * time.Second,
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.srv.Serve(ln)
	}()
	return nil
}

// URL is the base URL, ending in /v1, to give the CLI as
// COPILOT_PROVIDER_BASE_URL.
func (s *Server) URL() string { return s.url }

// Close stops the server and waits for its goroutines, including the
// handlers of requests still in flight (for at most five seconds, after
// which their connections are closed).
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		if s.srv == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = s.srv.Shutdown(ctx)
		if err != nil {
			err = errors.Join(err, s.srv.Close())
		}
		s.wg.Wait()
	})
	return err
}

// Requests returns a copy of every request seen so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r)
	s.mu.Unlock()
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	rec := Request{Time: time.Now(), Method: r.Method, Path: r.URL.Path}
	if s.opts.KeepBodies {
		rec.Body = body
	}
	defer func() { s.record(rec) }()

	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(path, "/models"):
		rec.Action, rec.Status = "models", http.StatusOK
		s.writeModels(w)
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/chat/completions"):
		s.chat(w, body, &rec)
	default:
		rec.Action, rec.Status = "not_found", http.StatusNotFound
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	}
}

func (s *Server) writeModels(w http.ResponseWriter) {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list"}
	for _, m := range s.opts.Models {
		list.Data = append(list.Data, model{ID: m, Object: "model", Created: 1700000000, OwnedBy: "fakeprovider"})
	}
	writeJSON(w, http.StatusOK, list)
}

// chatRequest is the part of a chat-completions request the server reads.
type chatRequest struct {
	Model    string    `json:"model"`
	Stream   bool      `json:"stream"`
	Messages []message `json:"messages"`
	Tools    []struct {
		Function struct {
			Name       string `json:"name"`
			Parameters struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// text returns the text of a message's content, a string or an array of
// parts.
func (m message) text() string {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(m.Content, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		return b.String()
	}
	return string(m.Content)
}

var scenarioRE = regexp.MustCompile(`\[scenario:([A-Za-z0-9_-]+)\]`)

// conversation is what the server decided from one request.
type conversation struct {
	scenario string
	subagent bool
	step     int    // tool results after the scenario's user message
	tools    int    // tool results in the whole conversation
	key      string // identifies the session: its first user message
	workDir  string
	toolArgs map[string]map[string]bool // tool name -> declared parameters
}

var cwdRE = regexp.MustCompile(`(?i)current working directory[^/\n]{0,10}(/[^\s"'<>` + "`" + `]+)`)

func readConversation(req *chatRequest) conversation {
	c := conversation{toolArgs: map[string]map[string]bool{}}
	for _, t := range req.Tools {
		props := map[string]bool{}
		for k := range t.Function.Parameters.Properties {
			props[k] = true
		}
		c.toolArgs[t.Function.Name] = props
	}
	at, subAt := -1, -1
	for i, m := range req.Messages {
		switch m.Role {
		case "user":
			txt := m.text()
			if c.key == "" {
				sum := sha256.Sum256(m.Content)
				c.key = hex.EncodeToString(sum[:])
			}
			if ms := scenarioRE.FindAllStringSubmatch(txt, -1); len(ms) > 0 {
				c.scenario, at = ms[len(ms)-1][1], i
			}
			if strings.Contains(txt, SubagentMarker) && subAt < 0 {
				subAt = i
			}
		case "system", "developer":
			if c.workDir == "" {
				if m := cwdRE.FindStringSubmatch(m.text()); m != nil {
					c.workDir = strings.TrimRight(m[1], ".,;:)")
				}
			}
		}
	}
	if subAt >= 0 && at < 0 {
		c.scenario, c.subagent, at = ScenarioSimple, true, subAt
	}
	for i, m := range req.Messages {
		if m.Role == "tool" {
			c.tools++
			if i > at && at >= 0 {
				c.step++
			}
		}
	}
	return c
}

// action is one answer: a tool call or a text.
type action struct {
	tool string
	args map[string]any
	text string
}

func (s *Server) decide(c conversation) action {
	done := action{text: "All done."}
	switch c.scenario {
	case ScenarioSimple, ScenarioFlaky, ScenarioRateLimit:
		if c.step == 0 {
			return bash(c, "echo hello > out.txt && cat out.txt", "write a file", 10)
		}
	case ScenarioMulti:
		if c.step < 4 {
			return bash(c, fmt.Sprintf("echo step%d && seq 1 200", c.step), fmt.Sprintf("step %d", c.step), 10)
		}
	case ScenarioEdit:
		file := "src/app.py"
		if dir := c.workDir; dir != "" {
			file = strings.TrimSuffix(dir, "/") + "/src/app.py"
		} else if dir := s.opts.WorkDir; dir != "" {
			file = strings.TrimSuffix(dir, "/") + "/src/app.py"
		}
		switch c.step {
		case 0:
			return action{tool: "create", args: map[string]any{
				"path":      file,
				"file_text": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
			}}
		case 1:
			return action{tool: "edit", args: map[string]any{
				"path":    file,
				"old_str": "def sub(a, b):\n    return a - b\n",
				"new_str": "def sub(a, b):\n    \"\"\"Subtract.\"\"\"\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
			}}
		case 2:
			return bash(c, `python3 -c 'import sys; sys.path.insert(0, "src"); import app; print(app.mul(6,7))'`, "run it", 10)
		}
	case ScenarioSubagent:
		if c.step == 0 {
			return action{tool: "task", args: map[string]any{
				"description": "explore repo",
				"prompt":      SubagentMarker + ": list the files",
				"agent_type":  "explore",
				"name":        "explorer",
			}}
		}
	case ScenarioSlow:
		if c.step == 0 {
			return bash(c, s.opts.SlowCommand, "wait for the build", 120)
		}
	case ScenarioContinue:
		if c.step == 0 {
			return bash(c, "echo continued && git status --short", "check the tree", 10)
		}
	}
	return done
}

// bash is a call of the shell tool, with the optional parameters of newer
// CLIs only when the request declares them.
func bash(c conversation, command, description string, wait int) action {
	args := map[string]any{"command": command, "description": description}
	props := c.toolArgs["bash"]
	if props["mode"] {
		args["mode"] = "sync"
	}
	if props["initial_wait"] {
		args["initial_wait"] = wait
	}
	return action{tool: "bash", args: args}
}

func (s *Server) chat(w http.ResponseWriter, body []byte, rec *Request) {
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		rec.Action, rec.Status = "error", http.StatusBadRequest
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid JSON: "+err.Error())
		return
	}
	if req.Model == "" {
		req.Model = s.opts.Models[0]
	}
	c := readConversation(&req)
	rec.Model, rec.Stream, rec.Scenario, rec.Subagent, rec.Step = req.Model, req.Stream, c.scenario, c.subagent, c.step

	if c.scenario == ScenarioFlaky || c.scenario == ScenarioRateLimit {
		key := c.scenario + "/" + c.key
		s.mu.Lock()
		first := !s.failed[key]
		s.failed[key] = true
		s.mu.Unlock()
		if first {
			rec.Action = "error"
			if c.scenario == ScenarioFlaky {
				rec.Status = http.StatusInternalServerError
				writeError(w, rec.Status, "server_error", "The server had an error while processing your request.")
			} else {
				rec.Status = http.StatusTooManyRequests
				w.Header().Set("Retry-After", "1")
				writeError(w, rec.Status, "rate_limit_exceeded", "Rate limit reached. Please try again in 1s.")
			}
			return
		}
	}

	act := s.decide(c)
	prompt := len(body) / 8
	if prompt < 1 {
		prompt = 1
	}
	u := usage{
		PromptTokens:     prompt,
		CompletionTokens: 30 + 5*c.tools,
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	u.PromptDetails.CachedTokens = prompt / 2
	u.CompletionDetails.ReasoningTokens = 5

	id := "chatcmpl-" + randHex(5)
	var calls []toolCall
	finish := "stop"
	var content *string
	if act.tool != "" {
		args, _ := json.Marshal(act.args)
		calls = []toolCall{{Index: 0, ID: "call_" + randHex(4), Type: "function"}}
		calls[0].Function.Name = act.tool
		calls[0].Function.Arguments = string(args)
		finish = "tool_calls"
		rec.Action = "tool:" + act.tool
	} else {
		content = &act.text
		rec.Action = "text"
	}
	rec.Status = http.StatusOK
	created := time.Now().Unix()

	if !req.Stream {
		resp := map[string]any{
			"id":      id,
			"object":  "chat.completion",
			"created": created,
			"model":   req.Model,
			"choices": []any{map[string]any{
				"index":         0,
				"message":       assistantMessage{Role: "assistant", Content: content, ToolCalls: calls},
				"finish_reason": finish,
			}},
			"usage": u,
		}
		writeJSON(w, http.StatusOK, resp)
		return
	}

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}
	chunk := func(choices []any, u *usage) map[string]any {
		m := map[string]any{
			"id":      id,
			"object":  "chat.completion.chunk",
			"created": created,
			"model":   req.Model,
			"choices": choices,
		}
		if u != nil {
			m["usage"] = u
		}
		return m
	}
	delta := assistantMessage{Role: "assistant", Content: content, ToolCalls: calls}
	send(chunk([]any{map[string]any{"index": 0, "delta": delta, "finish_reason": nil}}, nil))
	send(chunk([]any{map[string]any{"index": 0, "delta": map[string]any{}, "finish_reason": finish}}, nil))
	send(chunk([]any{}, &u))
	io.WriteString(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
	PromptDetails    struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

type toolCall struct {
	Index    int    `json:"index"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type assistantMessage struct {
	Role      string     `json:"role"`
	Content   *string    `json:"content"`
	ToolCalls []toolCall `json:"tool_calls,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"message": msg,
		"type":    typ,
		"param":   nil,
		"code":    typ,
	}})
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
