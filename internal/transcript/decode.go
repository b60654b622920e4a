package transcript

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"
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
	ReasonInvalidTimestamp = "invalid_timestamp" // a missing timestamp or one that is not RFC 3339, on an event that carries no usage
	ReasonInvalidData      = "invalid_data"      // the data of a known type does not have its shape
	ReasonInvalidUsage     = "invalid_usage"     // a usage number breaks the rule of CheckCount or CheckAmount
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
	// UsageIDsOnly decodes an event's ID only for the events that carry
	// usage (a usage record, a shutdown, a checkpoint), which is all
	// package session reads of it, and no ParentID: an event's own id is
	// new, so each costs a string, the most a line allocates beside its
	// data. The ids are still checked as JSON; AgentID is always decoded.
	UsageIDsOnly bool
}

// Decode decodes one transcript line (without its line terminator).
//
// An event that carries usage (a usage record, a shutdown, a checkpoint)
// whose timestamp is missing or not RFC 3339 is decoded whole all the
// same: Decode returns it, with a zero Timestamp, together with the
// invalid_timestamp error. Reader keeps such an event as a repaired one;
// package session counts it at the time of the event before it.
func Decode(line []byte, opts Options) (Event, error) {
	st := decodeStates.Get().(*decodeState)
	ev, err := st.decode(line, opts)
	st.stack = memberStack{} // holds no line
	decodeStates.Put(st)
	return ev, err
}

// decode is Decode with the state st.
func (st *decodeState) decode(line []byte, opts Options) (Event, error) {
	var (
		ev        Event
		known     bool
		dec       dataDecoder
		tsRaw     []byte
		dataRaw   []byte
		data      any
		dataErr   error
		streamed  bool
		idRaw     []byte
		parentRaw []byte
		agentRaw  []byte
	)
	// One pass over the line: the envelope, and the data of the event
	// types that have a decoder of their own, decoded as they are met
	// (the CLI writes the type before the data). Anything else is checked
	// and skipped.
	m := openMembers(line, 0)
	m.st = st
	for key, ok := m.next(); ok; key, ok = m.next() {
		switch string(key) {
		case "type":
			ev.Type, known, dec = lookupType(m.value())
		case "data":
			if dec != nil && m.isObject() {
				child := m.enterChild()
				data, dataErr = dec(child, opts)
				m.leave(child)
				streamed = true
			} else {
				dataRaw = m.value()
			}
		case "id":
			idRaw = m.value()
		case "timestamp":
			tsRaw = m.value()
		case "parentId":
			parentRaw = m.value()
		case "agentId":
			agentRaw = m.value()
		}
	}
	if opts.UsageIDsOnly {
		parentRaw = nil
		if !carriesUsage(ev.Type) {
			idRaw = nil
		}
	}
	ev.ID, ev.ParentID, ev.AgentID = st.ids(idRaw, parentRaw, agentRaw)
	if err := m.end(); err != nil {
		return ev, &DecodeError{Reason: ReasonInvalidJSON, Err: err}
	}
	if ev.Type == "" {
		return ev, &DecodeError{Reason: ReasonMissingType, Err: errors.New("no string member \"type\"")}
	}
	if !known {
		return ev, &DecodeError{Reason: ReasonUnknownType, Type: ev.Type, Err: fmt.Errorf("event type %q is not in the session-events schema", ev.Type)}
	}
	ts, tsErr := parseTimestamp(tsRaw)
	if tsErr != nil && !carriesUsage(ev.Type) {
		return ev, &DecodeError{Reason: ReasonInvalidTimestamp, Type: ev.Type, Err: tsErr}
	}
	ev.Timestamp = ts
	if !streamed {
		if dataRaw == nil || string(dataRaw) == "null" {
			dataRaw = []byte("{}")
		}
		data, dataErr = st.decodeData(ev.Type, dataRaw, opts)
	}
	if dataErr != nil {
		reason := ReasonInvalidData
		if errors.Is(dataErr, ErrInvalidUsage) {
			reason = ReasonInvalidUsage
		}
		return ev, &DecodeError{Reason: reason, Type: ev.Type, Err: dataErr}
	}
	ev.Data = data
	if tsErr != nil {
		// The usage must not be lost to the time: the event is returned
		// whole, without a Timestamp, for the reader to repair.
		return ev, &DecodeError{Reason: ReasonInvalidTimestamp, Type: ev.Type, Err: tsErr}
	}
	return ev, nil
}

