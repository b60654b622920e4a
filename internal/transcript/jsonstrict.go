package transcript

import (
	"encoding/json"
)

// The decoders in this file replace encoding/json for the data of the
// event types and members it used to decode (session.start, the subagent
// events, abort, session.model_change, session.context_changed, and a few
// small members), with the same results: each is a fast path that handles
// what it can prove it decodes exactly as encoding/json does, and hands
// everything else to encoding/json. A fast path therefore only ever
// succeeds on a text encoding/json accepts (validJSON, as strict as its
// scanner), whose member keys are either the exact field names or keys no
// field name matches case-insensitively, and whose fields hold values of
// their own kind; a case-folded or escaped key, a duplicate pointer
// member, a value of another kind or any error goes to encoding/json,
// which then gives its own result and its own error.

// maxStrictDepth is how deep validJSON follows nested values; deeper text
// is left to encoding/json.
const maxStrictDepth = 64

// validJSON reports whether b is one JSON value, with optional white space
// around it, that encoding/json's scanner accepts. It may reject some
// texts that encoding/json accepts (nesting deeper than maxStrictDepth);
// it never accepts one encoding/json rejects.
func validJSON(b []byte) bool {
	i, ok := strictValue(b, skipSpace(b, 0), 0)
	return ok && skipSpace(b, i) == len(b)
}

// strictValue returns the index just past the value at b[i], and whether
// it is valid JSON.
func strictValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		return strictString(b, i)
	case c == '{':
		if depth >= maxStrictDepth {
			return i, false
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			var ok bool
			if i, ok = strictString(b, i); !ok {
				return i, false
			}
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != ':' {
				return i, false
			}
			if i, ok = strictValue(b, skipSpace(b, i+1), depth+1); !ok {
				return i, false
			}
			var more bool
			if i, more, ok = strictNext(b, i, '}'); !more {
				return i, ok
			}
		}
	case c == '[':
		if depth >= maxStrictDepth {
			return i, false
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = strictValue(b, i, depth+1); !ok {
				return i, false
			}
			var more bool
			if i, more, ok = strictNext(b, i, ']'); !more {
				return i, ok
			}
		}
	case c == 't':
		return strictLiteral(b, i, "true")
	case c == 'f':
		return strictLiteral(b, i, "false")
	case c == 'n':
		return strictLiteral(b, i, "null")
	default:
		return strictNumber(b, i)
	}
}

func strictLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// strictString checks the string at b[i] (a quote) as encoding/json's
// scanner does: no control characters, only the escapes JSON defines.
// Invalid UTF-8 is accepted, as there (decoding replaces it).
func strictString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i < 5 {
					return i, false
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return i, false
					}
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// strictNext follows an element of an object or array ending in close:
// past a comma to the next element (more), or past close (ok, not more).
func strictNext(b []byte, i int, close byte) (next int, more, ok bool) {
	i = skipSpace(b, i)
	if i >= len(b) {
		return i, false, false
	}
	switch b[i] {
	case ',':
		return skipSpace(b, i+1), true, true
	case close:
		return i + 1, false, true
	}
	return i, false, false
}

// skipDigits returns the index past the decimal digits at b[i].
func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// strictNumber checks the number at b[i] against the JSON grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func strictNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		i = skipDigits(b, i)
		if i == start {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		i = skipDigits(b, i)
		if i == start {
			return i, false
		}
	}
	return i, true
}

// otherKey reports whether a member key that is not one of a struct's
// field names (names) is one encoding/json passes over: plain ASCII,
// without escapes, and not equal to any of names but for case (which
// encoding/json would take for that field).
func otherKey(key []byte, names ...string) bool {
	for _, c := range key {
		if c < 0x20 || c == '\\' || c >= 0x80 {
			return false
		}
	}
	for _, n := range names {
		if len(n) == len(key) && asciiEqualFold(key, n) {
			return false
		}
	}
	return true
}

