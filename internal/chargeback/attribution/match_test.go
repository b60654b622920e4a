package attribution

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMatcher(t *testing.T) {
	for _, tc := range []struct {
		value string
		kind  matchKind
		yes   []string
		no    []string
	}{
		{"acme/payments-api", matchExact, []string{"acme/payments-api"}, []string{"acme/payments-api2", "Acme/payments-api", "", "acme/payments"}},
		{"acme/*", matchGlob, []string{"acme/payments-api", "acme/docs-site", "acme/"}, []string{"acme", "acme/x/y", "other/acme", "ACME/x"}},
		{"*", matchGlob, []string{"main", ""}, []string{"feature/PAY-4411-refund-retries"}},
		{"**", matchGlob, []string{"main", "feature/PAY-4411-refund-retries", "a/b/c", ""}, nil},
		{"feature/**", matchGlob, []string{"feature/PAY-4411-refund-retries", "feature/a/b", "feature"}, []string{"features/x", "main"}},
		{"feature/PAY-*", matchGlob, []string{"feature/PAY-4411-refund-retries", "feature/PAY-"}, []string{"feature/pay-1", "bugfix/PAY-1"}},
		{"/home/*/src/**", matchGlob, []string{"/home/dev/src/payments-api", "/home/dev/src/a/b"}, []string{"/home/dev/x/src/a", "/opt/src/a"}},
		{"acme/{payments,ledger}-api", matchGlob, []string{"acme/payments-api", "acme/ledger-api"}, []string{"acme/docs-api", "acme/{payments,ledger}-api"}},
		{"{main,master,release/**}", matchGlob, []string{"main", "master", "release/1.2"}, []string{"mainline", "feature/main"}},
		{"acme/[pd]*", matchGlob, []string{"acme/payments-api", "acme/docs-site"}, []string{"acme/ledger"}},
		{`acme/\*`, matchGlob, []string{"acme/*"}, []string{"acme/x"}},
		{"acme/[pd]{ocs,ayments}*", matchBraces, []string{"acme/payments-api", "acme/docs-site"}, []string{"acme/ledger"}},
		{"regex:acme/(payments|ledger)-.*", matchRegex, []string{"acme/payments-api", "acme/ledger-x"}, []string{"acme/docs-site", "xacme/payments-api"}},
		{"regex:PAY-[0-9]+", matchRegex, []string{"PAY-4411"}, []string{"feature/PAY-4411-refund-retries", "PAY-4411x"}},
		{"regex:feature/.*|main", matchRegex, []string{"main", "feature/x"}, []string{"mainx", "xmain"}},
		{"regex:(?i)ACME/.*", matchRegex, []string{"acme/x", "AcMe/y"}, []string{"other/acme"}},
		{"regex:", matchRegex, []string{""}, []string{"x"}},
	} {
		t.Run(tc.value, func(t *testing.T) {
			m, err := compileMatcher(tc.value)
			require.NoError(t, err)
			assert.Equal(t, tc.kind, m.kind)
			for _, v := range tc.yes {
				assert.True(t, m.match(v), "%q should match %q", tc.value, v)
			}
			for _, v := range tc.no {
				assert.False(t, m.match(v), "%q should not match %q", tc.value, v)
			}
		})
	}
}

