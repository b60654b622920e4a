package tailer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/transcriptgen"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/pipeline"
)

// countingStore counts the writes (transactions) made to a storage client
// and the checkpoints each stores.
type countingStore struct {
	*storageclient.Memory
	mu          sync.Mutex
	writes      int
	checkpoints []int // per write
}

func (s *countingStore) wrote(ops ...*storage.Operation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, op := range ops {
		if op.Type == storage.Set && strings.HasPrefix(op.Key, checkpointPrefix) {
			n++
		}
	}
	s.writes++
	s.checkpoints = append(s.checkpoints, n)
}

func (s *countingStore) Set(ctx context.Context, key string, value []byte) error {
	s.wrote(storage.SetOperation(key, value))
	return s.Memory.Set(ctx, key, value)
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	s.wrote(storage.DeleteOperation(key))
	return s.Memory.Delete(ctx, key)
}

func (s *countingStore) Batch(ctx context.Context, ops ...*storage.Operation) error {
	write := false
	for _, op := range ops {
		write = write || op.Type != storage.Get
	}
	if write {
		s.wrote(ops...)
	}
	return s.Memory.Batch(ctx, ops...)
}

// TestCheckpointsOneWritePerRound: the checkpoints of every file a round
// read are stored in one transaction, with the round's record cleared in
// it; the writes of a round do not grow with the number of files. The
// round is recorded once before it is delivered, and, with several
// signals, after each accepted signal but the last.
func TestCheckpointsOneWritePerRound(t *testing.T) {
	const n = 40
	dir := t.TempDir()
	writeFinished(t, dir, n)
	store := &countingStore{Memory: storageclient.NewMemory()}
	cfg := testConfig(dir)
	cfg.MaxRoundEvents, cfg.MaxRoundBytes = 1<<30, 1<<40
	accept := func(name string) pipeline.Signal {
		return pipeline.Signal{Name: name, Consume: func(context.Context, *session.Facts) error { return nil }}
	}
	tl := New(cfg, store, []pipeline.Signal{accept("metrics"), accept("traces"), accept("logs")}, &readObserver{}, zap.NewNop())
	tl.step(context.Background(), true)

	require.Len(t, tl.files, n)
	for _, f := range tl.files {
		require.Equal(t, f.cur.Size(), f.committed, f.path)
	}
	// Recorded before the delivery, after metrics and traces, committed.
	assert.Equal(t, 4, store.writes, "writes of one round of %d files", n)
	assert.Equal(t, []int{0, 0, 0, n}, store.checkpoints)
}

// countingClient counts the storage calls the tailer makes.
type countingClient struct {
	storage.Client
	mu                sync.Mutex
	gets, batches     int
	stateGets, cpGets int
}

func (c *countingClient) Get(ctx context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	c.gets++
	if strings.HasPrefix(key, sessionPrefix) {
		c.stateGets++
	}
	if strings.HasPrefix(key, checkpointPrefix) {
		c.cpGets++
	}
	c.mu.Unlock()
	return c.Client.Get(ctx, key)
}

func (c *countingClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	c.mu.Lock()
	c.batches++
	for _, op := range ops {
		if op.Type == storage.Get && strings.HasPrefix(op.Key, sessionPrefix) {
			c.stateGets++
		}
		if op.Type == storage.Get && strings.HasPrefix(op.Key, checkpointPrefix) {
			c.cpGets++
		}
	}
	c.mu.Unlock()
	return c.Client.Batch(ctx, ops...)
}