// carriesUsage reports whether events of a type carry usage that no other
// event repeats in full: a usage record, or the totals of a shutdown or a
// checkpoint (an older CLI writes no records, so its shutdown holds all of
// its usage).
func carriesUsage(typ string) bool {
	switch typ {
	case TypeUsageRecord, TypeSessionShutdown, TypeUsageCheckpoint:
		return true
	}
	return false
}

// timeless reports whether Decode returned an event that is whole but for
// its timestamp: one that carries usage (see carriesUsage), whose
// timestamp was missing or not RFC 3339.
func timeless(ev *Event, err error) bool {
	var de *DecodeError
	return errors.As(err, &de) && de.Reason == ReasonInvalidTimestamp && ev.Data != nil
}

// unquoteIDs unquotes the envelope's ids (a string, or anything else for
// none), as unquote does, without a decode state.
func unquoteIDs(id, parent, agent []byte) (string, string, string) {
	var st *decodeState
	return st.ids(id, parent, agent)
}

// ids unquotes the envelope's ids (a string, or anything else for none).
// Through the state's cache, an id met lately costs no allocation: most
// parent ids are the id of the line before.
func (st *decodeState) ids(id, parent, agent []byte) (string, string, string) {
	a, _ := st.unquote(id)
	b, _ := st.unquote(parent)
	c, _ := st.unquote(agent)
	return a, b, c
}

// plainString returns the contents of a raw JSON string of printable
// ASCII without escapes (ids are), and false for anything else (another
// value, an escape, a control character, non-ASCII text), which unquote
// decides.
func plainString(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	s := raw[1 : len(raw)-1]
	for _, c := range s {
		if c < 0x20 || c == '\\' || c >= utf8.RuneSelf {
			return nil, false
		}
	}
	return s, true
}

// typeName returns the event type of a raw JSON string: for a known type
// the interned name, without allocating.
func typeName(raw []byte) string {
	name, _, _ := lookupType(raw)
	return name
}

// typeInfo is what Decode needs to know of an event type.
type typeInfo struct {
	name  string // interned
	known bool   // in knownTypes
	dec   dataDecoder
}

// typeInfos holds the known types, by name.
var typeInfos map[string]typeInfo

// lookupType returns the event type of a raw JSON string, whether it is
// known, and its data decoder: for a known type written plainly (as the
// CLI does), with one map lookup and without allocating.
func lookupType(raw []byte) (string, bool, dataDecoder) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		if t, ok := typeInfos[string(raw[1:len(raw)-1])]; ok {
			return t.name, t.known, t.dec
		}
	}
	s, _ := unquote(raw)
	return s, knownTypes[s], dataDecoders[s]
}

// parseTimestamp parses an RFC 3339 timestamp. The CLI's form,
// 2026-11-22T16:07:26.714Z, is parsed from the bytes; anything else by
// time.Parse.
func parseTimestamp(raw []byte) (time.Time, error) {
	if len(raw) == 26 && raw[0] == '"' && raw[25] == '"' {
		b := raw[1:25] // 2026-11-22T16:07:26.714Z
		if b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' && b[16] == ':' && b[19] == '.' && b[23] == 'Z' {
			n := func(s []byte) int {
				v := 0
				for _, c := range s {
					if c < '0' || c > '9' {
						return -1
					}
					v = v*10 + int(c-'0')
				}
				return v
			}
			y, mo, d, h, mi, s, ms := n(b[0:4]), n(b[5:7]), n(b[8:10]), n(b[11:13]), n(b[14:16]), n(b[17:19]), n(b[20:23])
			if y >= 0 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 && h < 24 && mi >= 0 && mi < 60 && s >= 0 && s < 60 && ms >= 0 &&
				d <= monthDays(mo, y) {
				// time.Date(y, mo, d, h, mi, s, ms ms, time.UTC), without
				// its normalisation, which a valid date does not need.
				sec := civilDays(y, mo, d)*86400 + int64(h*3600+mi*60+s)
				return time.Unix(sec, int64(ms)*int64(time.Millisecond)).UTC(), nil
			}
		}
	}
	ts, ok := unquote(raw)
	if !ok {
		return time.Time{}, errors.New("no string member \"timestamp\"")
	}
	return time.Parse(time.RFC3339Nano, ts)
}

