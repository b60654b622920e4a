// Package hook reads the payloads GitHub Copilot CLI writes to the stdin of
// hook commands, in both of its dialects: the CLI's own (camelCase keys,
// sessionId, epoch-millisecond timestamps; the payload does not name its
// hook type, the hook configuration does) and the Claude-compatible one
// (hook_event_name, session_id, ISO timestamps, snake_case keys).
package hook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
)

// Hook types, as the CLI's hook configuration names them.
const (
	SessionStart        = "sessionStart"
	SessionEnd          = "sessionEnd"
	UserPromptSubmitted = "userPromptSubmitted"
	PreToolUse          = "preToolUse"
	PostToolUse         = "postToolUse"
	PostToolUseFailure  = "postToolUseFailure"
	ErrorOccurred       = "errorOccurred"
	AgentStop           = "agentStop"
	SubagentStart       = "subagentStart"
	SubagentStop        = "subagentStop"
	PermissionRequest   = "permissionRequest"
	PreCompact          = "preCompact"
	Notification        = "notification"
)

// Types lists every hook type of CLI 1.0.102.
var Types = []string{
	SessionStart, SessionEnd, UserPromptSubmitted, PreToolUse, PostToolUse, PostToolUseFailure,
	ErrorOccurred, AgentStop, SubagentStart, SubagentStop, PermissionRequest, PreCompact, Notification,
}

// claudeNames maps the Claude-compatible event names to hook types.
var claudeNames = map[string]string{
	"SessionStart":       SessionStart,
	"SessionEnd":         SessionEnd,
	"UserPromptSubmit":   UserPromptSubmitted,
	"PreToolUse":         PreToolUse,
	"PostToolUse":        PostToolUse,
	"PostToolUseFailure": PostToolUseFailure,
	"Stop":               AgentStop,
	"SubagentStart":      SubagentStart,
	"SubagentStop":       SubagentStop,
	"PermissionRequest":  PermissionRequest,
	"PreCompact":         PreCompact,
	"Notification":       Notification,
}

// ClaudeName is the Claude-compatible event name of a hook type, and
// false for a type that dialect does not have (errorOccurred).
func ClaudeName(typ string) (string, bool) {
	for k, v := range claudeNames {
		if v == typ {
			return k, true
		}
	}
	return "", false
}

// Canonical returns the hook type for a name in either dialect.
func Canonical(name string) (string, bool) {
	for _, t := range Types {
		if t == name {
			return t, true
		}
	}
	t, ok := claudeNames[name]
	return t, ok
}

// Dialects of payloads.
const (
	DialectCopilot = "copilot"
	DialectClaude  = "claude"
)

// Payload is a hook payload, in one shape whatever its dialect. Text a
// person or a tool wrote (prompts, tool arguments and output, subagent
// responses) is kept only when Options.CaptureContent is set.
type Payload struct {
	Type           string
	Dialect        string
	SessionID      string
	Time           time.Time
	Cwd            string
	Traceparent    string
	TranscriptPath string

	Source         string // sessionStart: new, resume, ...
	Reason         string // sessionEnd
	StopReason     string // agentStop, subagentStop
	ToolName       string
	ToolResultType string // postToolUse: success, failure, ...
	HookName       string // permissionRequest
	ErrorMessage   string // errorOccurred
	ErrorName      string
	ErrorContext   string
	Recoverable    *bool
	AgentID        string // subagent hooks
	AgentName      string
	AgentType      string
	ParentAgentID  string

	// Usage is the Option A usage object, when the payload carries one (a
	// forwarder added it, or a future CLI sends it).
	Usage *session.UsageSummary
	// UsageSource is the usage object's source member, where a forwarder
	// says what it read the usage from (UsageFromTranscript,
	// UsageFromStore); "" when it does not say. Either way the usage is
	// the session's cumulative usage, which hook accounting takes only
	// beyond what it accepted before.
	UsageSource string
	// Context is where the session runs (repository, branch, git root),
	// when a forwarder added it from the transcript (SessionContextMember):
	// what a collector that counts hooks without the transcript attributes
	// the session by.
	Context *SessionContext

	Prompt     string          // content capture only
	ToolArgs   json.RawMessage // content capture only
	ToolResult json.RawMessage // content capture only
}

