package storageclient

import (
	"context"
	"errors"
	"sort"
	"sync"

	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// Memory is a storage client that keeps everything in memory, for as
// long as the process lives: what a component uses when no storage
// extension is configured. It is safe for concurrent use and implements
// storage.Walker.
type Memory struct {
	mu sync.Mutex
	m  map[string][]byte
}

var (
	_ storage.Client = (*Memory)(nil)
	_ storage.Walker = (*Memory)(nil)
)

// NewMemory returns an empty in-memory client.
func NewMemory() *Memory { return &Memory{m: map[string][]byte{}} }

// Get returns the value of key, nil if there is none.
func (c *Memory) Get(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key], nil
}

// Set sets the value of key.
func (c *Memory) Set(_ context.Context, key string, value []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = value
	return nil
}

// Delete deletes key.
func (c *Memory) Delete(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
	return nil
}

// Batch runs ops in order, at once.
func (c *Memory) Batch(_ context.Context, ops ...*storage.Operation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.apply(ops)
}

func (c *Memory) apply(ops []*storage.Operation) error {
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

// Walk calls fn for every entry, in key order, as storage.Walker says:
// the operations fn returns are applied at the end, or after fn returns
// storage.SkipAll, and not at all when fn fails. fn sees a snapshot and
// may use the client.
func (c *Memory) Walk(_ context.Context, fn storage.WalkFunc) error {
	c.mu.Lock()
	keys := make([]string, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i] = c.m[k]
	}
	c.mu.Unlock()
	var ops []*storage.Operation
	for i, k := range keys {
		o, err := fn(k, vals[i])
		ops = append(ops, o...)
		if errors.Is(err, storage.SkipAll) {
			break
		}
		if err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.apply(ops)
}

// Close does nothing: the data stays until the client is dropped.
func (c *Memory) Close(context.Context) error { return nil }
