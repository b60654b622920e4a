package budget

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func compiled(t *testing.T, c Config) *budget {
	t.Helper()
	b, err := c.compile()
	require.NoError(t, err)
	return b
}

func TestWindowDay(t *testing.T) {
	b := compiled(t, validConfig())
	start, end, ok := b.window(time.Date(2026, 6, 3, 23, 59, 59, 999, time.UTC))
	require.True(t, ok)
	assert.Equal(t, time.Date(2026, 6, 3, 0, 0, 0, 0, time.UTC), start)
	assert.Equal(t, time.Date(2026, 6, 4, 0, 0, 0, 0, time.UTC), end)

	// Midnight belongs to the day it starts.
	start, _, _ = b.window(time.Date(2026, 6, 4, 0, 0, 0, 0, time.UTC))
	assert.Equal(t, time.Date(2026, 6, 4, 0, 0, 0, 0, time.UTC), start)

	// A spend given in another zone is placed by the budget's zone.
	ny := mustLoc(t, "America/New_York")
	start, _, _ = b.window(time.Date(2026, 6, 3, 21, 0, 0, 0, ny)) // 01:00 UTC on the 4th
	assert.Equal(t, time.Date(2026, 6, 4, 0, 0, 0, 0, time.UTC), start)
}

// TestWindowDST: days are 23 and 25 hours long on DST changes, and start
// at local midnight either side.
func TestWindowDST(t *testing.T) {
	paris := mustLoc(t, "Europe/Paris")
	c := validConfig()
	c.Timezone = "Europe/Paris"
	b := compiled(t, c)

	start, end, ok := b.window(time.Date(2026, 3, 29, 12, 0, 0, 0, paris)) // clocks go forward at 02:00
	require.True(t, ok)
	assert.True(t, start.Equal(time.Date(2026, 3, 29, 0, 0, 0, 0, paris)))
	assert.True(t, start.Equal(time.Date(2026, 3, 28, 23, 0, 0, 0, time.UTC)))
	assert.Equal(t, 23*time.Hour, end.Sub(start))

	start, end, _ = b.window(time.Date(2026, 10, 25, 12, 0, 0, 0, paris)) // clocks go back at 03:00
	assert.True(t, start.Equal(time.Date(2026, 10, 24, 22, 0, 0, 0, time.UTC)))
	assert.Equal(t, 25*time.Hour, end.Sub(start))

	// The next day starts where the 25-hour one ends.
	next, _, _ := b.window(end)
	assert.True(t, next.Equal(end))
	prev, prevEnd, _ := b.window(start.Add(-time.Nanosecond))
	assert.True(t, prevEnd.Equal(start))
	assert.Equal(t, 24*time.Hour, prevEnd.Sub(prev))

	// A week and a month over a DST change are 167 hours and a calendar
	// month.
	c.Period = PeriodWeek
	b = compiled(t, c)
	start, end, _ = b.window(time.Date(2026, 3, 29, 12, 0, 0, 0, paris)) // a Sunday
	assert.True(t, start.Equal(time.Date(2026, 3, 23, 0, 0, 0, 0, paris)))
	assert.Equal(t, 7*24*time.Hour-time.Hour, end.Sub(start))
}

// TestWindowSkippedMidnight: in a zone whose DST starts at midnight (Cuba,
// 2026-03-08: 00:00 CST becomes 01:00 CDT), the day before is 24 hours
// and the day of the change starts at the change and is 23 hours; days
// still tile time without gap or overlap.
func TestWindowSkippedMidnight(t *testing.T) {
	havana := mustLoc(t, "America/Havana")
	c := validConfig()
	c.Timezone = "America/Havana"
	b := compiled(t, c)
	change := time.Date(2026, 3, 8, 5, 0, 0, 0, time.UTC)

	at := time.Date(2026, 3, 7, 23, 30, 0, 0, havana) // the last half hour of the 7th
	start, end, ok := b.window(at)
	require.True(t, ok)
	assert.True(t, start.Equal(time.Date(2026, 3, 7, 0, 0, 0, 0, havana)))
	assert.True(t, end.Equal(change), "%s", end)
	assert.Equal(t, 24*time.Hour, end.Sub(start))

	start, end, _ = b.window(time.Date(2026, 3, 8, 12, 0, 0, 0, havana))
	assert.True(t, start.Equal(change), "%s", start)
	assert.Equal(t, 23*time.Hour, end.Sub(start))
	assert.Equal(t, "2026-03-08 01:00:00 -0400 CDT", start.String())

	// A month starting on a skipped midnight would start at the change too.
	c.Period = PeriodMonth
	b = compiled(t, c)
	_, end, _ = b.window(time.Date(2026, 3, 1, 12, 0, 0, 0, havana))
	assert.True(t, end.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, havana)))
}