// MaxUsageModels bounds the models of a usage object, so that a payload
// cannot make metrics of unbounded cardinality.
const MaxUsageModels = 256

// Options control Decode.
type Options struct {
	CaptureContent bool
}

// wire holds both dialects' keys.
type wire struct {
	HookEventName  string          `json:"hook_event_name"`
	HookEventNameC string          `json:"hookEventName"`
	SessionID      string          `json:"sessionId"`
	SessionIDS     string          `json:"session_id"`
	Timestamp      json.RawMessage `json:"timestamp"`
	Cwd            string          `json:"cwd"`
	Traceparent    string          `json:"traceparent"`
	TranscriptPath string          `json:"transcriptPath"`
	TranscriptS    string          `json:"transcript_path"`
	Source         string          `json:"source"`
	Reason         string          `json:"reason"`
	StopReason     string          `json:"stopReason"`
	StopReasonS    string          `json:"stop_reason"`
	ToolName       string          `json:"toolName"`
	ToolNameS      string          `json:"tool_name"`
	ToolArgs       json.RawMessage `json:"toolArgs"`
	ToolInputS     json.RawMessage `json:"tool_input"`
	ToolInput      json.RawMessage `json:"toolInput"`
	ToolResult     json.RawMessage `json:"toolResult"`
	ToolResultS    json.RawMessage `json:"tool_result"`
	HookName       string          `json:"hookName"`
	Error          json.RawMessage `json:"error"`
	ErrorContext   string          `json:"errorContext"`
	Recoverable    *bool           `json:"recoverable"`
	AgentID        string          `json:"agentId"`
	AgentIDS       string          `json:"agent_id"`
	AgentName      string          `json:"agentName"`
	AgentNameS     string          `json:"agent_name"`
	AgentType      string          `json:"agentType"`
	AgentTypeS     string          `json:"agent_type"`
	ParentAgentID  string          `json:"parentAgentId"`
	ParentAgentS   string          `json:"parent_agent_id"`
	Prompt         string          `json:"prompt"`
	InitialPrompt  string          `json:"initialPrompt"`
	InitialPromptS string          `json:"initial_prompt"`
	Usage          json.RawMessage `json:"usage"`
	SessionContext *SessionContext `json:"sessionContext"`
}

// ErrInvalidUsage is what errors.Is finds in Decode's error when a number
// of the payload's usage object breaks the rule every usage number obeys
// (transcript.CheckCount, transcript.CheckAmount): negative, not whole
// where a count is expected, or above 2^53.
var ErrInvalidUsage = transcript.ErrInvalidUsage

// ErrUnknownType is what errors.Is finds in Decode's error when the
// payload's hook type is missing or not one of Types.
var ErrUnknownType = errors.New("unknown hook type")

// unknownType is an error that is ErrUnknownType, with its own message.
type unknownType struct{ msg string }

func (e *unknownType) Error() string        { return e.msg }
func (e *unknownType) Is(target error) bool { return target == ErrUnknownType }

// Session reads only which session a payload of either dialect is about,
// and the transcript it names, whatever its hook type: what a hook script
// needs to look up the session's usage.
func Session(body []byte) (sessionID, transcriptPath string, err error) {
	var w wire
	if err := json.Unmarshal(bytes.TrimSpace(body), &w); err != nil {
		return "", "", fmt.Errorf("the payload is not a JSON object: %w", err)
	}
	sessionID = first(w.SessionID, w.SessionIDS)
	if sessionID == "" {
		return "", "", errors.New("the payload names no session (sessionId or session_id)")
	}
	return sessionID, first(w.TranscriptPath, w.TranscriptS), nil
}

