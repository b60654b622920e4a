package tailer

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/transcriptgen"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/pipeline"
)

// TestWatchedFilesAreNotPolled: a live session's transcript, whose
// directory is watched, is not looked at by the polls while no
// notification says it changed; a line appended without a notification (a
// lost one) is read at the next rescan. The steps are driven by the test,
// so that what each does is deterministic.
func TestWatchedFilesAreNotPolled(t *testing.T) {
	dir := t.TempDir()
	id := "00000000-0000-4000-8000-000000000001"
	path := filepath.Join(dir, id, "events.jsonl")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	fh, err := os.Create(path)
	require.NoError(t, err)
	// Killed: no shutdown, so the session is live and its directory
	// watched.
	_, err = transcriptgen.Write(fh, transcriptgen.Options{Seed: 1, SessionID: id, Interactions: 2, ToolOutputKB: 1, SystemPromptKB: 1, Killed: true})
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	data, err := os.ReadFile(path)
	require.NoError(t, err)

	clk := &manualClock{}
	cfg := testConfig(dir)
	cfg.Now = clk.now
	obs := &readObserver{}
	sig := pipeline.Signal{Name: "metrics", Consume: func(context.Context, *session.Facts) error { return nil }}
	tl := New(cfg, storageclient.NewMemory(), []pipeline.Signal{sig}, obs, zap.NewNop())
	var stats atomic.Int64
	tl.stat = func(p string) (os.FileInfo, error) {
		if p == path {
			stats.Add(1)
		}
		return os.Stat(p)
	}
	w, err := newWatcher(tl.find.roots, tl.find.matches)
	require.NoError(t, err)
	tl.watch = w
	defer func() { require.NoError(t, w.close()) }()
	ctx := context.Background()

	tl.step(ctx, true)
	require.Equal(t, int64(len(data)), obs.read())
	require.True(t, w.isWatched(filepath.Dir(path)), "a live session's directory is watched")
	tl.step(ctx, false) // looks once more: lines may have come before the watch
	f := tl.files[path]
	require.True(t, f.active)

	stats.Store(0)
	for range 5 {
		tl.step(ctx, false)
	}
	assert.Zero(t, stats.Load(), "polls looked at a watched transcript nothing said had changed")

	// A line appended whose notification is lost: the watch is taken away
	// behind the tailer's back.
	require.NoError(t, w.w.Remove(filepath.Dir(path)))
	w.drain()
	line := []byte(`{"type":"assistant.turn_start","data":{"turnId":"9"},"id":"x1","timestamp":"2026-01-01T00:00:00.000Z","parentId":null}` + "\n")
	fh, err = os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fh.Write(line)
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	tl.step(ctx, false)
	tl.step(ctx, true) // the rescan finds it grew
	assert.Equal(t, int64(len(data)+len(line)), obs.read(), "the appended line was not read by the rescan")
}

// TestRescanStatsOnce: the files a rescan finds changed are read in the
// same step without a stat of their own (the rescan's is enough), so that
// a backlog costs one stat per file, not two; a file whose change only a
// notification or a poll reports is still looked at first.
func TestRescanStatsOnce(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	var total int64
	for i := range 3 {
		id := "00000000-0000-4000-8000-00000000000" + string(rune('1'+i))
		path := filepath.Join(dir, id, "events.jsonl")
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		fh, err := os.Create(path)
		require.NoError(t, err)
		_, err = transcriptgen.Write(fh, transcriptgen.Options{Seed: int64(i + 1), SessionID: id, Interactions: 1, ToolOutputKB: 1, SystemPromptKB: 1})
		require.NoError(t, err)
		require.NoError(t, fh.Close())
		st, err := os.Stat(path)
		require.NoError(t, err)
		paths = append(paths, path)
		total += st.Size()
	}

	clk := &manualClock{}
	cfg := testConfig(dir)
	cfg.Now = clk.now
	obs := &readObserver{}
	sig := pipeline.Signal{Name: "metrics", Consume: func(context.Context, *session.Facts) error { return nil }}
	tl := New(cfg, storageclient.NewMemory(), []pipeline.Signal{sig}, obs, zap.NewNop())
	var stats atomic.Int64
	tl.stat = func(p string) (os.FileInfo, error) {
		stats.Add(1)
		return os.Stat(p)
	}
	ctx := context.Background()

	tl.step(ctx, true)
	require.Equal(t, total, obs.read(), "the rescan's step read every file")
	assert.Zero(t, stats.Load(), "files the rescan found changed were stat'd again")

	// A poll (no rescan, no watcher) looks at each active file once.
	tl.step(ctx, false)
	assert.Equal(t, int64(len(paths)), stats.Load(), "a poll looks at every active file")
	assert.Equal(t, total, obs.read())
}

