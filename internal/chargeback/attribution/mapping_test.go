package attribution

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMappingFileYAML(t *testing.T) {
	path := filepath.Join("testdata", "mapping.yaml")
	r := mustNew(t, Config{
		MappingFile: path,
		Rules: []Rule{
			// After the file's rules: fills what they left unset, and is
			// shadowed by the file's "payments" rule for the team.
			{Name: "inline-payments", Match: Match{Repository: "acme/payments-*"}, Set: Set{Team: "inline-team", Ticket: "EPIC-9"}},
			{Name: "everyone", Set: Set{CostCenter: "CC-4100"}},
		},
		Ticket: TicketConfig{Mapping: map[string]string{"main": "INLINE-1", "develop": "DEV-1"}},
	})
	assert.Equal(t, Stats{MappingRules: 4, MappingTickets: 3}, r.Stats())
	for _, tc := range []struct {
		in   Input
		want Result
	}{
		{
			Input{Repository: "acme/payments-api", Branch: "feature/PAY-4411-refund-retries"},
			Result{Team: "payments", Project: "payments-platform", CostCenter: "CC-1001", Ticket: "EPIC-9", Rule: "payments", TicketSource: TicketFromRule},
		},
		{
			// Unnamed: "<file>:<line>"; an unquoted number is its text.
			Input{Repository: "acme/ledger", Branch: "bugfix/PAY-7"},
			Result{Team: "payments", Project: "ledger", CostCenter: "1001", Ticket: "PAY-7", Rule: "mapping.yaml:6", TicketSource: TicketFromPattern},
		},
		{
			Input{Repository: "acme/docs-site", Branch: "chore/typos"},
			Result{Team: "docs", Project: "unattributed", CostCenter: "CC-4100", Ticket: "DOC-7", Rule: "docs-chores", TicketSource: TicketFromRule},
		},
		{
			// The file's tickets: its "main" wins over the inline one.
			Input{Repository: "acme/docs-site", Branch: "main"},
			Result{Team: "unattributed", Project: "unattributed", CostCenter: "CC-4100", Ticket: "OPS-1", Rule: "everyone", TicketSource: TicketFromMapping},
		},
		{
			Input{Repository: "acme/docs-site", Branch: "develop"},
			Result{Team: "unattributed", Project: "unattributed", CostCenter: "CC-4100", Ticket: "DEV-1", Rule: "everyone", TicketSource: TicketFromMapping},
		},
		{
			Input{Repository: "acme/web-app", Branch: "release/2.4", User: "alice", Agent: "explore"},
			Result{Team: "unattributed", Project: "research", CostCenter: "CC-4100", Ticket: "REL-100", Rule: "research", TicketSource: TicketFromMapping},
		},
		{
			// The regex is anchored: "alice|bob" does not match "alice2".
			Input{Repository: "acme/web-app", Branch: "hotfix/12", User: "alice2", Agent: "explore"},
			Result{Team: "unattributed", Project: "unattributed", CostCenter: "CC-4100", Ticket: "OPS-911", Rule: "everyone", TicketSource: TicketFromMapping},
		},
	} {
		assert.Equal(t, tc.want, r.Resolve(tc.in), "%+v", tc.in)
	}
}

func TestMappingFileCSV(t *testing.T) {
	r := mustNew(t, Config{
		MappingFile: filepath.Join("testdata", "mapping.csv"),
		Rules:       []Rule{{Name: "everyone", Set: Set{CostCenter: "CC-4100", Project: "misc"}}},
	})
	assert.Equal(t, Stats{MappingRules: 4}, r.Stats())
	for _, tc := range []struct {
		in   Input
		want Result
	}{
		{
			Input{Repository: "acme/payments-api", Branch: "feature/PAY-4411-refund-retries"},
			Result{Team: "payments", Project: "payments-platform", CostCenter: "CC-1001", Ticket: "PAY-4411", Rule: "mapping.csv:3", TicketSource: TicketFromPattern},
		},
		{
			Input{Repository: "acme/docs-site", Branch: "chore/deps"},
			Result{Team: "docs", Project: "misc", CostCenter: "CC-4100", Ticket: "DOC-7", Rule: "mapping.csv:4", TicketSource: TicketFromRule},
		},
		{
			// The branch constraint holds only on chore/**.
			Input{Repository: "acme/docs-site", Branch: "main"},
			Result{Team: "unattributed", Project: "misc", CostCenter: "CC-4100", Ticket: "unattributed", Rule: "everyone"},
		},
		{
			// Cells are trimmed, and a blank branch cell is no constraint.
			Input{Repository: "acme/mobile-app", Branch: "feature/SHOP-3-cart"},
			Result{Team: "frontend", Project: "storefront", CostCenter: "CC-2002", Ticket: "SHOP-3", Rule: "storefront", TicketSource: TicketFromPattern},
		},
		{
			Input{Repository: "acme/infra-terraform"},
			Result{Team: "platform", Project: "misc", CostCenter: "CC-3003", Ticket: "unattributed", Rule: "mapping.csv:6"},
		},
	} {
		assert.Equal(t, tc.want, r.Resolve(tc.in), "%+v", tc.in)
	}
}

func TestMappingFileErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"bad.yaml", []string{
			`testdata/bad.yaml:5: rules::1 ("releases"): match::branch: regex "release/(v[0-9]+": error parsing regexp: missing closing ): ` + "`release/(v[0-9]+`",
			`testdata/bad.yaml:8: rules::2::match: unknown key "repo" (want repository, branch, git_root, user, agent)`,
			`testdata/bad.yaml:10: rules::3: ` + setsNothing,
			`testdata/bad.yaml:13: tickets::"main": empty ticket`,
		}},
		{"bad.csv", []string{
			`testdata/bad.csv:3: row: match::branch: glob "feature/[a-": syntax error in pattern`,
			`testdata/bad.csv:4: row: ` + setsNothing,
		}},
	} {
		path := filepath.Join("testdata", tc.file)
		_, err := New(Config{MappingFile: path}, nil)
		require.Error(t, err, tc.file)
		want := make([]string, len(tc.want))
		for i, w := range tc.want {
			want[i] = "mapping_file: " + w
			if i > 0 {
				want[i] = w
			}
		}
		assert.Equal(t, want, strings.Split(err.Error(), "\n"), tc.file)
		assert.Equal(t, err, Config{MappingFile: path}.ValidateMappingFile(), "ValidateMappingFile refuses what New refuses")
	}
}

func TestParseMappingErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, data, want string
	}{
		// YAML.
		{"empty", "teams.yaml", " \n\n", `teams.yaml: empty mapping file (an empty mapping is "rules: []" or a CSV header)`},
		{"only comments", "teams.yaml", "# nothing yet\n", `teams.yaml: empty mapping file (an empty mapping is "rules: []")`},
		{"not a mapping", "teams.yaml", "- name: a\n", `teams.yaml:1: want a mapping with the keys rules and tickets`},
		{"unknown top-level key", "teams.yaml", "rules: []\nteams: []\n", `teams.yaml:2: unknown key "teams" (want rules, tickets)`},
		{"repeated top-level key", "teams.yaml", "rules: []\ntickets: {}\nrules: []\n", `teams.yaml:3: rules: also given on line 1`},
		{"rules not a list", "teams.yaml", "rules:\n  name: a\n", `teams.yaml:2: rules: want a list of rules`},
		{"rule not a mapping", "teams.yaml", "rules:\n  - payments\n", `teams.yaml:2: rules::0: want a mapping with the keys name, match, set`},
		{"unknown rule key", "teams.yaml", "rules:\n  - name: a\n    sets: {team: a}\n", `teams.yaml:3: rules::0 ("a"): unknown key "sets" (want name, match, set)`},
		{"unknown set key", "teams.yaml", "rules:\n  - set: {team: a, owner: b}\n", `teams.yaml:2: rules::0::set: unknown key "owner" (want team, project, cost_center, ticket)`},
		{"list value", "teams.yaml", "rules:\n  - match:\n      repository: [acme/a, acme/b]\n    set: {team: a}\n", `teams.yaml:3: rules::0::match::repository: want a string`},
		{"repeated match key", "teams.yaml", "rules:\n  - match:\n      user: a\n      user: b\n    set: {team: a}\n", `teams.yaml:4: rules::0::match::user: also given on line 3`},
		{"repeated name", "teams.yaml", "rules:\n  - name: a\n    set: {team: a}\n  - name: a\n    set: {team: b}\n", `teams.yaml:4: rules::1 ("a"): name: also the name of the rule on line 2`},
		{"repeated ticket key", "teams.yaml", "tickets:\n  main: OPS-1\n  main: OPS-2\n", `teams.yaml:3: tickets::"main": also given on line 2`},
		{"bad ticket key", "teams.yaml", "tickets:\n  main: OPS-1\n  \"release/[0-\": REL-1\n", `teams.yaml:3: tickets::"release/[0-": glob "release/[0-": syntax error in pattern`},
		{"tickets not a mapping", "teams.yaml", "tickets: [main]\n", `teams.yaml:1: tickets: want a mapping of branch (or glob, or regex:) to ticket`},
		// CSV.
		{"empty csv", "teams.csv", "\n", `teams.csv: empty mapping file (an empty mapping is "rules: []" or a CSV header)`},
		{"only comments csv", "teams.csv", "# nothing yet\n", `teams.csv: no header row (columns among name, repository, branch, git_root, user, agent, team, project, cost_center, ticket)`},
		{"unknown column", "teams.csv", "repository,owner,team\n", `teams.csv:1: unknown column "owner" (want columns among name, repository, branch, git_root, user, agent, team, project, cost_center, ticket)`},
		{"repeated column", "teams.csv", "# header\nteam,repository,Team\n", `teams.csv:2: column "team" given twice`},
		{"short row", "teams.csv", "repository,team\nacme/a,a\nacme/b\n", `teams.csv:3: wrong number of fields`},
		{"bad quote", "teams.csv", "repository,team\nacme/a,a\nacme/\"b,b\n", `teams.csv:3: bare " in non-quoted-field`},
		{"repeated name csv", "teams.csv", "name,team\na,x\n# b\na,y\n", `teams.csv:4: row "a": name: also the name of the rule on line 2`},
		{"bad row after a bad row", "teams.csv", "repository,team\nacme/[,a\nacme/b,b,c\n", `teams.csv:2: row: match::repository: glob "acme/[": syntax error in pattern` + "\n" + `teams.csv:3: wrong number of fields`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseMapping(tc.file, []byte(tc.data))
			assert.EqualError(t, err, tc.want)
		})
	}
}

