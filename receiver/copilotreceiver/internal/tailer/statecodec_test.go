package tailer

import (
	"bytes"
	"context"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/huff0"
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
	c, state := resumedState(t, "s")
	path := c.Path()

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

// zstdStoredState is the state of resumedSession as the previous version
// stored it: a zstd frame against zstdStateDict (dictionary id 1).
const zstdStoredState = "" +
	"28b52ffd410001fd025d0700b2ca1f1b800755b8faaffb3a21c5ae3e713dcd9c96b489493ab28a2a81a8118703e1028d" +
	"41140c0100e794626f937b9b35c12d44f5599cffcdcd0d62defb5290621c62a407feb3dff44b09d3b4eae8d5d01ee121" +
	"e4a89b354d62b25a8d1db082a3c08e5b0686c68eb3118f80207094ca99a64c854e654387acf08ec273cfe4f445012a20" +
	"c042000ac61e03905af50f54a20f3c1410d4030733a00342406e5dfc0f2244e30134200975968066116f90dc04cc67e4" +
	"038890f9b807830867c86de8ce645ca69ee9e28836c87bc3fb184c465014f4042c651422a283b411111dab8a94826e09" +
	"5885ca57914420"

// s2HuffStoredState is the state of resumedSession as this version
// stores it.
const s2HuffStoredState = "" +
	"ff02c4022693152faac4977c094a4a1a10a9f8009428a052e0e7a0f333ee9d57964abccbf5a8a14722d637e30dd9a364" +
	"6c666581c50e4b8b0c070d3370f1a84564f97e14ff4be2f310a999b5d359283962340a2c4a3e209227866d3c1b4318ce" +
	"ac1d1e168ac401a4631f486766d64e67a1442ba54409e251e5c3018f2a2ba524140eb2c7e2a3878f06645fcb81fca7e5" +
	"c45fc05759ce0b9bd9c5321b67a48431b23c4d87fc92af3a961b631cebcc491a77dfb2dce8c5b08b638fd8564b75e476" +
	"e7424f2bed709c8e877770e7f474dec1182985362a3035ef6a4f45b3e22b99d36741235fc94d4fc9b1b696db2067fb06" +
	"b7c85178397aa1b43a6a99b79f90af922823"

// TestStoredStateFormats: what each version stored is read back as the
// same JSON: a zstd frame of the previous version, plain JSON of earlier
// ones, and packState's s2 block; each is told from the others by its
// first byte, and a damaged or unknown one is an error, not a panic.
func TestStoredStateFormats(t *testing.T) {
	_, state := resumedState(t, "a92b1b62-74c7-4c1a-af6c-ac66b8e23ba2")

	frame, err := hex.DecodeString(zstdStoredState)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(frame, zstdMagic))
	got, err := unpackState(frame)
	require.NoError(t, err)
	assert.Equal(t, string(state), string(got), "a zstd frame of the previous version")

	packed := packState(state)
	assert.Equal(t, []byte{stateMagic, stateS2Huff}, packed[:2])
	assert.Less(t, len(packed)*10, len(frame)*11, "stored state over 10%% larger than the previous version's")
	got, err = unpackState(packed)
	require.NoError(t, err)
	assert.Equal(t, string(state), string(got))
	assert.Equal(t, cap(packed), len(packed), "stored state keeps spare capacity")

	// As this version stored it, so that a change of dictionary or table
	// that would leave stored states unreadable is noticed.
	stored, err := hex.DecodeString(s2HuffStoredState)
	require.NoError(t, err)
	got, err = unpackState(stored)
	require.NoError(t, err)
	assert.Equal(t, string(state), string(got), "a state this version stored")

	// A state the table does not make smaller is stored as its s2 block.
	noise := make([]byte, 2000)
	for i := range noise {
		noise[i] = byte(i*i*7919 + i>>3)
	}
	block := packState(noise)
	assert.Equal(t, []byte{stateMagic, stateS2}, block[:2])
	got, err = unpackState(block)
	require.NoError(t, err)
	assert.Equal(t, noise, got)

	got, err = unpackState(state)
	require.NoError(t, err)
	assert.Equal(t, string(state), string(got), "plain JSON")
	got, err = unpackState(append([]byte(" \n"), state...))
	require.NoError(t, err)
	assert.Equal(t, " \n"+string(state), string(got), "plain JSON after white space")

	for name, bad := range map[string][]byte{
		"header only":         packed[:1],
		"unknown codec":       append([]byte{stateMagic, stateS2Huff + 1}, packed[2:]...),
		"truncated":           packed[:len(packed)/2],
		"truncated s2 block":  block[:len(block)/2],
		"Huffman-coded as s2": append([]byte{stateMagic, stateS2}, packed[2:]...),
		"s2 as Huffman-coded": append([]byte{stateMagic, stateS2Huff}, block[2:]...),
		"huge s2 length":      {stateMagic, stateS2, 0xff, 0xff, 0xff, 0xff, 0x0f, 0},
		"huge block length":   {stateMagic, stateS2Huff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0},
		"damaged zstd frame":  append(append([]byte{}, frame[:len(frame)/2]...), 0xff, 0xff),
	} {
		_, err := unpackState(bad)
		assert.Error(t, err, name)
	}
}

