package budget

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
)

// Store is the subset of the collector's storage.Client the tracker needs;
// go.opentelemetry.io/collector/extension/xextension/storage.Client
// satisfies it. When the store also has storage.Client's Batch, Commit
// writes in one batch (one transaction for the file_storage extension);
// when it has Walk (storage.Walker), state of windows long past is deleted.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
}

// batcher is storage.Client's Batch.
type batcher interface {
	Batch(ctx context.Context, ops ...*storage.Operation) error
}

// Storage keys.
//
//	budget/s/<name>/<window start, unix seconds>/<value>  state of one window of one value
//	budget/pending                                         crossings returned, not committed
//
// Name and value are path-escaped, so neither can contain a '/'.
const (
	statePrefix = "budget/s/"
	pendingKey  = "budget/pending"
)

const stateVersion = 1

func stateKey(name, value string, start time.Time) string {
	return statePrefix + url.PathEscape(name) + "/" + strconv.FormatInt(start.Unix(), 10) + "/" + url.PathEscape(value)
}

// storedState is the JSON of one (budget, value, window):
//
//	{"v":1,"start":"2026-06-01T00:00:00+02:00","end":"2026-06-02T00:00:00+02:00","spend":"12.5","crossed":[50,75]}
//
// spend is the window's spend as of the last Commit, as an exact decimal;
// crossed the thresholds whose crossing has been committed (delivered).
// Crossings returned but not committed are not here but under pendingKey.
// start and end let a sweep tell when the state can go without the
// budget's configuration.
type storedState struct {
	Version int          `json:"v"`
	Start   time.Time    `json:"start"`
	End     time.Time    `json:"end"`
	Spend   money.Amount `json:"spend"`
	Crossed []float64    `json:"crossed,omitempty"`
	// Sessions is the spend of the sessions that spent most (at most
	// trackedSessions), for the crossings' top sessions.
	Sessions map[string]money.Amount `json:"sessions,omitempty"`
}

// storedPending is the JSON under pendingKey: every crossing returned by
// Add and not yet committed, in the order they were returned.
type storedPending struct {
	Version   int        `json:"v"`
	Crossings []Crossing `json:"crossings"`
}

// loadJSON is storageclient.LoadJSON with the package's errors: "budget:
// reading <key>: …" from the store, "budget: decoding <key>: …" (a
// *storageclient.DecodeError) for a value that does not decode.
func loadJSON(ctx context.Context, s Store, key string, v any) (bool, error) {
	found, err := storageclient.LoadJSON(ctx, s, key, v)
	var d *storageclient.DecodeError
	switch {
	case err == nil:
		return found, nil
	case errors.As(err, &d):
		return false, fmt.Errorf("budget: %w", err)
	default:
		return false, fmt.Errorf("budget: reading %q: %w", key, err)
	}
}

// apply runs ops on s, in one Batch when s has one, else one by one in
// order.
func apply(ctx context.Context, s Store, ops []*storage.Operation) error {
	if len(ops) == 0 {
		return nil
	}
	if b, ok := s.(batcher); ok {
		if err := b.Batch(ctx, ops...); err != nil {
			return fmt.Errorf("budget: writing state: %w", err)
		}
		return nil
	}
	for _, op := range ops {
		var err error
		switch op.Type {
		case storage.Set:
			err = s.Set(ctx, op.Key, op.Value)
		case storage.Delete:
			err = s.Delete(ctx, op.Key)
		}
		if err != nil {
			return fmt.Errorf("budget: writing %q: %w", op.Key, err)
		}
	}
	return nil
}

// sweep deletes, from a store that can be walked, the state of windows
// whose expiry has passed, including windows of budgets no longer
// configured. It reports how many keys it deleted; a store that cannot be
// walked keeps such state.
func sweep(ctx context.Context, s Store, now time.Time) (int, error) {
	w, ok := s.(storage.Walker)
	if !ok {
		return 0, nil
	}
	n := 0
	err := w.Walk(ctx, func(key string, value []byte) ([]*storage.Operation, error) {
		if !strings.HasPrefix(key, statePrefix) {
			return nil, nil
		}
		var st storedState
		if err := json.Unmarshal(value, &st); err != nil || st.End.IsZero() {
			return nil, nil // not ours to judge
		}
		if now.Before(expiry(st.Start, st.End)) {
			return nil, nil
		}
		n++
		return []*storage.Operation{storage.DeleteOperation(key)}, nil
	})
	if err != nil {
		return 0, fmt.Errorf("budget: sweeping expired state: %w", err)
	}
	return n, nil
}
