// Package transcript reads GitHub Copilot CLI session transcripts
// ($COPILOT_HOME/session-state/<id>/events.jsonl) into typed events.
//
// Each line of a transcript is one event envelope,
// {"type","data","id","timestamp","parentId","agentId"?}. Decode checks the
// structure of the whole line but decodes only the fields the accounting
// reads; prompts, responses and tool output are skipped unless content
// capture asks for them. The format knowledge (event types, field names, the
// shapes older CLI versions wrote) lives here and in package session, so
// that every entry point that reads transcripts shares it.
package transcript

import "time"

// Event types the accounting and the telemetry read. Every other type in
// knownTypes is passed over.
const (
	TypeSessionStart          = "session.start"
	TypeSessionResume         = "session.resume"
	TypeSessionShutdown       = "session.shutdown"
	TypeSessionError          = "session.error"
	TypeSessionModelChange    = "session.model_change"
	TypeSessionContextChanged = "session.context_changed"
	TypeSessionCompaction     = "session.compaction_complete"
	TypeUsageRecord           = "session.usage_record"
	TypeUsageCheckpoint       = "session.usage_checkpoint"
	TypeUserMessage           = "user.message"
	TypeAssistantMessage      = "assistant.message"
	TypeTurnStart             = "assistant.turn_start"
	TypeTurnEnd               = "assistant.turn_end"
	TypeToolStart             = "tool.execution_start"
	TypeToolComplete          = "tool.execution_complete"
	TypeSubagentStarted       = "subagent.started"
	TypeSubagentCompleted     = "subagent.completed"
	TypeSubagentFailed        = "subagent.failed"
	TypeAbort                 = "abort"
	TypeHookStart             = "hook.start"
)

// Event is one transcript line.
type Event struct {
	Type      string
	ID        string
	ParentID  string
	AgentID   string // set for events of a subagent instance
	Timestamp time.Time

	// Data is one of the *Data types below for the types listed above, and
	// nil for every other known type.
	Data any
}

// WorkingContext is where the session runs, as session.start,
// session.resume and session.context_changed report it.
type WorkingContext struct {
	Cwd            string `json:"cwd"`
	GitRoot        string `json:"gitRoot"`
	Repository     string `json:"repository"`
	HostType       string `json:"hostType"`
	RepositoryHost string `json:"repositoryHost"`
	Branch         string `json:"branch"`
	HeadCommit     string `json:"headCommit"`
}

// StartData is session.start.
type StartData struct {
	SessionID      string          `json:"sessionId"`
	CopilotVersion string          `json:"copilotVersion"`
	Producer       string          `json:"producer"`
	StartTime      string          `json:"startTime"`
	SelectedModel  string          `json:"selectedModel"`
	Context        *WorkingContext `json:"context"`
}

// ResumeData is session.resume, the start of a new leg of the same session
// in the same file.
type ResumeData struct {
	ResumeTime    string          `json:"resumeTime"`
	SelectedModel string          `json:"selectedModel"`
	Context       *WorkingContext `json:"context"`
	// WritesCumulativeShutdown reports whether the CLI that wrote this
	// resume writes shutdown totals for the whole session rather than for
	// the leg. CLI 1.0.66 introduced both the cumulative shutdown and the
	// sessionLimits member of session.resume; no resume carries the CLI
	// version, so the member is the evidence (see package session).
	WritesCumulativeShutdown bool `json:"-"`
}

// AccountingID identifies one model call exactly once.
type AccountingID struct {
	SourceSessionID string `json:"sourceSessionId"`
	Sequence        Int    `json:"sequence"`
	UsageID         string `json:"usageId"`
}

// CopilotUsage is the billing part of a usage record.
type CopilotUsage struct {
	TotalNanoAIU Int `json:"totalNanoAiu"`
}

// UsageData is the usage of one model API call.
type UsageData struct {
	Model              string        `json:"model"`
	InputTokens        Int           `json:"inputTokens"`
	OutputTokens       Int           `json:"outputTokens"`
	CacheReadTokens    Int           `json:"cacheReadTokens"`
	CacheWriteTokens   Int           `json:"cacheWriteTokens"`
	ReasoningTokens    Int           `json:"reasoningTokens"`
	Cost               float64       `json:"cost"`
	Duration           Int           `json:"duration"`
	TimeToFirstTokenMs float64       `json:"timeToFirstTokenMs"`
	Initiator          string        `json:"initiator"`
	IsByok             bool          `json:"isByok"`
	ProviderType       string        `json:"providerType"`
	APICallID          string        `json:"apiCallId"`
	FinishReason       string        `json:"finishReason"`
	ParentToolCallID   string        `json:"parentToolCallId"`
	CopilotUsage       *CopilotUsage `json:"copilotUsage"`
	Accounting         *AccountingID `json:"accounting"`
}

