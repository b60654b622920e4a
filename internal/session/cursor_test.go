package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func realTranscripts(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{
		"../../testdata/copilot-cli/*/session-state/*/events.jsonl",
		"../../testdata/copilot-cli/recorded/*/session-state/*/events.jsonl",
	} {
		m, err := filepath.Glob(pat)
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.NotEmpty(t, files)
	return files
}

// copyTo writes b into a session directory of its own under dir.
func copyTo(t *testing.T, dir, id string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, id, "events.jsonl")
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

func summaryOf(t *testing.T, path string) UsageSummary {
	t.Helper()
	c := NewCursor(path, CursorOptions{})
	_, err := c.Update(nil)
	require.NoError(t, err)
	return c.Tracker().Summary()
}

// persist stores a cursor as its owners do (checkpoint and tracker state,
// apart) and restores it, with its tracker attached only when read.
func persist(t *testing.T, c *Cursor) *Cursor {
	t.Helper()
	cp, err := json.Marshal(c.Checkpoint())
	require.NoError(t, err)
	state, err := c.Tracker().MarshalState()
	require.NoError(t, err)
	var back Checkpoint
	require.NoError(t, json.Unmarshal(cp, &back))
	r := NewCursor(c.Path(), CursorOptions{})
	require.NoError(t, r.SetCheckpoint(back))
	require.False(t, r.Attached())
	require.NoError(t, r.Attach(state))
	return r
}

// TestCursorIncrementalEqualsWhole grows each real transcript a few bytes
// at a time, persisting and restoring the cursor between steps, and
// compares the result with one read of the whole file. Cuts fall inside
// lines as well as between them.
func TestCursorIncrementalEqualsWhole(t *testing.T) {
	for _, src := range realTranscripts(t) {
		data, err := os.ReadFile(src)
		require.NoError(t, err)
		id := filepath.Base(filepath.Dir(src))
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(src))))+"/"+id, func(t *testing.T) {
			dir := t.TempDir()
			whole := summaryOf(t, copyTo(t, dir, "whole-"+id, data))
			if bytes.Contains(data, []byte(`"session.shutdown"`)) || bytes.Contains(data, []byte(`"session.usage_record"`)) {
				// Killed sessions of CLIs before 1.0.102 hold no usage.
				require.NotZero(t, whole.TokenDetails.Input, "nothing counted in %s", src)
			}

			p := copyTo(t, dir, id, nil)
			c := NewCursor(p, CursorOptions{})
			step := len(data)/7 + 1
			for n := 0; n < len(data); {
				n = min(n+step, len(data))
				require.NoError(t, os.WriteFile(p, data[:n], 0o644))
				_, err := c.Update(nil)
				require.NoError(t, err)
				c = persist(t, c)
			}
			assert.Equal(t, whole, c.Tracker().Summary())
			assert.Equal(t, int64(len(data)), c.Offset())
			assert.Zero(t, c.Restarts())
		})
	}
}

// TestCursorReplacedAndTruncated: a transcript rewritten under the same
// name is read again from the start without counting twice what it
// repeats.
func TestCursorReplacedAndTruncated(t *testing.T) {
	src := realTranscripts(t)[0]
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	dir := t.TempDir()
	p := copyTo(t, dir, filepath.Base(filepath.Dir(src)), data)
	want := summaryOf(t, p)

	c := NewCursor(p, CursorOptions{})
	_, err = c.Update(nil)
	require.NoError(t, err)

	// Truncated to its first half, then written whole again.
	cut := bytes.IndexByte(data[len(data)/2:], '\n') + len(data)/2 + 1
	require.NoError(t, os.WriteFile(p, data[:cut], 0o644))
	_, err = c.Update(nil)
	require.NoError(t, err)
	assert.Equal(t, 1, c.Restarts())
	require.NoError(t, os.WriteFile(p, data, 0o644))
	_, err = c.Update(nil)
	require.NoError(t, err)
	assert.Equal(t, want, c.Tracker().Summary())
	assert.Equal(t, 1, c.Restarts(), "a file that grew back was read again")

	// Replaced by a file with another first line.
	other := append([]byte(`{"type":"session.start","data":{"sessionId":"x"},"id":"0","timestamp":"2026-01-01T00:00:00Z"}`+"\n"), data...)
	require.NoError(t, os.WriteFile(p, other, 0o644))
	_, err = c.Update(nil)
	require.NoError(t, err)
	assert.Equal(t, 2, c.Restarts())
	assert.Equal(t, want.TokenDetails, c.Tracker().Summary().TokenDetails)
}

