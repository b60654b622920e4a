package tailer

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
)

// TestStoredStateIsCompressed: a real session's state is stored in under
// 40% of its JSON, reads back byte for byte, and a state an earlier
// version stored as plain JSON is still attached (the session goes on
// from it, not from the transcript's start).
func TestStoredStateIsCompressed(t *testing.T) {
	data, err := os.ReadFile(resumedSession)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "s", "events.jsonl")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, data, 0o644))
	c := session.NewCursor(path, session.CursorOptions{})
	_, err = c.Update(nil)
	require.NoError(t, err)
	state, err := c.Tracker().MarshalState()
	require.NoError(t, err)

	packed := packState(state)
	t.Logf("state %d bytes, stored %d", len(state), len(packed))
	assert.Less(t, len(packed)*10, len(state)*4, "stored state not under 40%% of its JSON")
	back, err := unpackState(packed)
	require.NoError(t, err)
	assert.Equal(t, string(state), string(back))

	// Small states and plain JSON pass as they are; a damaged frame is an
	// error, not a panic.
	assert.Equal(t, []byte(`{"v":1}`), packState([]byte(`{"v":1}`)))
	plain, err := unpackState(state)
	require.NoError(t, err)
	assert.Equal(t, string(state), string(plain))
	_, err = unpackState(append(append([]byte{}, packed[:len(packed)/2]...), 0xff, 0xff))
	assert.Error(t, err)

	// Committed through the store: compressed at rest, JSON when read.
	store := storageclient.NewMemory()
	cps := checkpoints{store}
	require.NoError(t, cps.commit(context.Background(), []saved{{path: path, cp: c.Checkpoint(), state: state}}))
	raw, err := store.Get(context.Background(), sessionPrefix+path)
	require.NoError(t, err)
	assert.Equal(t, packed, raw)
	got, err := cps.state(context.Background(), path)
	require.NoError(t, err)
	assert.Equal(t, string(state), string(got))
	_, gotState, err := cps.committed(context.Background(), path)
	require.NoError(t, err)
	assert.Equal(t, string(state), string(gotState))

	// As an earlier version stored it: plain JSON under the same key.
	require.NoError(t, store.Set(context.Background(), sessionPrefix+path, state))
	got, err = cps.state(context.Background(), path)
	require.NoError(t, err)
	assert.Equal(t, string(state), string(got))
	fresh := session.NewCursor(path, session.CursorOptions{})
	require.NoError(t, fresh.Attach(got))
	assert.Equal(t, c.Tracker().Summary(), fresh.Tracker().Summary())
}

// recordedStates are the states of the recorded sessions under
// testdata/copilot-cli, each read to its end, with their checkpoints.
func recordedStates(tb testing.TB) []saved {
	var out []saved
	require.NoError(tb, filepath.WalkDir("../../../../testdata/copilot-cli", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "events.jsonl" {
			return err
		}
		c := session.NewCursor(path, session.CursorOptions{})
		if _, err := c.Update(nil); err != nil {
			return err
		}
		state, err := c.Tracker().MarshalState()
		if err != nil {
			return err
		}
		out = append(out, saved{path: path, cp: c.Checkpoint(), state: state})
		return nil
	}))
	require.NotEmpty(tb, out)
	return out
}

// BenchmarkPackState packs the state of every recorded session in turn;
// stored-B/op is the mean size stored.
func BenchmarkPackState(b *testing.B) {
	states := recordedStates(b)
	var in, out int
	for _, s := range states {
		in += len(s.state)
		out += len(packState(s.state))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		packState(states[i%len(states)].state)
	}
	b.ReportMetric(float64(in)/float64(len(states)), "state-B/op")
	b.ReportMetric(float64(out)/float64(len(states)), "stored-B/op")
}

// BenchmarkUnpackState reads back what packState stored.
func BenchmarkUnpackState(b *testing.B) {
	states := recordedStates(b)
	packed := make([][]byte, len(states))
	for i, s := range states {
		packed[i] = packState(s.state)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := unpackState(packed[i%len(packed)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommit commits rounds of 16 finished sessions to a memory
// store, as a backlog's rounds do.
func BenchmarkCommit(b *testing.B) {
	states := recordedStates(b)
	cps := checkpoints{storageclient.NewMemory()}
	round := make([]saved, 16)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for j := range round {
			round[j] = states[(i*len(round)+j)%len(states)]
		}
		if err := cps.commit(context.Background(), round); err != nil {
			b.Fatal(err)
		}
	}
}
