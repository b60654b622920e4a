package transcript

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestParseTimestamp checks the byte parser against time.Parse.
func TestParseTimestamp(t *testing.T) {
	for _, s := range []string{
		"2026-11-22T16:07:26.714Z", "2024-02-29T23:59:59.999Z", "2026-01-01T00:00:00.000Z",
		"2026-11-22T16:07:26Z", "2026-11-22T16:07:26.714123Z", "2026-11-22T17:07:26.714+01:00",
	} {
		want, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		got, err := parseTimestamp([]byte(`"` + s + `"`))
		require.NoError(t, err, s)
		require.True(t, want.Equal(got), "%s: %v != %v", s, got, want)
	}
	for _, s := range []string{"2026-02-30T16:07:26.714Z", "2026-13-22T16:07:26.714Z", "2026-11-22T24:07:26.714Z", "2026-11-22X16:07:26.714Z", "not a time", ""} {
		_, err := parseTimestamp([]byte(`"` + s + `"`))
		require.Error(t, err, s)
	}
	_, err := parseTimestamp([]byte(`12`))
	require.Error(t, err)
}

func TestTypeNameInterned(t *testing.T) {
	require.Equal(t, TypeUsageRecord, typeName([]byte(`"session.usage_record"`)))
	require.Equal(t, "brand.new", typeName([]byte(`"brand.new"`)))
	require.Equal(t, "", typeName([]byte(`12`)))
	raw := []byte(`"session.usage_record"`)
	allocs := testing.AllocsPerRun(100, func() { _ = typeName(raw) })
	require.Zero(t, allocs)
}