// TestCursorRewrittenBeforeOffset: a line changed before the offset read,
// the first bytes and the length unchanged, is noticed by the tail mark.
func TestCursorRewrittenBeforeOffset(t *testing.T) {
	src := realTranscripts(t)[0]
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	p := copyTo(t, t.TempDir(), "s", data)
	c := NewCursor(p, CursorOptions{})
	_, err = c.Update(nil)
	require.NoError(t, err)
	c = persist(t, c) // the mark survives the checkpoint
	changed := bytes.Clone(data)
	changed[len(changed)-3] ^= 1
	require.NoError(t, os.WriteFile(p, changed, 0o644))
	r, err := c.Open(ReadOptions{})
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, "replaced", r.Restart)
	assert.Zero(t, c.Offset())
}

func TestCursorCheckpointRejects(t *testing.T) {
	c := NewCursor(filepath.Join(t.TempDir(), "s", "events.jsonl"), CursorOptions{})
	good := c.Checkpoint()
	require.NoError(t, c.SetCheckpoint(good))
	bad := good
	bad.Version = 99
	assert.ErrorContains(t, c.SetCheckpoint(bad), "version 99")
	bad = good
	bad.FPHash = []byte{0, 0, 0}
	assert.ErrorContains(t, c.SetCheckpoint(bad), "malformed")
	bad = good
	bad.Offset = -1
	assert.ErrorContains(t, c.SetCheckpoint(bad), "malformed")
}

// TestCursorAttach: past the start, a cursor cannot go on without its
// session's state: it starts over and says why. At the start, a state
// means a replay: what it counted is not counted again.
func TestCursorAttach(t *testing.T) {
	src := realTranscripts(t)[0]
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	p := copyTo(t, t.TempDir(), "s", data)
	c := NewCursor(p, CursorOptions{})
	_, err = c.Update(nil)
	require.NoError(t, err)
	cp := c.Checkpoint()
	state, err := c.Tracker().MarshalState()
	require.NoError(t, err)

	for name, st := range map[string][]byte{"missing": nil, "unreadable": []byte("{")} {
		r := NewCursor(p, CursorOptions{})
		require.NoError(t, r.SetCheckpoint(cp))
		err := r.Attach(st)
		require.Error(t, err, name)
		if st == nil {
			assert.ErrorIs(t, err, ErrNoState)
		}
		assert.True(t, r.Attached())
		assert.Zero(t, r.Offset(), name)
	}

	// The file was truncated to nothing and the tracker released; it is
	// written again whole: nothing is counted twice.
	r := NewCursor(p, CursorOptions{})
	cp.Offset, cp.TailLen, cp.TailHash = 0, 0, nil
	require.NoError(t, r.SetCheckpoint(cp))
	require.NoError(t, r.Attach(state))
	before := r.Tracker().Summary()
	_, err = r.Update(nil)
	require.NoError(t, err)
	assert.Equal(t, before, r.Tracker().Summary())
}

// TestCursorRelease: a tracker is not released while a read is under way
// (a round committed in the middle of a file needs it for the next line);
// a released tracker is attached from the stored state when the file
// grows, and not when it did not.
func TestCursorRelease(t *testing.T) {
	src := realTranscripts(t)[0]
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	lines := bytes.SplitAfter(data, []byte("\n"))
	p := copyTo(t, t.TempDir(), "s", bytes.Join(lines[:3], nil))
	c := NewCursor(p, CursorOptions{})
	r, err := c.Open(ReadOptions{})
	require.NoError(t, err)
	_, err = r.Next(nil)
	require.NoError(t, err)
	assert.False(t, c.Release(), "released during a read")
	for {
		if _, err := r.Next(nil); err == io.EOF {
			break
		}
	}
	require.NoError(t, r.Done())
	state, err := c.Tracker().MarshalState()
	require.NoError(t, err)
	require.True(t, c.Release())

	loads := 0
	opts := ReadOptions{State: func() ([]byte, error) { loads++; return state, nil }}
	r, err = c.Open(opts)
	require.NoError(t, err)
	assert.True(t, r.Empty())
	r.Close()
	assert.Zero(t, loads, "the state was loaded for a file that did not grow")
	assert.False(t, c.Attached())

	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(bytes.Join(lines[3:], nil))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	r, err = c.Open(opts)
	require.NoError(t, err)
	for {
		if _, err := r.Next(nil); err == io.EOF {
			break
		}
	}
	require.NoError(t, r.Done())
	assert.Equal(t, 1, loads)
	assert.Equal(t, summaryOf(t, p), c.Tracker().Summary())
}

// TestCursorUntil reads up to an offset, as a recovered round does, and
// refuses when the file changed.
func TestCursorUntil(t *testing.T) {
	src := realTranscripts(t)[0]
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	lines := bytes.SplitAfter(data, []byte("\n"))
	half := int64(len(bytes.Join(lines[:len(lines)/2], nil)))
	p := copyTo(t, t.TempDir(), "s", data)
	c := NewCursor(p, CursorOptions{})
	r, err := c.Open(ReadOptions{Bounded: true, Until: half})
	require.NoError(t, err)
	for {
		if _, err := r.Next(nil); err == io.EOF {
			break
		}
	}
	require.NoError(t, r.Done())
	assert.Equal(t, half, c.Offset())
	_, err = c.Open(ReadOptions{Bounded: true, Until: int64(len(data)) + 1})
	assert.ErrorContains(t, err, "changed")
}