func TestMatcherErrors(t *testing.T) {
	for value, want := range map[string]string{
		"regex:(":      `regex "(": error parsing regexp: missing closing ): ` + "`(`",
		"regex:a)|(b":  `regex "a)|(b": error parsing regexp: unexpected ): ` + "`a)|(b`",
		"regex:x{2,1}": `regex "x{2,1}": error parsing regexp: invalid repeat count: ` + "`{2,1}`",
		"acme/[a-":     `glob "acme/[a-": syntax error in pattern`,
		"acme/{a,b":    `glob "acme/{a,b": syntax error in pattern`,
		`acme\`:        `glob "acme\\": syntax error in pattern`,
	} {
		_, err := compileMatcher(value)
		assert.EqualError(t, err, want, value)
	}
}

func TestExpandBraces(t *testing.T) {
	for p, want := range map[string][]string{
		"main":         {"main"},
		"{a,b}":        {"a", "b"},
		"x{a,b}y{1,2}": {"xay1", "xay2", "xby1", "xby2"},
		"{a,{b,c}d}/*": {"a/*", "bd/*", "cd/*"},
		"{,x}":         {"", "x"},
		"{a}":          {"a"},
		"a,b":          {"a,b"},
		"[ab]*":        {"[ab]*"},
	} {
		got, ok := expandBraces(p)
		assert.True(t, ok, p)
		assert.Equal(t, want, got, p)
	}
	// Braces doublestar must parse itself: with classes or escapes, or
	// unbalanced.
	for _, p := range []string{"[{]{a,b}", `\{a,b}`, "{a,b"} {
		_, ok := expandBraces(p)
		assert.False(t, ok, p)
	}
	got, ok := expandBraces(strings.Repeat("{a,b}", 6))
	assert.True(t, ok, "2^6 alternatives are within the limit")
	assert.Len(t, got, maxBraceAlternatives)
	_, ok = expandBraces(strings.Repeat("{a,b}", 7))
	assert.False(t, ok, "2^7 alternatives are beyond the limit")
	m, err := compileMatcher(strings.Repeat("{a,b}", 7))
	require.NoError(t, err)
	assert.Equal(t, matchBraces, m.kind)
	assert.True(t, m.match("abbabab"))
}

// FuzzGlob checks that a compiled glob (exact comparison, expanded braces)
// matches exactly what doublestar matches with the glob as written.
func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{
		{"acme/{payments,ledger}-api", "acme/ledger-api"},
		{"{a,**}/x", "a/b/x"},
		{"x/{**,a}/y", "x/y"},
		{"{a/**,b}", "a"},
		{"*{a,b}*", "xxbxx"},
		{"}{a,b}", "}a"},
		{"{a,b}}", "a}"},
		{"a/", "a"},
		{"a//b", "a/b"},
		{"/**/x", "/x"},
		{"{,/}**", "/a"},
		{"?{,?}", "ab"},
		{"**{/a,}", "b/a"},
		{"**{}", "/"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		// doublestar reads every invalid UTF-8 byte as the same rune; an
		// exact comparison does not (and configuration, YAML or CSV, is UTF-8).
		if strings.HasPrefix(pattern, RegexPrefix) || !doublestar.ValidatePattern(pattern) ||
			!utf8.ValidString(pattern) || !utf8.ValidString(name) {
			return
		}
		m, err := compileMatcher(pattern)
		require.NoError(t, err)
		want, err := doublestar.Match(pattern, name)
		require.NoError(t, err)
		require.Equal(t, want, m.match(name), "pattern %q name %q (kind %d, alternatives %q)", pattern, name, m.kind, m.alts)
	})
}

var defaultPattern = regexp.MustCompile(DefaultTicketPattern)

func jiraKeyByRegexp(s string) string {
	m := defaultPattern.FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestJiraKey(t *testing.T) {
	for branch, want := range map[string]string{
		"feature/PAY-4411-refund-retries": "PAY-4411",
		"feature/PAY-4470-ledger-export":  "PAY-4470",
		"main":                            "",
		"chore/update-deps":               "",
		"PAY-1":                           "PAY-1",
		"PAY-":                            "",
		"P-1":                             "",
		"ABCDEFGHIJ-12":                   "ABCDEFGHIJ-12",
		"ABCDEFGHIJK-12":                  "",
		"xPAY-12 OPS-3":                   "OPS-3",
		"feature/pay-12":                  "",
		"feature/PAY-12/OPS-3":            "PAY-12",
		"bugfix/CVE-2024-1234":            "CVE-2024",
		"release/V2-3":                    "V2-3",
		"ä-PAY-7":                         "PAY-7",
		"éPAY-7":                          "PAY-7",
		"\xffPAY-7":                       "PAY-7",
		"1PAY-7":                          "",
		"_PAY-7":                          "PAY-7",
		"feature/A1-1":                    "A1-1",
	} {
		assert.Equal(t, want, jiraKey(branch), branch)
		assert.Equal(t, jiraKeyByRegexp(branch), jiraKey(branch), "the regular expression disagrees on %q", branch)
	}
}

// FuzzJiraKey checks that the hand-written jiraKey finds what
// DefaultTicketPattern finds.
func FuzzJiraKey(f *testing.F) {
	for _, s := range []string{
		"feature/PAY-4411-refund-retries", "main", "chore/update-deps", "ABCDEFGHIJK-1 AB-2",
		"x-AB-1", "AB-1-CD-2", "é\xffAB-9", "AB-", "A-1", "--AB1-0099z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		require.Equal(t, jiraKeyByRegexp(s), jiraKey(s), "branch %q", s)
	})
}
