package main

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.yaml.in/yaml/v3"
)

// TestRenderConfigs checks that every shape and the gateway render to YAML
// with the pieces the verdict depends on.
func TestRenderConfigs(t *testing.T) {
	d := configData{GatewayPort: 1234, TelemetryPort: 5678, StateDir: "/s", Include: "/h/*/events.jsonl", OutDir: "/o", Signals: signals}
	for _, name := range append([]string{"gateway.yaml"}, shapeNames()...) {
		file := name
		if name != "gateway.yaml" {
			file = "shapes/" + name + ".yaml"
		}
		t.Run(name, func(t *testing.T) {
			b, err := renderConfig(file, d)
			require.NoError(t, err)
			var m map[string]any
			require.NoError(t, yaml.Unmarshal(b, &m), string(b))
			conf := confmap.NewFromStringMap(m)
			if name == "gateway.yaml" {
				require.Equal(t, "127.0.0.1:1234", conf.Get("receivers::otlp::protocols::http::endpoint"))
				return
			}
			require.Equal(t, "http://127.0.0.1:1234", conf.Get("exporters::otlp_http::endpoint"))
			require.Equal(t, true, conf.Get("receivers::copilot::resource_attributes::session.id::enabled"))
			require.Equal(t, []any{"/h/*/events.jsonl"}, conf.Get("receivers::copilot::session_state::include"))
			require.Equal(t, "file_storage", conf.Get("receivers::copilot::session_state::storage"))
			require.Equal(t, 5678, conf.Get("service::telemetry::metrics::readers").([]any)[0].(map[string]any)["pull"].(map[string]any)["exporter"].(map[string]any)["prometheus"].(map[string]any)["port"])
		})
	}
}

// TestRenderLedgerGateway: with -ledger the gateway prices the metrics and
// keeps the ledger through a persistent queue, next to the file it always
// writes.
func TestRenderLedgerGateway(t *testing.T) {
	d := configData{GatewayPort: 1234, OutDir: "/o", Signals: signals, Ledger: true}
	b, err := renderConfig("gateway.yaml", d)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, yaml.Unmarshal(b, &m), string(b))
	conf := confmap.NewFromStringMap(m)
	require.Equal(t, "/o/ledger", conf.Get("exporters::usage_ledger::directory"))
	require.Equal(t, "file_storage/ledger", conf.Get("exporters::usage_ledger::sending_queue::storage"))
	require.Equal(t, []any{"otlp"}, conf.Get("service::pipelines::metrics/ledger::receivers"))
	require.Equal(t, []any{"chargeback"}, conf.Get("service::pipelines::metrics/ledger::processors"))
	require.Equal(t, []any{"file/metrics"}, conf.Get("service::pipelines::metrics::exporters"))
	require.Equal(t, []any{"file_storage/ledger"}, conf.Get("service::extensions"))
}
