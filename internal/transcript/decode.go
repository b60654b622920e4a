package transcript

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Reasons a line is skipped. They are few and fixed so that they can label a
// counter.
const (
	ReasonInvalidJSON      = "invalid_json"      // not a JSON object
	ReasonTornLine         = "torn_line"         // the fragment of a line cut short: glued to the next event, ended by a newline of its own, or at the end of a finished file
	ReasonNULBytes         = "nul_bytes"         // NUL padding a crash left behind
	ReasonLineTooLong      = "line_too_long"     // longer than the configured limit
	ReasonMissingType      = "missing_type"      // an object without a type
	ReasonUnknownType      = "unknown_type"      // a type no schema we know lists
	ReasonInvalidTimestamp = "invalid_timestamp" // a timestamp that is not RFC 3339
	ReasonInvalidData      = "invalid_data"      // the data of a known type does not have its shape
)

// DecodeError says why a line is not an event.
type DecodeError struct {
	Reason string
	Type   string // the event type, when it could be read
	Err    error
}

func (e *DecodeError) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("%s (%s): %v", e.Reason, e.Type, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Reason, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Options control what Decode reads.
type Options struct {
	// CaptureContent decodes prompts, assistant responses and tool
	// arguments and results. Off, they are skipped without being decoded.
	CaptureContent bool
}

// Decode decodes one transcript line (without its line terminator).
func Decode(line []byte, opts Options) (Event, error) {
	var (
		ev                      Event
		typeRaw, dataRaw, tsRaw []byte
		idRaw, parentRaw, agRaw []byte
	)
	err := eachMember(line, func(key, val []byte) bool {
		switch string(key) {
		case "type":
			typeRaw = val
		case "data":
			dataRaw = val
		case "id":
			idRaw = val
		case "timestamp":
			tsRaw = val
		case "parentId":
			parentRaw = val
		case "agentId":
			agRaw = val
		}
		return true
	})
	if err != nil {
		return ev, &DecodeError{Reason: ReasonInvalidJSON, Err: err}
	}
	var ok bool
	if ev.Type, ok = unquote(typeRaw); !ok || ev.Type == "" {
		return ev, &DecodeError{Reason: ReasonMissingType, Err: errors.New("no string member \"type\"")}
	}
	if !knownTypes[ev.Type] {
		return ev, &DecodeError{Reason: ReasonUnknownType, Type: ev.Type, Err: fmt.Errorf("event type %q is not in the session-events schema", ev.Type)}
	}
	ts, ok := unquote(tsRaw)
	if !ok {
		return ev, &DecodeError{Reason: ReasonInvalidTimestamp, Type: ev.Type, Err: errors.New("no string member \"timestamp\"")}
	}
	if ev.Timestamp, err = time.Parse(time.RFC3339Nano, ts); err != nil {
		return ev, &DecodeError{Reason: ReasonInvalidTimestamp, Type: ev.Type, Err: err}
	}
	ev.ID, _ = unquote(idRaw)
	ev.ParentID, _ = unquote(parentRaw)
	ev.AgentID, _ = unquote(agRaw)

	if dataRaw == nil || string(dataRaw) == "null" {
		dataRaw = []byte("{}")
	}
	if ev.Data, err = decodeData(ev.Type, dataRaw, opts); err != nil {
		return ev, &DecodeError{Reason: ReasonInvalidData, Type: ev.Type, Err: err}
	}
	return ev, nil
}

func decodeData(typ string, raw []byte, opts Options) (any, error) {
	switch typ {
	case TypeSessionStart:
		return unmarshal[StartData](raw)
	case TypeSessionResume:
		return decodeResume(raw)
	case TypeSessionShutdown:
		return decodeShutdown(raw)
	case TypeUsageRecord:
		d, err := unmarshal[UsageRecordData](raw)
		if err == nil && d.Usage.Model == "" {
			err = errors.New("usage has no model")
		}
		return d, err
	case TypeUsageCheckpoint:
		return decodeCheckpoint(raw)
	case TypeUserMessage:
		return decodeUserMessage(raw, opts)
	case TypeAssistantMessage:
		if !opts.CaptureContent {
			return nil, nil
		}
		return pick(raw, new(AssistantMessageData), func(d *AssistantMessageData, key string, val []byte) error {
			switch key {
			case "content":
				return json.Unmarshal(val, &d.Content)
			case "apiCallId":
				return json.Unmarshal(val, &d.APICallID)
			}
			return nil
		})
	case TypeTurnStart:
		return unmarshal[TurnStartData](raw)
	case TypeTurnEnd:
		return unmarshal[TurnEndData](raw)
	case TypeToolStart:
		return decodeToolStart(raw, opts)
	case TypeToolComplete:
		return decodeToolComplete(raw, opts)
	case TypeSubagentStarted, TypeSubagentCompleted, TypeSubagentFailed:
		return unmarshal[SubagentData](raw)
	case TypeSessionError:
		return pick(raw, new(ErrorData), func(d *ErrorData, key string, val []byte) error {
			switch key {
			case "errorType":
				return json.Unmarshal(val, &d.ErrorType)
			case "errorCode":
				return json.Unmarshal(val, &d.ErrorCode)
			case "message":
				return json.Unmarshal(val, &d.Message)
			case "statusCode":
				return json.Unmarshal(val, &d.StatusCode)
			}
			return nil
		})
	case TypeAbort:
		return unmarshal[AbortData](raw)
	case TypeSessionModelChange:
		return unmarshal[ModelChangeData](raw)
	case TypeSessionContextChanged:
		return unmarshal[WorkingContext](raw)
	case TypeSessionCompaction:
		return pick(raw, new(CompactionData), func(d *CompactionData, key string, val []byte) error {
			switch key {
			case "success":
				return json.Unmarshal(val, &d.Success)
			case "trigger":
				return json.Unmarshal(val, &d.Trigger)
			case "model":
				return json.Unmarshal(val, &d.Model)
			}
			return nil
		})
	case TypeHookStart:
		return pick(raw, new(HookStartData), func(d *HookStartData, key string, val []byte) error {
			switch key {
			case "hookInvocationId":
				return json.Unmarshal(val, &d.HookInvocationID)
			case "hookType":
				return json.Unmarshal(val, &d.HookType)
			case "input":
				// The input holds the whole hook payload, tool output
				// included; only the trace context is read.
				if !isObject(val) {
					return nil
				}
				return eachMember(val, func(k, v []byte) bool {
					if string(k) == "traceparent" {
						d.Traceparent, _ = unquote(v)
						return false
					}
					return true
				})
			}
			return nil
		})
	}
	return nil, nil
}

func unmarshal[T any](raw []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, err
	}
	return v, nil
}

