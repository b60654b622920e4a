package tailer

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/pipeline"
)

// TestRescanLeavesOutStaleFinishedSessions: a rescan does not look at a
// parked transcript that has not changed for staleAfter, so a session
// resumed after that long is read at the next full rescan (every
// fullRescanEvery-th); one that finished recently is looked at by every
// rescan and read at the first one after it grew. The steps are driven by
// the test (no watcher: these are finished sessions, which are not
// watched).
func TestRescanLeavesOutStaleFinishedSessions(t *testing.T) {
	dir := t.TempDir()
	writeFinished(t, dir, 2)
	paths, err := filepath.Glob(filepath.Join(dir, "*", "events.jsonl"))
	require.NoError(t, err)
	require.Len(t, paths, 2)
	stale, recent := paths[0], paths[1]
	start := time.Unix(1_700_000_000, 0)
	require.NoError(t, os.Chtimes(stale, start.Add(-2*staleAfter), start.Add(-2*staleAfter)))
	require.NoError(t, os.Chtimes(recent, start.Add(-time.Minute), start.Add(-time.Minute)))

	clk := &manualClock{t: start}
	cfg := testConfig(dir)
	cfg.Now = clk.now
	obs := &readObserver{}
	sig := pipeline.Signal{Name: "metrics", Consume: func(context.Context, *session.Facts) error { return nil }}
	tl := New(cfg, storageclient.NewMemory(), []pipeline.Signal{sig}, obs, zap.NewNop())
	ctx := context.Background()
	tl.step(ctx, true) // the first scan: a full one
	read := obs.read()
	clk.add(time.Minute)
	for range 3 {
		tl.step(ctx, false)
	}
	for _, p := range paths {
		require.Nil(t, tl.files[p].cur, "not parked: %s", p)
	}

	// Both sessions resumed: a line each, written now.
	line := []byte(`{"type":"assistant.turn_start","data":{"turnId":"9"},"id":"x1","timestamp":"2026-01-01T00:00:00.000Z","parentId":null}` + "\n")
	for _, p := range paths {
		fh, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = fh.Write(line)
		require.NoError(t, err)
		require.NoError(t, fh.Close())
	}
	tl.step(ctx, true) // rescan 1
	tl.step(ctx, false)
	assert.Equal(t, read+int64(len(line)), obs.read(), "the recently finished session is read at the first rescan, the stale one not")
	require.NotNil(t, tl.files[recent].cur)
	require.Nil(t, tl.files[stale].cur)
	for i := 2; i < fullRescanEvery; i++ {
		tl.step(ctx, true)
		tl.step(ctx, false)
	}
	assert.Equal(t, read+int64(len(line)), obs.read(), "a rescan that is not a full one looked at the stale session")
	tl.step(ctx, true) // the full rescan
	tl.step(ctx, false)
	assert.Equal(t, read+2*int64(len(line)), obs.read(), "the full rescan did not find the stale session grown")
}

// TestRescanConfinesLinks: a transcript that a symbolic link leads out of
// the include glob's directory is not read, whether the link is the
// session's directory or the transcript, found by the first scan (which
// knows plain paths from the listing) or by later rescans (which do not);
// links that stay inside are read.
func TestRescanConfinesLinks(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	size := writeFinished(t, root, 1) // a plain session
	writeFinished(t, outside, 3)
	outs, err := filepath.Glob(filepath.Join(outside, "*"))
	require.NoError(t, err)
	require.Len(t, outs, 3)
	// A session directory that is a link out of the root, a transcript
	// that is one, and a transcript linked to a file in the root.
	require.NoError(t, os.Symlink(outs[0], filepath.Join(root, "dirlink")))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "filelink"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(outs[1], "events.jsonl"), filepath.Join(root, "filelink", "events.jsonl")))
	inRoot := filepath.Join(root, "kept.jsonl")
	data, err := os.ReadFile(filepath.Join(outs[2], "events.jsonl"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(inRoot, data, 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "inlink"), 0o755))
	require.NoError(t, os.Symlink(inRoot, filepath.Join(root, "inlink", "events.jsonl")))

	obs := &readObserver{}
	sig := pipeline.Signal{Name: "metrics", Consume: func(context.Context, *session.Facts) error { return nil }}
	tl := New(testConfig(root), storageclient.NewMemory(), []pipeline.Signal{sig}, obs, zap.NewNop())
	ctx := context.Background()
	tl.step(ctx, true)
	for range 3 {
		tl.step(ctx, false)
	}
	tracked := func() []string {
		var out []string
		for p := range tl.files {
			rel, err := filepath.Rel(root, p)
			require.NoError(t, err)
			out = append(out, filepath.ToSlash(filepath.Dir(rel)))
		}
		slices.Sort(out)
		return out
	}
	require.Equal(t, []string{"00000000-0000-4000-8000-000000000000", "inlink"}, tracked())
	require.Equal(t, size+int64(len(data)), obs.read())

	// The same, found by rescans after the first scan.
	require.NoError(t, os.Symlink(outs[0], filepath.Join(root, "dirlink2")))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "filelink2"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(outs[1], "events.jsonl"), filepath.Join(root, "filelink2", "events.jsonl")))
	for range fullRescanEvery + 1 {
		tl.step(ctx, true)
		tl.step(ctx, false)
	}
	require.Equal(t, []string{"00000000-0000-4000-8000-000000000000", "inlink"}, tracked())
	require.Equal(t, size+int64(len(data)), obs.read())
	require.Len(t, tl.find.refused, 4)
}