// monthDays is the number of days of a month from 1 to 12 of a year from 0
// to 9999.
func monthDays(m, year int) int {
	if m == 2 {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 30 + (m+m/8)%2
}

// civilDays is the number of days from 1970-01-01 to a date of the
// proleptic Gregorian calendar (year from 0 to 9999, a valid day).
func civilDays(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := (y + 400) / 400 // y+400 >= 0: rounds down
	era--
	yoe := y - era*400                     // 0..399
	doy := (153*((m+9)%12)+2)/5 + d - 1    // day of the year from March 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy // day of the 400-year era
	return int64(era)*146097 + int64(doe) - 719468
}

// dataDecoder decodes the data of one event type from its members.
type dataDecoder func(m *members, opts Options) (any, error)

// dataDecoders are the types whose data is decoded in the same pass as the
// envelope: the frequent ones, and those whose data holds text the
// accounting skips (prompts, tool output, hook payloads).
var dataDecoders map[string]dataDecoder

func init() {
	dataDecoders = map[string]dataDecoder{
		TypeUsageRecord:       decodeUsageRecord,
		TypeUserMessage:       decodeUserMessage,
		TypeAssistantMessage:  decodeAssistantMessage,
		TypeTurnStart:         decodeTurnStart,
		TypeTurnEnd:           decodeTurnEnd,
		TypeToolStart:         decodeToolStart,
		TypeToolComplete:      decodeToolComplete,
		TypeSessionError:      decodeSessionError,
		TypeSessionCompaction: decodeCompaction,
		TypeHookStart:         decodeHookStart,
		TypeSessionResume:     decodeResume,
		TypeSessionShutdown:   decodeShutdown,
		TypeUsageCheckpoint:   decodeCheckpoint,
	}
	typeInfos = make(map[string]typeInfo, len(knownTypes))
	for k := range knownTypes {
		typeInfos[k] = typeInfo{name: k, known: true, dec: dataDecoders[k]}
	}
}

// decodeData decodes data that was not decoded with the envelope (it came
// before the type).
func (st *decodeState) decodeData(typ string, raw []byte, opts Options) (any, error) {
	if dec := dataDecoders[typ]; dec != nil {
		m := openMembers(raw, 0)
		m.st = st
		v, err := dec(&m, opts)
		if e := m.end(); e != nil {
			return nil, e
		}
		return v, err
	}
	switch typ {
	case TypeSessionStart:
		return strictData(st, raw, fastStart)
	case TypeSubagentStarted, TypeSubagentCompleted, TypeSubagentFailed:
		return strictData(st, raw, fastSubagent)
	case TypeAbort:
		return strictData(st, raw, fastAbort)
	case TypeSessionModelChange:
		return strictData(st, raw, fastModelChange)
	case TypeSessionContextChanged:
		return strictData(st, raw, fastContext)
	}
	return nil, nil
}

// pick decodes members of an object into d: set is called for each member
// and consumes the ones it wants; the others are skipped, not decoded.
// After an error the rest of the object is still read (and checked).
func pick[T any](m *members, d *T, set func(d *T, key []byte, m *members) error) (*T, error) {
	var ferr error
	for key, ok := m.next(); ok; key, ok = m.next() {
		if ferr != nil {
			continue
		}
		if err := set(d, key, m); err != nil {
			ferr = fmt.Errorf("member %q: %w", key, err)
		}
	}
	if m.err != nil {
		return nil, m.err
	}
	if ferr != nil {
		return nil, ferr
	}
	return d, nil
}

// object decodes the current value, an object or null, with fn.
func object(m *members, fn func(c *members) error) error {
	if m.isObject() {
		c := m.enterChild()
		err := fn(c)
		m.leave(c)
		return err
	}
	if v := m.value(); v != nil && string(v) != "null" {
		return fmt.Errorf("%.40q is not an object", v)
	}
	return nil
}

// sval decodes the current value, a string or null.
func sval(m *members, dst *string) error {
	v := m.value()
	if v == nil || string(v) == "null" {
		return nil
	}
	s, ok := m.st.unquote(v)
	if !ok {
		return fmt.Errorf("%.40q is not a string", v)
	}
	*dst = s
	return nil
}

// intern decodes the current value, a string or null, like sval, for
// members with few distinct values (models, initiators, tool and hook
// names): repeated values share one string instead of allocating one per
// event. The table is bounded; past it, values are allocated as usual.
func intern(m *members, dst *string) error {
	v := m.value()
	if v == nil || string(v) == "null" {
		return nil
	}
	if len(v) >= 2 && len(v) <= maxInternedLen && v[0] == '"' && v[len(v)-1] == '"' {
		s := v[1 : len(v)-1]
		// The decode's cache first, which needs no lock.
		p := m.st.slot(s)
		if p != nil && *p == string(s) {
			*dst = *p
			return nil
		}
		internMu.Lock()
		x, ok := interned[string(s)]
		internMu.Unlock()
		if ok {
			if p != nil {
				*p = x
			}
			*dst = x
			return nil
		}
		if x, ok := unquote(v); ok && len(x) == len(s) {
			internMu.Lock()
			if len(interned) < maxInterned {
				interned[x] = x
			}
			internMu.Unlock()
			*dst = x
			return nil
		}
	}
	s, ok := unquote(v)
	if !ok {
		return fmt.Errorf("%.40q is not a string", v)
	}
	*dst = s
	return nil
}

const (
	maxInterned    = 4096
	maxInternedLen = 130
)

var (
	internMu sync.Mutex
	interned = map[string]string{}
)

// num decodes the current value, a count or null.
func num(m *members, dst *Int) error {
	v := m.value()
	if v == nil {
		return nil
	}
	return dst.UnmarshalJSON(v)
}

// count decodes the current value, a usage count or null, and checks it
// (CheckCount).
func count(m *members, dst *Int) error {
	if err := num(m, dst); err != nil {
		return err
	}
	return CheckCount(*dst)
}

// amount decodes the current value, a usage amount or null, and checks it
// (CheckAmount); has records whether it was a number.
func amount(m *members, dst *float64, has *bool) error {
	if err := optFloat(m, dst, has); err != nil {
		return err
	}
	return CheckAmount(*dst)
}

// fnum decodes the current value, a number or null.
func fnum(m *members, dst *float64) error {
	var has bool
	return optFloat(m, dst, &has)
}

// optFloat decodes the current value, a number or null, and records
// whether it was a number.
func optFloat(m *members, dst *float64, has *bool) error {
	v := m.value()
	if v == nil || string(v) == "null" {
		return nil
	}
	f, err := parseFloat(v)
	if err != nil {
		return err
	}
	*dst, *has = f, true
	return nil
}

// boolean decodes the current value, true, false or null.
func boolean(m *members, dst *bool) error {
	switch v := m.value(); string(v) {
	case "true":
		*dst = true
	case "false", "null", "":
		*dst = false
	default:
		return fmt.Errorf("%.40q is not a boolean", v)
	}
	return nil
}

func decodeUsageRecord(m *members, _ Options) (any, error) {
	d, err := pick(m, alloc(m.st, func(st *decodeState) *slab[UsageRecordData] { return &st.usageRecords }), func(d *UsageRecordData, key []byte, m *members) error {
		if string(key) != "usage" {
			return nil
		}
		return object(m, func(c *members) error {
			_, err := pick(c, &d.Usage, usageMember)
			return err
		})
	})
	if err == nil && d.Usage.Model == "" {
		err = errors.New("usage has no model")
	}
	return d, err
}

func usageMember(u *UsageData, key []byte, m *members) error {
	switch string(key) {
	case "model":
		return intern(m, &u.Model)
	case "inputTokens":
		return count(m, &u.InputTokens)
	case "outputTokens":
		return count(m, &u.OutputTokens)
	case "cacheReadTokens":
		return count(m, &u.CacheReadTokens)
	case "cacheWriteTokens":
		return count(m, &u.CacheWriteTokens)
	case "reasoningTokens":
		return count(m, &u.ReasoningTokens)
	case "cost":
		var has bool
		return amount(m, &u.Cost, &has)
	case "duration":
		return count(m, &u.Duration)
	case "timeToFirstTokenMs":
		return fnum(m, &u.TimeToFirstTokenMs)
	case "initiator":
		return intern(m, &u.Initiator)
	case "isByok":
		return boolean(m, &u.IsByok)
	case "providerType":
		return intern(m, &u.ProviderType)
	case "apiCallId":
		return sval(m, &u.APICallID)
	case "finishReason":
		return intern(m, &u.FinishReason)
	case "parentToolCallId":
		return sval(m, &u.ParentToolCallID)
	case "copilotUsage":
		return object(m, func(c *members) error {
			cu := &CopilotUsage{}
			u.CopilotUsage = cu
			_, err := pick(c, cu, func(cu *CopilotUsage, key []byte, m *members) error {
				if string(key) == "totalNanoAiu" {
					return count(m, &cu.TotalNanoAIU)
				}
				return nil
			})
			return err
		})
	case "accounting":
		return object(m, func(c *members) error {
			a := &AccountingID{}
			u.Accounting = a
			_, err := pick(c, a, func(a *AccountingID, key []byte, m *members) error {
				switch string(key) {
				case "sourceSessionId":
					return sval(m, &a.SourceSessionID)
				case "sequence":
					return count(m, &a.Sequence)
				case "usageId":
					return sval(m, &a.UsageID)
				}
				return nil
			})
			return err
		})
	}
	return nil
}

func decodeUserMessage(m *members, opts Options) (any, error) {
	return pick(m, alloc(m.st, func(st *decodeState) *slab[UserMessageData] { return &st.userMessages }), func(d *UserMessageData, key []byte, m *members) error {
		switch string(key) {
		case "interactionId":
			return sval(m, &d.InteractionID)
		case "source":
			return intern(m, &d.Source)
		case "content":
			if opts.CaptureContent {
				return sval(m, &d.Content)
			}
		}
		return nil
	})
}

func decodeAssistantMessage(m *members, opts Options) (any, error) {
	if !opts.CaptureContent {
		return nil, nil
	}
	return pick(m, new(AssistantMessageData), func(d *AssistantMessageData, key []byte, m *members) error {
		switch string(key) {
		case "content":
			return sval(m, &d.Content)
		case "apiCallId":
			return sval(m, &d.APICallID)
		}
		return nil
	})
}

func decodeTurnStart(m *members, _ Options) (any, error) {
	return pick(m, alloc(m.st, func(st *decodeState) *slab[TurnStartData] { return &st.turnStarts }), func(d *TurnStartData, key []byte, m *members) error {
		switch string(key) {
		case "turnId":
			return sval(m, &d.TurnID)
		case "interactionId":
			return sval(m, &d.InteractionID)
		case "parentToolCallId":
			return sval(m, &d.ParentToolCallID)
		}
		return nil
	})
}

func decodeTurnEnd(m *members, _ Options) (any, error) {
	return pick(m, alloc(m.st, func(st *decodeState) *slab[TurnEndData] { return &st.turnEnds }), func(d *TurnEndData, key []byte, m *members) error {
		if string(key) == "turnId" {
			return sval(m, &d.TurnID)
		}
		return nil
	})
}

func decodeToolStart(m *members, opts Options) (any, error) {
	d, err := pick(m, alloc(m.st, func(st *decodeState) *slab[ToolStartData] { return &st.toolStarts }), func(d *ToolStartData, key []byte, m *members) error {
		switch string(key) {
		case "toolCallId":
			return sval(m, &d.ToolCallID)
		case "toolName":
			return intern(m, &d.ToolName)
		case "model":
			return intern(m, &d.Model)
		case "mcpServerName":
			return sval(m, &d.MCPServerName)
		case "parentToolCallId":
			return sval(m, &d.ParentToolCallID)
		case "arguments":
			if opts.CaptureContent {
				d.Arguments = string(m.value())
			}
		}
		return nil
	})
	if err == nil && d.ToolCallID == "" {
		err = errors.New("no toolCallId")
	}
	return d, err
}

func decodeToolComplete(m *members, opts Options) (any, error) {
	d, err := pick(m, alloc(m.st, func(st *decodeState) *slab[ToolCompleteData] { return &st.toolCompletes }), func(d *ToolCompleteData, key []byte, m *members) error {
		switch string(key) {
		case "toolCallId":
			return sval(m, &d.ToolCallID)
		case "success":
			return boolean(m, &d.Success)
		case "model":
			return intern(m, &d.Model)
		case "interactionId":
			return sval(m, &d.InteractionID)
		case "parentToolCallId":
			return sval(m, &d.ParentToolCallID)
		case "error":
			return jsonMember(m, &d.Error, fastToolError)
		case "shellExecution":
			return jsonMember(m, &d.ShellExecution, fastShellExecution)
		case "result":
			if opts.CaptureContent {
				return object(m, func(c *members) error {
					_, err := pick(c, d, func(d *ToolCompleteData, key []byte, m *members) error {
						if string(key) == "content" {
							return sval(m, &d.Result)
						}
						return nil
					})
					return err
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

func decodeSessionError(m *members, _ Options) (any, error) {
	return pick(m, new(ErrorData), func(d *ErrorData, key []byte, m *members) error {
		switch string(key) {
		case "errorType":
			return intern(m, &d.ErrorType)
		case "errorCode":
			return sval(m, &d.ErrorCode)
		case "message":
			return sval(m, &d.Message)
		case "statusCode":
			return num(m, &d.StatusCode)
		}
		return nil
	})
}

func decodeCompaction(m *members, _ Options) (any, error) {
	return pick(m, new(CompactionData), func(d *CompactionData, key []byte, m *members) error {
		switch string(key) {
		case "success":
			return boolean(m, &d.Success)
		case "trigger":
			return sval(m, &d.Trigger)
		case "model":
			return intern(m, &d.Model)
		}
		return nil
	})
}

func decodeHookStart(m *members, _ Options) (any, error) {
	return pick(m, alloc(m.st, func(st *decodeState) *slab[HookStartData] { return &st.hookStarts }), func(d *HookStartData, key []byte, m *members) error {
		switch string(key) {
		case "hookType":
			return intern(m, &d.HookType)
		case "input":
			// The input holds the whole hook payload, tool output included;
			// only the trace context is read, in the same pass.
			if !m.isObject() {
				return nil
			}
			return object(m, func(c *members) error {
				_, err := pick(c, d, func(d *HookStartData, key []byte, m *members) error {
					if string(key) == "traceparent" {
						return sval(m, &d.Traceparent)
					}
					return nil
				})
				return err
			})
		}
		return nil
	})
}

func decodeResume(m *members, _ Options) (any, error) {
	return pick(m, new(ResumeData), func(d *ResumeData, key []byte, m *members) error {
		switch string(key) {
		case "resumeTime":
			return sval(m, &d.ResumeTime)
		case "selectedModel":
			return sval(m, &d.SelectedModel)
		case "context":
			return jsonMember(m, &d.Context, fastContext)
		case "sessionLimits":
			d.WritesCumulativeShutdown = true
		}
		return nil
	})
}

func unmarshal[T any](raw []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, err
	}
	return v, nil
}
