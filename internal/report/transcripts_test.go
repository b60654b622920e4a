package report

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/cliaccounting"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/transcriptgen"
)

// TestProgressWithinAFile: a long transcript reports its progress while
// it is read, not only at its end, and counts what the CLI does.
func TestProgressWithinAFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "session-state", "3a9b0c1d-0000-4000-8000-000000000001")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, "events.jsonl")
	fh, err := os.Create(path)
	require.NoError(t, err)
	_, err = transcriptgen.Write(fh, transcriptgen.Options{Seed: 7, Interactions: 400, ToolOutputKB: 1, Billed: true, Subagents: true})
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	st, err := os.Stat(path)
	require.NoError(t, err)

	src := transcripts(t, chargeback.Default(), []string{path})
	var seen []Progress
	src.Progress = func(p Progress) { seen = append(seen, p) }
	rep := run(t, src, Query{By: []string{KeyModel}, Unattributed: "unattributed"})
	require.Greater(t, len(seen), 1, "progress within the file")
	for i, p := range seen {
		assert.Equal(t, Progress{Files: 1, FilesDone: p.FilesDone, Bytes: st.Size(), BytesDone: p.BytesDone}, p)
		if i > 0 {
			assert.GreaterOrEqual(t, p.BytesDone, seen[i-1].BytesDone)
		}
	}
	assert.Equal(t, Progress{Files: 1, FilesDone: 1, Bytes: st.Size(), BytesDone: st.Size()}, seen[len(seen)-1])

	a, err := cliaccounting.File(path, nil)
	require.NoError(t, err)
	assertTotals(t, a.Total(), &rep.Total, "total")
	assert.Positive(t, rep.Total.Cost.Sign())
}

// BenchmarkTranscripts reads a generated corpus of 16 MB into a report
// by ticket and model:
//
//	go test ./internal/report -run '^$' -bench Transcripts -benchtime 5x
func BenchmarkTranscripts(b *testing.B) {
	dir := b.TempDir()
	cs, err := transcriptgen.Corpus(filepath.Join(dir, "session-state"), 1, 16<<20)
	require.NoError(b, err)
	src := transcripts(b, chargeback.Default(), []string{filepath.Join(dir, "session-state", "*", "events.jsonl")})
	b.SetBytes(cs.Bytes)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Run(context.Background(), src, Query{By: []string{KeyTicket, KeyModel}}, "USD"); err != nil {
			b.Fatal(err)
		}
	}
}
