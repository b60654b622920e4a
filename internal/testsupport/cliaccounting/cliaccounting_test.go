package cliaccounting

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/transcriptgen"
)

// TestGenerated checks the accounting of generated sessions against the
// generator's own tally of the usage records it wrote, including a resumed
// session killed in its second leg, whose last calls no shutdown reports.
func TestGenerated(t *testing.T) {
	cases := map[string]transcriptgen.Options{
		"one-leg":       {Seed: 1, Interactions: 3, ToolOutputKB: 1, Billed: true},
		"subagents":     {Seed: 2, Interactions: 4, ToolOutputKB: 1, Subagents: true, Billed: true},
		"resumed":       {Seed: 3, Interactions: 4, ToolOutputKB: 1, Resume: true, Billed: true},
		"killed":        {Seed: 4, Interactions: 3, ToolOutputKB: 1, Killed: true},
		"resume-killed": {Seed: 5, Interactions: 4, ToolOutputKB: 1, Resume: true, Killed: true, Subagents: true, Billed: true},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "events.jsonl")
			var buf bytes.Buffer
			st, err := transcriptgen.Write(&buf, o)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
			a, err := File(path, nil)
			require.NoError(t, err)
			assert.Equal(t, st.Shutdowns, a.Shutdowns)
			assert.Equal(t, st.UsageRecords, a.Records)
			assert.Zero(t, a.DuplicateRecords)
			require.Len(t, a.Models, len(st.Totals))
			for model, w := range st.Totals {
				g := a.Models[model]
				assert.Equal(t, w.Requests, g.Requests, model)
				assert.Equal(t, w.InputTokens, g.InputTokens, model)
				assert.Equal(t, w.OutputTokens, g.OutputTokens, model)
				assert.Equal(t, w.CacheReadTokens, g.CacheReadTokens, model)
				assert.Equal(t, w.CacheWriteTokens, g.CacheWriteTokens, model)
				assert.Equal(t, w.ReasoningTokens, g.ReasoningTokens, model)
				assert.Equal(t, w.NanoAIU, g.NanoAIU, model)
				assert.InDelta(t, w.Cost, g.PremiumCost, 1e-9, model)
			}
		})
	}
}

// TestRecordCountedOnce checks that a usage record written twice (same
// source and sequence) counts once.
func TestRecordCountedOnce(t *testing.T) {
	rec := `{"type":"session.usage_record","data":{"usage":{"model":"m","inputTokens":10,"outputTokens":2,"cost":1,` +
		`"copilotUsage":{"totalNanoAiu":5},"accounting":{"sourceSessionId":"s","sequence":1}}}}` + "\n"
	other := `{"type":"session.usage_record","data":{"usage":{"model":"m","inputTokens":1,"outputTokens":1,"cost":0,` +
		`"accounting":{"sourceSessionId":"s","sequence":2}}}}` + "\n"
	path := filepath.Join(t.TempDir(), "events.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(rec+rec+other), 0o600))
	a, err := File(path, nil)
	require.NoError(t, err)
	assert.Equal(t, 2, a.Records)
	assert.Equal(t, 1, a.DuplicateRecords)
	assert.Equal(t, ModelTotals{Requests: 2, PremiumCost: 1, InputTokens: 11, OutputTokens: 3, NanoAIU: 5}, a.Models["m"])
	assert.False(t, math.IsNaN(a.Total().PremiumCost))
}

// TestNotJSON checks that a damaged line is reported, not skipped.
func TestNotJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	require.NoError(t, os.WriteFile(path, []byte("{\"type\":\n"), 0o600))
	_, err := File(path, nil)
	require.Error(t, err)
}
