package usageledgerexporter

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-copilot/otelcol-copilot/internal/ledger"
)

// focusDay is the day of focusBatches' rows.
var focusDay = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

// focusBatches are rows whose FOCUS columns changed with FOCUS conformance
// fixes, and not their meaning: a session without a repository (its
// ResourceName was its id), usage without a session (ResourceName and
// ResourceType were set without a ResourceId), and unpriced usage (priced
// in "1M Tokens").
func focusBatches() []pmetric.Metrics {
	unpriced := onlyMetric(costBatch("0b1e1ed0-0000-0000-0000-00000000000c", focusDay.Add(2*time.Minute), 0, 3_000_000), "copilot.usage.nano_aiu")
	return []pmetric.Metrics{
		costBatch("0b1e1ed0-0000-0000-0000-00000000000a", focusDay, 0.25, 25_000_000),
		costBatch("", focusDay.Add(time.Minute), 0.5, 50_000_000),
		unpriced,
	}
}

// A day file written before the FOCUS conformance fixes (ResourceName the
// session id without a repository, ResourceType without a ResourceId,
// PricingUnit "1M Tokens") and the same usage delivered again after them:
// the rows' ids did not change, since what changed is how the row is
// written, not what it says, so a replay adds nothing, and the next rows of
// the day rewrite the file in the new format with each row once.
func TestDayFileOfBeforeTheFOCUSFixesKeepsItsRowsOnce(t *testing.T) {
	dir := t.TempDir()
	name := ledger.FileName("gw-1", focusDay.Format(time.DateOnly))
	old, err := os.ReadFile(filepath.Join("testdata", "ledger-before-focus-fixes", name))
	require.NoError(t, err)
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, old, 0o644))
	before, err := ledger.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, before, 3)

	w := nopWriter(t, testConfig(dir))
	for _, md := range focusBatches() {
		require.NoError(t, w.pushMetrics(context.Background(), md))
	}
	now, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(old), string(now), "the replay has the rows' ids: nothing added")

	require.NoError(t, w.pushMetrics(context.Background(), costBatch("0b1e1ed0-0000-0000-0000-00000000000d", focusDay.Add(time.Hour), 0.75, 75_000_000)))
	after, err := ledger.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, after, 4, "each row once")
	assert.Equal(t, "1.5", csvTotal(t, path).String())
	ids := map[string]bool{}
	for _, r := range after {
		ids[r.ID] = true
	}
	for _, r := range before {
		assert.True(t, ids[r.ID], "row %s kept its id", r.ID)
	}
	rewritten, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.NotContains(t, string(rewritten), "1M Tokens")
	assert.Contains(t, string(rewritten), "1000000 Tokens")
	assert.NotContains(t, string(rewritten), "0b1e1ed0-0000-0000-0000-00000000000a,0b1e1ed0-0000-0000-0000-00000000000a", "no session id as ResourceName")
}
