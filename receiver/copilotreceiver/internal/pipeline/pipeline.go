// Package pipeline is what the receiver's two producers of facts, the
// transcript tailer and the hook endpoint, deliver to: the signals of the
// pipelines one configured receiver feeds.
package pipeline

import (
	"context"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// Signal is one of the pipeline's signals. Consume converts the facts and
// delivers them; when it returns a retryable error, the same facts may be
// offered again. Consume is called by one goroutine at a time per
// producer, and must not keep or modify the facts.
type Signal struct {
	Name    string
	Consume func(ctx context.Context, f *session.Facts) error
}

// Complete reports whether every signal is marked in done, by name.
func Complete(signals []Signal, done map[string]bool) bool {
	for _, s := range signals {
		if !done[s.Name] {
			return false
		}
	}
	return true
}
