package sessionstore

import (
	"context"
	"time"
)

// SessionSpan returns when the session's first and last calls in the store
// ended (created_at), zero when the store has no row of the session or no
// created_at column. A reader comparing the store with a transcript uses it
// to tell whether the store holds calls from after a point in the
// transcript, or none from before it.
func (s *Store) SessionSpan(ctx context.Context, sessionID string) (first, last time.Time, err error) {
	if !s.columnSet()["created_at"] {
		return time.Time{}, time.Time{}, nil
	}
	err = s.retry(ctx, func() error {
		var lo, hi any
		if err := s.db.QueryRowContext(ctx, "SELECT min(created_at), max(created_at) FROM "+UsageTable+" WHERE session_id = ?", sessionID).Scan(&lo, &hi); err != nil {
			return err
		}
		first, last = asTime(lo), asTime(hi)
		return nil
	})
	return first, last, err
}
