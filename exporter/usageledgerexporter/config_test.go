package usageledgerexporter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

func TestValidate(t *testing.T) {
	require.NoError(t, testConfig("/var/lib/ledger").Validate())
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no directory", func(c *Config) { c.Directory = "" }, "directory: must be set"},
		{"collector with a slash", func(c *Config) { c.Collector = "a/b" }, `collector: "a/b" must be`},
		{"unknown format", func(c *Config) { c.Formats = []string{"csv", "orc"} }, `formats::1: "orc" is not a format (csv, parquet)`},
		{"parquet alone", func(c *Config) { c.Formats = []string{"parquet"} }, `formats: ["parquet"] must include csv`},
		{"no billing account", func(c *Config) { c.BillingAccount.ID = "" }, "billing_account::id: must be set"},
		{"currency", func(c *Config) { c.Currency = "usd" }, `currency: "usd" is not an ISO 4217 code`},
		{"attribute", func(c *Config) { c.Attributes.Ticket = "" }, "attributes::ticket: must be set"},
		{"batch split by size", func(c *Config) {
			q := exporterhelper.NewDefaultQueueConfig()
			q.Batch.GetOrInsertDefault().MaxSize = 10_000
			c.QueueConfig = configoptional.Some(q)
		}, "sending_queue::batch::max_size: 10000: must not be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig("/var/lib/ledger")
			tt.edit(c)
			assert.ErrorContains(t, c.Validate(), tt.want)
		})
	}
	assert.Regexp(t, `^[A-Za-z0-9][A-Za-z0-9._-]*$`, createDefaultConfig().(*Config).Collector, "the host name, as a file name")
}
