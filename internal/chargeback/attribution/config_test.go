package attribution

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
)

const setsNothing = "set: sets nothing (give team, project, cost_center or ticket)"

func TestValidateErrorsNameRuleAndKey(t *testing.T) {
	payments := Rule{Name: "payments", Match: Match{Repository: "acme/payments-*"}, Set: Set{Team: "payments"}}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{
			name: "bad glob, unnamed rule by index",
			cfg: Config{Rules: []Rule{payments, {
				Match: Match{Repository: "acme/[a-"}, Set: Set{Team: "x"},
			}}},
			want: `rules::1: match::repository: glob "acme/[a-": syntax error in pattern`,
		},
		{
			name: "bad regex, named rule",
			cfg: Config{Rules: []Rule{{
				Name: "releases", Match: Match{Branch: "regex:release/(v[0-9]+"}, Set: Set{Team: "release-eng"},
			}}},
			want: `rules::0 ("releases"): match::branch: regex "release/(v[0-9]+": error parsing regexp: missing closing ): ` + "`release/(v[0-9]+`",
		},
		{
			name: "bad git_root, user and agent globs each name their key",
			cfg: Config{Rules: []Rule{payments, payments, {
				Name: "ops", Match: Match{GitRoot: "/home/*/src/[docs", User: "{alice", Agent: "regex:*"}, Set: Set{CostCenter: "CC-1"},
			}}},
			want: `rules::1 ("payments"): name: also the name of rules::0` + "\n" +
				`rules::2 ("ops"): match::git_root: glob "/home/*/src/[docs": syntax error in pattern; ` +
				`match::user: glob "{alice": syntax error in pattern; ` +
				`match::agent: regex "*": error parsing regexp: missing argument to repetition operator: ` + "`*`",
		},
		{
			name: "rule that sets nothing",
			cfg:  Config{Rules: []Rule{payments, {Name: "docs", Match: Match{Repository: "acme/docs-site"}}}},
			want: `rules::1 ("docs"): ` + setsNothing,
		},
		{
			name: "rule with neither match nor set",
			cfg:  Config{Rules: []Rule{{}}},
			want: `rules::0: ` + setsNothing,
		},
		{
			name: "bad ticket pattern",
			cfg:  Config{Ticket: TicketConfig{Pattern: `(PAY-[0-9]+`}},
			want: "ticket::pattern: error parsing regexp: missing closing ): `(PAY-[0-9]+`",
		},
		{
			name: "bad ticket mapping entries, in key order",
			cfg: Config{Ticket: TicketConfig{Mapping: map[string]string{
				"regex:hotfix/(.*": "OPS-911",
				"main":             "",
				"":                 "OPS-0",
				"release/[0-":      "REL-1",
				"release/**":       "REL-100",
			}}},
			want: `ticket::mapping::"": empty branch key` + "\n" +
				`ticket::mapping::"main": empty ticket` + "\n" +
				`ticket::mapping::"regex:hotfix/(.*": regex "hotfix/(.*": error parsing regexp: missing closing ): ` + "`hotfix/(.*`" + "\n" +
				`ticket::mapping::"release/[0-": glob "release/[0-": syntax error in pattern`,
		},
		{
			name: "mapping file extension",
			cfg:  Config{MappingFile: "/etc/otelcol/teams.json"},
			want: `mapping_file: "/etc/otelcol/teams.json": want a .yaml, .yml or .csv file`,
		},
		{
			name: "negative reload interval",
			cfg:  Config{ReloadInterval: -time.Second},
			want: "reload_interval: -1s: must not be negative",
		},
		{
			name: "blank unattributed",
			cfg:  Config{Unattributed: "  "},
			want: `unattributed: "  ": must not be blank`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.EqualError(t, tc.cfg.Validate(), tc.want)
			_, err := New(tc.cfg, nil)
			assert.EqualError(t, err, tc.want, "New refuses what Validate refuses")
		})
	}
}