// TestQuietFilesReadAreNotPolled: a transcript last written longer ago
// than the quiet period (a finished session of a backlog) stops being
// polled as soon as it is read, and its cursor is let go; one written
// just now is polled until it goes quiet. The quiet one is read again when
// the rescan finds it grew.
func TestQuietFilesReadAreNotPolled(t *testing.T) {
	dir := t.TempDir()
	clk := &manualClock{t: time.Now()}
	write := func(id string, mtime time.Time) string {
		path := filepath.Join(dir, id, "events.jsonl")
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		fh, err := os.Create(path)
		require.NoError(t, err)
		_, err = transcriptgen.Write(fh, transcriptgen.Options{Seed: 1, SessionID: id, Interactions: 1, ToolOutputKB: 1, SystemPromptKB: 1})
		require.NoError(t, err)
		require.NoError(t, fh.Close())
		require.NoError(t, os.Chtimes(path, mtime, mtime))
		return path
	}
	old := write("00000000-0000-4000-8000-000000000001", clk.now().Add(-time.Hour))
	fresh := write("00000000-0000-4000-8000-000000000002", clk.now())
	size := func(p string) int64 {
		st, err := os.Stat(p)
		require.NoError(t, err)
		return st.Size()
	}
	total := size(old) + size(fresh)

	cfg := testConfig(dir)
	cfg.Now = clk.now
	obs := &readObserver{}
	sig := pipeline.Signal{Name: "metrics", Consume: func(context.Context, *session.Facts) error { return nil }}
	tl := New(cfg, storageclient.NewMemory(), []pipeline.Signal{sig}, obs, zap.NewNop())
	stats := map[string]int{}
	tl.stat = func(p string) (os.FileInfo, error) {
		stats[p]++
		return os.Stat(p)
	}
	ctx := context.Background()

	tl.step(ctx, true)
	require.Equal(t, total, obs.read())
	assert.False(t, tl.files[old].active, "a transcript quiet for an hour is polled after its read")
	assert.Nil(t, tl.files[old].cur, "the quiet transcript's cursor is kept")
	assert.True(t, tl.files[fresh].active, "a transcript written just now is not polled")

	tl.step(ctx, false)
	assert.Zero(t, stats[old], "a poll looked at the quiet transcript")
	assert.Equal(t, 1, stats[fresh], "a poll did not look at the fresh transcript")

	// The quiet session is resumed: the rescan finds it grew.
	line := []byte(`{"type":"assistant.turn_start","data":{"turnId":"9"},"id":"x1","timestamp":"2026-01-01T00:00:00.000Z","parentId":null}` + "\n")
	fh, err := os.OpenFile(old, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fh.Write(line)
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	tl.step(ctx, true)
	assert.Equal(t, total+int64(len(line)), obs.read(), "the rescan did not read the resumed transcript")
}

// TestTranscriptReadAcrossRoundsWatchedWhenReadEnds: a transcript whose
// read spans rounds is watched, or not, when its read ends, not by the
// commit of a round in its middle: a finished session of a backlog is not
// watched there (its shutdown is a few lines on) only to be let go by the
// next round's commit. A live session is watched once read.
func TestTranscriptReadAcrossRoundsWatchedWhenReadEnds(t *testing.T) {
	dir := t.TempDir()
	writeFinished(t, dir, 20)
	id := "00000000-0000-4000-8000-00000000live"
	live := filepath.Join(dir, id, "events.jsonl")
	require.NoError(t, os.MkdirAll(filepath.Dir(live), 0o755))
	fh, err := os.Create(live)
	require.NoError(t, err)
	_, err = transcriptgen.Write(fh, transcriptgen.Options{Seed: 3, SessionID: id, Interactions: 2, Killed: true})
	require.NoError(t, err)
	require.NoError(t, fh.Close())

	cfg := testConfig(dir)
	cfg.MaxRoundEvents = 7 // most transcripts span rounds
	var tl *Tailer
	var w *watcher
	midRead, watchedMidRead := 0, 0
	sig := pipeline.Signal{Name: "metrics", Consume: func(context.Context, *session.Facts) error {
		if f := tl.reading; f != nil && tl.readCommitted {
			midRead++
			if w.isWatched(filepath.Dir(f.path)) {
				watchedMidRead++
			}
		}
		return nil
	}}
	tl = New(cfg, storageclient.NewMemory(), []pipeline.Signal{sig}, &readObserver{}, zap.NewNop())
	w, err = newWatcher(tl.find.roots, tl.find.matches)
	require.NoError(t, err)
	tl.watch = w
	defer func() { require.NoError(t, w.close()) }()

	tl.step(context.Background(), true)
	require.Greater(t, midRead, 20, "too few rounds in the middle of a transcript to tell")
	assert.Zero(t, watchedMidRead, "transcripts watched by the commit of a round in the middle of their read")
	for p := range tl.files {
		assert.Equal(t, p == live, w.isWatched(filepath.Dir(p)), p)
	}
}
