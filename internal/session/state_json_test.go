package session

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
)

// recordedTranscripts are the transcripts of real CLI runs and of the
// reader's hazards, read by the state tests.
func recordedTranscripts(tb testing.TB) []string {
	var paths []string
	walk := func(root string, keep func(name string) bool) {
		require.NoError(tb, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && keep(d.Name()) {
				paths = append(paths, path)
			}
			return nil
		}))
	}
	walk("../../testdata/copilot-cli", func(name string) bool { return name == "events.jsonl" })
	walk("../transcript/testdata", func(name string) bool { return strings.HasSuffix(name, ".jsonl") })
	require.NotEmpty(tb, paths)
	return paths
}

// eachRecordedState reads every recorded transcript through a Cursor and
// calls f with its tracker after every event, so that f sees states with
// interactions, tools and subagents open as well as finished sessions.
func eachRecordedState(tb testing.TB, f func(path string, tr *Tracker)) {
	for _, path := range recordedTranscripts(tb) {
		c := NewCursor(path, CursorOptions{})
		_, err := c.Update(func(*transcript.Event) { f(path, c.Tracker()) })
		require.NoError(tb, err, path)
	}
}

// finishedStates are the trackers of the recorded transcripts read to
// their end, as a backlog of finished sessions leaves them.
func finishedStates(tb testing.TB) []*Tracker {
	var trs []*Tracker
	for _, path := range recordedTranscripts(tb) {
		c := NewCursor(path, CursorOptions{})
		_, err := c.Update(nil)
		require.NoError(tb, err, path)
		trs = append(trs, c.Tracker())
	}
	return trs
}

// BenchmarkMarshalState marshals the state of every recorded session, as
// the tailer does for each session of a round it commits.
func BenchmarkMarshalState(b *testing.B) {
	trs := finishedStates(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := trs[i%len(trs)].MarshalState(); err != nil {
			b.Fatal(err)
		}
	}
}