func TestValidateReportsEveryError(t *testing.T) {
	err := Config{
		Rules: []Rule{
			{Name: "a", Match: Match{Branch: "regex:("}},
			{Set: Set{Team: "ok"}},
			{Match: Match{Repository: "acme/[x"}, Set: Set{Team: "b"}},
		},
		Ticket:         TicketConfig{Pattern: "("},
		ReloadInterval: -1,
	}.Validate()
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 4, err.Error())
	assert.Equal(t, `rules::0 ("a"): match::branch: regex "(": error parsing regexp: missing closing ): `+"`(`; "+setsNothing, lines[0])
	assert.Equal(t, `rules::2: match::repository: glob "acme/[x": syntax error in pattern`, lines[1])
	assert.True(t, strings.HasPrefix(lines[2], "ticket::pattern: "), lines[2])
	assert.Equal(t, "reload_interval: -1ns: must not be negative", lines[3])
}

func TestValidateAccepts(t *testing.T) {
	for name, cfg := range map[string]Config{
		"zero value":               {},
		"catch-all rule, no match": {Rules: []Rule{{Set: Set{CostCenter: "CC-4100"}}}},
		"ticket-only rule":         {Rules: []Rule{{Match: Match{Branch: "main"}, Set: Set{Ticket: "OPS-1"}}}},
		"pattern without a group":  {Ticket: TicketConfig{Pattern: `[A-Z]+-[0-9]+`}},
		"pattern off":              {Ticket: TicketConfig{Pattern: TicketPatternNone}},
		"default pattern spelled":  {Ticket: TicketConfig{Pattern: DefaultTicketPattern}},
		"upper-case extension":     {MappingFile: "teams.YML"},
		"csv":                      {MappingFile: "teams.csv"},
		"custom unattributed":      {Unattributed: "n/a"},
		"distinct names": {Rules: []Rule{
			{Name: "a", Set: Set{Team: "x"}}, {Name: "b", Set: Set{Team: "y"}},
		}},
	} {
		assert.NoError(t, cfg.Validate(), name)
	}
}

// TestUnmarshal checks the mapstructure keys, as the processor's
// configuration gives them, and that an unknown key is refused.
func TestUnmarshal(t *testing.T) {
	conf := confmap.NewFromStringMap(map[string]any{
		"rules": []any{
			map[string]any{
				"name":  "payments",
				"match": map[string]any{"repository": "acme/payments-*", "branch": "feature/**", "git_root": "/home/*/src/**", "user": "alice", "agent": "main"},
				"set":   map[string]any{"team": "payments", "project": "payments-platform", "cost_center": "CC-1001", "ticket": "PAY-1"},
			},
		},
		"ticket": map[string]any{
			"pattern": `#([0-9]+)`,
			"mapping": map[string]any{"release/PAY-*": "REL-100", "Main": "OPS-1"},
		},
		"mapping_file":    "/etc/otelcol/teams.yaml",
		"reload_interval": "30s",
		"unattributed":    "n/a",
	})
	var cfg Config
	require.NoError(t, conf.Unmarshal(&cfg))
	assert.Equal(t, Config{
		Rules: []Rule{{
			Name:  "payments",
			Match: Match{Repository: "acme/payments-*", Branch: "feature/**", GitRoot: "/home/*/src/**", User: "alice", Agent: "main"},
			Set:   Set{Team: "payments", Project: "payments-platform", CostCenter: "CC-1001", Ticket: "PAY-1"},
		}},
		Ticket:         TicketConfig{Pattern: `#([0-9]+)`, Mapping: map[string]string{"release/PAY-*": "REL-100", "Main": "OPS-1"}},
		MappingFile:    "/etc/otelcol/teams.yaml",
		ReloadInterval: 30 * time.Second,
		Unattributed:   "n/a",
	}, cfg, "ticket mapping keys keep their case")
	require.NoError(t, cfg.Validate())

	bad := confmap.NewFromStringMap(map[string]any{
		"rules": []any{map[string]any{"match": map[string]any{"repo": "acme/x"}, "set": map[string]any{"team": "a"}}},
	})
	err := bad.Unmarshal(&Config{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "repo")
}
