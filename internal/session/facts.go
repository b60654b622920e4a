package session

import "time"

// Initiator values of a usage record.
const (
	InitiatorUser     = "user"
	InitiatorAgent    = "agent"
	InitiatorSubagent = "sub-agent"
	// InitiatorUnknown marks usage the CLI reported only in its totals
	// (shutdown or checkpoint), without the calls that made it.
	InitiatorUnknown = "unknown"
)

// MainAgent is the agent key and name of the session's main agent, as the
// CLI's agentMetrics names it.
const MainAgent = "main"

// AgentUnknown is the agent key and name where hooks cannot tell the
// agent: usage from a hook payload's usage object, which does not split it
// by agent, and a subagent a payload does not name.
const AgentUnknown = "unknown"

// Where usage facts come from.
const (
	// SourceRecord is one session.usage_record: one model call.
	SourceRecord = "usage_record"
	// SourceShutdown is usage that a shutdown's totals report and the usage
	// records did not (older CLIs write no records; records lost to a
	// damaged line).
	SourceShutdown = "shutdown"
	// SourceCheckpoint is the same for a session.usage_checkpoint.
	SourceCheckpoint = "checkpoint"
	// SourceHook is usage a hook payload's usage object reported beyond
	// the usage accepted before (HookTracker).
	SourceHook = "hook"
)

// Tool call and subagent outcomes.
const (
	OutcomeSuccess    = "success"
	OutcomeFailure    = "failure"
	OutcomeCompleted  = "completed"
	OutcomeFailed     = "failed"
	OutcomeCancelled  = "cancelled"
	OutcomeIncomplete = "incomplete" // no completion was written before the session ended or went idle
)

// Session lifecycle states.
const (
	StateStarted = "started"
	StateResumed = "resumed"
	StateEnded   = "ended"
)

// How a leg span ended.
const (
	LegEndShutdown = "shutdown"
	LegEndIdle     = "idle"
)

// Context is where a session runs. Facts point to the context current when
// they happened; a new Context is made when it changes, so a pointer can be
// compared to group facts.
type Context struct {
	SessionID      string
	CLIVersion     string
	Cwd            string
	GitRoot        string
	Repository     string
	RepositoryHost string
	Branch         string
	HeadCommit     string
}

// Agent names who did something: the main agent or a subagent instance.
type Agent struct {
	ID   string // MainAgent, or the subagent instance id
	Name string // MainAgent, or the subagent's agent name ("explore")
}

// Span places a fact in the session's trace.
type Span struct {
	ID     [8]byte
	Parent [8]byte // zero for the root
}

// UsageFact is model usage counted once: one usage record, or what a
// shutdown or checkpoint reported beyond the records.
type UsageFact struct {
	Ctx       *Context
	Source    string // SourceRecord, SourceShutdown, SourceCheckpoint
	Start     time.Time
	Time      time.Time
	Agent     Agent
	Model     string
	Initiator string
	Usage     Usage

	// Set for SourceRecord only.
	Span            Span
	TTFTMs          float64
	HasTTFT         bool
	APICallID       string
	SourceSessionID string
	Sequence        int64
	InteractionID   string
	FinishReason    string
	IsByok          bool
	ProviderType    string
}

// LifecycleFact is a session starting, resuming or ending.
type LifecycleFact struct {
	Ctx          *Context
	Time         time.Time
	State        string // StateStarted, StateResumed, StateEnded
	Leg          int
	ShutdownType string
}

// ToolFact is a completed tool call.
type ToolFact struct {
	Ctx        *Context
	Start, End time.Time
	Span       Span
	Name       string
	CallID     string
	MCPServer  string
	Agent      Agent
	Outcome    string // OutcomeSuccess, OutcomeFailure, OutcomeIncomplete
	ErrorCode  string
	ExitCode   *int64
	Arguments  string // content capture only
	Result     string // content capture only
	// Links are traces the call is linked to (the CLI's own trace, from a
	// hook payload's traceparent).
	Links []TraceContext
}

// SubagentFact is a subagent run.
type SubagentFact struct {
	Ctx         *Context
	Start, End  time.Time
	Span        Span
	Agent       Agent
	ToolCallID  string
	Model       string
	Outcome     string // OutcomeCompleted, OutcomeFailed, OutcomeCancelled, OutcomeIncomplete
	Error       string
	ToolCalls   int64
	TotalTokens int64
}

