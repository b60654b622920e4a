package tailer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/pipeline"
)

type nopObserver struct{}

func (nopObserver) LineSkipped(string)     {}
func (nopObserver) LineRepaired()          {}
func (nopObserver) Read(int, int64)        {}
func (nopObserver) DuplicateRecords(int64) {}
func (nopObserver) AccountingExcess(int64) {}
func (nopObserver) Retry(string)           {}
func (nopObserver) Dropped(string)         {}
func (nopObserver) FilesTracked(int)       {}
func (nopObserver) SnapshotEvicted()       {}

// readObserver counts the bytes read, and the steps (FilesTracked is
// called at the end of each).
type readObserver struct {
	nopObserver
	mu    sync.Mutex
	bytes int64
	step  int
}

func (o *readObserver) FilesTracked(int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.step++
}

func (o *readObserver) steps() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.step
}

func (o *readObserver) Read(_ int, bytes int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.bytes += bytes
}

func (o *readObserver) read() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.bytes
}

// collector is a signal that keeps the facts it is given.
type collector struct {
	mu    sync.Mutex
	facts session.Facts
}

func (c *collector) signal() pipeline.Signal {
	return pipeline.Signal{Name: "metrics", Consume: func(_ context.Context, f *session.Facts) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.facts.Usage = append(c.facts.Usage, f.Usage...)
		c.facts.Lifecycle = append(c.facts.Lifecycle, f.Lifecycle...)
		return nil
	}}
}

func (c *collector) get() session.Facts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return session.Facts{Usage: append([]session.UsageFact(nil), c.facts.Usage...), Lifecycle: append([]session.LifecycleFact(nil), c.facts.Lifecycle...)}
}

const resumedSession = "../../../../testdata/copilot-cli/1.0.102/session-state/a92b1b62-74c7-4c1a-af6c-ac66b8e23ba2/events.jsonl"

func testConfig(dir string) Config {
	return Config{
		Include:      []string{filepath.Join(dir, "*", "events.jsonl")},
		PollInterval: 10 * time.Millisecond, RescanInterval: 20 * time.Millisecond, IdleTimeout: time.Hour,
		RetryInitial: time.Millisecond, RetryMax: time.Millisecond,
	}
}

// committedOffset is the offset of the transcript's checkpoint in store.
func committedOffset(t *testing.T, store *storageclient.Memory, path string) int64 {
	cp, found, err := checkpoints{store}.load(context.Background(), path)
	require.NoError(t, err)
	if !found {
		return -1
	}
	return cp.Offset
}

// usageOf is the usage facts of a whole reading of data.
func usageOf(t *testing.T, data []byte) []session.UsageFact {
	dir := t.TempDir()
	p := filepath.Join(dir, "s", "events.jsonl")
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, data, 0o644))
	c := session.NewCursor(p, session.CursorOptions{})
	r, err := c.Open(session.ReadOptions{})
	require.NoError(t, err)
	defer r.Close()
	var f session.Facts
	for {
		if _, err := r.Next(&f); err != nil {
			break
		}
	}
	return f.Usage
}

// TestCheckpointOfPreviousVersion starts from what the previous version
// of the tailer stored after reading the first half of a transcript
// (testdata/checkpoint-v1.tsv: its storage keys and values, written by
// that version, the path replaced): the restart reads on from there, not
// from the start, and counts nothing of the first half again.
func TestCheckpointOfPreviousVersion(t *testing.T) {
	data, err := os.ReadFile(resumedSession)
	require.NoError(t, err)
	lines := bytes.SplitAfter(data, []byte("\n"))
	half := bytes.Join(lines[:len(lines)/2], nil)
	require.Len(t, half, 23309, "the fixture was written after these bytes")

	dir := t.TempDir()
	path := filepath.Join(dir, "s", "events.jsonl")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, data, 0o644))
	store := storageclient.NewMemory()
	fixture, err := os.ReadFile(filepath.Join("testdata", "checkpoint-v1.tsv"))
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(string(fixture)), "\n") {
		key, value, ok := strings.Cut(line, "\t")
		require.True(t, ok)
		require.NoError(t, store.Set(context.Background(), strings.ReplaceAll(key, "@TRANSCRIPT@", path), []byte(value)))
	}

	c := &collector{}
	obs := &readObserver{}
	tl := New(testConfig(dir), store, []pipeline.Signal{c.signal()}, obs, zap.NewNop())
	require.NoError(t, tl.Start(context.Background()))
	defer func() { require.NoError(t, tl.Stop(context.Background())) }()
	require.Eventually(t, func() bool { return committedOffset(t, store, path) == int64(len(data)) }, 5*time.Second, 10*time.Millisecond)

	assert.Equal(t, int64(len(data)-len(half)), obs.read(), "not read on from the checkpoint")
	got := c.get()
	all, first := usageOf(t, data), usageOf(t, half)
	require.NotEmpty(t, first)
	assert.Len(t, got.Usage, len(all)-len(first), "usage of the first half counted again")
	for _, l := range got.Lifecycle {
		assert.NotEqual(t, session.StateStarted, l.State, "the session's start counted again")
	}
}

// TestSessionsResumeFromTheCommit: a transcript the registry does not hold
// is read on demand from where the tailer's last commit left it, not from
// its start.
func TestSessionsResumeFromTheCommit(t *testing.T) {
	data, err := os.ReadFile(resumedSession)
	require.NoError(t, err)
	lines := bytes.SplitAfter(data, []byte("\n"))
	half := bytes.Join(lines[:len(lines)/2], nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "s", "events.jsonl")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, half, 0o644))

	// A commit after the first half, whose session state is made to say
	// something the transcript does not: a read from the start would not
	// say it.
	c, state := readState(t, path)
	store := storageclient.NewMemory()
	cp := c.Checkpoint()
	b := strings.Replace(string(state), `"Branch":"feature/PAY-4411-refund-retries"`, `"Branch":"only-in-the-state"`, 1)
	require.NotEqual(t, string(state), b)
	require.NoError(t, checkpoints{store}.commit(context.Background(), []saved{{path: path, cp: cp, state: []byte(b)}}))

	s := newSessions(session.NewRegistry(4, nil), checkpoints{store}, session.CursorOptions{})
	snap, err := s.Current(path)
	require.NoError(t, err)
	assert.Equal(t, "only-in-the-state", snap.Context.Branch, "read from the start")

	// It grows: the rest is read on demand, on from there.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(data[len(half):])
	require.NoError(t, err)
	require.NoError(t, f.Close())
	snap, err = s.Current(path)
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), snap.Offset)
	assert.True(t, snap.AtEnd)
	assert.Equal(t, summaryOfData(t, data).TokenDetails, snap.Summary.TokenDetails)

	// Published by the tailer and current: that snapshot is the answer.
	pub := snap
	pub.Context.Branch = "published"
	s.publish(pub)
	got, err := s.Current(path)
	require.NoError(t, err)
	assert.Equal(t, "published", got.Context.Branch)
	ctx, err := s.Context(path)
	require.NoError(t, err)
	assert.Equal(t, "published", ctx.Branch)
	p, ok := s.Path("s")
	require.True(t, ok)
	assert.Equal(t, path, p)
}

func summaryOfData(t *testing.T, data []byte) session.UsageSummary {
	dir := t.TempDir()
	p := filepath.Join(dir, "s", "events.jsonl")
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, data, 0o644))
	c := session.NewCursor(p, session.CursorOptions{})
	_, err := c.Update(nil)
	require.NoError(t, err)
	return c.Tracker().Summary()
}
