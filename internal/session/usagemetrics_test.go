package session

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
)

// TestMetricsEqualAccountingSnapshot compares Metrics with the
// accountingSnapshot the CLI itself wrote into the last shutdown of each
// real 1.0.102 transcript: the snapshot is the CLI's usage.getMetrics
// result, the shape Metrics reproduces.
func TestMetricsEqualAccountingSnapshot(t *testing.T) {
	files, err := filepath.Glob("../../testdata/copilot-cli/*/session-state/*/events.jsonl")
	require.NoError(t, err)
	rec, err := filepath.Glob("../../testdata/copilot-cli/recorded/1.0.102*/session-state/*/events.jsonl")
	require.NoError(t, err)
	files = append(files, rec...)
	checked := 0
	for _, path := range files {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		var snapshot json.RawMessage
		for _, line := range strings.Split(string(raw), "\n") {
			var ev struct {
				Type string `json:"type"`
				Data struct {
					Snapshot json.RawMessage `json:"accountingSnapshot"`
				} `json:"data"`
			}
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Type == "session.shutdown" && ev.Data.Snapshot != nil {
				snapshot = ev.Data.Snapshot
			}
		}
		if snapshot == nil {
			continue // killed, or an older CLI
		}
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			tr := New(filepath.Base(filepath.Dir(path)), Options{})
			fh, err := os.Open(path)
			require.NoError(t, err)
			defer fh.Close()
			rd := transcript.NewReader(fh, 0, 0, transcript.Options{})
			rd.Final = true
			for {
				it, err := rd.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				if it.Event != nil {
					tr.Apply(it.Event, nil)
				}
			}
			var want map[string]any
			require.NoError(t, json.Unmarshal(snapshot, &want))
			got, err := json.Marshal(tr.Metrics())
			require.NoError(t, err)
			var have map[string]any
			require.NoError(t, json.Unmarshal(got, &have))
			// What the transcript does not give, and what Metrics leaves
			// out (see UsageMetrics).
			for _, m := range []map[string]any{want} {
				delete(m, "aiCreditsStatus")
				delete(m, "providerModelMetrics")
				delete(m, "tokenDetails")
				cc := m["codeChanges"].(map[string]any)
				cc["filesModified"] = []any{}
				for _, mm := range m["modelMetrics"].(map[string]any) {
					delete(mm.(map[string]any), "aiCreditsStatus")
					delete(mm.(map[string]any), "tokenDetails")
				}
				for _, a := range m["agentMetrics"].(map[string]any) {
					a := a.(map[string]any)
					delete(a, "agentDisplayName")
					for _, mm := range a["modelMetrics"].(map[string]any) {
						delete(mm.(map[string]any), "aiCreditsStatus")
						delete(mm.(map[string]any), "tokenDetails")
					}
				}
			}
			assert.Equal(t, want, have)
		})
		checked++
	}
	require.Greater(t, checked, 10, "too few transcripts with an accounting snapshot")
}
