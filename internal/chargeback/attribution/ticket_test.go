package attribution

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustNew(t testing.TB, c Config) *Resolver {
	t.Helper()
	r, err := New(c, nil)
	require.NoError(t, err)
	return r
}

// ticket resolves a branch alone and returns the ticket and its source.
func ticket(r *Resolver, branch string) [2]string {
	res := r.Resolve(Input{Repository: "acme/payments-api", Branch: branch})
	return [2]string{res.Ticket, res.TicketSource}
}

func TestDefaultTicketPattern(t *testing.T) {
	r := mustNew(t, Config{})
	none := [2]string{DefaultUnattributed, ""}
	for branch, want := range map[string][2]string{
		"feature/PAY-4411-refund-retries":        {"PAY-4411", TicketFromPattern},
		"PAY-4411-refund-retries":                {"PAY-4411", TicketFromPattern}, // key starts the branch
		"PAY-4411":                               {"PAY-4411", TicketFromPattern},
		"bugfix/OPS-7":                           {"OPS-7", TicketFromPattern},
		"users/alice/PAY-99_fix":                 {"PAY-99", TicketFromPattern},
		"feature/PAY-4411-OPS-12-and-more":       {"PAY-4411", TicketFromPattern}, // first key wins
		"feature/PAY-12/OPS-3":                   {"PAY-12", TicketFromPattern},
		"ABC-1":                                  {"ABC-1", TicketFromPattern}, // 3-letter project, 1-digit number
		"AB-1":                                   {"AB-1", TicketFromPattern},  // the shortest key: 2 characters
		"feature/A1-22":                          {"A1-22", TicketFromPattern}, // digits after the first letter
		"XPAY-1":                                 {"XPAY-1", TicketFromPattern},
		"feature/ABCDEFGHIJ-5":                   {"ABCDEFGHIJ-5", TicketFromPattern}, // 10 characters, the most
		"feature/aPAY-1-OPS-2":                   {"OPS-2", TicketFromPattern},        // aPAY-1 is not a key
		"main":                                   none,
		"":                                       none,
		"chore/update-deps":                      none,
		"fix/pay-4411":                           none, // keys are upper case
		"fix/Pay-4411":                           none,
		"A-1":                                    none, // one-letter project
		"aPAY-1":                                 none, // preceded by a letter
		"9PAY-1":                                 none, // preceded by a digit
		"feature/ABCDEFGHIJK-5":                  none, // 11 characters
		"feature/PAY-":                           none,
		"feature/PAY4411":                        none,
		"feature/1PAY-1":                         none,
		"dependabot/npm_and_yarn/lodash-4.17.21": none,
	} {
		assert.Equal(t, want, ticket(r, branch), "branch %q", branch)
	}
}

func TestCustomTicketPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		branch  string
		want    string // "" is no ticket
	}{
		{`#([0-9]+)`, "fix/#123-crash-on-start", "123"},
		{`#([0-9]+)`, "feature/PAY-4411-refund-retries", ""},
		{`(?i)\b([a-z]+-[0-9]+)`, "fix/pay-4411", "pay-4411"},
		// Without a group the whole match is the ticket.
		{`[0-9]{4,}`, "hotfix/20240611-rollback", "20240611"},
		// The first group only, even if a later one matched too.
		{`(PAY)-([0-9]+)`, "feature/PAY-12", "PAY"},
		// A first group that took no part in the match is no ticket.
		{`PAY-[0-9]+|(OPS-[0-9]+)`, "feature/PAY-12", ""},
		{`PAY-[0-9]+|(OPS-[0-9]+)`, "feature/OPS-3", "OPS-3"},
		// An empty match is no ticket.
		{`([A-Z]*)`, "main", ""},
		// Searched for, not anchored.
		{`(GH-[0-9]+)`, "users/bob/GH-77/x", "GH-77"},
		{TicketPatternNone, "feature/PAY-4411-refund-retries", ""},
		{DefaultTicketPattern, "feature/PAY-4411-refund-retries", "PAY-4411"},
	} {
		r := mustNew(t, Config{Ticket: TicketConfig{Pattern: tc.pattern}})
		want := [2]string{tc.want, TicketFromPattern}
		if tc.want == "" {
			want = [2]string{DefaultUnattributed, ""}
		}
		// Twice: the second answer is the cached one.
		assert.Equal(t, want, ticket(r, tc.branch), "pattern %q branch %q", tc.pattern, tc.branch)
		assert.Equal(t, want, ticket(r, tc.branch), "pattern %q branch %q, cached", tc.pattern, tc.branch)
	}
}

