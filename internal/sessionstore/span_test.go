package sessionstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSessionSpan: the times of a session's first and last rows, zero for
// a session the store does not have.
func TestSessionSpan(t *testing.T) {
	s := fixture(t)
	first, last, err := s.SessionSpan(t.Context(), subagentSession)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 12, 7, 13, 58, 6, 46e6, time.UTC), first)
	assert.Equal(t, time.Date(2026, 12, 7, 13, 58, 6, 496e6, time.UTC), last)

	first, last, err = s.SessionSpan(t.Context(), "no-such-session")
	require.NoError(t, err)
	assert.True(t, first.IsZero() && last.IsZero())
}
