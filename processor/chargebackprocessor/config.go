package chargebackprocessor // import "github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor"

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.opentelemetry.io/collector/component"

	shared "github.com/otelcol-copilot/otelcol-copilot/internal/chargeback"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/attribution"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/pricing"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/budget"
)

// The attributions the processor sets, by their keys in attributes:.
const (
	keyTeam       = "team"
	keyProject    = "project"
	keyCostCenter = "cost_center"
	keyTicket     = "ticket"
)

var attributionKeys = []string{keyTeam, keyProject, keyCostCenter, keyTicket}

// Values of join.on_miss.
const (
	OnMissHold = "hold"
	OnMissPass = "pass"
)

// Modes of the processor.
const (
	// ModeFull attributes, prices and counts budgets.
	ModeFull = "full"
	// ModeAttribute only attributes: the first tier of a fleet, whose
	// load_balancing exporter routes by the attribution (team) to the
	// gateways that price and keep the budgets. session.id stays on
	// metrics for them.
	ModeAttribute = "attribute"
)

// Config is the configuration of the chargeback processor.
type Config struct {
	// Mode is full (attribute, price, budgets) or attribute (attribute
	// only, for the routing tier of a fleet).
	Mode string `mapstructure:"mode"`

	// Attributes names the attributes the processor sets: team, project,
	// cost_center and ticket map to the attribute names to use.
	Attributes map[string]string `mapstructure:"attributes"`

	// Attribution are the rules, the ticket extraction and the mapping
	// file.
	Attribution attribution.Config `mapstructure:"attribution"`

	// Pricing prices usage.
	Pricing pricing.Config `mapstructure:"pricing"`

	// Join configures the session cache that lends the CLI's own
	// telemetry the context the receiver has seen.
	Join JoinConfig `mapstructure:"join"`

	// Budgets are the budgets tracked; crossings become log records.
	Budgets []budget.Config `mapstructure:"budgets"`
	// Storage is a storage extension that keeps budget spend and the
	// crossings emitted across restarts.
	Storage *component.ID `mapstructure:"storage"`

	// Metrics controls what reaches metrics.
	Metrics MetricsConfig `mapstructure:"metrics"`
}

// JoinConfig configures the session cache.
type JoinConfig struct {
	// MaxSessions bounds the cache; the least recently used are evicted.
	MaxSessions int `mapstructure:"max_sessions"`
	// TTL is how long a session's context is kept after it was last seen.
	TTL time.Duration `mapstructure:"ttl"`
	// OnMiss is what happens to the CLI's spans whose session is not in the
	// cache yet: hold (wait up to HoldTime for the receiver to report the
	// session, then pass them unattributed) or pass (unattributed at once).
	OnMiss string `mapstructure:"on_miss"`
	// HoldTime is how long spans wait for their session's context.
	HoldTime time.Duration `mapstructure:"hold_time"`
	// MaxHeld bounds the spans held; beyond it spans pass unattributed.
	MaxHeld int `mapstructure:"max_held"`
}

// MetricsConfig controls the attributes on metrics.
type MetricsConfig struct {
	// Attributes is the allow-list of the processor's attributes (by key:
	// team, project, cost_center, ticket) that are set on metrics. Spans
	// and logs get all of them.
	Attributes []string `mapstructure:"attributes"`
	// MaxValues caps the distinct values of an attribute on metrics (by
	// key); further values become "other", counted.
	MaxValues map[string]int `mapstructure:"max_values"`
	// SessionID keeps session.id on metrics; off, the processor removes it
	// (it stays on spans and logs).
	SessionID bool `mapstructure:"session_id"`
}

func createDefaultConfig() component.Config {
	defaults := shared.Default() // the report command's defaults too
	return &Config{
		Mode:        ModeFull,
		Attributes:  map[string]string{keyTeam: "team", keyProject: "project", keyCostCenter: "cost_center", keyTicket: "ticket"},
		Attribution: defaults.Attribution,
		Pricing:     defaults.Pricing,
		Join: JoinConfig{
			MaxSessions: 100000,
			TTL:         24 * time.Hour,
			OnMiss:      OnMissHold,
			HoldTime:    10 * time.Second,
			MaxHeld:     100000,
		},
		Metrics: MetricsConfig{
			Attributes: []string{keyTeam, keyProject, keyCostCenter, keyTicket},
			MaxValues:  map[string]int{keyTeam: 1000, keyProject: 1000, keyCostCenter: 1000, keyTicket: 10000},
		},
	}
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration; errors name the key at fault. The
// attribution rules, the pricing and each budget are checked by their own
// Validate, which the collector calls too (and New, at the latest). The
// mapping file is read and parsed here, so that `otelcol-copilot validate`
// refuses a missing or broken one naming its line, as the start would.
func (c *Config) Validate() error {
	var errs []error
	switch c.Mode {
	case ModeFull, "":
	case ModeAttribute:
		if len(c.Budgets) > 0 {
			errs = append(errs, errors.New("budgets: a processor in mode attribute keeps no budgets; set them on the gateways' chargeback processor (mode full), which the routing tier sends each team's spend to"))
		}
	default:
		errs = append(errs, fmt.Errorf("mode: %q is not full or attribute", c.Mode))
	}
	if err := c.Attribution.ValidateMappingFile(); err != nil {
		errs = append(errs, fmt.Errorf("attribution: %w", err))
	}
	for k, name := range c.Attributes {
		if !slices.Contains(attributionKeys, k) {
			errs = append(errs, fmt.Errorf("attributes::%s: not one of %v", k, attributionKeys))
		}
		if name == "" {
			errs = append(errs, fmt.Errorf("attributes::%s: empty attribute name", k))
		}
	}
	j := c.Join
	if j.MaxSessions < 1 {
		errs = append(errs, fmt.Errorf("join::max_sessions: %d must be at least 1", j.MaxSessions))
	}
	if j.TTL <= 0 {
		errs = append(errs, fmt.Errorf("join::ttl: %v must be positive", j.TTL))
	}
	switch j.OnMiss {
	case OnMissHold, OnMissPass:
	default:
		errs = append(errs, fmt.Errorf("join::on_miss: %q is not %q or %q", j.OnMiss, OnMissHold, OnMissPass))
	}
	if j.OnMiss == OnMissHold && (j.HoldTime <= 0 || j.MaxHeld < 1) {
		errs = append(errs, fmt.Errorf("join::hold_time (%v) and join::max_held (%d) must be positive when join::on_miss is hold", j.HoldTime, j.MaxHeld))
	}
	names := map[string]int{}
	for i, b := range c.Budgets {
		if j, dup := names[b.Name]; dup && b.Name != "" {
			errs = append(errs, fmt.Errorf("budgets::%d (%q): name: also the name of budgets::%d", i, b.Name, j))
		}
		names[b.Name] = i
	}
	for i, k := range c.Metrics.Attributes {
		if !slices.Contains(attributionKeys, k) {
			errs = append(errs, fmt.Errorf("metrics::attributes::%d: %q is not one of %v", i, k, attributionKeys))
		}
	}
	for k, n := range c.Metrics.MaxValues {
		if !slices.Contains(attributionKeys, k) {
			errs = append(errs, fmt.Errorf("metrics::max_values::%s: not one of %v", k, attributionKeys))
		}
		if n < 1 {
			errs = append(errs, fmt.Errorf("metrics::max_values::%s: %d must be at least 1", k, n))
		}
	}
	return errors.Join(errs...)
}

// attrName is the attribute name configured for a key.
func (c *Config) attrName(key string) string {
	if n := c.Attributes[key]; n != "" {
		return n
	}
	return key
}