// pick decodes selected members of the object raw into d; set is called for
// each member and decodes the ones it wants. Members set does not decode are
// skipped, not decoded.
func pick[T any](raw []byte, d *T, set func(d *T, key string, val []byte) error) (*T, error) {
	var ferr error
	err := eachMember(raw, func(key, val []byte) bool {
		if e := set(d, string(key), val); e != nil {
			ferr = fmt.Errorf("member %q: %w", key, e)
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if ferr != nil {
		return nil, ferr
	}
	return d, nil
}

func decodeResume(raw []byte) (*ResumeData, error) {
	return pick(raw, new(ResumeData), func(d *ResumeData, key string, val []byte) error {
		switch key {
		case "resumeTime":
			return json.Unmarshal(val, &d.ResumeTime)
		case "selectedModel":
			return json.Unmarshal(val, &d.SelectedModel)
		case "context":
			return json.Unmarshal(val, &d.Context)
		case "sessionLimits":
			d.WritesCumulativeShutdown = true
		}
		return nil
	})
}

func decodeShutdown(raw []byte) (*ShutdownData, error) {
	var j shutdownJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, err
	}
	d := &ShutdownData{
		ShutdownType: j.ShutdownType,
		ErrorReason:  j.ErrorReason,
		Watermarks:   watermarks(j.Watermarks),
		Flat: &Totals{
			UserRequests:  Int{},
			NanoAIU:       j.TotalNanoAIU,
			APIDurationMs: j.TotalAPIDurationMs,
			CodeChanges:   j.CodeChanges,
			ModelMetrics:  j.ModelMetrics,
			AgentMetrics:  j.AgentMetrics,
		},
	}
	if j.TotalPremiumRequest != nil {
		d.Flat.PremiumRequestCost, d.Flat.HasPremium = *j.TotalPremiumRequest, true
	}
	if j.AccountingSnapshot != nil {
		d.Snapshot = j.AccountingSnapshot.totals()
	}
	d.Cumulative = d.Snapshot != nil || j.Watermarks != nil || j.AgentMetrics != nil
	return d, nil
}

func decodeCheckpoint(raw []byte) (*CheckpointData, error) {
	var j checkpointJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, err
	}
	d := &CheckpointData{TotalNanoAIU: j.TotalNanoAIU, Watermarks: watermarks(j.Watermarks)}
	if j.AccountingSnapshot != nil {
		d.Snapshot = j.AccountingSnapshot.totals()
	}
	return d, nil
}

func watermarks(in map[string]Int) map[string]int64 {
	if in == nil {
		return nil
	}
	out := make(map[string]int64, len(in))
	for k, v := range in {
		out[k] = v.V
	}
	return out
}

func decodeUserMessage(raw []byte, opts Options) (*UserMessageData, error) {
	return pick(raw, new(UserMessageData), func(d *UserMessageData, key string, val []byte) error {
		switch key {
		case "interactionId":
			return json.Unmarshal(val, &d.InteractionID)
		case "source":
			return json.Unmarshal(val, &d.Source)
		case "content":
			if opts.CaptureContent {
				return json.Unmarshal(val, &d.Content)
			}
		}
		return nil
	})
}

func decodeToolStart(raw []byte, opts Options) (*ToolStartData, error) {
	d, err := pick(raw, new(ToolStartData), func(d *ToolStartData, key string, val []byte) error {
		switch key {
		case "toolCallId":
			return json.Unmarshal(val, &d.ToolCallID)
		case "toolName":
			return json.Unmarshal(val, &d.ToolName)
		case "model":
			return json.Unmarshal(val, &d.Model)
		case "mcpServerName":
			return json.Unmarshal(val, &d.MCPServerName)
		case "parentToolCallId":
			return json.Unmarshal(val, &d.ParentToolCallID)
		case "arguments":
			if opts.CaptureContent {
				d.Arguments = string(val)
			}
		}
		return nil
	})
	if err == nil && d.ToolCallID == "" {
		err = errors.New("no toolCallId")
	}
	return d, err
}

func decodeToolComplete(raw []byte, opts Options) (*ToolCompleteData, error) {
	d, err := pick(raw, new(ToolCompleteData), func(d *ToolCompleteData, key string, val []byte) error {
		switch key {
		case "toolCallId":
			return json.Unmarshal(val, &d.ToolCallID)
		case "success":
			return json.Unmarshal(val, &d.Success)
		case "model":
			return json.Unmarshal(val, &d.Model)
		case "interactionId":
			return json.Unmarshal(val, &d.InteractionID)
		case "parentToolCallId":
			return json.Unmarshal(val, &d.ParentToolCallID)
		case "error":
			return json.Unmarshal(val, &d.Error)
		case "shellExecution":
			return json.Unmarshal(val, &d.ShellExecution)
		case "result":
			if opts.CaptureContent && isObject(val) {
				return eachMember(val, func(k, v []byte) bool {
					if string(k) == "content" {
						d.Result, _ = unquote(v)
						return false
					}
					return true
				})
			}
		}
		return nil
	})
	if err == nil && d.ToolCallID == "" {
		err = errors.New("no toolCallId")
	}
	return d, err
}

func isObject(raw []byte) bool { return len(raw) > 0 && raw[0] == '{' }
