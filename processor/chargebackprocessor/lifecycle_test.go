package chargebackprocessor

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/goleak"

	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/budget"
	"github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor/internal/metadata"
)

// TestFailedStartStopsWhatItStarted: a start that fails part way stops the
// mapping file's reloads and closes the storage client it had opened,
// whether or not Shutdown follows, as the otlp receiver shuts down the
// server it had started.
func TestFailedStartStopsWhatItStarted(t *testing.T) {
	mapping := filepath.Join(t.TempDir(), "teams.csv")
	require.NoError(t, os.WriteFile(mapping, []byte("repository,team\nacme/*,payments\n"), 0o600))
	id := storagetest.NewStorageID("budgets")
	for _, tc := range []struct {
		name        string
		host        func(dir string) component.Host
		budgets     []budget.Config
		want        string
		opensClient bool // the storage client was opened, and must be closed
	}{
		{
			name: "no such storage extension",
			host: func(string) component.Host { return componenttest.NewNopHost() },
			want: "storage: extension",
		},
		{
			// Start is called without Validate here, as after a reload
			// that skipped it: the budgets are refused after the client
			// was opened.
			name: "budgets refused after the storage client was opened",
			host: func(dir string) component.Host {
				return storagetest.NewStorageHost().WithFileBackedStorageExtension("budgets", dir)
			},
			budgets:     []budget.Config{{Name: "b", Scope: budget.ScopeTeam, Amount: "-1", Period: budget.PeriodDay}},
			want:        "amount",
			opensClient: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig()
			cfg.Attribution.MappingFile = mapping
			cfg.Attribution.ReloadInterval = time.Millisecond
			cfg.Storage = &id
			cfg.Budgets = tc.budgets
			set := processortest.NewNopSettings(metadata.Type)
			m, err := NewFactory().CreateMetrics(t.Context(), set, cfg, new(consumertest.MetricsSink))
			require.NoError(t, err)

			running := goleak.IgnoreCurrent()
			err = m.Start(t.Context(), tc.host(dir))
			require.ErrorContains(t, err, tc.want)
			goleak.VerifyNone(t, running)
			if tc.opensClient {
				saved, err := os.ReadDir(dir)
				require.NoError(t, err)
				assert.Len(t, saved, 1, "the storage client was closed (the test storage writes its file on Close)")
			}
			require.NoError(t, m.Shutdown(t.Context()))
		})
	}
}