func TestWindowWeek(t *testing.T) {
	c := validConfig()
	c.Period = PeriodWeek
	monday := compiled(t, c)
	c.WeekStart = WeekStartSunday
	sunday := compiled(t, c)

	for _, tc := range []struct {
		at             time.Time
		monday, sunday time.Time
	}{
		{time.Date(2026, 6, 3, 10, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 5, 31, 0, 0, 0, 0, time.UTC)},   // Wednesday
		{time.Date(2026, 6, 7, 23, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 7, 0, 0, 0, 0, time.UTC)},    // Sunday
		{time.Date(2026, 6, 8, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 8, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 7, 0, 0, 0, 0, time.UTC)},     // Monday
		{time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 28, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 27, 0, 0, 0, 0, time.UTC)}, // across a year
	} {
		start, end, ok := monday.window(tc.at)
		require.True(t, ok)
		assert.Equal(t, tc.monday, start, "monday week of %s", tc.at)
		assert.Equal(t, tc.monday.AddDate(0, 0, 7), end)
		start, _, _ = sunday.window(tc.at)
		assert.Equal(t, tc.sunday, start, "sunday week of %s", tc.at)
	}
}

func TestWindowMonth(t *testing.T) {
	c := validConfig()
	c.Period, c.Timezone = PeriodMonth, "Asia/Tokyo"
	b := compiled(t, c)
	tokyo := mustLoc(t, "Asia/Tokyo")

	start, end, ok := b.window(time.Date(2026, 2, 10, 0, 0, 0, 0, tokyo))
	require.True(t, ok)
	assert.True(t, start.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, tokyo)))
	assert.True(t, end.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, tokyo)))
	assert.Equal(t, 28*24*time.Hour, end.Sub(start))

	// 2026-12-31 20:00 UTC is already January in Tokyo.
	start, end, _ = b.window(time.Date(2026, 12, 31, 20, 0, 0, 0, time.UTC))
	assert.True(t, start.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, tokyo)))
	assert.True(t, end.Equal(time.Date(2027, 2, 1, 0, 0, 0, 0, tokyo)))
	start, end, _ = b.window(time.Date(2026, 12, 31, 12, 0, 0, 0, time.UTC))
	assert.True(t, start.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, tokyo)))
	assert.True(t, end.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, tokyo)))
}

func TestWindowFixed(t *testing.T) {
	from := time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)
	to := time.Date(2026, 6, 15, 9, 30, 0, 0, time.UTC)
	c := validConfig()
	c.Period, c.Start, c.End = PeriodFixed, from, to
	b := compiled(t, c)

	for at, want := range map[time.Time]bool{
		from.Add(-time.Nanosecond): false,
		from:                       true,
		from.Add(time.Hour):        true,
		to.Add(-time.Nanosecond):   true,
		to:                         false,
		to.AddDate(1, 0, 0):        false,
	} {
		start, end, ok := b.window(at)
		assert.Equal(t, want, ok, "%s", at)
		if ok {
			assert.Equal(t, from, start)
			assert.Equal(t, to, end)
		}
	}
}

func TestExpiry(t *testing.T) {
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, time.Date(2026, 6, 3, 0, 0, 0, 0, time.UTC), expiry(start, start.AddDate(0, 0, 1)))
}
