package tailer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
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

// writeFinished writes n small finished sessions (each ends with a
// shutdown) under dir and returns their total size.
func writeFinished(t testing.TB, dir string, n int) int64 {
	var total int64
	for i := range n {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		p := filepath.Join(dir, id, "events.jsonl")
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		fh, err := os.Create(p)
		require.NoError(t, err)
		st, err := transcriptgen.Write(fh, transcriptgen.Options{Seed: int64(i), SessionID: id, Interactions: 1, ToolOutputKB: 1, SystemPromptKB: 1})
		require.NoError(t, err)
		require.NoError(t, fh.Close())
		total += st.Bytes
	}
	return total
}

// manualClock is a clock a test moves.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// heapAlloc is the live heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC() // and what sync.Pools held
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestFinishedSessionsRetainLittle: once the sessions of a backlog are
// read, committed and quiet, each costs the tailer no more than what
// recognises its file again (path, size, time, committed offset; the
// fingerprint is in storage): the heap retained per finished session,
// beyond what the storage holds, stays small, and no step but the rescan
// looks at them.
func TestFinishedSessionsRetainLittle(t *testing.T) {
	const n = 1500
	dir := t.TempDir()
	total := writeFinished(t, dir, n)

	store := storageclient.NewMemory()
	clk := &manualClock{t: time.Unix(1_700_000_000, 0)}
	cfg := testConfig(dir)
	cfg.Now = clk.now
	cfg.RegistrySize = 16 // bounded anyway; not what is measured
	obs := &readObserver{}
	sig := pipeline.Signal{Name: "metrics", Consume: func(_ context.Context, f *session.Facts) error {
		return nil
	}}

	tl := New(cfg, store, []pipeline.Signal{sig}, obs, zap.NewNop())
	require.NoError(t, tl.Start(context.Background()))
	require.Eventually(t, func() bool { return obs.read() == total }, 60*time.Second, 10*time.Millisecond)
	// Quiet for long enough: a few polls later no file is polled any more.
	clk.add(time.Minute)
	steps := obs.steps()
	require.Eventually(t, func() bool { return obs.steps() >= steps+3 }, 10*time.Second, time.Millisecond)
	require.NoError(t, tl.Stop(context.Background()))
	require.Len(t, tl.files, n)
	for _, f := range tl.files {
		require.False(t, f.active, f.path)
		require.Nil(t, f.cur, "a finished session keeps its cursor: %s", f.path)
		require.Equal(t, f.size, f.committed, f.path)
	}
	require.Zero(t, len(tl.hot), "finished sessions are still looked at by every step")

	// What the tailer holds is the heap it keeps alive: measured with it,
	// and without it (the storage is kept).
	// The reader's buffer, one for all files, is not counted.
	tl.rd = nil
	with := heapAlloc()
	runtime.KeepAlive(tl)
	tl = nil
	without := heapAlloc()
	perFile := float64(int64(with)-int64(without)) / n
	t.Logf("heap retained per finished session: %.0f bytes", perFile)
	runtime.KeepAlive(store)
	// Before finished files were parked, this was 528 bytes.
	assert.Less(t, perFile, 512.0)
}

// TestBacklogHoldsFewCursors: reading a backlog of finished sessions, the
// tailer holds the cursors of the files of the round under way, not one
// for every file found: a file is given its cursor when its turn comes,
// and lets it go once the round that read it is committed. Counted at
// every delivery, on the tailer's goroutine, which delivers.
func TestBacklogHoldsFewCursors(t *testing.T) {
	const n = 200
	dir := t.TempDir()
	total := writeFinished(t, dir, n)

	clk := &manualClock{t: time.Now().Add(time.Hour)} // every transcript quiet already
	cfg := testConfig(dir)
	cfg.Now = clk.now
	cfg.MaxRoundEvents = 20 // a round holds a file or two
	obs := &readObserver{}
	var tl *Tailer
	most, rounds := 0, 0
	sig := pipeline.Signal{Name: "metrics", Consume: func(_ context.Context, f *session.Facts) error {
		held := 0
		for _, f := range tl.files {
			if f.cur != nil {
				held++
			}
		}
		most, rounds = max(most, held), rounds+1
		return nil
	}}
	tl = New(cfg, storageclient.NewMemory(), []pipeline.Signal{sig}, obs, zap.NewNop())
	require.NoError(t, tl.Start(context.Background()))
	require.Eventually(t, func() bool { return obs.read() == total }, 60*time.Second, 10*time.Millisecond)
	require.NoError(t, tl.Stop(context.Background()))

	require.Greater(t, rounds, n/2, "the rounds were not small enough to tell")
	t.Logf("at most %d cursors held over %d rounds of %d files", most, rounds, n)
	// The round's files (one or two), and the one read across rounds.
	assert.LessOrEqual(t, most, 4, "cursors held while a backlog is read")
}

// TestBacklogEndedSessionsNotPublished: the sessions of the backlog that
// had ended are not published (the registry would keep an arbitrary
// thousand of them); asked for, each is read on demand from the tailer's
// checkpoint, as it would have been published. A session still open in
// the backlog, and one that ends after the tailer caught up, are.
func TestBacklogEndedSessionsNotPublished(t *testing.T) {
	dir := t.TempDir()
	total := writeFinished(t, dir, 30)
	id := "00000000-0000-4000-8000-0000000000aa"
	live := filepath.Join(dir, id, "events.jsonl")
	require.NoError(t, os.MkdirAll(filepath.Dir(live), 0o755))
	fh, err := os.Create(live)
	require.NoError(t, err)
	st, err := transcriptgen.Write(fh, transcriptgen.Options{Seed: 5, SessionID: id, Interactions: 1, Killed: true})
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	total += st.Bytes

	obs := &readObserver{}
	sig := pipeline.Signal{Name: "metrics", Consume: func(context.Context, *session.Facts) error { return nil }}
	tl := New(testConfig(dir), storageclient.NewMemory(), []pipeline.Signal{sig}, obs, zap.NewNop())
	require.NoError(t, tl.Start(context.Background()))
	defer func() { require.NoError(t, tl.Stop(context.Background())) }()
	require.Eventually(t, func() bool { return obs.read() == total }, 30*time.Second, 10*time.Millisecond)

	sessions := tl.Sessions()
	// Read is counted before the round's commit publishes.
	require.Eventually(t, func() bool { return sessions.Published(live) }, 30*time.Second, time.Millisecond)
	assert.Equal(t, 1, sessions.reg.Len(), "published: the open session only")
	ended := filepath.Join(dir, "00000000-0000-4000-8000-000000000007", "events.jsonl")
	require.False(t, sessions.Published(ended))
	got, err := sessions.Current(ended)
	require.NoError(t, err)
	c := session.NewCursor(ended, session.CursorOptions{})
	_, err = c.Update(nil)
	require.NoError(t, err)
	want := c.Snapshot()
	assert.True(t, got.Ended)
	assert.Equal(t, want.Offset, got.Offset)
	assert.Equal(t, want.Summary, got.Summary)
	assert.Equal(t, want.Context, got.Context)

	// Ended after the tailer caught up: published.
	id2 := "00000000-0000-4000-8000-0000000000bb"
	later := filepath.Join(dir, id2, "events.jsonl")
	require.NoError(t, os.MkdirAll(filepath.Dir(later), 0o755))
	fh, err = os.Create(later)
	require.NoError(t, err)
	st, err = transcriptgen.Write(fh, transcriptgen.Options{Seed: 6, SessionID: id2, Interactions: 1})
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	require.Eventually(t, func() bool { return sessions.Published(later) }, 30*time.Second, 10*time.Millisecond)
}
