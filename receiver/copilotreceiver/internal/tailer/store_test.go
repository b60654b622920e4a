package tailer

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
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
