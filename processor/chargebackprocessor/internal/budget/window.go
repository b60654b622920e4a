package budget

import (
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/calendar"
)

// window returns the window [start, end) of b that contains t, and false
// when there is none (t outside a fixed budget's window).
//
// Days, weeks and months start at midnight in the budget's time zone, so a
// day is 23 or 25 hours long across a DST change, a month is a calendar
// month, and a week starts on Monday (or Sunday).
func (b *budget) window(t time.Time) (start, end time.Time, ok bool) {
	if b.cacheOK && !t.Before(b.cacheStart) && t.Before(b.cacheEnd) {
		return b.cacheStart, b.cacheEnd, true
	}
	if b.cfg.Period == PeriodFixed {
		if t.Before(b.cfg.Start) || !t.Before(b.cfg.End) {
			return time.Time{}, time.Time{}, false
		}
		start, end = b.cfg.Start, b.cfg.End
	} else {
		start, end = calendarWindow(t.In(b.loc), b.cfg.Period, b.sundayWeek)
	}
	b.cacheStart, b.cacheEnd, b.cacheOK = start, end, true
	return start, end, true
}

// calendarWindow is the day, week or month containing local, in local's
// location.
func calendarWindow(local time.Time, period string, sundayWeek bool) (start, end time.Time) {
	y, m, d := local.Date()
	loc := local.Location()
	switch period {
	case PeriodMonth:
		return calendar.DayStart(y, m, 1, loc), calendar.DayStart(y, m+1, 1, loc)
	case PeriodWeek:
		back := (int(local.Weekday()) + 6) % 7 // days since Monday
		if sundayWeek {
			back = int(local.Weekday())
		}
		return calendar.DayStart(y, m, d-back, loc), calendar.DayStart(y, m, d-back+7, loc)
	default: // day
		return calendar.DayStart(y, m, d, loc), calendar.DayStart(y, m, d+1, loc)
	}
}

// expiry is when the state of the window [start, end) is forgotten: the
// window's end plus one period (its own length), the grace in which late
// spend still counts.
func expiry(start, end time.Time) time.Time { return end.Add(end.Sub(start)) }
