package storageclient

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

func TestMemoryWalk(t *testing.T) {
	ctx := context.Background()
	c := NewMemory()
	for _, k := range []string{"c", "a", "b"} {
		require.NoError(t, c.Set(ctx, k, []byte(k)))
	}
	// Keys in order; operations applied after SkipAll.
	var seen []string
	require.NoError(t, c.Walk(ctx, func(k string, _ []byte) ([]*storage.Operation, error) {
		seen = append(seen, k)
		if k == "b" {
			return []*storage.Operation{storage.DeleteOperation("a")}, storage.SkipAll
		}
		return nil, nil
	}))
	assert.Equal(t, []string{"a", "b"}, seen)
	v, _ := c.Get(ctx, "a")
	assert.Nil(t, v)

	// A failing walk applies nothing.
	boom := errors.New("boom")
	err := c.Walk(ctx, func(k string, _ []byte) ([]*storage.Operation, error) {
		if k == "c" {
			return nil, boom
		}
		return []*storage.Operation{storage.DeleteOperation(k)}, nil
	})
	require.ErrorIs(t, err, boom)
	v, _ = c.Get(ctx, "b")
	assert.Equal(t, []byte("b"), v)
}
