package transcript

import (
	"fmt"
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

// TestParseTimestampMatchesTimeDate holds the byte parser of the CLI's
// form to what time.Date made of it: the same Time, bit for bit, and the
// same dates refused, over whole years around leap-year rules and the
// ends of the range.
func TestParseTimestampMatchesTimeDate(t *testing.T) {
	years := []int{0, 1, 3, 4, 99, 100, 399, 400, 401, 1600, 1899, 1900, 1969, 1970, 1971, 1999, 2000, 2001, 2023, 2024, 2025, 2026, 2027, 2028, 2100, 2400, 9996, 9999}
	clocks := [][4]int{{0, 0, 0, 0}, {23, 59, 59, 999}, {16, 7, 26, 714}, {12, 0, 0, 1}}
	for _, y := range years {
		for mo := 1; mo <= 12; mo++ {
			for d := 1; d <= 31; d++ {
				for _, c := range clocks {
					s := fmt.Sprintf(`"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ"`, y, mo, d, c[0], c[1], c[2], c[3])
					want := time.Date(y, time.Month(mo), d, c[0], c[1], c[2], c[3]*int(time.Millisecond), time.UTC)
					got, err := parseTimestamp([]byte(s))
					if want.Day() != d { // not a date: time.Date moved it
						require.Error(t, err, s)
						continue
					}
					require.NoError(t, err, s)
					require.True(t, want == got, "%s: %#v != %#v", s, got, want)
				}
			}
		}
	}
}
