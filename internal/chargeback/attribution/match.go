package attribution

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

type matchKind uint8

const (
	matchExact  matchKind = iota // no glob syntax: string equality
	matchGlob                    // brace-free globs in alts, any of which may match
	matchBraces                  // a glob whose braces were not expanded: doublestar as is
	matchRegex                   // anchored regular expression
)

// maxBraceAlternatives bounds the expansion of "{a,b}" alternatives at
// compile time; a glob with more is matched by doublestar directly, which
// allocates on every match.
const maxBraceAlternatives = 64

// matcher is one compiled match value. Matching allocates nothing except
// for matchBraces.
type matcher struct {
	kind matchKind
	s    string   // the value (matchExact, matchBraces)
	alts []string // brace-free globs (matchGlob)
	re   *regexp.Regexp
}

// compileMatcher compiles a match value or ticket mapping key: a glob, or a
// regular expression after "regex:".
func compileMatcher(v string) (matcher, error) {
	if expr, ok := strings.CutPrefix(v, RegexPrefix); ok {
		if _, err := regexp.Compile(expr); err != nil {
			return matcher{}, fmt.Errorf("regex %q: %w", expr, err)
		}
		re, err := regexp.Compile(`\A(?:` + expr + `)\z`)
		if err != nil {
			return matcher{}, fmt.Errorf("regex %q: %w", expr, err)
		}
		return matcher{kind: matchRegex, s: v, re: re}, nil
	}
	if !strings.ContainsAny(v, `*?[{\`) {
		return matcher{kind: matchExact, s: v}, nil
	}
	if !doublestar.ValidatePattern(v) {
		return matcher{}, fmt.Errorf("glob %q: %w", v, doublestar.ErrBadPattern)
	}
	if alts, ok := expandBraces(v); ok {
		return matcher{kind: matchGlob, s: v, alts: alts}, nil
	}
	return matcher{kind: matchBraces, s: v}, nil
}

func (m *matcher) match(v string) bool {
	switch m.kind {
	case matchExact:
		return v == m.s
	case matchGlob:
		for _, a := range m.alts {
			if doublestar.MatchUnvalidated(a, v) {
				return true
			}
		}
		return false
	case matchBraces:
		return doublestar.MatchUnvalidated(m.s, v)
	default:
		return m.re.MatchString(v)
	}
}

// expandBraces turns a glob's "{a,b}" alternatives into separate brace-free
// globs, which doublestar matches without allocating. It declines (false)
// globs with classes or escapes, whose braces need doublestar's own parsing,
// a star just before a brace, unbalanced braces, and expansions beyond
// maxBraceAlternatives.
// FuzzExpandBraces checks that the expansion matches what the glob matches.
func expandBraces(p string) ([]string, bool) {
	if strings.IndexByte(p, '{') < 0 {
		return []string{p}, true
	}
	if strings.ContainsAny(p, `[\`) {
		return nil, false
	}
	// Whether "**" is a doublestar depends on what follows it, which
	// doublestar reads before it expands the braces that follow.
	if strings.Contains(p, "*{") {
		return nil, false
	}
	out := make([]string, 0, 1)
	ok := expandInto(&out, p)
	return out, ok
}

func expandInto(out *[]string, p string) bool {
	open := strings.IndexByte(p, '{')
	if open < 0 {
		if len(*out) >= maxBraceAlternatives {
			return false
		}
		*out = append(*out, p)
		return true
	}
	depth, closing := 0, -1
	var cuts []int // top-level commas, then the closing brace
	for i := open; i < len(p) && closing < 0; i++ {
		switch p[i] {
		case '{':
			depth++
		case ',':
			if depth == 1 {
				cuts = append(cuts, i)
			}
		case '}':
			if depth--; depth == 0 {
				closing = i
			}
		}
	}
	if closing < 0 {
		return false
	}
	cuts = append(cuts, closing)
	prefix, suffix := p[:open], p[closing+1:]
	start := open + 1
	for _, c := range cuts {
		if !expandInto(out, prefix+p[start:c]+suffix) {
			return false
		}
		start = c + 1
	}
	return true
}

// Fields of Input a rule can constrain.
const (
	inRepository uint8 = iota
	inBranch
	inGitRoot
	inUser
	inAgent
)

// Fields of Result a rule can set, as bit positions.
const (
	outTeam uint8 = iota
	outProject
	outCostCenter
	outTicket
	numOut
)

const allOut = 1<<numOut - 1

func (in *Input) field(f uint8) string {
	switch f {
	case inRepository:
		return in.Repository
	case inBranch:
		return in.Branch
	case inGitRoot:
		return in.GitRoot
	case inUser:
		return in.User
	default:
		return in.Agent
	}
}

type cond struct {
	field uint8
	m     matcher
}

type compiledRule struct {
	name  string
	conds []cond
	set   [numOut]string
	sets  uint8 // bit outX set when set[outX] != ""
}

// compileRule compiles r; errors name the key within the rule
// ("match::branch: ...").
func compileRule(r Rule, name string) (compiledRule, error) {
	cr := compiledRule{
		name: name,
		set:  [numOut]string{r.Set.Team, r.Set.Project, r.Set.CostCenter, r.Set.Ticket},
	}
	var errs []error
	for _, f := range []struct {
		field uint8
		key   string
		value string
	}{
		{inRepository, "repository", r.Match.Repository},
		{inBranch, "branch", r.Match.Branch},
		{inGitRoot, "git_root", r.Match.GitRoot},
		{inUser, "user", r.Match.User},
		{inAgent, "agent", r.Match.Agent},
	} {
		if f.value == "" {
			continue
		}
		m, err := compileMatcher(f.value)
		if err != nil {
			errs = append(errs, fmt.Errorf("match::%s: %w", f.key, err))
			continue
		}
		cr.conds = append(cr.conds, cond{field: f.field, m: m})
	}
	for i, v := range cr.set {
		if v != "" {
			cr.sets |= 1 << i
		}
	}
	if cr.sets == 0 {
		errs = append(errs, errors.New("set: sets nothing (give team, project, cost_center or ticket)"))
	}
	if len(errs) > 0 {
		return compiledRule{}, joinFlat(errs)
	}
	return cr, nil
}

func (r *compiledRule) matches(in *Input) bool {
	for i := range r.conds {
		c := &r.conds[i]
		if !c.m.match(in.field(c.field)) {
			return false
		}
	}
	return true
}

// joinFlat joins errors on one line, for errors that are then prefixed with
// where they happened.
func joinFlat(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