func TestCursorMissingAndNotRegular(t *testing.T) {
	dir := t.TempDir()
	_, err := NewCursor(filepath.Join(dir, "s", "events.jsonl"), CursorOptions{}).Update(nil)
	assert.True(t, errors.Is(err, os.ErrNotExist))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "d", "events.jsonl"), 0o755))
	_, err = NewCursor(filepath.Join(dir, "d", "events.jsonl"), CursorOptions{}).Update(nil)
	assert.ErrorContains(t, err, "not a regular file")
}

// TestCursorReplacedTwice: after a replacement the new file's fingerprint
// is kept, so a second replacement is noticed too and the third file is
// read whole. Three real transcripts of growing size; the last is the only
// one with its model.
func TestCursorReplacedTwice(t *testing.T) {
	root := "../../testdata/copilot-cli/"
	var data [][]byte
	for _, rel := range []string{
		"1.0.102/session-state/5fc41fe9-2cf0-4410-b210-6aeb460047e4/events.jsonl",
		"1.0.102/session-state/f6f52fa3-9552-4207-8d6e-47987374b948/events.jsonl",
		"1.0.102-repos/session-state/3e1d5635-58f2-4b17-b6d0-02b76b62a345/events.jsonl", // claude-sonnet-4
	} {
		b, err := os.ReadFile(root + rel)
		require.NoError(t, err)
		data = append(data, b)
	}
	dir := t.TempDir()
	want := summaryOf(t, copyTo(t, dir, "last-alone", data[2])).ModelMetrics["claude-sonnet-4"]
	require.NotZero(t, want.Requests.Count)

	p := copyTo(t, dir, "s", nil)
	c := NewCursor(p, CursorOptions{})
	for _, b := range data {
		require.NoError(t, os.WriteFile(p, b, 0o644))
		_, err := c.Update(nil)
		require.NoError(t, err)
		c = persist(t, c)
	}
	assert.Equal(t, want, c.Tracker().Summary().ModelMetrics["claude-sonnet-4"])
	assert.Equal(t, int64(len(data[2])), c.Offset())
}

// TestCursorSnapshot: a snapshot is current while the file is as it was
// read to its end.
func TestCursorSnapshot(t *testing.T) {
	src := realTranscripts(t)[0]
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	p := copyTo(t, t.TempDir(), "3400c9a6", data)
	c := NewCursor(p, CursorOptions{})
	_, err = c.Update(nil)
	require.NoError(t, err)
	s := c.Snapshot()
	assert.Equal(t, "3400c9a6", s.SessionID)
	assert.Equal(t, c.Tracker().Metrics(), s.Metrics)
	assert.Equal(t, c.Tracker().Summary(), s.Summary)
	fi, err := os.Stat(p)
	require.NoError(t, err)
	assert.True(t, s.Current(fi))
	require.NoError(t, os.WriteFile(p, append(data, '\n'), 0o644))
	fi, err = os.Stat(p)
	require.NoError(t, err)
	assert.False(t, s.Current(fi))
}

func TestRegistry(t *testing.T) {
	evicted := 0
	r := NewRegistry(2, func() { evicted++ })
	r.Publish(Snapshot{Path: "/a/s1/events.jsonl", SessionID: "s1", Offset: 1})
	r.Publish(Snapshot{Path: "/a/s2/events.jsonl", SessionID: "s2"})
	r.Publish(Snapshot{Path: "/a/s1/events.jsonl", SessionID: "s1", Offset: 2})
	s, ok := r.Get("/a/s1/events.jsonl")
	require.True(t, ok)
	assert.Equal(t, int64(2), s.Offset)
	assert.Zero(t, evicted)
	r.Publish(Snapshot{Path: "/b/s3/events.jsonl", SessionID: "s3"}) // s2 is the oldest
	assert.Equal(t, 1, evicted)
	_, ok = r.Get("/a/s2/events.jsonl")
	assert.False(t, ok)
	_, ok = r.Path("s2")
	assert.False(t, ok)
	p, ok := r.Path("s3")
	require.True(t, ok)
	assert.Equal(t, "/b/s3/events.jsonl", p)
	r.Forget(p)
	_, ok = r.Path("s3")
	assert.False(t, ok)
	assert.Equal(t, 1, r.Len())
	assert.Equal(t, 1, evicted, "a session forgotten on purpose is not an eviction")
}

// TestCursorEmptyTranscript: a transcript with nothing in it yet has a
// session with no usage.
func TestCursorEmptyTranscript(t *testing.T) {
	c := NewCursor(copyTo(t, t.TempDir(), "s", nil), CursorOptions{})
	read, err := c.Update(nil)
	require.NoError(t, err)
	assert.False(t, read)
	assert.Zero(t, c.Snapshot().Summary.TotalNanoAIU)
}
