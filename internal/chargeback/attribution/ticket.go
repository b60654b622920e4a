package attribution

import (
	"regexp"
	"strings"
	"sync"
)

type patternKind uint8

const (
	patternJira  patternKind = iota // DefaultTicketPattern, by hand
	patternNone                     // extraction off
	patternRegex                    // any other expression
)

// patternCacheSize bounds the branches whose pattern search is remembered;
// the cache starts over when full.
const patternCacheSize = 4096

// ticketPattern finds a ticket in a branch name.
type ticketPattern struct {
	kind  patternKind
	re    *regexp.Regexp
	group int // the submatch that is the ticket: 1, or 0 without groups
	cache *patternCache
}

type patternCache struct {
	mu sync.RWMutex
	m  map[string]string // branch -> ticket ("" for none)
}

func compilePattern(p string) (ticketPattern, error) {
	switch p {
	case "", DefaultTicketPattern:
		return ticketPattern{kind: patternJira}, nil
	case TicketPatternNone:
		return ticketPattern{kind: patternNone}, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return ticketPattern{}, err
	}
	tp := ticketPattern{kind: patternRegex, re: re, cache: &patternCache{m: make(map[string]string)}}
	if re.NumSubexp() > 0 {
		tp.group = 1
	}
	return tp, nil
}

// find returns the ticket the branch names, or "". The result may share
// memory with branch.
func (tp *ticketPattern) find(branch string) string {
	if branch == "" {
		return ""
	}
	switch tp.kind {
	case patternJira:
		return jiraKey(branch)
	case patternNone:
		return ""
	}
	c := tp.cache
	c.mu.RLock()
	t, ok := c.m[branch]
	c.mu.RUnlock()
	if ok {
		return t
	}
	// The cache must not pin the caller's memory: keep a copy, and the
	// ticket as a part of that copy.
	b := strings.Clone(branch)
	t = tp.search(b)
	c.mu.Lock()
	if len(c.m) >= patternCacheSize {
		clear(c.m)
	}
	c.m[b] = t
	c.mu.Unlock()
	return t
}

func (tp *ticketPattern) search(branch string) string {
	loc := tp.re.FindStringSubmatchIndex(branch)
	if loc == nil || loc[2*tp.group] < 0 {
		return ""
	}
	return branch[loc[2*tp.group]:loc[2*tp.group+1]]
}

// jiraKey is DefaultTicketPattern's first submatch, without a regular
// expression (FuzzJiraKey checks the two agree): the first
// [A-Z][A-Z0-9]{1,9}-[0-9]+ that starts s or follows a byte that is not an
// ASCII letter or digit. (In UTF-8 every byte of a non-ASCII rune is >= 0x80,
// so looking at the previous byte is looking at the previous rune.)
func jiraKey(s string) string {
	for g := 0; g+3 < len(s); g++ {
		if !isUpper(s[g]) || (g > 0 && isAlnum(s[g-1])) {
			continue
		}
		j := g + 1
		for j < len(s) && (isUpper(s[j]) || isDigit(s[j])) {
			j++
		}
		if n := j - g - 1; n < 1 || n > 9 || j+1 >= len(s) || s[j] != '-' || !isDigit(s[j+1]) {
			continue
		}
		d := j + 2
		for d < len(s) && isDigit(s[d]) {
			d++
		}
		return s[g:d]
	}
	return ""
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlnum(c byte) bool { return isUpper(c) || isDigit(c) || ('a' <= c && c <= 'z') }

// ticketMap is ticket.mapping merged with the mapping file's tickets.
type ticketMap struct {
	exact map[string]string // every key
	keys  []ticketKey       // glob and regex keys, in sorted key order
}

type ticketKey struct {
	m      matcher
	ticket string
}

// newTicketMap compiles already validated keys; file entries win over
// inline ones with the same key.
func newTicketMap(inline, file map[string]string) ticketMap {
	tm := ticketMap{exact: make(map[string]string, len(inline)+len(file))}
	for k, v := range inline {
		tm.exact[k] = v
	}
	for k, v := range file {
		tm.exact[k] = v
	}
	for _, k := range sortedKeys(tm.exact) {
		m, err := compileMatcher(k)
		if err != nil || m.kind == matchExact {
			continue
		}
		tm.keys = append(tm.keys, ticketKey{m: m, ticket: tm.exact[k]})
	}
	return tm
}

func (tm *ticketMap) find(branch string) string {
	if len(tm.exact) == 0 {
		return ""
	}
	if t, ok := tm.exact[branch]; ok {
		return t
	}
	for i := range tm.keys {
		if tm.keys[i].m.match(branch) {
			return tm.keys[i].ticket
		}
	}
	return ""
}
