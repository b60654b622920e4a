package tailer

import (
	"context"
	"os"
	"path/filepath"
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

// TestPendingDirectoriesWatchedAfterFirstScan: at the start, a session
// directory that holds no transcript yet is watched, so that its
// transcript, written later, is notified; one whose transcript the first
// scan found (a finished session) is neither watched nor listed; and one
// whose transcript appeared after the scan asks for a rescan.
func TestPendingDirectoriesWatchedAfterFirstScan(t *testing.T) {
	dir := t.TempDir()
	finished := writeStale(t, dir, "00000000-0000-4000-8000-000000000001")
	pending := filepath.Join(dir, "00000000-0000-4000-8000-000000000002")
	require.NoError(t, os.MkdirAll(pending, 0o755))

	var listed []string
	tl, obs := watchedTailer(t, testConfig(dir), func(match func(string) bool) func(string) bool {
		return func(p string) bool {
			listed = append(listed, filepath.Dir(p))
			return match(p)
		}
	})
	w := tl.watch
	ctx := context.Background()

	assert.False(t, w.isWatched(pending), "watched before the first scan said which directories hold a transcript")
	tl.step(ctx, true)
	assert.True(t, w.isWatched(pending), "a session directory without a transcript is not watched after the first scan")
	assert.False(t, w.isWatched(filepath.Dir(finished)), "a finished session's directory is watched")
	assert.NotContains(t, listed, filepath.Dir(finished), "a directory the scan found a transcript in was listed again")
	_, rescan := w.drain()
	assert.False(t, rescan, "a rescan asked for with nothing new")

	// The pending session's transcript is written: notified, read at the
	// next step without a rescan.
	before := obs.read()
	data := []byte(`{"type":"session.start","data":{"sessionId":"00000000-0000-4000-8000-000000000002"},"id":"a","timestamp":"2026-01-01T00:00:00.000Z","parentId":null}` + "\n")
	require.NoError(t, os.WriteFile(filepath.Join(pending, "events.jsonl"), data, 0o644))
	require.Eventually(t, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.changed) > 0 || w.rescan
	}, 5*time.Second, 5*time.Millisecond, "the transcript written in a pending directory was not notified")
	tl.step(ctx, false)
	assert.Equal(t, before+int64(len(data)), obs.read())

	// A directory that was there before the start, whose transcript was
	// created between the scan and the watch: listed after the watch is
	// taken, and a rescan asked for (no notification can say it).
	dir2 := t.TempDir()
	late := filepath.Join(dir2, "00000000-0000-4000-8000-000000000003")
	require.NoError(t, os.MkdirAll(late, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(late, "events.jsonl"), data, 0o644))
	w2, err := newWatcher([]string{dir2}, func(p string) bool {
		return Match([]string{filepath.Join(dir2, "*", "events.jsonl")}, nil, p)
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, w2.close()) }()
	w2.addPending(func(string) bool { return false }) // the scan did not see it
	_, rescan = w2.drain()
	assert.True(t, rescan, "a transcript created since the scan did not ask for a rescan")
}

// TestRescanListsRootsOnlyWhenNotified: once the first scan has listed the
// session root, a rescan lists it again only when a notification says an
// entry of it changed (a new session) or on every fullRescanEvery-th
// rescan; a glob that puts sessions deeper is listed every time.
func TestRescanListsRootsOnlyWhenNotified(t *testing.T) {
	start := func(t *testing.T, cfg Config) (*Tailer, *readObserver) { return watchedTailer(t, cfg, nil) }
	ctx := context.Background()

	dir := t.TempDir()
	writeStale(t, dir, "00000000-0000-4000-8000-000000000001")
	tl, obs := start(t, testConfig(dir))
	tl.step(ctx, true)
	require.Equal(t, 1, tl.listings)
	require.Len(t, tl.files, 1)
	tl.step(ctx, true)
	tl.step(ctx, true)
	assert.Equal(t, 1, tl.listings, "a root nothing was notified of was listed again")

	// A new session: its directory is notified to the root's watch, and
	// the next rescan lists the root and finds it.
	before := obs.read()
	p := writeStale(t, dir, "00000000-0000-4000-8000-000000000002")
	require.Eventually(t, func() bool { return tl.watch.rootEvents() != tl.listedAt }, 5*time.Second, 5*time.Millisecond)
	tl.step(ctx, true)
	assert.Equal(t, 2, tl.listings)
	require.Contains(t, tl.files, p)
	tl.step(ctx, false)
	assert.Greater(t, obs.read(), before, "the new session was not read")

	// Every fullRescanEvery-th rescan lists, notified or not.
	for tl.rescans%fullRescanEvery != 0 {
		tl.step(ctx, true)
	}
	n := tl.listings
	tl.step(ctx, true)
	assert.Equal(t, n+1, tl.listings, "a full rescan did not list")

	// Sessions below a wildcard that is not the root's entry: a watch on
	// the root is not told of them, so every rescan lists.
	deep := t.TempDir()
	writeStale(t, filepath.Join(deep, "u1", "session-state"), "00000000-0000-4000-8000-000000000003")
	cfg := testConfig(deep)
	cfg.Include = []string{filepath.Join(deep, "*", "session-state", "*", "events.jsonl")}
	tl2, _ := start(t, cfg)
	tl2.step(ctx, true)
	tl2.step(ctx, true)
	assert.Equal(t, 2, tl2.listings)
}

