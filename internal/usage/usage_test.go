package usage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

func transcripts(t *testing.T) []string {
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
	p := filepath.Join(dir, id, TranscriptName)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

func summaryOf(t *testing.T, path string) session.UsageSummary {
	t.Helper()
	f := New(path)
	_, err := f.Update()
	require.NoError(t, err)
	return f.Summary()
}

// TestIncrementalEqualsWhole grows each real transcript a few bytes at a
// time through Update, persisting and restoring the state between steps as
// the forwarder does, and compares the result with one read of the whole
// file. Cuts fall inside lines as well as between them.
func TestIncrementalEqualsWhole(t *testing.T) {
	for _, src := range transcripts(t) {
		data, err := os.ReadFile(src)
		require.NoError(t, err)
		id := SessionIDOf(src)
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(src))))+"/"+id, func(t *testing.T) {
			dir := t.TempDir()
			whole := summaryOf(t, copyTo(t, dir, "whole-"+id, data))
			if bytes.Contains(data, []byte(`"session.shutdown"`)) || bytes.Contains(data, []byte(`"session.usage_record"`)) {
				// Killed sessions of CLIs before 1.0.102 hold no usage.
				require.NotZero(t, whole.TokenDetails.Input, "nothing counted in %s", src)
			}

			p := copyTo(t, dir, id, nil)
			f := New(p)
			step := len(data)/7 + 1
			for n := 0; n < len(data); {
				n = min(n+step, len(data))
				require.NoError(t, os.WriteFile(p, data[:n], 0o644))
				_, err := f.Update()
				require.NoError(t, err)
				state, err := f.MarshalState()
				require.NoError(t, err)
				f, err = Restore(p, state)
				require.NoError(t, err)
			}
			assert.Equal(t, whole, f.Summary())
			assert.Equal(t, int64(len(data)), f.Offset())
			assert.Zero(t, f.Skipped())
		})
	}
}

// TestReplacedAndTruncated: a transcript rewritten under the same name is
// read again from the start without counting twice what it repeats.
func TestReplacedAndTruncated(t *testing.T) {
	src := transcripts(t)[0]
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	dir := t.TempDir()
	p := copyTo(t, dir, SessionIDOf(src), data)
	want := summaryOf(t, p)

	f := New(p)
	_, err = f.Update()
	require.NoError(t, err)

	// Truncated to its first half, then written whole again.
	cut := bytes.IndexByte(data[len(data)/2:], '\n') + len(data)/2 + 1
	require.NoError(t, os.WriteFile(p, data[:cut], 0o644))
	_, err = f.Update()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, data, 0o644))
	_, err = f.Update()
	require.NoError(t, err)
	assert.Equal(t, want, f.Summary())

	// Replaced by a file with another first line.
	other := append([]byte(`{"type":"session.start","data":{"sessionId":"x"},"id":"0","timestamp":"2026-01-01T00:00:00Z"}`+"\n"), data...)
	require.NoError(t, os.WriteFile(p, other, 0o644))
	_, err = f.Update()
	require.NoError(t, err)
	assert.Equal(t, want.TokenDetails, f.Summary().TokenDetails)
}

func TestRestoreRejects(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s", TranscriptName)
	f := New(p)
	state, err := f.MarshalState()
	require.NoError(t, err)
	_, err = Restore(p+"x", state)
	assert.ErrorContains(t, err, "not of")
	_, err = Restore(p, []byte("{"))
	assert.ErrorContains(t, err, "not readable")
	_, err = Restore(p, []byte(`{"v":99}`))
	assert.ErrorContains(t, err, "version 99")
	_, err = Restore(p, []byte(`{"v":1,"path":"`+p+`","fp":"AAAA"}`))
	assert.ErrorContains(t, err, "malformed")
}

func TestUpdateMissingAndNotRegular(t *testing.T) {
	dir := t.TempDir()
	_, err := New(filepath.Join(dir, "s", TranscriptName)).Update()
	assert.True(t, errors.Is(err, os.ErrNotExist))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "d", TranscriptName), 0o755))
	_, err = New(filepath.Join(dir, "d", TranscriptName)).Update()
	assert.ErrorContains(t, err, "not a regular file")
}

// TestReplacedTwice: after a replacement the new file's fingerprint is
// kept, so a second replacement is noticed too and the third file is read
// whole. Three real transcripts of growing size; the last is the only one
// with its model.
func TestReplacedTwice(t *testing.T) {
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
	f := New(p)
	for _, b := range data {
		require.NoError(t, os.WriteFile(p, b, 0o644))
		_, err := f.Update()
		require.NoError(t, err)
		state, err := f.MarshalState()
		require.NoError(t, err)
		f, err = Restore(p, state)
		require.NoError(t, err)
	}
	assert.Equal(t, want, f.Summary().ModelMetrics["claude-sonnet-4"])
	assert.Equal(t, int64(len(data[2])), f.Offset())
}
