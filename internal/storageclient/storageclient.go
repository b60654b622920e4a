// Package storageclient gets a client of a storage extension for a
// component, with errors that name the configuration key that chose it.
package storageclient

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// Get returns the client the storage extension id gives the component
// owner of kind. key is the configuration key naming the extension
// ("session_state::storage"); errors start with it.
func Get(ctx context.Context, host component.Host, key string, id component.ID, kind component.Kind, owner component.ID) (storage.Client, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, fmt.Errorf("%s: extension %q is not configured; add it under extensions and to service::extensions", key, id)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("%s: extension %q is not a storage extension", key, id)
	}
	c, err := se.GetClient(ctx, kind, owner, "")
	if err != nil {
		return nil, fmt.Errorf("%s: extension %q: %w", key, id, err)
	}
	return c, nil
}
