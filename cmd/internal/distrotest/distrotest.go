// Package distrotest holds what the tests of the two distributions
// (cmd/otelcol-copilot, the laptop one, and cmd/otelcol-copilot-gateway)
// share: which example configuration each distribution runs, the
// variables the examples read, and the check that a configuration keeps the
// copilot receiver's promise under kill -9.
package distrotest // import "github.com/otelcol-copilot/otelcol-copilot/cmd/internal/distrotest"

import (
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/otelcol"

	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"
)

// LaptopExamples are the configurations under examples/ that the laptop
// distribution runs: their components are all in builder-config.yaml. The
// others need the gateway distribution (builder-config-gateway.yaml),
// which runs every example. The laptop's TestExamples holds this list to
// what the laptop's components load.
var LaptopExamples = map[string]bool{
	"central-hooks.yaml":  true,
	"chargeback.yaml":     true,
	"datadog-agent.yaml":  true,
	"datadog-intake.yaml": true,
	"honeycomb.yaml":      true,
}

// Examples returns the example configurations, as paths relative to the
// repository's root (the tests run from there, as the README runs them).
func Examples(t *testing.T, root string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "examples", "*.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 9)
	out := make([]string, 0, len(files))
	for _, f := range files {
		out = append(out, filepath.ToSlash(filepath.Join("examples", filepath.Base(f))))
	}
	sort.Strings(out)
	return out
}

// ExampleEnv sets the variables the example configurations read, with
// values that validate.
func ExampleEnv(t *testing.T) {
	for k, v := range map[string]string{
		"DD_API_KEY": "test-key", "DD_SITE": "datadoghq.com", "HONEYCOMB_API_KEY": "test-key",
		"OTELCOL_COPILOT_HOOK_TOKEN": "test-token", "OTELCOL_COPILOT_AGENT_TOKEN": "test-token",
		"SLACK_WEBHOOK_URL":  "https://hooks.slack.com/services/T0/B0/test",
		"TEAMS_WEBHOOK_URL":  "https://example.invalid/workflows/test",
		"NOTIFY_WEBHOOK_URL": "https://example.invalid/notify", "NOTIFY_WEBHOOK_SECRET": "test-secret",
		"JIRA_URL": "https://acme.example.invalid", "JIRA_EMAIL": "bot@acme.example.invalid", "JIRA_API_TOKEN": "test-token",
		"JIRA_AI_CREDITS_FIELD": "customfield_10100", "JIRA_AI_USAGE_FIELD": "customfield_10101",
	} {
		t.Setenv(k, v)
	}
}

// CommitAfterExport holds a configuration to the shape that keeps the
// receiver's promise under kill -9 (see the receiver README, "What a crash
// can cost"): no pipeline the copilot receiver feeds has a batch processor
// (it acknowledges before export, and the receiver commits its checkpoint
// on that acknowledgement), and its exporters either answer only after the
// backend did (no sending queue, or an exporter without one) or keep what
// they acknowledged on disk (a persistent queue) when the collector only
// takes hook payloads, when the exporter drops what it is sent again
// (IdempotentSinks), or when persistentOK says the configuration chose the
// receiver README's second row (re-sent identically after a kill) for that
// exporter.
func CommitAfterExport(t *testing.T, cfg *otelcol.Config, persistentOK func(component.ID) bool) {
	t.Helper()
	copilotType := component.MustNewType("copilot")
	for pid, p := range cfg.Service.Pipelines {
		hooksOnly, fed := true, false
		for _, r := range p.Receivers {
			if r.Type() != copilotType {
				continue
			}
			fed = true
			rc := cfg.Receivers[r].(*copilotreceiver.Config)
			if !rc.Hooks.HasValue() || rc.Hooks.Get().Accounting != copilotreceiver.AccountingHooks {
				hooksOnly = false
			}
		}
		if !fed {
			continue
		}
		for _, id := range p.Processors {
			assert.NotEqual(t, "batch", id.Type().String(), "pipeline %s: the batch processor acknowledges before export", pid)
		}
		for _, id := range p.Exporters {
			queue, persistent, has := SendingQueue(cfg.Exporters[id])
			if !has {
				continue // exports before it returns
			}
			if hooksOnly || IdempotentSinks[id.Type().String()] || (persistentOK != nil && persistentOK(id)) {
				assert.True(t, !queue || persistent, "pipeline %s, exporter %s: an in-memory queue loses what it acknowledged at a kill", pid, id)
			} else {
				assert.False(t, queue, "pipeline %s, exporter %s: the copilot receiver reads transcripts; set sending_queue.enabled: false (the transcripts are the queue)", pid, id)
			}
		}
	}
}

// IdempotentSinks are exporters that drop what they are sent again by their
// own ids (a crossing id, a ticket total recomputed from per-session totals,
// a ledger row id): a batch a persistent queue took but the receiver had not
// committed when it was killed is sent again and changes nothing, so they
// may keep one and not hold up the transcripts while their service is down.
var IdempotentSinks = map[string]bool{"notify": true, "jira": true, "usage_ledger": true}

// SendingQueue reports whether an exporter's configuration has an
// exporterhelper sending queue (has), whether it is on, and whether it is
// kept in a storage extension.
func SendingQueue(cfg component.Config) (on, persistent, has bool) {
	v := reflect.ValueOf(cfg)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	f := v.FieldByName("QueueConfig")
	if !f.IsValid() || !f.CanAddr() {
		return false, false, false
	}
	q, ok := f.Addr().Interface().(*configoptional.Optional[exporterhelper.QueueBatchConfig])
	if !ok {
		return false, false, false
	}
	if !q.HasValue() {
		return false, false, true
	}
	return true, q.Get().StorageID != nil, true
}
