package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// stateBuffers are what marshalState writes in before it copies the JSON
// out at its size, as encoding/json does: a caller may keep it.
var stateBuffers = sync.Pool{New: func() any { return new([]byte) }}

// marshalState is MarshalState.
func marshalState(st *state) ([]byte, error) {
	bp := stateBuffers.Get().(*[]byte)
	b, err := appendState((*bp)[:0], st)
	if err != nil {
		stateBuffers.Put(bp)
		// A value JSON cannot hold: encoding/json says which.
		return json.Marshal(persisted{Version: stateVersion, State: *st})
	}
	out := bytes.Clone(b)
	if cap(b) <= 64<<10 {
		*bp = b
		stateBuffers.Put(bp)
	}
	return out, nil
}

// appendState appends the JSON of a persisted state, byte for byte what
// encoding/json makes of persisted{Version: stateVersion, State: st}
// (state_json_test.go compares the two), without its reflection: the
// tailer marshals the state of every session it commits. It fails where
// encoding/json fails (a time outside years 0-9999, a cost that is not a
// number), and MarshalState then lets encoding/json say why.
func appendState(b []byte, st *state) ([]byte, error) {
	e := stateEncoder{b: b}
	e.raw(`{"v":`)
	e.int(stateVersion)
	e.raw(`,"s":{"sid":`)
	e.str(st.SessionID)
	e.raw(`,"ctx":{"SessionID":`)
	e.str(st.Ctx.SessionID)
	e.raw(`,"CLIVersion":`)
	e.str(st.Ctx.CLIVersion)
	e.raw(`,"Cwd":`)
	e.str(st.Ctx.Cwd)
	e.raw(`,"GitRoot":`)
	e.str(st.Ctx.GitRoot)
	e.raw(`,"Repository":`)
	e.str(st.Ctx.Repository)
	e.raw(`,"RepositoryHost":`)
	e.str(st.Ctx.RepositoryHost)
	e.raw(`,"Branch":`)
	e.str(st.Ctx.Branch)
	e.raw(`,"HeadCommit":`)
	e.str(st.Ctx.HeadCommit)
	e.raw(`}`)
	e.optBool(`,"started":true`, st.Started)
	e.optInt(`,"legs":`, int64(st.Legs))
	e.raw(`,"legStart":`)
	e.time(st.LegStart)
	e.optBool(`,"legCum":true`, st.LegCumulative)
	e.optBool(`,"legOpen":true`, st.LegOpen)
	e.optBool(`,"legSpanDone":true`, st.LegSpanDone)
	e.optInt(`,"legRecords":`, st.LegRecords)
	e.optInt(`,"legUserMsgs":`, st.LegUserMsgs)
	e.optInt(`,"userMsgs":`, st.UserMsgs)
	e.optInt(`,"records":`, st.Records)
	e.optStr(`,"model":`, st.Model)
	e.raw(`,"counted":`)
	e.ledger(st.Counted)
	e.raw(`,"legCounted":`)
	e.ledger(st.LegCounted)
	e.raw(`,"code":{`)
	e.fields()
	e.optInt(`,"add":`, st.Code.LinesAdded)
	e.optInt(`,"rm":`, st.Code.LinesRemoved)
	e.optInt(`,"files":`, st.Code.FilesModified)
	e.end(`},"lastCheckpoint":`)
	e.time(st.LastCheckpoint)

	encodeMap(&e, `,"seen":{`, st.Seen, func(s *seqSet) {
		if s == nil {
			e.raw(`null`)
			return
		}
		e.raw(`{"low":`)
		e.int(s.Low)
		if len(s.High) > 0 {
			e.raw(`,"high":[`)
			for j, h := range s.High {
				if j > 0 {
					e.raw(`,`)
				}
				e.int(h)
			}
			e.raw(`]`)
		}
		e.raw(`}`)
	})
	encodeMap(&e, `,"seenCalls":{`, st.SeenCalls, func(v bool) {
		if v {
			e.raw(`true`)
		} else {
			e.raw(`false`)
		}
	})
	encodeMap(&e, `,"agents":{`, st.AgentNames, e.str)
	if in := st.Interaction; in != nil {
		e.raw(`,"interaction":{"id":`)
		e.str(in.ID)
		e.raw(`,"start":`)
		e.time(in.Start)
		e.raw(`,"last":`)
		e.time(in.Last)
		e.optInt(`,"turns":`, int64(in.Turns))
		e.optStr(`,"abort":`, in.AbortReason)
		e.optStrs(`,"links":`, in.Links)
		e.optStr(`,"prompt":`, in.Prompt)
		e.optStr(`,"resp":`, in.Response)
		e.raw(`}`)
	}
	e.optStrs(`,"pendingLinks":`, st.PendingLinks)
	encodeMap(&e, `,"tools":{`, st.Tools, func(t *openTool) {
		if t == nil {
			e.raw(`null`)
			return
		}
		e.raw(`{"name":`)
		e.str(t.Name)
		e.raw(`,"start":`)
		e.time(t.Start)
		e.optStr(`,"agent":`, t.Agent)
		e.raw(`,"parent":{"k":`)
		e.str(t.Parent.Kind)
		e.raw(`,"v":`)
		e.str(t.Parent.Key)
		e.raw(`}`)
		e.optStr(`,"mcp":`, t.MCPServer)
		e.optStr(`,"args":`, t.Arguments)
		e.raw(`}`)
	})
	encodeMap(&e, `,"subagents":{`, st.Subagents, func(s *openSubagent) {
		if s == nil {
			e.raw(`null`)
			return
		}
		e.raw(`{"name":`)
		e.str(s.Name)
		e.raw(`,"tool":`)
		e.str(s.ToolCallID)
		e.optStr(`,"model":`, s.Model)
		e.raw(`,"start":`)
		e.time(s.Start)
		e.raw(`}`)
	})
	e.raw(`,"lastEvent":`)
	e.time(st.LastEvent)
	e.raw(`,"replayUntil":`)
	e.time(st.ReplayUntil)
	if !st.IdleSummarized.IsZero() {
		e.raw(`,"idleSummarized":`)
		e.time(st.IdleSummarized)
	}
	e.raw(`,"startTime":`)
	e.time(st.StartTime)
	e.optInt(`,"lastCallIn":`, st.LastCallIn)
	e.optInt(`,"lastCallOut":`, st.LastCallOut)
	e.optStr(`,"lastCallModel":`, st.LastCallModel)
	e.raw(`}}`)
	return e.b, e.err
}