// UsageRecordData is session.usage_record: one per model API call, written
// by CLI 1.0.102 and later.
type UsageRecordData struct {
	Usage UsageData `json:"usage"`
}

// CallsReporter is the data of an event that reports model calls. Package
// session counts each call once (by its accounting id, else its API call
// id), also while a transcript is read again, and attributes it to the
// event's agent. A new event type of this kind needs only its type, its
// decoder (dataDecoders), carriesUsage, and these two methods.
type CallsReporter interface {
	Calls() int
	Call(i int) *UsageData
}

// TotalsReporter is the data of an event that reports the session's
// running totals, cumulative for the whole session, and the last sequence
// counted per accounting source: package session reconciles them as it
// does a usage checkpoint's accountingSnapshot. A new event type of this
// kind needs only its type, its decoder, carriesUsage, and this method.
type TotalsReporter interface {
	SessionTotals() (totals *Totals, watermarks map[string]int64)
}

// Calls implements CallsReporter: a usage record is one call.
func (d *UsageRecordData) Calls() int { return 1 }

// Call implements CallsReporter.
func (d *UsageRecordData) Call(int) *UsageData { return &d.Usage }

// TokenUsage is the token part of a model metric.
type TokenUsage struct {
	InputTokens      Int `json:"inputTokens"`
	OutputTokens     Int `json:"outputTokens"`
	CacheReadTokens  Int `json:"cacheReadTokens"`
	CacheWriteTokens Int `json:"cacheWriteTokens"`
	ReasoningTokens  Int `json:"reasoningTokens"`
}

// ModelMetric is the accounting of one model in a shutdown or checkpoint.
type ModelMetric struct {
	// Model is the model's name: the key the CLI writes the metric under.
	Model    string `json:"-"`
	Requests struct {
		Count Int     `json:"count"`
		Cost  float64 `json:"cost"`
	} `json:"requests"`
	Usage        TokenUsage `json:"usage"`
	TotalNanoAIU Int        `json:"totalNanoAiu"`
}

// AgentMetric is the accounting of one agent in a shutdown or checkpoint.
type AgentMetric struct {
	// Agent is the agent's id ("main" or a subagent instance id): the key
	// the CLI writes the metric under.
	Agent            string `json:"-"`
	AgentName        string `json:"agentName"`
	AgentDisplayName string `json:"agentDisplayName"`
	TotalAPIDuration Int    `json:"totalApiDurationMs"`
	TotalNanoAIU     Int    `json:"totalNanoAiu"`
	// ModelMetrics is as in Totals.
	ModelMetrics []ModelMetric `json:"-"`
}

// CodeChanges is the code change accounting of a session.
type CodeChanges struct {
	LinesAdded         Int      `json:"linesAdded"`
	LinesRemoved       Int      `json:"linesRemoved"`
	FilesModifiedCount Int      `json:"filesModifiedCount"`
	FilesModified      []string `json:"filesModified"`
}

// Files is the number of files modified.
func (c CodeChanges) Files() int64 {
	if c.FilesModifiedCount.Set {
		return c.FilesModifiedCount.V
	}
	return int64(len(c.FilesModified))
}

// Totals is the CLI's own accounting of a session: the accountingSnapshot
// of 1.0.102, or the flat totals of a shutdown, in one shape.
//
// ModelMetrics and AgentMetrics are the CLI's objects keyed by model and by
// agent, as lists: one entry per key, in the order the keys first appear,
// with the value written last (as a map decoded from the same JSON would
// hold). A list costs one allocation the size of its entries, where a map
// of even one entry costs a group of eight.
type Totals struct {
	PremiumRequestCost float64
	HasPremium         bool
	UserRequests       Int
	NanoAIU            Int
	APIDurationMs      Int
	CodeChanges        CodeChanges
	ModelMetrics       []ModelMetric
	AgentMetrics       []AgentMetric
}

