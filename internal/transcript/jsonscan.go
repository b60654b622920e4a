package transcript

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"sync"
	"unicode/utf8"
)

// The scanner in this file checks the structure of a JSON text and finds the
// members of an object without decoding them. Transcript lines are dominated
// by long strings (system prompts, tool output) that the accounting never
// reads; skipping a string is a search for the next quote, so a line costs
// little more than reading it. Only the small values the accounting needs are
// handed to encoding/json.

var (
	errUnexpectedEnd = errors.New("unexpected end of JSON text")
	errSyntax        = errors.New("invalid JSON syntax")
	errNotObject     = errors.New("JSON value is not an object")
)

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string that starts at b[i],
// which must be a quote.
//
// What it validates: that the string is closed on this line (a quote is
// escaped iff an odd run of backslashes precedes it; lines are split at
// '\n' before decoding, so a string cannot run past its line). What it
// skips: escape sequences, control characters and UTF-8 inside the
// string are not checked, since a skipped string is never decoded; every
// string the decoder keeps goes through unquote (or plainString), which
// checks them. It finds quotes with bytes.IndexByte, so large system
// prompts and tool outputs are passed over at memchr speed.
func skipString(b []byte, i int) (int, error) {
	i++
	for {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return len(b), errUnexpectedEnd
		}
		end := i + q
		// A quote preceded by an odd number of backslashes is escaped.
		n := 0
		for k := end - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return end + 1, nil
		}
		i = end + 1
	}
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) {
		return len(b), errUnexpectedEnd
	}
	if string(b[i:i+len(lit)]) != lit {
		return i, errSyntax
	}
	return i + len(lit), nil
}

func skipNumber(b []byte, i int) (int, error) {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := 0
	for i < len(b) {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
		default:
			if digits == 0 {
				return start, errSyntax
			}
			return i, nil
		}
		i++
	}
	if digits == 0 {
		return start, errUnexpectedEnd
	}
	return i, nil
}

// skipValue returns the index just past the JSON value that starts at or
// after b[i] (leading white space is skipped).
func skipValue(b []byte, i int) (int, error) {
	i = skipSpace(b, i)
	if i >= len(b) {
		return i, errUnexpectedEnd
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{' || c == '[':
		return skipContainer(b, i)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return skipNumber(b, i)
	default:
		return i, errSyntax
	}
}

// skipContainer checks an object or array iteratively, so that a hostile
// line of nested brackets cannot exhaust the stack.
func skipContainer(b []byte, i int) (int, error) {
	// stack holds the open brackets; a transcript line nests a few levels.
	var stackBuf [32]byte
	stack := stackBuf[:0]
	const (
		wantValue    = iota // a value (or a closing bracket right after an opening one)
		wantKey             // an object key (or '}' right after '{')
		wantColon           // ':' after a key
		wantCommaEnd        // ',' or the closing bracket
	)
	state := wantValue
	first := false // true right after an opening bracket
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return i, errUnexpectedEnd
		}
		c := b[i]
		switch state {
		case wantKey:
			if c == '}' && first {
				stack = stack[:len(stack)-1]
				i++
				state = wantCommaEnd
				if len(stack) == 0 {
					return i, nil
				}
				continue
			}
			if c != '"' {
				return i, errSyntax
			}
			var err error
			if i, err = skipString(b, i); err != nil {
				return i, err
			}
			state = wantColon
		case wantColon:
			if c != ':' {
				return i, errSyntax
			}
			i++
			state = wantValue
			first = false
		case wantValue:
			switch c {
			case '{':
				stack = append(stack, '}')
				i++
				state, first = wantKey, true
				continue
			case '[':
				stack = append(stack, ']')
				i++
				state, first = wantValue, true
				continue
			case ']':
				if first && len(stack) > 0 && stack[len(stack)-1] == ']' {
					stack = stack[:len(stack)-1]
					i++
					state, first = wantCommaEnd, false
					if len(stack) == 0 {
						return i, nil
					}
					continue
				}
				return i, errSyntax
			}
			var err error
			if i, err = skipValue(b, i); err != nil {
				return i, err
			}
			state, first = wantCommaEnd, false
		case wantCommaEnd:
			top := stack[len(stack)-1]
			switch c {
			case ',':
				i++
				if top == '}' {
					state = wantKey
				} else {
					state = wantValue
				}
				first = false
			case top:
				stack = stack[:len(stack)-1]
				i++
				if len(stack) == 0 {
					return i, nil
				}
			default:
				return i, errSyntax
			}
		}
	}
}

