package tailer

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// Storage keys. A transcript's checkpoint is under its path; the round being
// delivered, when a signal was accepted and another is still to go, under
// roundKey.
const (
	checkpointPrefix = "transcript:"
	sessionPrefix    = "session:"
	roundKey         = "round"
)

const checkpointVersion = 1

// checkpoint is what is stored for one transcript: where reading resumes,
// the fingerprint that tells whether the file at the path is still the same
// file, and whether its session has spans to end when it goes idle. The
// session's accounting state at that offset is stored beside it, under
// sessionPrefix, and read only when the transcript grows.
type checkpoint struct {
	Version int    `json:"v"`
	FPLen   int    `json:"fpLen"`
	FPHash  []byte `json:"fp"`
	Offset  int64  `json:"off"`
	Open    bool   `json:"open,omitempty"`
}

// pendingRound records a round whose delivery was under way: the files it
// read up to which offsets, the sessions it found idle, and the signals the
// pipeline already accepted. On start, the round is read again from the
// committed checkpoints and only the missing signals are delivered, so that
// nothing is sent twice or lost.
type pendingRound struct {
	Files map[string]int64 `json:"files"`
	Idle  []string         `json:"idle,omitempty"`
	Done  []string         `json:"done"`
}

func loadJSON(ctx context.Context, c storage.Client, key string, v any) (bool, error) {
	b, err := c.Get(ctx, key)
	if err != nil {
		return false, err
	}
	if b == nil {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, err
	}
	return true, nil
}

// memoryClient is the storage used when no storage extension is
// configured: checkpoints live as long as the process.
type memoryClient struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemoryClient() *memoryClient { return &memoryClient{m: map[string][]byte{}} }

func (c *memoryClient) Get(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key], nil
}

func (c *memoryClient) Set(_ context.Context, key string, value []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = value
	return nil
}

func (c *memoryClient) Delete(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
	return nil
}

func (c *memoryClient) Batch(_ context.Context, ops ...*storage.Operation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, op := range ops {
		switch op.Type {
		case storage.Get:
			op.Value = c.m[op.Key]
		case storage.Set:
			c.m[op.Key] = op.Value
		case storage.Delete:
			delete(c.m, op.Key)
		default:
			return errors.New("unknown storage operation")
		}
	}
	return nil
}

func (c *memoryClient) Close(context.Context) error { return nil }

func (c *memoryClient) Walk(_ context.Context, fn storage.WalkFunc) error {
	c.mu.Lock()
	keys := make([]string, 0, len(c.m))
	vals := make([][]byte, 0, len(c.m))
	for k, v := range c.m {
		keys = append(keys, k)
		vals = append(vals, v)
	}
	c.mu.Unlock()
	for i := range keys {
		ops, err := fn(keys[i], vals[i])
		if errors.Is(err, storage.SkipAll) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(ops) > 0 {
			if err := c.Batch(context.Background(), ops...); err != nil {
				return err
			}
		}
	}
	return nil
}