// TestBacklogStorageCalls: on the first scan the checkpoints of the files
// found are looked up many per batch, not one call each (file_storage
// makes a write transaction of every call), and a transcript with no
// checkpoint has no session state looked up. After a restart the state of
// a transcript that grew is read, and the totals go on from it.
func TestBacklogStorageCalls(t *testing.T) {
	dir := t.TempDir()
	const n = 20
	var paths []string
	for i := range n {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1)
		path := filepath.Join(dir, id, "events.jsonl")
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		fh, err := os.Create(path)
		require.NoError(t, err)
		_, err = transcriptgen.Write(fh, transcriptgen.Options{Seed: int64(i + 1), SessionID: id, Interactions: 1, ToolOutputKB: 1, SystemPromptKB: 1, Killed: true})
		require.NoError(t, err)
		require.NoError(t, fh.Close())
		paths = append(paths, path)
	}
	mem := storageclient.NewMemory()
	cc := &countingClient{Client: mem}
	sig := pipeline.Signal{Name: "metrics", Consume: func(context.Context, *session.Facts) error { return nil }}
	tl := New(testConfig(dir), cc, []pipeline.Signal{sig}, nopObserver{}, zap.NewNop())
	ctx := context.Background()
	tl.step(ctx, true)
	for _, p := range paths {
		require.Positive(t, committedOffset(t, mem, p), p)
	}
	assert.Zero(t, cc.gets, "checkpoints or states were looked up one call each")
	assert.Equal(t, n, cc.cpGets, "each checkpoint is looked up once")
	assert.Zero(t, cc.stateGets, "states of transcripts without a checkpoint were looked up")

	// A restart: each transcript grows by a line; its state is read.
	line := []byte(`{"type":"assistant.turn_start","data":{"turnId":"9"},"id":"x1","timestamp":"2026-01-01T00:00:00.000Z","parentId":null}` + "\n")
	for _, p := range paths {
		fh, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = fh.Write(line)
		require.NoError(t, err)
		require.NoError(t, fh.Close())
	}
	cc2 := &countingClient{Client: mem}
	tl2 := New(testConfig(dir), cc2, []pipeline.Signal{sig}, nopObserver{}, zap.NewNop())
	tl2.step(ctx, true)
	assert.Equal(t, n, cc2.stateGets, "the states of grown transcripts with checkpoints were not read")
	for _, p := range paths {
		st, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, st.Size(), committedOffset(t, mem, p), p)
		f := tl2.files[p]
		require.NotNil(t, f)
		assert.Zero(t, f.cur.Restarts(), "read from its start again: the state was not found")
	}
}

// TestCheckpointJSON: a checkpoint is stored as encoding/json writes it,
// for the checkpoints of the recorded sessions and for checkpoints whose
// every field, found by reflection so that a field added later is covered
// too, is random; so that every version reads it as before.
func TestCheckpointJSON(t *testing.T) {
	var cps []session.Checkpoint
	for _, s := range recordedStates(t) {
		cps = append(cps, s.cp)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		var cp session.Checkpoint
		v := reflect.ValueOf(&cp).Elem()
		for i := range v.NumField() {
			switch f := v.Field(i); f.Interface().(type) {
			case int, int64:
				f.SetInt([]int64{0, 1, -1, 64, 1 << 40, math.MaxInt32}[r.IntN(6)])
			case bool:
				f.SetBool(r.IntN(2) == 0)
			case []byte:
				if n := r.IntN(40) - 1; n >= 0 {
					p := make([]byte, n)
					for j := range p {
						p[j] = byte(r.Uint32())
					}
					f.SetBytes(p)
				}
			default:
				t.Fatalf("no random values for checkpoint field %s (%s)", v.Type().Field(i).Name, f.Type())
			}
		}
		cps = append(cps, cp)
	}
	for i, cp := range cps {
		want, err := json.Marshal(cp)
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendCheckpoint(nil, &cp)), "checkpoint %d", i)
	}
}

// BenchmarkCheckpointJSON: a recorded session's checkpoint by
// encoding/json and as commit writes it.
func BenchmarkCheckpointJSON(b *testing.B) {
	states := recordedStates(b)
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := json.Marshal(states[i%len(states)].cp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendCheckpoint", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			var buf [256]byte
			_ = bytes.Clone(appendCheckpoint(buf[:0], &states[i%len(states)].cp))
		}
	})
}
