package transcript

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// timestampMember matches the envelope's timestamp member with its comma.
var timestampMember = regexp.MustCompile(`,"timestamp":"[^"]*"`)

// TestTimelessUsageIsRepaired: an event that carries usage (a usage
// record, a shutdown) whose timestamp is missing or not RFC 3339 is read
// whole, as a repaired event without a time, not skipped; any other event
// without a valid timestamp is still skipped.
func TestTimelessUsageIsRepaired(t *testing.T) {
	const (
		turnStart = 8  // assistant.turn_start
		record    = 9  // session.usage_record
		shutdown  = 52 // session.shutdown
	)
	drop := func(line []byte) []byte {
		require.Len(t, timestampMember.FindAll(line, -1), 1)
		return timestampMember.ReplaceAll(line, nil)
	}
	garble := func(line []byte) []byte {
		require.Len(t, timestampMember.FindAll(line, -1), 1)
		return timestampMember.ReplaceAll(line, []byte(`,"timestamp":"yesterday"`))
	}
	for _, tc := range []struct {
		name  string
		input []byte
		want  []string
	}{
		{"record without timestamp", join(drop(realLine(t, sessBilled1, record)), nl), []string{"repaired session.usage_record"}},
		{"shutdown with a timestamp that is not RFC 3339", join(garble(realLine(t, sessBilled1, shutdown)), nl), []string{"repaired session.shutdown"}},
		{"shutdown without timestamp behind a torn fragment", join(
			cutAfter(t, realLine(t, sessBilled1, turnStart), `"data":{`), drop(realLine(t, sessBilled1, shutdown)), nl,
		), []string{"skip torn_line", "repaired session.shutdown"}},
		{"other events are still skipped", join(
			drop(realLine(t, sessBilled1, turnStart)), nl,
			garble(realLine(t, sessBilled1, turnStart)), nl,
		), []string{"skip invalid_timestamp", "skip invalid_timestamp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(tc.input), 0, 0, Options{})
			items := readAll(t, r, len(tc.input))
			require.Equal(t, tc.want, describeAll(items))
			for _, it := range items {
				if it.Event == nil {
					continue
				}
				require.True(t, it.Event.Timestamp.IsZero(), "the time is left to the tracker")
				require.NotNil(t, it.Event.Data)
			}
		})
	}

	// The repaired event is the one an intact line makes, but for its time.
	intact, err := Decode(realLine(t, sessBilled1, shutdown), Options{})
	require.NoError(t, err)
	repaired, err := Decode(drop(realLine(t, sessBilled1, shutdown)), Options{})
	require.ErrorContains(t, err, ReasonInvalidTimestamp)
	intact.Timestamp = repaired.Timestamp
	require.Equal(t, intact, repaired)
}