// stateEncoder appends JSON as encoding/json writes it. The first error
// sticks; what is appended after it does not matter.
type stateEncoder struct {
	b   []byte
	err error
	// first is whether the next optional field of an object opened by
	// fields is its first, which has no comma before it.
	first bool
}

var errStateValue = errors.New("session state holds a value JSON cannot represent")

func (e *stateEncoder) raw(s string) { e.b = append(e.b, s...) }

func (e *stateEncoder) int(n int64) { e.b = strconv.AppendInt(e.b, n, 10) }

// fields begins an object all of whose fields are optional: the first
// one written (optInt) loses its key's leading comma. end closes it.
func (e *stateEncoder) fields() { e.first = true }

func (e *stateEncoder) end(s string) {
	e.first = false
	e.raw(s)
}

func (e *stateEncoder) sep(key string) {
	if e.first {
		e.first = false
		key = strings.TrimPrefix(key, ",")
	}
	e.raw(key)
}

// optInt writes key and n unless n is 0 (omitempty).
func (e *stateEncoder) optInt(key string, n int64) {
	if n == 0 {
		return
	}
	e.sep(key)
	e.int(n)
}

// optBool writes keyTrue, the key with its value, when v is set.
func (e *stateEncoder) optBool(keyTrue string, v bool) {
	if v {
		e.raw(keyTrue)
	}
}

// optStr writes key and s unless s is empty (omitempty).
func (e *stateEncoder) optStr(key, s string) {
	if s == "" {
		return
	}
	e.raw(key)
	e.str(s)
}