// InteractionFact is one user interaction: a prompt and everything the
// main agent did for it.
type InteractionFact struct {
	Ctx         *Context
	Start, End  time.Time
	Span        Span
	ID          string
	Turns       int
	AbortReason string
	Links       []TraceContext
	Prompt      string // content capture only
	Response    string // content capture only
}

// LegFact is one leg of a session: from its start or resume to its
// shutdown, or to the last event when it went idle without one.
type LegFact struct {
	Ctx          *Context
	Start, End   time.Time
	Span         Span
	Leg          int
	EndReason    string // LegEndShutdown, LegEndIdle
	ShutdownType string
	Model        string
}

// ErrorFact is a session.error, or an error an errorOccurred hook
// reported.
type ErrorFact struct {
	Ctx        *Context
	Time       time.Time
	Agent      Agent
	Type       string
	Code       string
	Message    string
	StatusCode int64
	Span       [8]byte // the span current when it happened
	// Context is where the error happened (the hook's errorContext);
	// ErrorContextSession for a session.error.
	Context string
}

// ErrorContextSession is the context of errors the transcript recorded.
const ErrorContextSession = "session"

// HookFact is a hook payload the collector received.
type HookFact struct {
	Ctx    *Context
	Time   time.Time
	Type   string
	Reason string // sessionEnd reason, agentStop and subagentStop stopReason
}

// EndFact is a session end a sessionEnd hook reported, with its reason
// and the usage the payload carried, if any.
type EndFact struct {
	Ctx    *Context
	Time   time.Time
	Reason string
	Usage  *UsageSummary
}

// CodeChangeFact is code changed, as the CLI accounts it at a shutdown.
type CodeChangeFact struct {
	Ctx           *Context
	Start, Time   time.Time
	LinesAdded    int64
	LinesRemoved  int64
	FilesModified int64
}

// CompactionFact is a context compaction.
type CompactionFact struct {
	Ctx     *Context
	Time    time.Time
	Success bool
	Trigger string
}

// ShutdownIdle is the ShutdownType of a summary the receiver writes for a
// leg whose transcript stopped growing without a shutdown.
const ShutdownIdle = "idle"

// SummaryFact is the session's usage at a shutdown (or, ShutdownType
// ShutdownIdle, when its leg went idle without one), in the Option A shape.
type SummaryFact struct {
	Ctx          *Context
	Time         time.Time
	Leg          int
	ShutdownType string
	Usage        UsageSummary
}

// Facts is what a batch of events produced, in event order within each
// kind.
type Facts struct {
	Usage        []UsageFact
	Lifecycle    []LifecycleFact
	Tools        []ToolFact
	Subagents    []SubagentFact
	Interactions []InteractionFact
	Legs         []LegFact
	Errors       []ErrorFact
	CodeChanges  []CodeChangeFact
	Compactions  []CompactionFact
	Summaries    []SummaryFact
	Hooks        []HookFact
	Ends         []EndFact

	// ReadStart and ReadEnd are when the facts were read: the window of
	// this batch, following the previous batch's. Metrics stamped with
	// the time they are received use it, and whoever reads the batch again
	// after a crash sets the same window, so that the batch is sent again
	// as it was. Zero means "now".
	ReadStart, ReadEnd time.Time
}

// Len is the number of facts.
func (f *Facts) Len() int {
	return len(f.Usage) + len(f.Lifecycle) + len(f.Tools) + len(f.Subagents) + len(f.Interactions) +
		len(f.Legs) + len(f.Errors) + len(f.CodeChanges) + len(f.Compactions) + len(f.Summaries) + len(f.Hooks) + len(f.Ends)
}

// Reset empties f, keeping its storage.
func (f *Facts) Reset() {
	f.Usage = f.Usage[:0]
	f.Lifecycle = f.Lifecycle[:0]
	f.Tools = f.Tools[:0]
	f.Subagents = f.Subagents[:0]
	f.Interactions = f.Interactions[:0]
	f.Legs = f.Legs[:0]
	f.Errors = f.Errors[:0]
	f.CodeChanges = f.CodeChanges[:0]
	f.Compactions = f.Compactions[:0]
	f.Summaries = f.Summaries[:0]
	f.Hooks = f.Hooks[:0]
	f.Ends = f.Ends[:0]
	f.ReadStart, f.ReadEnd = time.Time{}, time.Time{}
}