func TestPatternCacheStartsOver(t *testing.T) {
	tp, err := compilePattern(`#([0-9]+)`)
	require.NoError(t, err)
	for i := range patternCacheSize + 10 {
		require.Equal(t, fmt.Sprint(i), tp.find(fmt.Sprintf("fix/#%d", i)))
		require.LessOrEqual(t, len(tp.cache.m), patternCacheSize)
	}
	assert.Equal(t, "5", tp.find("fix/#5"), "a branch forgotten when the cache started over")
	assert.Equal(t, "", tp.find("main"))
}

func TestTicketMapping(t *testing.T) {
	r := mustNew(t, Config{Ticket: TicketConfig{Mapping: map[string]string{
		"main":                  "OPS-1",
		"release/**":            "REL-100",
		"release/2.0":           "REL-200",
		"regex:hotfix/[0-9]+":   "OPS-911",
		"feature/**":            "FEAT-0",
		"feature/PAY-*":         "PAY-0",
		"chore/{deps,ci}-*":     "OPS-2",
		"regex:(?i)renovate/.*": "OPS-3",
	}}})
	for branch, want := range map[string][2]string{
		"main":        {"OPS-1", TicketFromMapping},
		"release/2.1": {"REL-100", TicketFromMapping},
		"release/2.0": {"REL-200", TicketFromMapping}, // the exact key before the glob
		"hotfix/42":   {"OPS-911", TicketFromMapping},
		// "feature/**" sorts before "feature/PAY-*" ('*' < 'P'), and the
		// mapping beats the key the branch names.
		"feature/PAY-4411-refund-retries": {"FEAT-0", TicketFromMapping},
		"chore/deps-bump":                 {"OPS-2", TicketFromMapping},
		"Renovate/lodash":                 {"OPS-3", TicketFromMapping},
		"hotfix/42-rollback":              {DefaultUnattributed, ""}, // the regex is anchored
		"mainline":                        {DefaultUnattributed, ""},
		"bugfix/PAY-7":                    {"PAY-7", TicketFromPattern},
	} {
		assert.Equal(t, want, ticket(r, branch), "branch %q", branch)
	}
}

// TestTicketPrecedence: ticket.mapping, then the first matching rule that
// sets a ticket, then the pattern.
func TestTicketPrecedence(t *testing.T) {
	r := mustNew(t, Config{
		Rules: []Rule{
			{Name: "hotfix-team", Match: Match{Branch: "feature/hotfix-*"}, Set: Set{Team: "sre"}},
			{Name: "payments", Match: Match{Repository: "acme/payments-*", Branch: "feature/**"}, Set: Set{Team: "payments", Ticket: "EPIC-1"}},
			{Name: "payments-later", Match: Match{Repository: "acme/payments-*"}, Set: Set{Ticket: "EPIC-2"}},
			{Name: "ticket-only", Match: Match{Repository: "acme/docs-site"}, Set: Set{Ticket: "DOC-1"}},
		},
		Ticket: TicketConfig{Mapping: map[string]string{"feature/hotfix-*": "OPS-2"}},
	})
	for _, tc := range []struct {
		in   Input
		want Result
	}{
		{
			// The mapping beats the rule, which still gives the team.
			Input{Repository: "acme/payments-api", Branch: "feature/hotfix-PAY-1"},
			Result{Team: "sre", Project: "unattributed", CostCenter: "unattributed", Ticket: "OPS-2", Rule: "hotfix-team", TicketSource: TicketFromMapping},
		},
		{
			// The first rule that sets a ticket beats a later one and
			// the key the branch names.
			Input{Repository: "acme/payments-api", Branch: "feature/PAY-4411-refund-retries"},
			Result{Team: "payments", Project: "unattributed", CostCenter: "unattributed", Ticket: "EPIC-1", Rule: "payments", TicketSource: TicketFromRule},
		},
		{
			Input{Repository: "acme/payments-api", Branch: "bugfix/PAY-7"},
			Result{Team: "unattributed", Project: "unattributed", CostCenter: "unattributed", Ticket: "EPIC-2", Rule: "", TicketSource: TicketFromRule},
		},
		{
			// No rule sets a ticket: the pattern.
			Input{Repository: "acme/ledger", Branch: "bugfix/PAY-7"},
			Result{Team: "unattributed", Project: "unattributed", CostCenter: "unattributed", Ticket: "PAY-7", TicketSource: TicketFromPattern},
		},
		{
			// A rule that sets only a ticket is not Result.Rule.
			Input{Repository: "acme/docs-site", Branch: "main"},
			Result{Team: "unattributed", Project: "unattributed", CostCenter: "unattributed", Ticket: "DOC-1", TicketSource: TicketFromRule},
		},
		{
			Input{Repository: "acme/ledger", Branch: "main"},
			Result{Team: "unattributed", Project: "unattributed", CostCenter: "unattributed", Ticket: "unattributed"},
		},
	} {
		assert.Equal(t, tc.want, r.Resolve(tc.in), "%+v", tc.in)
	}
}