// ShutdownData is session.shutdown, the end of a leg.
type ShutdownData struct {
	ShutdownType string
	ErrorReason  string
	// Snapshot is the accountingSnapshot (1.0.102 and later); Flat the
	// totals written directly in data, which every version writes. When
	// both are present they agree and Totals is the snapshot: Flat is then
	// nil, and the flat members that follow the snapshot (where the CLI
	// writes them) are skipped, not decoded.
	Snapshot   *Totals
	Flat       *Totals
	Watermarks map[string]int64
	// Cumulative reports whether the totals cover the whole session rather
	// than this leg. It is true when the shutdown itself proves it
	// (accountingSnapshot, accounting watermarks or agentMetrics, which only
	// cumulative CLIs write); otherwise package session decides from the
	// leg's resume or start event.
	Cumulative bool
}

// Totals returns the session totals the shutdown reports.
func (s *ShutdownData) Totals() *Totals {
	if s.Snapshot != nil {
		return s.Snapshot
	}
	return s.Flat
}

// CheckpointData is session.usage_checkpoint: a running total written
// during a leg.
type CheckpointData struct {
	TotalNanoAIU Int
	Snapshot     *Totals
	Watermarks   map[string]int64
}

// UserMessageData is user.message. Content is filled only when content
// capture is on.
type UserMessageData struct {
	InteractionID string `json:"interactionId"`
	Source        string `json:"source"`
	Content       string `json:"-"`
}

// FromUser reports whether a person typed the message, as opposed to an
// agent handing a task to a subagent.
func (m *UserMessageData) FromUser(agentID string) bool {
	return agentID == "" && (m.Source == "" || m.Source == "user")
}

// AssistantMessageData is assistant.message; read only for content capture.
type AssistantMessageData struct {
	Content   string `json:"content"`
	APICallID string `json:"apiCallId"`
}

// TurnStartData is assistant.turn_start.
type TurnStartData struct {
	TurnID           string `json:"turnId"`
	InteractionID    string `json:"interactionId"`
	ParentToolCallID string `json:"parentToolCallId"`
}

// TurnEndData is assistant.turn_end.
type TurnEndData struct {
	TurnID string `json:"turnId"`
}

// ToolStartData is tool.execution_start. Arguments is filled only when
// content capture is on.
type ToolStartData struct {
	ToolCallID       string `json:"toolCallId"`
	ToolName         string `json:"toolName"`
	Model            string `json:"model"`
	MCPServerName    string `json:"mcpServerName"`
	ParentToolCallID string `json:"parentToolCallId"`
	Arguments        string `json:"-"`
}

// ToolCompleteData is tool.execution_complete. Result is filled only when
// content capture is on.
type ToolCompleteData struct {
	ToolCallID       string `json:"toolCallId"`
	Success          bool   `json:"success"`
	Model            string `json:"model"`
	InteractionID    string `json:"interactionId"`
	ParentToolCallID string `json:"parentToolCallId"`
	Error            *struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	} `json:"error"`
	ShellExecution *struct {
		ExitCode Int `json:"exitCode"`
	} `json:"shellExecution"`
	Result string `json:"-"`
}

// SubagentData is subagent.started, subagent.completed and
// subagent.failed.
type SubagentData struct {
	ToolCallID       string `json:"toolCallId"`
	AgentName        string `json:"agentName"`
	AgentDisplayName string `json:"agentDisplayName"`
	Model            string `json:"model"`
	Error            string `json:"error"`
	Cancelled        bool   `json:"cancelled"`
	TotalToolCalls   Int    `json:"totalToolCalls"`
	TotalTokens      Int    `json:"totalTokens"`
	DurationMs       Int    `json:"durationMs"`
}

// ErrorData is session.error.
type ErrorData struct {
	ErrorType  string `json:"errorType"`
	ErrorCode  string `json:"errorCode"`
	Message    string `json:"message"`
	StatusCode Int    `json:"statusCode"`
}

// AbortData is abort.
type AbortData struct {
	Reason string `json:"reason"`
}

// ModelChangeData is session.model_change.
type ModelChangeData struct {
	PreviousModel string `json:"previousModel"`
	NewModel      string `json:"newModel"`
}

// CompactionData is session.compaction_complete. The summary text is not
// read.
type CompactionData struct {
	Success bool   `json:"success"`
	Trigger string `json:"trigger"`
	Model   string `json:"model"`
}

// HookStartData is hook.start: a hook the CLI ran, with the payload it
// received. Only the hook type and the W3C trace context are read.
type HookStartData struct {
	HookType    string `json:"hookType"`
	Traceparent string `json:"-"`
}
