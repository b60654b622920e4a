package chargebackprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/budget"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/metadata"
)

func loadConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg, confmap.Validate(cfg)
}

func TestConfigDefault(t *testing.T) {
	cfg, err := loadConfig(t, "")
	require.NoError(t, err)
	assert.Equal(t, createDefaultConfig(), cfg)
	assert.Equal(t, "USD", cfg.Pricing.Currency)
	assert.Equal(t, OnMissHold, cfg.Join.OnMiss)
	assert.False(t, cfg.Metrics.SessionID)
}

func TestConfigFull(t *testing.T) {
	cfg, err := loadConfig(t, "full")
	require.NoError(t, err)
	assert.Equal(t, "jira.issue", cfg.attrName(keyTicket))
	require.Len(t, cfg.Attribution.Rules, 2)
	assert.Equal(t, "acme/payments-*", cfg.Attribution.Rules[0].Match.Repository)
	assert.Equal(t, "OPS-1", cfg.Attribution.Ticket.Mapping["main"])
	assert.Equal(t, 30*time.Second, cfg.Attribution.ReloadInterval)
	assert.Equal(t, "EUR", cfg.Pricing.Currency)
	assert.Equal(t, "8", cfg.Pricing.TokenPrices["gpt-4.1"].Output)
	assert.Equal(t, OnMissPass, cfg.Join.OnMiss)
	require.Len(t, cfg.Budgets, 2)
	assert.Equal(t, budget.PeriodFixed, cfg.Budgets[1].Period)
	assert.Equal(t, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), cfg.Budgets[1].End.UTC())
	assert.Equal(t, []float64{80, 100}, cfg.Budgets[1].Thresholds)
	require.NotNil(t, cfg.Storage)
	assert.Equal(t, "file_storage/chargeback", cfg.Storage.String())
	assert.Equal(t, []string{keyTeam, keyCostCenter}, cfg.Metrics.Attributes)
	assert.Equal(t, 200, cfg.Metrics.MaxValues[keyTeam])
	assert.Equal(t, 10000, cfg.Metrics.MaxValues[keyTicket], "the other defaults stay")
}

// TestConfigErrors: errors name the key and the value at fault, keys
// joined with "::" and list elements as their index, as the collector
// names them; the attribution, the pricing and each budget name keys below
// themselves, after the path the collector's validation puts first.
func TestConfigErrors(t *testing.T) {
	for name, want := range map[string][]string{
		"bad_rule":   {`attribution: rules::0 ("broken"): match::branch: regex "feature/([": error parsing regexp`},
		"bad_budget": {`budgets::0: scope: "galaxy" is not one of`, `amount: "-3": not a decimal amount`, `budgets::2 ("monthly"): name: also the name of budgets::1`},
		"bad_join": {
			`join::on_miss: "wait" is not "hold" or "pass"`, "join::max_sessions: 0 must be at least 1",
			`metrics::attributes::1: "session" is not one of`, "attributes::squad: not one of",
		},
		"bad_pricing": {`pricing: currency: "usd" is not an ISO 4217 code`, `token_prices::gpt-4.1::output: "two": not a decimal amount`},
		// The mapping file is read at validation, not only at start.
		"missing_mapping": {"attribution: mapping_file: stat testdata/no-such-teams.csv: "},
		"broken_mapping":  {`attribution: mapping_file: testdata/broken-teams.yaml:5: rules::0 ("ledger"): unknown key "matches"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(t, name)
			require.Error(t, err)
			for _, w := range want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}
