// Package collectortest runs a distribution's collector in-process for a
// test: started, waited for until it runs, and stopped with the test's
// checks on how it ended.
package collectortest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/otelcol"
)

// Run starts a collector with set and waits until it runs; it fails the
// test if the collector cannot be made or ends at start. stop shuts it
// down and waits (up to 30 s) for it to end without an error.
func Run(t *testing.T, set otelcol.CollectorSettings) (stop func()) {
	t.Helper()
	col, err := otelcol.NewCollector(set)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- col.Run(context.Background()) }()
	require.Eventually(t, func() bool {
		select {
		case err := <-done:
			done <- err
			return true
		default:
		}
		return col.GetState() == otelcol.StateRunning
	}, 30*time.Second, 50*time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the collector ended at start: %v", err)
	default:
	}
	return func() {
		col.Shutdown()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("the collector did not stop")
		}
	}
}