// TestRescanListsARootRemovedAndMadeAgain: a session root that is removed
// and made again (its watch went with it) is listed at every rescan until
// it is watched again, so that its new sessions are not left to the next
// full rescan.
func TestRescanListsARootRemovedAndMadeAgain(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "session-state")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	tl, _ := watchedTailer(t, testConfig(dir), nil)
	w := tl.watch
	ctx := context.Background()
	tl.step(ctx, true)
	tl.step(ctx, true)
	require.Equal(t, 1, tl.listings)

	require.NoError(t, os.RemoveAll(dir))
	require.Eventually(t, func() bool { return w.rootEvents() != tl.listedAt }, 5*time.Second, 5*time.Millisecond,
		"the root's removal was not notified")
	tl.step(ctx, true) // the root is waited for again
	require.NoError(t, os.MkdirAll(dir, 0o755))
	p := filepath.Join(dir, "00000000-0000-4000-8000-000000000009", "events.jsonl")
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(`{"type":"session.start","data":{"sessionId":"00000000-0000-4000-8000-000000000009"},"id":"a","timestamp":"2026-01-01T00:00:00.000Z","parentId":null}`+"\n"), 0o644))
	for range 3 {
		if tl.files[p] != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
		tl.step(ctx, true)
	}
	require.Contains(t, tl.files, p, "a session in the root made again was not found by the next rescans")
	assert.Less(t, tl.rescans, fullRescanEvery, "found by a full rescan, not by the next ones")
}

// watchedTailer is a tailer on cfg with a watcher, whose steps the test
// drives. watch, when not nil, wraps the finder's match the watcher is
// given.
func watchedTailer(t *testing.T, cfg Config, watch func(match func(string) bool) func(string) bool) (*Tailer, *readObserver) {
	t.Helper()
	obs := &readObserver{}
	sig := pipeline.Signal{Name: "metrics", Consume: func(context.Context, *session.Facts) error { return nil }}
	tl := New(cfg, storageclient.NewMemory(), []pipeline.Signal{sig}, obs, zap.NewNop())
	match := tl.find.matches
	if watch != nil {
		match = watch(match)
	}
	w, err := newWatcher(tl.find.roots, match)
	require.NoError(t, err)
	tl.watch = w
	t.Cleanup(func() { require.NoError(t, w.close()) })
	return tl, obs
}

// writeStale writes a finished session's transcript in dir, last
// changed two hours ago, and returns its path.
func writeStale(t *testing.T, dir, id string) string {
	t.Helper()
	p := filepath.Join(dir, id, "events.jsonl")
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	fh, err := os.Create(p)
	require.NoError(t, err)
	_, err = transcriptgen.Write(fh, transcriptgen.Options{Seed: 1, SessionID: id, Interactions: 1})
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	old := time.Now().Add(-2 * time.Hour)
	require.NoError(t, os.Chtimes(p, old, old))
	return p
}

// TestNewSessionDirectoryWatchedAtDrain: a session directory created in a
// root is watched by the tailer's goroutine when it drains the watcher,
// before the rescan that asks for, not by the watcher's loop: on Windows
// fsnotify's Add waits for its reader, which may be waiting for the loop.
func TestNewSessionDirectoryWatchedAtDrain(t *testing.T) {
	dir := t.TempDir()
	tl, _ := watchedTailer(t, testConfig(dir), nil)
	w := tl.watch
	fresh := filepath.Join(dir, "00000000-0000-4000-8000-000000000010")
	require.NoError(t, os.Mkdir(fresh, 0o755))
	require.Eventually(t, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.rescan
	}, 5*time.Second, 5*time.Millisecond, "the new directory was not notified")
	assert.False(t, w.isWatched(fresh), "the loop added a watch")
	_, rescan := w.drain()
	assert.True(t, rescan)
	assert.True(t, w.isWatched(fresh), "drain did not watch the new session directory")

	// Its transcript, written now, is notified.
	p := filepath.Join(fresh, "events.jsonl")
	require.NoError(t, os.WriteFile(p, []byte("{}\n"), 0o644))
	require.Eventually(t, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.changed[p]
	}, 5*time.Second, 5*time.Millisecond, "the transcript in the new directory was not notified")
}
