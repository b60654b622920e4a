// Package calendar holds what the budgets' windows and the report's date
// ranges agree on: where a day begins.
package calendar // import "github.com/otelcol-copilot/otelcol-copilot/internal/calendar"

import "time"

// DayStart is the first instant of the day y-m-d (normalized as by
// time.Date) in loc: its midnight or, where a DST change skips midnight
// (America/Havana, America/Santiago: 00:00 becomes 01:00), the instant of
// the change. time.Date reads a missing midnight with the offset before
// the change, which puts it in the day before.
func DayStart(y int, m time.Month, d int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	ny, nm, nd := time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Date()
	if ty, tm, td := t.Date(); ty == ny && tm == nm && td == nd {
		return t
	}
	if _, end := t.ZoneBounds(); !end.IsZero() {
		return end.In(loc)
	}
	return t
}
