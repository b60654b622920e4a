package notifyexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/notifyexporter"

import (
	"errors"
	"fmt"
	"net/url"
	"text/template"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
)

// Config is the notify exporter's configuration.
type Config struct {
	// Destinations are where each budget crossing is sent, every one of
	// them once.
	Destinations []Destination `mapstructure:"destinations"`
	// Storage is a storage extension that remembers, per destination, the
	// crossing ids it accepted, so that a restart never sends them again.
	// Without it they are remembered in memory only.
	Storage *component.ID `mapstructure:"storage"`
	// Sessions, with min_cost set, also sends one message per session
	// whose cost passes min_cost, to every destination.
	Sessions Sessions `mapstructure:"sessions"`

	QueueConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	RetryConfig configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`
}

// Sessions configures the messages about costly sessions.
type Sessions struct {
	// MinCost is a decimal amount in the chargeback processor's currency:
	// a session summary (copilot.session.summary) whose
	// copilot.session.cost_exact is at least this sends one message, once
	// per session. Empty: no session messages.
	MinCost string `mapstructure:"min_cost"`
	// Template is the text/template of the message, rendered with the
	// session's fields (README). Default: defaultSessionTemplate.
	Template string `mapstructure:"template"`
	// MaxAge: a summary whose leg ended longer ago than this when it
	// reaches the exporter sends no message (counted): a first start
	// reads months of history, as budgets keep past windows silent. 0: no
	// limit. Default 24h.
	MaxAge time.Duration `mapstructure:"max_age"`
}

// Destination is one webhook.
type Destination struct {
	// Name identifies the destination in the stored crossing ids and the
	// exporter's metrics; renaming it sends every crossing again.
	Name string `mapstructure:"name"`
	// Kind is slack (incoming webhook), teams (workflow webhook, Adaptive
	// Card) or webhook (generic JSON, signed with Secret).
	Kind string `mapstructure:"kind"`
	// URL is the webhook's address; it is a secret (`${env:SLACK_WEBHOOK_URL}`).
	URL configopaque.String `mapstructure:"url"`
	// Template is a Go text/template rendered with a crossing's fields
	// (README) into the message's text. Default: defaultTemplate.
	Template string `mapstructure:"template"`
	// Secret, on a webhook destination, signs each body with HMAC-SHA256.
	Secret configopaque.String `mapstructure:"secret"`
	// Timeout bounds one request. Default: 10s.
	Timeout time.Duration `mapstructure:"timeout"`
}

const (
	kindSlack   = "slack"
	kindTeams   = "teams"
	kindWebhook = "webhook"
)

// defaultTemplate is the text of a message when a destination sets none.
const defaultTemplate = `Budget {{.Budget}}: {{.Scope}} {{.Value}} reached {{.Threshold}}% — {{.Spend}} {{.Currency}} of {{.Limit}} {{.Currency}} in {{.WindowStart}} to {{.WindowEnd}}` +
	`{{if .TopSessions}}. Top sessions: {{range $i, $s := .TopSessions}}{{if $i}}, {{end}}{{$s.Session}} ({{$s.Spend}} {{$.Currency}}){{end}}{{end}}`

// Validate checks the configuration, naming each bad key and value.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Destinations) == 0 {
		errs = append(errs, errors.New("destinations: at least one must be set"))
	}
	names := map[string]bool{}
	for i, d := range c.Destinations {
		key := fmt.Sprintf("destinations::%d", i)
		if d.Name == "" {
			errs = append(errs, fmt.Errorf("%s::name: must be set", key))
		} else if names[d.Name] {
			errs = append(errs, fmt.Errorf("%s::name: %q is used twice", key, d.Name))
		}
		names[d.Name] = true
		switch d.Kind {
		case kindSlack, kindTeams:
			if d.Secret != "" {
				errs = append(errs, fmt.Errorf("%s::secret: only a webhook destination is signed (kind is %q)", key, d.Kind))
			}
		case kindWebhook:
		default:
			errs = append(errs, fmt.Errorf("%s::kind: %q is not a kind (slack, teams, webhook)", key, d.Kind))
		}
		if u, err := url.Parse(string(d.URL)); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// The URL is a secret: say what is wrong, not what it is.
			errs = append(errs, fmt.Errorf("%s::url: must be an http or https URL", key))
		}
		if _, err := parseTemplate(d); err != nil {
			errs = append(errs, fmt.Errorf("%s::template: %w", key, err))
		}
		if d.Timeout < 0 {
			errs = append(errs, fmt.Errorf("%s::timeout: %s must not be negative", key, d.Timeout))
		}
	}
	if c.Sessions.MinCost != "" {
		if m, err := money.ParseDecimal(c.Sessions.MinCost); err != nil || m.Sign() <= 0 {
			errs = append(errs, fmt.Errorf("sessions::min_cost: %q is not a positive decimal amount", c.Sessions.MinCost))
		}
	} else if c.Sessions.Template != "" {
		errs = append(errs, errors.New("sessions::template: set sessions::min_cost too, or no session message is sent"))
	}
	if c.Sessions.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("sessions::max_age: %s must not be negative (0: no limit)", c.Sessions.MaxAge))
	}
	if _, err := parseSessionTemplate(c.Sessions); err != nil {
		errs = append(errs, fmt.Errorf("sessions::template: %w", err))
	}
	return errors.Join(errs...)
}

func parseSessionTemplate(s Sessions) (*template.Template, error) {
	text := s.Template
	if text == "" {
		text = defaultSessionTemplate
	}
	return template.New("sessions").Option("missingkey=error").Parse(text)
}

func parseTemplate(d Destination) (*template.Template, error) {
	text := d.Template
	if text == "" {
		text = defaultTemplate
	}
	return template.New(d.Name).Option("missingkey=error").Parse(text)
}
