package attribution

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

const (
	// DefaultUnattributed is the value of a field nothing decided.
	DefaultUnattributed = "unattributed"
	// DefaultReloadInterval is how often the mapping file is checked.
	DefaultReloadInterval = 10 * time.Second
	// DefaultTicketPattern finds a Jira-style key ("PAY-4411") that starts
	// the branch or follows a character other than an ASCII letter or digit.
	DefaultTicketPattern = `(?:^|[^A-Za-z0-9])([A-Z][A-Z0-9]{1,9}-[0-9]+)`
	// TicketPatternNone as ticket.pattern turns extraction off.
	TicketPatternNone = "none"
	// RegexPrefix marks a match value or ticket mapping key as a regular
	// expression rather than a glob.
	RegexPrefix = "regex:"
)

// Ticket sources reported in [Result.TicketSource].
const (
	TicketFromMapping = "mapping"
	TicketFromRule    = "rule"
	TicketFromPattern = "pattern"
)

// Input is what is known of where the spend happened.
type Input struct {
	Repository string // "owner/name" (e.g. "acme/payments-api"), may be empty
	Branch     string // e.g. "feature/PAY-4411-refund-retries"
	GitRoot    string // absolute path of the git work tree
	User       string
	Agent      string // "main" or a subagent name such as "explore"
}

// Result is the attribution. Fields nothing decided are the configured
// Unattributed value, never empty. Ticket may share memory with the
// Input's Branch.
type Result struct {
	Team, Project, CostCenter, Ticket string
	// Rule is the name of the rule that set Team, else Project, else
	// CostCenter; "" if no rule set any of them.
	Rule string
	// TicketSource is TicketFromMapping, TicketFromRule, TicketFromPattern,
	// or "" when the ticket is unattributed.
	TicketSource string
}

// Config configures attribution. The zero value is valid: no rules, the
// default ticket pattern, everything else unattributed.
type Config struct {
	Rules  []Rule       `mapstructure:"rules"`
	Ticket TicketConfig `mapstructure:"ticket"`
	// MappingFile is an optional YAML (.yaml, .yml) or CSV (.csv) file of
	// rules (and, in YAML, tickets), evaluated before Rules and reloaded
	// when it changes.
	MappingFile string `mapstructure:"mapping_file"`
	// ReloadInterval is how often the mapping file's size, modification time
	// and identity are checked; 0 means DefaultReloadInterval.
	ReloadInterval time.Duration `mapstructure:"reload_interval"`
	// Unattributed is the value of a field nothing decided; "" means
	// DefaultUnattributed.
	Unattributed string `mapstructure:"unattributed"`
}

// Rule sets fields of the Result when its Match holds.
type Rule struct {
	// Name defaults to "rules[i]" (inline) or "<file>:<line>" (mapping file).
	Name  string `mapstructure:"name"`
	Match Match  `mapstructure:"match"`
	Set   Set    `mapstructure:"set"`
}

// Match constrains the Input: every non-empty field must match (AND). A value
// is a doublestar glob, or an anchored RE2 expression when prefixed "regex:".
// An empty Match matches everything.
type Match struct {
	Repository string `mapstructure:"repository"`
	Branch     string `mapstructure:"branch"`
	GitRoot    string `mapstructure:"git_root"`
	User       string `mapstructure:"user"`
	Agent      string `mapstructure:"agent"`
}

// Set is what a rule attributes; an empty field is not set.
type Set struct {
	Team       string `mapstructure:"team"`
	Project    string `mapstructure:"project"`
	CostCenter string `mapstructure:"cost_center"`
	Ticket     string `mapstructure:"ticket"`
}

// TicketConfig configures how the ticket is found.
type TicketConfig struct {
	// Pattern is a regular expression searched for in the branch; its first
	// capture group (or the whole match if it has none) is the ticket. ""
	// means DefaultTicketPattern; "none" disables extraction.
	Pattern string `mapstructure:"pattern"`
	// Mapping maps a branch to a fixed ticket. A key is an exact branch, a
	// glob or a "regex:" expression, as Match values are; the exact key is
	// looked up first, then the others in sorted key order. It is checked
	// before rules and before Pattern.
	Mapping map[string]string `mapstructure:"mapping"`
}

// Validate checks the inline configuration: that every glob and regular
// expression compiles, that every rule sets something, and that the mapping
// file has a known extension. It does not read the mapping file; New and
// ValidateMappingFile do.
// Errors name the key below attribution, as the collector's own
// validation names keys, and the rule, e.g.
// `rules::2 ("payments"): match::branch: regex "(": ...`; the collector puts
// the path to attribution before it.
func (c Config) Validate() error {
	_, err := compileConfig(c)
	return err
}

func (c Config) unattributed() string {
	if c.Unattributed == "" {
		return DefaultUnattributed
	}
	return c.Unattributed
}

func (c Config) reloadInterval() time.Duration {
	if c.ReloadInterval == 0 {
		return DefaultReloadInterval
	}
	return c.ReloadInterval
}

// compiled is the inline configuration, compiled.
type compiled struct {
	rules   []compiledRule
	tickets map[string]string // inline ticket.mapping, validated
	pattern ticketPattern
}

func compileConfig(c Config) (*compiled, error) {
	var errs []error
	out := &compiled{}

	names := make(map[string]int, len(c.Rules))
	for i, r := range c.Rules {
		where := fmt.Sprintf("rules::%d", i)
		if r.Name != "" {
			where += fmt.Sprintf(" (%q)", r.Name)
		}
		name := r.Name
		if name == "" {
			name = fmt.Sprintf("rules[%d]", i)
		} else if j, dup := names[name]; dup {
			errs = append(errs, fmt.Errorf("%s: name: also the name of rules::%d", where, j))
		} else {
			names[name] = i
		}
		cr, err := compileRule(r, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		out.rules = append(out.rules, cr)
	}

	p, err := compilePattern(c.Ticket.Pattern)
	if err != nil {
		errs = append(errs, fmt.Errorf("ticket::pattern: %w", err))
	}
	out.pattern = p

	errs = append(errs, validateTickets("ticket::mapping", c.Ticket.Mapping)...)
	out.tickets = c.Ticket.Mapping

	if c.MappingFile != "" && !knownMappingExt(c.MappingFile) {
		errs = append(errs, fmt.Errorf("mapping_file: %q: want a .yaml, .yml or .csv file", c.MappingFile))
	}
	if c.ReloadInterval < 0 {
		errs = append(errs, fmt.Errorf("reload_interval: %v: must not be negative", c.ReloadInterval))
	}
	if strings.TrimSpace(c.Unattributed) == "" && c.Unattributed != "" {
		errs = append(errs, fmt.Errorf("unattributed: %q: must not be blank", c.Unattributed))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// knownMappingExt reports whether a mapping file's extension is one it may
// have.
func knownMappingExt(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".csv":
		return true
	}
	return false
}

// validateTickets checks ticket mapping keys and values; each error names
// where[key].
func validateTickets(where string, m map[string]string) []error {
	var errs []error
	for _, k := range sortedKeys(m) {
		if k == "" {
			errs = append(errs, fmt.Errorf(`%s::"": empty branch key`, where))
			continue
		}
		if m[k] == "" {
			errs = append(errs, fmt.Errorf("%s::%q: empty ticket", where, k))
		}
		if _, err := compileMatcher(k); err != nil {
			errs = append(errs, fmt.Errorf("%s::%q: %w", where, k, err))
		}
	}
	return errs
}
