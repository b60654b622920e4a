package jiraexporter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		conf map[string]any
		errs []string
	}{
		{name: "cloud", conf: map[string]any{"endpoint": "https://acme.atlassian.net", "email": "a@b", "token": "t", "fields": map[string]any{"number": "customfield_10100"}}},
		{name: "data center with a file", conf: map[string]any{"endpoint": "https://jira", "deployment": "data_center", "token_file": "/run/t", "comment": true}},
		{name: "dry run needs no credentials", conf: map[string]any{"endpoint": "https://jira", "dry_run": true, "comment": true}},
		{name: "empty", conf: map[string]any{}, errs: []string{"endpoint: must be set", "email: must be set", "token: must be set", "nothing to write"}},
		{name: "bad", conf: map[string]any{
			"endpoint": "https://jira", "deployment": "server", "token": "t", "token_file": "/f",
			"fields": map[string]any{"number": "custom field", "value": "dollars", "text": "customfield_1"},
		}, errs: []string{`deployment: "server"`, "token, token_file: set one", `fields::number: "custom field"`, `fields::value: "dollars"`, "fields::template: must be set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			require.NoError(t, confmap.NewFromStringMap(tt.conf).Unmarshal(cfg))
			err := cfg.Validate()
			if len(tt.errs) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, e := range tt.errs {
				assert.Contains(t, err.Error(), e)
			}
		})
	}
}

// The exporter helper drops a request after retry_on_failure's
// max_elapsed_time, and with it the comments of its summaries (and a field
// no later summary rewrites). This exporter's default retries until Jira
// answers, so a persistent sending queue rides out an outage of any length.
func TestDefaultConfigRetriesUntilJiraAnswers(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.True(t, cfg.RetryConfig.Enabled)
	assert.Zero(t, cfg.RetryConfig.MaxElapsedTime, "retry_on_failure::max_elapsed_time: 0, never give up")
	assert.NotZero(t, cfg.RetryConfig.MaxInterval, "retries stay spaced out")
	require.NoError(t, cfg.RetryConfig.Validate())
}
