package storageclient

import (
	"context"
	"encoding/json"
	"fmt"
)

// Getter is the part of a storage client LoadJSON reads with.
type Getter interface {
	Get(ctx context.Context, key string) ([]byte, error)
}

// DecodeError is LoadJSON's error for a stored value that is not the JSON
// expected, as opposed to the store's own errors.
type DecodeError struct {
	Key string
	Err error
}

func (e *DecodeError) Error() string { return fmt.Sprintf("decoding %q: %v", e.Key, e.Err) }
func (e *DecodeError) Unwrap() error { return e.Err }

// LoadJSON reads key into v; false when the key has no value. An error of
// the store is returned as is; a value that does not decode, as a
// *DecodeError.
func LoadJSON(ctx context.Context, g Getter, key string, v any) (bool, error) {
	b, err := g.Get(ctx, key)
	if err != nil {
		return false, err
	}
	if b == nil {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, &DecodeError{Key: key, Err: err}
	}
	return true, nil
}