// eachMember calls fn with the raw key (without quotes, still escaped) and
// the raw value of every member of the object b, in order. It checks the
// structure of the whole object, members fn does not look at included, and
// fails if anything but white space follows the object. fn returns false to
// stop early; the rest is then not checked.
func eachMember(b []byte, fn func(key, val []byte) bool) error {
	i := skipSpace(b, 0)
	if i >= len(b) {
		return errUnexpectedEnd
	}
	if b[i] != '{' {
		return errNotObject
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return trailing(b, i+1)
	}
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return errUnexpectedEnd
		}
		if b[i] != '"' {
			return errSyntax
		}
		ks := i
		ke, err := skipString(b, i)
		if err != nil {
			return err
		}
		i = skipSpace(b, ke)
		if i >= len(b) {
			return errUnexpectedEnd
		}
		if b[i] != ':' {
			return errSyntax
		}
		vs := skipSpace(b, i+1)
		ve, err := skipValue(b, vs)
		if err != nil {
			return err
		}
		if !fn(b[ks+1:ke-1], b[vs:ve]) {
			return nil
		}
		i = skipSpace(b, ve)
		if i >= len(b) {
			return errUnexpectedEnd
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return trailing(b, i+1)
		default:
			return errSyntax
		}
	}
}

// unescapedQuotes counts the quotes in b[from:] that are not escaped, that
// is not preceded by an odd number of backslashes (counted in all of b).
func unescapedQuotes(b []byte, from int) int {
	n := 0
	for i := from; i < len(b); {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			break
		}
		end := i + q
		bs := 0
		for k := end - 1; k >= 0 && b[k] == '\\'; k-- {
			bs++
		}
		if bs%2 == 0 {
			n++
		}
		i = end + 1
	}
	return n
}

// openString reports whether b, a prefix of a JSON text that the scanner
// found valid up to its end, ends inside a string. Outside strings such a
// prefix holds neither quotes nor backslashes, so it ends inside a string
// when it holds an odd number of unescaped quotes.
func openString(b []byte) bool { return unescapedQuotes(b, 0)%2 == 1 }

func trailing(b []byte, i int) error {
	if skipSpace(b, i) != len(b) {
		return errSyntax
	}
	return nil
}

// unquote returns the value of a raw JSON string. Strings without escapes,
// the common case, are returned without a copy of the parsing machinery.
func unquote(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		for _, c := range s {
			if c < 0x20 {
				return "", false
			}
		}
		return string(s), true
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false
	}
	return v, true
}

// members reads the members of one JSON object in a single pass: the value
// of each member is either skipped (its structure still checked), taken raw,
// or, when it is an object, entered with a child iterator that hands the
// position back to its parent when the child is done. It checks the whole
// object whatever the caller reads of it; err holds the first error.
type members struct {
	b       []byte
	i       int  // position in b
	pending bool // the value of the last key has not been consumed
	started bool
	done    bool
	err     error
	// st is the state of the decode the object belongs to: its stack
	// holds the children by depth, so that entering an object allocates
	// nothing (enterChild); nil, or deeper than it goes, a child is
	// allocated.
	st    *decodeState
	depth int
}

// memberStack is where enterChild puts the children of one decode.
type memberStack [8]members

// decodeState is what decodes reuse from one line to the next: the stack
// of children, and the strings decoded lately. A Reader owns one; Decode
// takes one from a pool.
type decodeState struct {
	stack memberStack
	strs  [strCacheSize]string

	// The data of the frequent event types, allocated a slab at a time
	// like the Reader's events.
	usageRecords  slab[UsageRecordData]
	userMessages  slab[UserMessageData]
	turnStarts    slab[TurnStartData]
	turnEnds      slab[TurnEndData]
	toolStarts    slab[ToolStartData]
	toolCompletes slab[ToolCompleteData]
	hookStarts    slab[HookStartData]
}

// dataSlab is how many values a slab allocates at once.
const dataSlab = 16

// slab hands out new values of T, allocated dataSlab at a time: one
// allocation for many events. Each value is still one of its own, which
// the caller may keep (it keeps the others of its slab alive with it).
type slab[T any] struct{ free []T }

// alloc returns a new T from s, or from the heap when there is no state.
func alloc[T any](st *decodeState, s func(st *decodeState) *slab[T]) *T {
	if st == nil {
		return new(T)
	}
	sl := s(st)
	if len(sl.free) == 0 {
		sl.free = make([]T, dataSlab)
	}
	p := &sl.free[0]
	sl.free = sl.free[1:]
	return p
}

var decodeStates = sync.Pool{New: func() any { return new(decodeState) }}

const (
	strCacheBits = 8
	strCacheSize = 1 << strCacheBits
	maxCachedLen = 64
)