// TestStateHuffTableCodesEveryByte: any s2 block can be coded with the
// table, so that only a block it does not make smaller is stored as it is.
func TestStateHuffTableCodesEveryByte(t *testing.T) {
	in := make([]byte, 0, 1024)
	for i := range 1024 {
		in = append(in, byte(i), '"')
	}
	s := newHuffScratch()
	coded, reused, err := huff0.Compress1X(in[:1024], s)
	require.NoError(t, err)
	assert.True(t, reused)
	out, err := huffDecoder().Decompress1X(make([]byte, 0, 1024), coded)
	require.NoError(t, err)
	assert.Equal(t, in[:1024], out)
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

// FuzzUnpackState: stored bytes, damaged in any way, are an error or a
// state, never a panic; and whatever packState compresses reads back as it
// was.
func FuzzUnpackState(f *testing.F) {
	frame, err := hex.DecodeString(zstdStoredState)
	require.NoError(f, err)
	stored, err := hex.DecodeString(s2HuffStoredState)
	require.NoError(f, err)
	f.Add(frame)
	f.Add(stored)
	f.Add(append([]byte{stateMagic, stateS2}, stored[4:]...))
	f.Add([]byte(`{"v":1,"s":{}}`))
	state, err := unpackState(stored)
	require.NoError(f, err)
	f.Add(state)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = unpackState(b)
		if len(b) < minPackedState {
			return // stored as it is: JSON, which none of the formats begins as
		}
		back, err := unpackState(packState(b))
		require.NoError(t, err)
		require.Equal(t, b, back)
	})
}

// resumedState copies the real resumed session into a session directory
// named dir, reads it whole, and returns its cursor and the state its
// tracker would store.
func resumedState(t *testing.T, dir string) (*session.Cursor, []byte) {
	t.Helper()
	data, err := os.ReadFile(resumedSession)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), dir, "events.jsonl")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return readState(t, path)
}

// readState reads the transcript at path with a cursor of its own and
// returns the cursor and its session's state, as a commit stores it.
func readState(t *testing.T, path string) (*session.Cursor, []byte) {
	t.Helper()
	c := session.NewCursor(path, session.CursorOptions{})
	_, err := c.Update(nil)
	require.NoError(t, err)
	state, err := c.Tracker().MarshalState()
	require.NoError(t, err)
	return c, state
}

// TestStateInCheckpointOfEarlierVersions: versions up to 9af8468 stored a
// session's state in its transcript's checkpoint, as its "session" field
// (their checkpoint struct: v, fpLen, fp, off, then session, the
// Tracker.MarshalState JSON), and nothing under sessionPrefix. That state
// is read, so that the transcript is read on from the checkpoint and not
// from its start, which would count its usage again (an upgrade from
// 9af8468 on 40 generated sessions counted 174 usage records twice).
func TestStateInCheckpointOfEarlierVersions(t *testing.T) {
	ctx := context.Background()
	c, state := resumedState(t, "s")
	path := c.Path()
	cp := appendCheckpoint(nil, &session.Checkpoint{Version: 1, FPLen: c.Checkpoint().FPLen, FPHash: c.Checkpoint().FPHash, Offset: c.Checkpoint().Offset})
	legacy := append(append(append(cp[:len(cp)-1:len(cp)-1], `,"session":`...), state...), '}')

	store := storageclient.NewMemory()
	cps := checkpoints{store}
	require.NoError(t, store.Set(ctx, checkpointPrefix+path, legacy))
	got, err := cps.state(ctx, path)
	require.NoError(t, err)
	assert.Equal(t, string(state), string(got))
	stored, gotState, err := cps.committed(ctx, path)
	require.NoError(t, err)
	require.NotNil(t, stored)
	assert.Equal(t, c.Checkpoint().Offset, stored.Offset)
	assert.Equal(t, string(state), string(gotState))

	fresh := session.NewCursor(path, session.CursorOptions{})
	require.NoError(t, fresh.SetCheckpoint(*stored))
	require.NoError(t, fresh.Attach(got), "read on from the checkpoint")
	assert.Equal(t, c.Tracker().Summary(), fresh.Tracker().Summary())

	// A state under sessionPrefix, committed since, is the one read.
	require.NoError(t, cps.commit(ctx, []saved{{path: path, cp: c.Checkpoint(), state: []byte(`{"v":1,"s":{"sid":"newer"}}`)}}))
	got, err = cps.state(ctx, path)
	require.NoError(t, err)
	assert.Contains(t, string(got), "newer")
}
