package jiraexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/jiraexporter"

import (
	"errors"
	"fmt"
	"regexp"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

// Config is the jira exporter's configuration.
type Config struct {
	// ClientConfig is the HTTP client; its endpoint is the Jira site's base
	// URL (https://acme.atlassian.net, https://jira.acme.internal).
	confighttp.ClientConfig `mapstructure:",squash"`

	// Deployment is cloud (REST v3, email and API token, basic auth) or
	// data_center (Jira Data Center or Server: REST v2, a personal access
	// token as a bearer token).
	Deployment string `mapstructure:"deployment"`
	// Email is the Atlassian account of the API token (cloud only).
	Email string `mapstructure:"email"`
	// Token is the API token (cloud) or personal access token
	// (data_center). Set it from the environment: token: ${env:JIRA_TOKEN}.
	Token configopaque.String `mapstructure:"token"`
	// TokenFile, instead of token, is a file the token is read from at
	// start (surrounding white space trimmed).
	TokenFile string `mapstructure:"token_file"`

	// Fields are the issue fields set to the ticket's total.
	Fields Fields `mapstructure:"fields"`
	// Comment posts one comment per session leg with the session's usage.
	Comment bool `mapstructure:"comment"`
	// TicketAttribute is the log record attribute the chargeback processor
	// puts the ticket in (its attributes::ticket).
	TicketAttribute string `mapstructure:"ticket_attribute"`
	// Unattributed is the ticket value of sessions without a ticket (the
	// chargeback processor's attribution::unattributed); they are ignored.
	Unattributed string `mapstructure:"unattributed"`
	// Storage is the storage extension that keeps the per-session totals
	// and the comments posted. Without it they are kept in memory, and a
	// restart forgets them (the next session of a ticket then writes the
	// total of the sessions seen since).
	Storage *component.ID `mapstructure:"storage"`
	// DryRun logs what would be written and writes nothing.
	DryRun bool `mapstructure:"dry_run"`

	TimeoutConfig exporterhelper.TimeoutConfig                             `mapstructure:",squash"`
	QueueConfig   configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	RetryConfig   configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`
}

// Fields names the custom fields written.
type Fields struct {
	// Number is the id of a number field (customfield_10100) set to the
	// ticket's total of Value; empty: not written.
	Number string `mapstructure:"number"`
	// Value is what the number field holds: credits (AI credits, nano-AIU
	// / 1e9), cost (in the chargeback processor's currency, from its
	// copilot.session.cost_exact), premium_requests or tokens.
	Value string `mapstructure:"value"`
	// Text is the id of a text field set from Template; empty: not written.
	Text string `mapstructure:"text"`
	// Template is the text field's value; {{credits}}, {{tokens}},
	// {{premium_requests}}, {{sessions}}, {{cost}} and {{currency}} are
	// replaced by the ticket's totals.
	Template string `mapstructure:"template"`
}

const (
	deploymentCloud      = "cloud"
	deploymentDataCenter = "data_center"

	valueCredits         = "credits"
	valueCost            = "cost"
	valuePremiumRequests = "premium_requests"
	valueTokens          = "tokens"
)

var fieldID = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Validate checks the configuration, naming each bad key and value.
func (c *Config) Validate() error {
	var errs []error
	if c.Endpoint == "" {
		errs = append(errs, errors.New("endpoint: must be set (the Jira site's base URL)"))
	}
	switch c.Deployment {
	case deploymentCloud:
		if c.Email == "" && !c.DryRun {
			errs = append(errs, errors.New("email: must be set for deployment cloud"))
		}
	case deploymentDataCenter:
	default:
		errs = append(errs, fmt.Errorf("deployment: %q is not cloud or data_center", c.Deployment))
	}
	if c.Token != "" && c.TokenFile != "" {
		errs = append(errs, errors.New("token, token_file: set one, not both"))
	}
	if c.Token == "" && c.TokenFile == "" && !c.DryRun {
		errs = append(errs, errors.New("token: must be set (or token_file)"))
	}
	if c.Fields.Number == "" && c.Fields.Text == "" && !c.Comment {
		errs = append(errs, errors.New("fields: set fields::number, fields::text or comment: true, or there is nothing to write"))
	}
	for key, v := range map[string]string{"fields::number": c.Fields.Number, "fields::text": c.Fields.Text} {
		if v != "" && !fieldID.MatchString(v) {
			errs = append(errs, fmt.Errorf("%s: %q is not a field id (customfield_10100)", key, v))
		}
	}
	switch c.Fields.Value {
	case valueCredits, valueCost, valuePremiumRequests, valueTokens:
	default:
		errs = append(errs, fmt.Errorf("fields::value: %q is not credits, cost, premium_requests or tokens", c.Fields.Value))
	}
	if c.Fields.Text != "" && c.Fields.Template == "" {
		errs = append(errs, errors.New("fields::template: must be set with fields::text"))
	}
	if c.TicketAttribute == "" {
		errs = append(errs, errors.New("ticket_attribute: must be set"))
	}
	return errors.Join(errs...)
}