// TestParseMappingYAMLSyntax: the parser's message with the file and a line
// (the line is the YAML library's).
func TestParseMappingYAMLSyntax(t *testing.T) {
	for _, data := range []string{
		"rules:\n  - name: a\n    set: {team: a\n",
		"rules:\n  - match: {repository: acme/x}\n    set: {team: a}\n  - match: [\n",
	} {
		_, err := parseMapping("/etc/otelcol/teams.yaml", []byte(data))
		require.Error(t, err)
		assert.Regexp(t, regexp.MustCompile(`^/etc/otelcol/teams\.yaml:[0-9]+: did not find expected`), err.Error())
	}
}

func TestParseMappingEmptyButValid(t *testing.T) {
	for file, data := range map[string]string{
		"teams.yaml": "rules: []\n",
		"teams.yml":  "rules:\ntickets:\n",
		"teams.csv":  "\ufeffrepository,team\n# no rows yet\n",
		"teams.CSV":  "repository,team\n",
	} {
		m, err := parseMapping(file, []byte(data))
		require.NoError(t, err, file)
		assert.Empty(t, m.rules, file)
		assert.Empty(t, m.tickets, file)
	}
}

func TestParseMappingCapsErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("repository,team\n")
	for range maxFileErrors + 3 {
		b.WriteString("acme/[,a\n")
	}
	_, err := parseMapping("teams.csv", []byte(b.String()))
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, maxFileErrors+1)
	assert.Equal(t, `teams.csv:2: row: match::repository: glob "acme/[": syntax error in pattern`, lines[0])
	assert.Equal(t, "teams.csv: and 3 more errors", lines[maxFileErrors])
}

func TestNewMappingFileErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "teams.yaml")
	_, err := New(Config{MappingFile: missing}, nil)
	require.Error(t, err)
	assert.Equal(t, "mapping_file: stat "+missing+": no such file or directory", err.Error())
	assert.Equal(t, err, Config{MappingFile: missing}.ValidateMappingFile(), "ValidateMappingFile refuses what New refuses")
}

func TestValidateMappingFileAccepts(t *testing.T) {
	for _, c := range []Config{
		{},
		{MappingFile: filepath.Join("testdata", "mapping.yaml")},
		{MappingFile: filepath.Join("testdata", "mapping.csv")},
		// Validate refuses the extension; reading it would only add noise.
		{MappingFile: filepath.Join("testdata", "teams.json")},
	} {
		assert.NoError(t, c.ValidateMappingFile(), c.MappingFile)
	}
}

func TestYAMLSecondDocumentRefused(t *testing.T) {
	_, err := parseMapping("teams.yaml", []byte("rules:\n  - match: {repository: a/b}\n    set: {team: x}\n---\nrules:\n  - set: {team: y}\n"))
	require.ErrorContains(t, err, "teams.yaml:4: a second YAML document")
}