// str returns b as a string: the same string as a recent call for the
// same bytes, when it is still in the cache, else a new one. Ids, models
// and the like repeat from line to line (a parent id is an earlier
// event's id), so that most of them cost no allocation. st may be nil.
func (st *decodeState) str(b []byte) string {
	p := st.slot(b)
	if p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	if p != nil {
		*p = s
	}
	return s
}

// slot is where the cache keeps the string of b; nil for none (no state,
// or b too long or empty).
func (st *decodeState) slot(b []byte) *string {
	if st == nil || len(b) == 0 || len(b) > maxCachedLen {
		return nil
	}
	var h uint64
	if len(b) >= 8 {
		h = binary.LittleEndian.Uint64(b[len(b)-8:])
	} else {
		for _, c := range b {
			h = h<<8 | uint64(c)
		}
	}
	h = (h ^ uint64(len(b))) * 0x9E3779B97F4A7C15
	return &st.strs[h>>(64-strCacheBits)]
}

// unquote is unquote, through the cache for strings without escapes.
func (st *decodeState) unquote(raw []byte) (string, bool) {
	if len(raw) > maxCachedLen+2 {
		return unquote(raw) // content: not cached, and read once
	}
	if s, ok := plainString(raw); ok {
		return st.str(s), true
	}
	return unquote(raw)
}

// openMembers starts iterating the object at or after b[i].
func openMembers(b []byte, i int) members {
	m := members{b: b}
	i = skipSpace(b, i)
	switch {
	case i >= len(b):
		m.err = errUnexpectedEnd
	case b[i] != '{':
		m.err = errNotObject
	default:
		m.i = i + 1
	}
	return m
}

// next advances to the next member and returns its raw key (without
// quotes, still escaped). It returns false at the end of the object or on
// an error. A value not consumed is skipped.
func (m *members) next() ([]byte, bool) {
	if m.err != nil || m.done {
		return nil, false
	}
	if m.pending {
		m.value()
		if m.err != nil {
			return nil, false
		}
	}
	i := skipSpace(m.b, m.i)
	if i >= len(m.b) {
		m.err = errUnexpectedEnd
		return nil, false
	}
	if m.started {
		switch m.b[i] {
		case ',':
			i = skipSpace(m.b, i+1)
		case '}':
			m.i, m.done = i+1, true
			return nil, false
		default:
			m.err = errSyntax
			return nil, false
		}
	} else if m.b[i] == '}' {
		m.i, m.done = i+1, true
		return nil, false
	}
	m.started = true
	if i >= len(m.b) {
		m.err = errUnexpectedEnd
		return nil, false
	}
	if m.b[i] != '"' {
		m.err = errSyntax
		return nil, false
	}
	ke, err := skipString(m.b, i)
	if err != nil {
		m.err = err
		return nil, false
	}
	key := m.b[i+1 : ke-1]
	j := skipSpace(m.b, ke)
	if j >= len(m.b) {
		m.err = errUnexpectedEnd
		return nil, false
	}
	if m.b[j] != ':' {
		m.err = errSyntax
		return nil, false
	}
	m.i = skipSpace(m.b, j+1)
	m.pending = true
	return key, true
}

// value consumes the current value and returns it raw.
func (m *members) value() []byte {
	if m.err != nil || !m.pending {
		return nil
	}
	m.pending = false
	end, err := skipValue(m.b, m.i)
	if err != nil {
		m.err = err
		return nil
	}
	v := m.b[m.i:end]
	m.i = end
	return v
}

// isObject reports whether the current value is an object.
func (m *members) isObject() bool {
	return m.err == nil && m.pending && m.i < len(m.b) && m.b[m.i] == '{'
}

// enter starts iterating the current value, which must be an object (see
// isObject). The parent must not be used until leave.
func (m *members) enter() members {
	m.pending = false
	return openMembers(m.b, m.i)
}

// enterChild enters the object that is the current value, as enter does,
// with the child in the decode's stack: it is valid until the next
// enterChild at its depth, that is until the parent has left it and moved
// on.
func (m *members) enterChild() *members {
	c := m.enter()
	c.st, c.depth = m.st, m.depth+1
	var p *members
	if m.st != nil && c.depth < len(m.st.stack) {
		p = &m.st.stack[c.depth]
	} else {
		p = new(members)
	}
	*p = c
	return p
}

// leave reads what the child left unread of its object and resumes the
// parent after it.
func (m *members) leave(child *members) {
	for {
		if _, ok := child.next(); !ok {
			break
		}
	}
	if child.err != nil {
		m.err = child.err
		return
	}
	m.i = child.i
}

// end checks that only white space follows the object.
func (m *members) end() error {
	if m.err != nil {
		return m.err
	}
	for {
		if _, ok := m.next(); !ok {
			break
		}
	}
	if m.err != nil {
		return m.err
	}
	return trailing(m.b, m.i)
}