// optStrs writes key and the list ss unless it is empty (omitempty).
func (e *stateEncoder) optStrs(key string, ss []string) {
	if len(ss) == 0 {
		return
	}
	e.raw(key)
	e.raw(`[`)
	for i, s := range ss {
		if i > 0 {
			e.raw(`,`)
		}
		e.str(s)
	}
	e.raw(`]`)
}

// encodeMap writes m, unless it is empty, as the member that open begins
// (`,"name":{`): its keys sorted, each value written by value.
func encodeMap[V any](e *stateEncoder, open string, m map[string]V, value func(V)) {
	if len(m) == 0 {
		return
	}
	e.raw(open)
	var kb [8]string
	for i, k := range keysInOrder(kb[:0], m) {
		e.key(i, k)
		value(m[k])
	}
	e.raw(`}`)
}

// key writes the i-th key of an object.
func (e *stateEncoder) key(i int, k string) {
	if i > 0 {
		e.raw(`,`)
	}
	e.str(k)
	e.raw(`:`)
}

// time writes t as time.Time's MarshalJSON does.
func (e *stateEncoder) time(t time.Time) {
	e.b = append(e.b, '"')
	b, err := t.AppendText(e.b)
	if err != nil {
		e.err = firstErr(e.err, err)
		return
	}
	e.b = append(b, '"')
}

// float writes f as encoding/json writes a float64: the shortest decimal
// that reads back as f, in exponent form below 1e-6 and from 1e21, with
// the exponent's leading zero dropped.
func (e *stateEncoder) float(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		e.err = firstErr(e.err, errStateValue)
		return
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	e.b = strconv.AppendFloat(e.b, f, format, -1, 64)
	if n := len(e.b); format == 'e' && n >= 4 && e.b[n-4] == 'e' && e.b[n-3] == '-' && e.b[n-2] == '0' {
		e.b[n-2] = e.b[n-1]
		e.b = e.b[:n-1]
	}
}

// ledger writes a ledger as ledger.MarshalJSON does: its entries in key
// order.
func (e *stateEncoder) ledger(l ledger) {
	e.raw(`[`)
	var kb [4]Key
	for i, k := range ledgerKeys(kb[:0], l) {
		if i > 0 {
			e.raw(`,`)
		}
		u := l[k]
		e.raw(`{"a":`)
		e.str(k.Agent)
		e.raw(`,"m":`)
		e.str(k.Model)
		e.raw(`,"u":{`)
		e.fields()
		e.optInt(`,"in":`, u.InputTokens)
		e.optInt(`,"out":`, u.OutputTokens)
		e.optInt(`,"cr":`, u.CacheReadTokens)
		e.optInt(`,"cw":`, u.CacheWriteTokens)
		e.optInt(`,"rs":`, u.ReasoningTokens)
		e.optInt(`,"nano":`, u.NanoAIU)
		if u.PremiumCost != 0 {
			e.sep(`,"cost":`)
			e.float(u.PremiumCost)
		}
		e.optInt(`,"req":`, u.Requests)
		e.optInt(`,"ureq":`, u.UserRequests)
		e.optInt(`,"ms":`, u.APIDurationMs)
		e.end(`}}`)
	}
	e.raw(`]`)
}

// str writes s as encoding/json writes a string: quoted, with '"', '\\'
// and control characters escaped, and also '<', '>', '&', U+2028 and
// U+2029; a byte that is not UTF-8 becomes U+FFFD.
func (e *stateEncoder) str(s string) {
	const hex = "0123456789abcdef"
	b := append(e.b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	e.b = append(b, '"')
}

// keysInOrder appends m's keys to ks in the order encoding/json writes
// them; given room on the caller's stack, it allocates nothing.
func keysInOrder[V any](ks []string, m map[string]V) []string {
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// ledgerKeys appends l's keys to ks in ledger.keys' order: by agent, then
// model. ks may be a buffer of the caller's, so that the state's encoder
// sorts them on the stack.
func ledgerKeys(ks []Key, l ledger) []Key {
	for k := range l {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b Key) int {
		if c := strings.Compare(a.Agent, b.Agent); c != 0 {
			return c
		}
		return strings.Compare(a.Model, b.Model)
	})
	return ks
}

func firstErr(old, err error) error {
	if old != nil {
		return old
	}
	return err
}