// Decode reads a payload. typeHint is the hook type named outside the
// payload (the URL, the forwarder's argument); the CLI's own dialect never
// names it in the payload. When both name a type they must agree. Errors
// say what is wrong with the payload, for a 400 response.
func Decode(body []byte, typeHint string, opts Options) (Payload, error) {
	var p Payload
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return p, errors.New("the payload is not a JSON object")
	}
	var w wire
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return p, fmt.Errorf("the payload is not valid JSON: %w", err)
	}
	if dec.More() {
		return p, errors.New("the payload has data after its JSON object")
	}

	named := first(w.HookEventName, w.HookEventNameC)
	switch {
	case named != "":
		t, ok := Canonical(named)
		if !ok {
			return p, &unknownType{fmt.Sprintf("hook_event_name %q is not a hook type this receiver knows", named)}
		}
		p.Type = t
		if typeHint != "" {
			if h, ok := Canonical(typeHint); !ok || h != t {
				return p, fmt.Errorf("the payload is a %q hook but was sent as %q", named, typeHint)
			}
		}
	case typeHint != "":
		t, ok := Canonical(typeHint)
		if !ok {
			return p, &unknownType{fmt.Sprintf("%q is not a hook type this receiver knows (%s)", typeHint, strings.Join(Types, ", "))}
		}
		p.Type = t
	default:
		return p, &unknownType{"the hook type is not known: send it in the URL (/v1/hooks/<type>) or as hook_event_name"}
	}

	p.Dialect = DialectCopilot
	if w.HookEventName != "" || w.SessionIDS != "" {
		p.Dialect = DialectClaude
	}
	p.SessionID = first(w.SessionID, w.SessionIDS)
	if p.SessionID == "" {
		return p, errors.New("the payload has no sessionId (or session_id)")
	}
	if len(p.SessionID) > 256 {
		return p, errors.New("the sessionId is longer than 256 characters")
	}
	var err error
	if p.Time, err = timestamp(w.Timestamp); err != nil {
		return p, err
	}
	p.Cwd = w.Cwd
	p.Traceparent = w.Traceparent
	p.TranscriptPath = first(w.TranscriptPath, w.TranscriptS)
	p.Source = w.Source
	p.Reason = w.Reason
	p.StopReason = first(w.StopReason, w.StopReasonS)
	p.ToolName = first(w.ToolName, w.ToolNameS)
	p.HookName = w.HookName
	p.ErrorContext = w.ErrorContext
	p.Recoverable = w.Recoverable
	p.AgentID = first(w.AgentID, w.AgentIDS)
	p.AgentName = first(w.AgentName, w.AgentNameS)
	p.AgentType = first(w.AgentType, w.AgentTypeS)
	p.ParentAgentID = first(w.ParentAgentID, w.ParentAgentS)

	result := firstRaw(w.ToolResult, w.ToolResultS)
	if len(result) > 0 && result[0] == '{' {
		var r struct {
			ResultType  string `json:"resultType"`
			ResultTypeS string `json:"result_type"`
		}
		if json.Unmarshal(result, &r) == nil {
			p.ToolResultType = first(r.ResultType, r.ResultTypeS)
		}
	}
	if err := decodeError(w.Error, &p); err != nil {
		return p, err
	}
	if len(w.Usage) > 0 && string(w.Usage) != "null" {
		u, err := decodeUsage(w.Usage)
		if err != nil {
			return p, err
		}
		p.Usage = &u
		var src struct {
			Source string `json:"source"`
		}
		if json.Unmarshal(w.Usage, &src) == nil && len(src.Source) <= maxUsageSource {
			p.UsageSource = src.Source
		}
	}
	if c := w.SessionContext; c != nil {
		if err := c.valid(); err != nil {
			return p, err
		}
		p.Context = c
	}
	if opts.CaptureContent {
		p.Prompt = first(w.Prompt, w.InitialPrompt, w.InitialPromptS)
		p.ToolArgs = firstRaw(w.ToolArgs, w.ToolInputS, w.ToolInput)
		p.ToolResult = result
	}
	return p, nil
}