func asciiEqualFold(a []byte, b string) bool {
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// The j* helpers decode the current member's value, already checked by
// validJSON, into a field as encoding/json would, and report false for a
// value they leave to encoding/json.

// jstr: a string, or null, which leaves the field as it is.
func jstr(m *members, dst *string) bool {
	v := m.value()
	if string(v) == "null" {
		return true
	}
	s, ok := m.st.unquote(v)
	if ok {
		*dst = s
	}
	return ok
}

// jint: a number, or null, through Int.UnmarshalJSON as encoding/json
// calls it for both.
func jint(m *members, dst *Int) bool {
	v := m.value()
	if len(v) == 0 || !(v[0] == '-' || v[0] >= '0' && v[0] <= '9' || string(v) == "null") {
		return false
	}
	return dst.UnmarshalJSON(v) == nil
}

// jbool: true or false, or null, which leaves the field as it is.
func jbool(m *members, dst *bool) bool {
	switch string(m.value()) {
	case "true":
		*dst = true
	case "false":
		*dst = false
	case "null":
	default:
		return false
	}
	return true
}

// jfields decodes the members of an object: set handles a field and
// reports whether it took the member (known) and whether it decoded it
// (ok); a member it does not know must have a key of no field (names).
func jfields(m *members, set func(key []byte, m *members) (known, ok bool), names ...string) bool {
	for key, more := m.next(); more; key, more = m.next() {
		known, ok := set(key, m)
		if !ok || !known && !otherKey(key, names...) {
			return false
		}
	}
	return m.err == nil
}

var contextFields = []string{"cwd", "gitRoot", "repository", "hostType", "repositoryHost", "branch", "headCommit"}

// jcontext decodes a *WorkingContext member: null sets it to nil, an
// object is decoded into it (a new one if it is nil).
func jcontext(m *members, dst **WorkingContext) bool {
	if !m.isObject() {
		if string(m.value()) == "null" {
			*dst = nil
			return true
		}
		return false
	}
	if *dst == nil {
		*dst = new(WorkingContext)
	}
	child := m.enterChild()
	ok := fastContext(child, *dst)
	m.leave(child)
	return ok && m.err == nil
}

// strictData decodes raw, the data of an event, into a new T with fast,
// and else with encoding/json.
func strictData[T any](st *decodeState, raw []byte, fast func(m *members, d *T) bool) (*T, error) {
	if validJSON(raw) {
		m := openMembers(raw, 0)
		m.st = st
		d := new(T)
		if fast(&m, d) && m.end() == nil {
			return d, nil
		}
	}
	return unmarshal[T](raw)
}

var startFields = []string{"sessionId", "copilotVersion", "producer", "startTime", "selectedModel", "context"}

func fastStart(m *members, d *StartData) bool {
	return jfields(m, func(key []byte, m *members) (bool, bool) {
		switch string(key) {
		case "sessionId":
			return true, jstr(m, &d.SessionID)
		case "copilotVersion":
			return true, jstr(m, &d.CopilotVersion)
		case "producer":
			return true, jstr(m, &d.Producer)
		case "startTime":
			return true, jstr(m, &d.StartTime)
		case "selectedModel":
			return true, jstr(m, &d.SelectedModel)
		case "context":
			return true, jcontext(m, &d.Context)
		}
		return false, true
	}, startFields...)
}

var subagentFields = []string{"toolCallId", "agentName", "agentDisplayName", "model", "error", "cancelled", "totalToolCalls", "totalTokens", "durationMs"}

func fastSubagent(m *members, d *SubagentData) bool {
	return jfields(m, func(key []byte, m *members) (bool, bool) {
		switch string(key) {
		case "toolCallId":
			return true, jstr(m, &d.ToolCallID)
		case "agentName":
			return true, jstr(m, &d.AgentName)
		case "agentDisplayName":
			return true, jstr(m, &d.AgentDisplayName)
		case "model":
			return true, jstr(m, &d.Model)
		case "error":
			return true, jstr(m, &d.Error)
		case "cancelled":
			return true, jbool(m, &d.Cancelled)
		case "totalToolCalls":
			return true, jint(m, &d.TotalToolCalls)
		case "totalTokens":
			return true, jint(m, &d.TotalTokens)
		case "durationMs":
			return true, jint(m, &d.DurationMs)
		}
		return false, true
	}, subagentFields...)
}

func fastAbort(m *members, d *AbortData) bool {
	return jfields(m, func(key []byte, m *members) (bool, bool) {
		if string(key) == "reason" {
			return true, jstr(m, &d.Reason)
		}
		return false, true
	}, "reason")
}

func fastModelChange(m *members, d *ModelChangeData) bool {
	return jfields(m, func(key []byte, m *members) (bool, bool) {
		switch string(key) {
		case "previousModel":
			return true, jstr(m, &d.PreviousModel)
		case "newModel":
			return true, jstr(m, &d.NewModel)
		}
		return false, true
	}, "previousModel", "newModel")
}

func fastContext(m *members, d *WorkingContext) bool {
	return jfields(m, func(key []byte, m *members) (bool, bool) { return contextMember(d, key, m) }, contextFields...)
}

func contextMember(c *WorkingContext, key []byte, m *members) (bool, bool) {
	switch string(key) {
	case "cwd":
		return true, jstr(m, &c.Cwd)
	case "gitRoot":
		return true, jstr(m, &c.GitRoot)
	case "repository":
		return true, jstr(m, &c.Repository)
	case "hostType":
		return true, jstr(m, &c.HostType)
	case "repositoryHost":
		return true, jstr(m, &c.RepositoryHost)
	case "branch":
		return true, jstr(m, &c.Branch)
	case "headCommit":
		return true, jstr(m, &c.HeadCommit)
	}
	return false, true
}

// jsonMember decodes the current value, raw, into *dst as encoding/json
// would (json.Unmarshal(raw, dst)): with fast, which decodes an object
// into a new T, when *dst is nil and the value is an object or null, and
// else with encoding/json.
func jsonMember[T any](m *members, dst **T, fast func(m *members, d *T) bool) error {
	v := m.value()
	if v == nil {
		return nil
	}
	if string(v) == "null" {
		*dst = nil
		return nil
	}
	if *dst == nil && v[0] == '{' && validJSON(v) {
		c := openMembers(v, 0)
		c.st, c.depth = m.st, m.depth+1 // in place of a child of m
		d := new(T)
		if fast(&c, d) && c.end() == nil {
			*dst = d
			return nil
		}
	}
	return json.Unmarshal(v, dst)
}

type toolError = struct {
	Message string `json:"message"`
	Code    string `json:"code"`
}

type shellExecution = struct {
	ExitCode Int `json:"exitCode"`
}

func fastToolError(m *members, d *toolError) bool {
	return jfields(m, func(key []byte, m *members) (bool, bool) {
		switch string(key) {
		case "message":
			return true, jstr(m, &d.Message)
		case "code":
			return true, jstr(m, &d.Code)
		}
		return false, true
	}, "message", "code")
}

func fastShellExecution(m *members, d *shellExecution) bool {
	return jfields(m, func(key []byte, m *members) (bool, bool) {
		if string(key) == "exitCode" {
			return true, jint(m, &d.ExitCode)
		}
		return false, true
	}, "exitCode")
}

// jsonStrings decodes the current value, an array of strings, into *dst as
// json.Unmarshal(v, dst) would.
func jsonStrings(v []byte, dst *[]string) error {
	if *dst == nil && len(v) > 0 && v[0] == '[' && validJSON(v) {
		if out, ok := fastStrings(v); ok {
			*dst = out
			return nil
		}
	}
	return json.Unmarshal(v, dst)
}

// fastStrings decodes an array of strings and nulls (as ""); an empty
// array is an empty slice, not nil.
func fastStrings(v []byte) ([]string, bool) {
	out := []string{}
	i := skipSpace(v, 1)
	if i < len(v) && v[i] == ']' {
		return out, true
	}
	for i < len(v) {
		end, err := skipValue(v, i)
		if err != nil {
			return nil, false
		}
		e := v[i:end]
		if string(e) == "null" {
			out = append(out, "")
		} else if s, ok := unquote(e); ok {
			out = append(out, s)
		} else {
			return nil, false
		}
		i = skipSpace(v, end)
		if i >= len(v) {
			return nil, false
		}
		switch v[i] {
		case ',':
			i = skipSpace(v, i+1)
		case ']':
			return out, true
		default:
			return nil, false
		}
	}
	return nil, false
}