// decodeError reads errorOccurred's error: an object with a message, or a
// plain string.
func decodeError(raw json.RawMessage, p *Payload) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] == '"' {
		return json.Unmarshal(raw, &p.ErrorMessage)
	}
	var e struct {
		Message string `json:"message"`
		Name    string `json:"name"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("error is neither a string nor an object with a message: %w", err)
	}
	p.ErrorMessage, p.ErrorName = e.Message, e.Name
	return nil
}

// timestamp reads epoch milliseconds (the CLI's dialect) or an RFC 3339
// time (the Claude-compatible one). A payload without one is stamped when
// it is read.
func timestamp(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, fmt.Errorf("timestamp: %w", err)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("timestamp %q is not an RFC 3339 time", s)
		}
		return t, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return time.Time{}, fmt.Errorf("timestamp is neither epoch milliseconds nor an RFC 3339 time")
	}
	ms, err := n.Int64()
	if err != nil {
		f, ferr := n.Float64()
		if ferr != nil {
			return time.Time{}, fmt.Errorf("timestamp %s is not a number of milliseconds", n)
		}
		ms = int64(f)
	}
	if ms < 0 || ms > 1e14 { // later than the year 5138: not milliseconds
		return time.Time{}, fmt.Errorf("timestamp %d is not epoch milliseconds", ms)
	}
	return time.UnixMilli(ms).UTC(), nil
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func firstRaw(vs ...json.RawMessage) json.RawMessage {
	for _, v := range vs {
		if len(v) > 0 && string(v) != "null" {
			return v
		}
	}
	return nil
}

// SessionContextMember is the member a forwarder adds to a payload with
// the session's context from its transcript.
const SessionContextMember = "sessionContext"

// SessionContext is the sessionContext member: the session's place as its
// transcript's session.start (or resume) records it.
type SessionContext struct {
	Repository string `json:"repository,omitempty"` // owner/name
	Branch     string `json:"branch,omitempty"`
	GitRoot    string `json:"gitRoot,omitempty"`
	HeadCommit string `json:"headCommit,omitempty"`
}

// maxContextField bounds each field of a sessionContext.
const maxContextField = 1024

func (c *SessionContext) valid() error {
	for name, v := range map[string]string{"repository": c.Repository, "branch": c.Branch, "gitRoot": c.GitRoot, "headCommit": c.HeadCommit} {
		if len(v) > maxContextField {
			return fmt.Errorf("sessionContext.%s is longer than %d bytes", name, maxContextField)
		}
	}
	return nil
}

// WithUsage returns the payload with a usage member set to u, leaving the
// rest of it as it was written. A payload that already carries a usage
// object (a CLI that reports its own) is returned unchanged.
//
// A payload can be large (a tool's output): unless it may have a usage
// member (the text "usage" or an escape sequence appears in it), it is
// only validated, not decoded, and the member is appended.
func WithUsage(body []byte, u session.UsageSummary) ([]byte, bool, error) {
	return withMember(body, "usage", u)
}

// Values of a usage object's source member: where a forwarder read the
// session's usage from. The session store (CLI 1.0.80 and later) has each
// model call as soon as it ends; the transcript only once the CLI writes
// its next batch, but it is complete at the session's end. The usage query
// also answers from the usage the session's hooks last carried.
const (
	UsageFromTranscript = "transcript"
	UsageFromStore      = "store"
	UsageFromHooks      = "hooks"
)

// maxUsageSource bounds the source member kept from a payload.
const maxUsageSource = 64

// WithUsageFrom is WithUsage with the usage object's source member set to
// source (UsageFromTranscript, UsageFromStore; "" sets none).
func WithUsageFrom(body []byte, u session.UsageSummary, source string) ([]byte, bool, error) {
	if source == "" {
		return WithUsage(body, u)
	}
	return withMember(body, "usage", struct {
		session.UsageSummary
		Source string `json:"source"`
	}{u, source})
}

// WithContext returns the payload with a sessionContext member set to c,
// as WithUsage does the usage: a payload that has one keeps it.
func WithContext(body []byte, c SessionContext) ([]byte, bool, error) {
	return withMember(body, SessionContextMember, c)
}

// withMember sets the member name of a JSON object to v unless it has a
// non-null one.
func withMember(body []byte, name string, v any) ([]byte, bool, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' || !json.Valid(trimmed) {
		return body, false, errors.New("the payload is not a JSON object")
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return body, false, err
	}
	empty := len(bytes.TrimSpace(trimmed[1:len(trimmed)-1])) == 0
	if bytes.Contains(trimmed, []byte(`"`+name+`"`)) || bytes.Contains(trimmed, []byte(`\u`)) {
		var members map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &members); err != nil {
			return body, false, fmt.Errorf("the payload is not a JSON object: %w", err)
		}
		if v, ok := members[name]; ok {
			if string(v) != "null" {
				return body, false, nil
			}
			// A null member: replace it by rewriting the object.
			members[name] = enc
			out, err := json.Marshal(members)
			return out, err == nil, err
		}
	}
	out := make([]byte, 0, len(trimmed)+len(enc)+len(name)+10)
	out = append(out, trimmed[:len(trimmed)-1]...)
	if !empty {
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, name...)
	out = append(out, '"', ':')
	out = append(out, enc...)
	out = append(out, '}')
	return out, true, nil
}

// OwnerSessionID is the session a payload belongs to. The CLI runs a
// subagent's hooks with the subagent's instance id as sessionId (and
// agentId), naming the session that started it in parentAgentId and, on
// agentStop, the session's transcript in transcriptPath: such a payload
// belongs to that session. A subagent started by another subagent names
// its parent subagent; lookup maps a subagent instance id to its session
// where the caller knows it (nil: not known).
func (p *Payload) OwnerSessionID(lookup func(agentID string) (string, bool)) string {
	if p.AgentID == "" || p.SessionID != p.AgentID {
		return p.SessionID
	}
	if p.TranscriptPath != "" {
		if dir := filepath.Base(filepath.Dir(p.TranscriptPath)); dir != "." && dir != string(filepath.Separator) && dir != "" {
			return dir
		}
	}
	if p.ParentAgentID == "" {
		return p.SessionID
	}
	if lookup != nil {
		if s, ok := lookup(p.ParentAgentID); ok {
			return s
		}
	}
	return p.ParentAgentID
}

// usageWire is the usage object as a payload writes it. Counts are read as
// transcripts' counts are (13414, 0.0 and 4737390000.0 alike) and checked
// by the same rule.
type usageWire struct {
	TotalPremiumRequestCost float64        `json:"totalPremiumRequestCost"`
	TotalNanoAIU            transcript.Int `json:"totalNanoAiu"`
	TotalUserRequests       transcript.Int `json:"totalUserRequests"`
	TotalAPIDurationMs      transcript.Int `json:"totalApiDurationMs"`
	TokenDetails            struct {
		Input      transcript.Int `json:"input"`
		Output     transcript.Int `json:"output"`
		CacheRead  transcript.Int `json:"cacheRead"`
		CacheWrite transcript.Int `json:"cacheWrite"`
		Reasoning  transcript.Int `json:"reasoning"`
	} `json:"tokenDetails"`
	ModelMetrics map[string]struct {
		Requests struct {
			Count         transcript.Int `json:"count"`
			UserInitiated transcript.Int `json:"userInitiated"`
			PremiumCost   float64        `json:"premiumCost"`
		} `json:"requests"`
		Usage struct {
			InputTokens      transcript.Int `json:"inputTokens"`
			OutputTokens     transcript.Int `json:"outputTokens"`
			CacheReadTokens  transcript.Int `json:"cacheReadTokens"`
			CacheWriteTokens transcript.Int `json:"cacheWriteTokens"`
			ReasoningTokens  transcript.Int `json:"reasoningTokens"`
		} `json:"usage"`
		TotalNanoAIU transcript.Int `json:"totalNanoAiu"`
	} `json:"modelMetrics"`
	CodeChanges struct {
		LinesAdded    transcript.Int `json:"linesAdded"`
		LinesRemoved  transcript.Int `json:"linesRemoved"`
		FilesModified transcript.Int `json:"filesModified"`
	} `json:"codeChanges"`
}

// usageChecker applies the usage rule to the numbers of a usage object and
// keeps the first violation, named by its place in the object.
type usageChecker struct{ err error }

func (c *usageChecker) count(field string, n transcript.Int) int64 {
	if err := transcript.CheckCount(n); err != nil && c.err == nil {
		c.err = fmt.Errorf("usage.%s: %w", field, err)
	}
	return n.V
}

func (c *usageChecker) amount(field string, f float64) float64 {
	if err := transcript.CheckAmount(f); err != nil && c.err == nil {
		c.err = fmt.Errorf("usage.%s: %w", field, err)
	}
	return f
}

// decodeUsage reads a payload's usage object. An error names what is
// wrong: its shape, or the first number that breaks the usage rule
// (ErrInvalidUsage).
func decodeUsage(raw json.RawMessage) (session.UsageSummary, error) {
	var w usageWire
	if err := json.Unmarshal(raw, &w); err != nil {
		return session.UsageSummary{}, fmt.Errorf("the usage object does not have the expected shape: %w", err)
	}
	if len(w.ModelMetrics) > MaxUsageModels {
		return session.UsageSummary{}, fmt.Errorf("the usage object names %d models; at most %d are accepted", len(w.ModelMetrics), MaxUsageModels)
	}
	var c usageChecker
	u := session.UsageSummary{
		TotalPremiumRequestCost: c.amount("totalPremiumRequestCost", w.TotalPremiumRequestCost),
		TotalNanoAIU:            c.count("totalNanoAiu", w.TotalNanoAIU),
		TotalUserRequests:       c.count("totalUserRequests", w.TotalUserRequests),
		TotalAPIDurationMs:      c.count("totalApiDurationMs", w.TotalAPIDurationMs),
		TokenDetails: session.TokenDetails{
			Input:      c.count("tokenDetails.input", w.TokenDetails.Input),
			Output:     c.count("tokenDetails.output", w.TokenDetails.Output),
			CacheRead:  c.count("tokenDetails.cacheRead", w.TokenDetails.CacheRead),
			CacheWrite: c.count("tokenDetails.cacheWrite", w.TokenDetails.CacheWrite),
			Reasoning:  c.count("tokenDetails.reasoning", w.TokenDetails.Reasoning),
		},
		CodeChanges: session.CodeSummary{
			LinesAdded:    c.count("codeChanges.linesAdded", w.CodeChanges.LinesAdded),
			LinesRemoved:  c.count("codeChanges.linesRemoved", w.CodeChanges.LinesRemoved),
			FilesModified: c.count("codeChanges.filesModified", w.CodeChanges.FilesModified),
		},
	}
	if w.ModelMetrics != nil {
		u.ModelMetrics = make(map[string]session.ModelSummary, len(w.ModelMetrics))
	}
	for _, name := range slices.Sorted(maps.Keys(w.ModelMetrics)) {
		m := w.ModelMetrics[name]
		at := "modelMetrics[" + strconv.Quote(name) + "]."
		u.ModelMetrics[name] = session.ModelSummary{
			Requests: session.RequestSummary{
				Count:         c.count(at+"requests.count", m.Requests.Count),
				UserInitiated: c.count(at+"requests.userInitiated", m.Requests.UserInitiated),
				PremiumCost:   c.amount(at+"requests.premiumCost", m.Requests.PremiumCost),
			},
			Usage: session.TokenSummary{
				InputTokens:      c.count(at+"usage.inputTokens", m.Usage.InputTokens),
				OutputTokens:     c.count(at+"usage.outputTokens", m.Usage.OutputTokens),
				CacheReadTokens:  c.count(at+"usage.cacheReadTokens", m.Usage.CacheReadTokens),
				CacheWriteTokens: c.count(at+"usage.cacheWriteTokens", m.Usage.CacheWriteTokens),
				ReasoningTokens:  c.count(at+"usage.reasoningTokens", m.Usage.ReasoningTokens),
			},
			TotalNanoAIU: c.count(at+"totalNanoAiu", m.TotalNanoAIU),
		}
	}
	if c.err != nil {
		return session.UsageSummary{}, c.err
	}
	return u, nil
}

// ValidForwarderID reports whether s is an id as otelcol-copilot-hook makes
// them for its payloads and its spools: 32 lowercase hexadecimal digits
// (16 random bytes). The forwarder checks the ids of its spool with it,
// and the collector the spool id a forwarder sends.
func ValidForwarderID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
