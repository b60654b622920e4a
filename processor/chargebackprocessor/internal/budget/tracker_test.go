package budget

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
)

// The collector's storage client is a Store.
var _ Store = storage.Client(nil)

var ctx = context.Background()

// storeFactories are the stores restart tests run on: the bare interface,
// the collector's in-memory test client (Batch and Walk) and the package's
// own memory store.
var storeFactories = []struct {
	name string
	new  func() Store
}{
	{"plainStore", func() Store { return newPlainStore() }},
	{"storagetest", func() Store {
		return storagetest.NewInMemoryClient(component.KindProcessor, storagetest.NewStorageID("budget"), "budget")
	}},
	{"storageclient.Memory", func() Store { return storageclient.NewMemory() }},
}

func utc(y int, m time.Month, d, h, mi int) time.Time {
	return time.Date(y, m, d, h, mi, 0, 0, time.UTC)
}

// stored decodes the state of (name, value, window start) from s; ok is
// false when there is none.
func stored(t *testing.T, s Store, name, value string, start time.Time) (st storedState, ok bool) {
	t.Helper()
	b, err := s.Get(ctx, stateKey(name, value, start))
	require.NoError(t, err)
	if b == nil {
		return st, false
	}
	require.NoError(t, json.Unmarshal(b, &st))
	return st, true
}

// storedPendingIDs are the ids of the crossings stored as pending.
func storedPendingIDs(t *testing.T, s Store) []string {
	t.Helper()
	b, err := s.Get(ctx, pendingKey)
	require.NoError(t, err)
	if b == nil {
		return nil
	}
	var sp storedPending
	require.NoError(t, json.Unmarshal(b, &sp))
	var ids []string
	for _, c := range sp.Crossings {
		ids = append(ids, c.ID)
	}
	return ids
}

func spendsOf(cs []Crossing) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Spend.String())
	}
	return out
}

func commit(t *testing.T, tr *Tracker) {
	t.Helper()
	require.NoError(t, tr.Commit(ctx))
}

// TestCrossingsOnce: each threshold of 500 (250, 375, 450, 500) is
// reported once, by the Add that reaches it, with the spend after that
// Add; crossings not committed stay pending but are not returned again.
func TestCrossingsOnce(t *testing.T) {
	store := newPlainStore()
	c := newClock(utc(2026, 6, 3, 9, 0))
	tr := newTracker(t, []Config{validConfig()}, store, c)
	dayStart, dayEnd := utc(2026, 6, 3, 0, 0), utc(2026, 6, 4, 0, 0)

	at := utc(2026, 6, 3, 8, 30)
	assert.Empty(t, add(t, tr, teamSpend("payments", "200", at))) // 200 < 250

	at2 := utc(2026, 6, 3, 8, 45)
	cs := add(t, tr, teamSpend("payments", "60", at2)) // 260 ≥ 250 (50 %), < 375
	require.Len(t, cs, 1)
	want := Crossing{
		Budget: "team-daily", Scope: ScopeTeam, Value: "payments", Threshold: 50,
		Spend: usd("260"), Limit: usd("500"),
		WindowStart: dayStart, WindowEnd: dayEnd, Time: at2,
		ID: CrossingID("team-daily", "payments", dayStart, 50),
	}
	got := cs[0]
	assert.Equal(t, want.Spend.String(), got.Spend.String())
	assert.Equal(t, want.Limit.String(), got.Limit.String())
	got.Spend, got.Limit, want.Spend, want.Limit = usd("0"), usd("0"), usd("0"), usd("0")
	assert.Equal(t, want, got)
	// The id is a function of (budget, value, window start, threshold):
	// not of the zone the start is given in, and not of the others.
	assert.Equal(t, got.ID, CrossingID("team-daily", "payments", dayStart.In(mustLoc(t, "Asia/Tokyo")), 50))
	assert.Len(t, got.ID, 32)
	for _, other := range []string{
		CrossingID("team-daily", "payments", dayStart, 75),
		CrossingID("team-daily", "search", dayStart, 50),
		CrossingID("team-weekly", "payments", dayStart, 50),
		CrossingID("team-daily", "payments", dayEnd, 50),
	} {
		assert.NotEqual(t, got.ID, other)
	}

	// Returned, not committed: pending, in memory and in the store; the
	// spend itself is written by Commit only.
	assert.Equal(t, []string{got.ID}, idsOf(tr.Pending()))
	assert.Equal(t, 1, tr.Stats().Pending)
	assert.Equal(t, []string{got.ID}, storedPendingIDs(t, store))
	_, ok := stored(t, store, "team-daily", "payments", dayStart)
	assert.False(t, ok)

	commit(t, tr)
	assert.Empty(t, tr.Pending())
	assert.Equal(t, 0, tr.Stats().Pending)
	assert.Nil(t, storedPendingIDs(t, store))
	st, ok := stored(t, store, "team-daily", "payments", dayStart)
	require.True(t, ok)
	assert.Equal(t, "260", st.Spend.String())
	assert.Equal(t, []float64{50}, st.Crossed)
	assert.True(t, st.Start.Equal(dayStart) && st.End.Equal(dayEnd))

	// 260 + 200 = 460 ≥ 375 and ≥ 450 (75 and 90 %) in one Add.
	cs = add(t, tr, teamSpend("payments", "200", at2))
	assert.Equal(t, []float64{75, 90}, thresholdsOf(cs))
	assert.Equal(t, []string{"460", "460"}, spendsOf(cs))
	assert.Equal(t, CrossingID("team-daily", "payments", dayStart, 90), cs[1].ID)

	// 460 + 39.99 = 499.99 < 500: nothing, and 75/90 (uncommitted) are
	// not returned again.
	assert.Empty(t, add(t, tr, teamSpend("payments", "39.99", at2)))
	// + 0.01 = 500 exactly: 100 %.
	cs = add(t, tr, teamSpend("payments", "0.01", at2))
	assert.Equal(t, []float64{100}, thresholdsOf(cs))
	assert.Equal(t, "500", cs[0].Spend.String())
	assert.Equal(t, []float64{75, 90, 100}, thresholdsOf(tr.Pending()))

	// Beyond: nothing more, committed or not.
	assert.Empty(t, add(t, tr, teamSpend("payments", "1000", at2)))
	commit(t, tr)
	assert.Empty(t, add(t, tr, teamSpend("payments", "1", at2)))
	commit(t, tr)
	st, _ = stored(t, store, "team-daily", "payments", dayStart)
	assert.Equal(t, "1501", st.Spend.String()) // 200+60+200+39.99+0.01+1000+1
	assert.Equal(t, []float64{50, 75, 90, 100}, st.Crossed)
	assert.Empty(t, tr.Pending())
}

func idsOf(cs []Crossing) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// TestPerValue: a budget without a value keeps one spend per team; a
// budget of one team ignores the others; a spend without the scope counts
// under "" for the first and not at all for the second.
func TestPerValue(t *testing.T) {
	one := Config{Name: "payments-daily", Scope: ScopeTeam, Value: "payments", Amount: "100", Period: PeriodDay}
	c := newClock(utc(2026, 6, 3, 9, 0))
	tr := newTracker(t, []Config{validConfig(), one}, nil, c)
	at := c.Now()

	// payments 60: team-daily 60/500 nothing; payments-daily 60/100 ≥ 50.
	cs := add(t, tr, teamSpend("payments", "60", at))
	require.Len(t, cs, 1)
	assert.Equal(t, "payments-daily", cs[0].Budget)
	assert.Equal(t, float64(50), cs[0].Threshold)

	// search 300: team-daily search 300/500 = 60 %; payments-daily not.
	cs = add(t, tr, teamSpend("search", "300", at))
	require.Len(t, cs, 1)
	assert.Equal(t, "team-daily", cs[0].Budget)
	assert.Equal(t, "search", cs[0].Value)
	assert.Equal(t, "300", cs[0].Spend.String())

	// payments 200: team-daily payments 260/500 = 52 % (search's 300 is
	// not in it); payments-daily 260/100 = 260 %. Budgets in config order.
	cs = add(t, tr, teamSpend("payments", "200", at))
	assert.Equal(t, []float64{50, 75, 90, 100}, thresholdsOf(cs))
	assert.Equal(t, []string{"team-daily", "payments-daily", "payments-daily", "payments-daily"},
		[]string{cs[0].Budget, cs[1].Budget, cs[2].Budget, cs[3].Budget})
	assert.Equal(t, []string{"260", "260", "260", "260"}, spendsOf(cs))

	// No team: no budget of teams counts it (under "" it would cross for
	// no team), and the budgets it missed are named once.
	assert.Empty(t, add(t, tr, Spend{Time: at, Scopes: map[string]string{ScopeUser: "dev"}, Amount: usd("250")}))
	assert.Empty(t, add(t, tr, Spend{Time: at, Amount: usd("10")}))
	var names []string
	for _, b := range tr.Unscoped() {
		names = append(names, b.Name)
	}
	assert.Equal(t, []string{"team-daily", "payments-daily"}, names)

	var got []string
	for _, u := range tr.Utilizations() {
		got = append(got, fmt.Sprintf("%s/%s=%s/%s %.2f", u.Budget, u.Value, u.Spend, u.Limit, u.Ratio))
	}
	assert.Equal(t, []string{
		"payments-daily/payments=260/100 2.60",
		"team-daily/payments=260/500 0.52",
		"team-daily/search=300/500 0.60",
	}, got)
	assert.Equal(t, 3, tr.Stats().Values)
}

// TestDayBerlinDST: days start at midnight in Berlin; on 2026-03-29 clocks
// go forward (day of 23 h, 23:00Z to 22:00Z) and on 2026-10-25 back (25 h,
// 22:00Z to 23:00Z). Each new day starts from zero and reports again.
func TestDayBerlinDST(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	cfg := Config{Name: "berlin-daily", Scope: ScopeTeam, Amount: "100", Period: PeriodDay, Timezone: "Europe/Berlin"}
	c := newClock(time.Date(2026, 3, 29, 0, 30, 0, 0, berlin)) // 2026-03-28T23:30Z, already the 29th in Berlin
	tr := newTracker(t, []Config{cfg}, nil, c)

	cs := add(t, tr, teamSpend("payments", "60", c.Now()))
	require.Equal(t, []float64{50}, thresholdsOf(cs))
	assert.True(t, cs[0].WindowStart.Equal(utc(2026, 3, 28, 23, 0)), cs[0].WindowStart)
	assert.True(t, cs[0].WindowEnd.Equal(utc(2026, 3, 29, 22, 0)), cs[0].WindowEnd)
	commit(t, tr)

	// 23:59 CEST, the last minute of the 23-hour day: 60+20 = 80 ≥ 75.
	c.Set(time.Date(2026, 3, 29, 23, 59, 0, 0, berlin))
	cs = add(t, tr, teamSpend("payments", "20", c.Now()))
	assert.Equal(t, []float64{75}, thresholdsOf(cs))
	assert.Equal(t, "80", cs[0].Spend.String())
	commit(t, tr)

	// Midnight CEST (22:00Z): a new day of 24 h, from zero: 60 ≥ 50 again.
	c.Set(utc(2026, 3, 29, 22, 0))
	cs = add(t, tr, teamSpend("payments", "60", c.Now()))
	require.Equal(t, []float64{50}, thresholdsOf(cs))
	assert.Equal(t, "60", cs[0].Spend.String())
	assert.True(t, cs[0].WindowStart.Equal(utc(2026, 3, 29, 22, 0)))
	assert.Equal(t, 24*time.Hour, cs[0].WindowEnd.Sub(cs[0].WindowStart))
	assert.NotEqual(t, CrossingID("berlin-daily", "payments", utc(2026, 3, 28, 23, 0), 50), cs[0].ID)
	commit(t, tr)

	// Fall back: 2026-10-25 runs 22:00Z to 23:00Z the next day. 22:30Z
	// on the 25th is 23:30 CET, still the 25th.
	c.Set(utc(2026, 10, 24, 22, 0))
	cs = add(t, tr, teamSpend("payments", "50", c.Now()))
	require.Equal(t, []float64{50}, thresholdsOf(cs))
	assert.Equal(t, 25*time.Hour, cs[0].WindowEnd.Sub(cs[0].WindowStart))
	c.Set(utc(2026, 10, 25, 22, 30))
	cs = add(t, tr, teamSpend("payments", "25", c.Now())) // 75
	assert.Equal(t, []float64{75}, thresholdsOf(cs))
	c.Set(utc(2026, 10, 25, 23, 0)) // midnight of the 26th, CET
	cs = add(t, tr, teamSpend("payments", "90", c.Now()))
	assert.Equal(t, []float64{50, 75, 90}, thresholdsOf(cs))
	assert.True(t, cs[0].WindowStart.Equal(utc(2026, 10, 25, 23, 0)))
	assert.Equal(t, "90", cs[0].Spend.String())
}

// TestWeekStart: 2026-06-06 is a Saturday, 06-07 a Sunday, 06-08 a Monday.
// A Monday week holds Saturday and Sunday; a Sunday week splits them.
func TestWeekStart(t *testing.T) {
	sat, sun, mon := utc(2026, 6, 6, 12, 0), utc(2026, 6, 7, 12, 0), utc(2026, 6, 8, 12, 0)
	require.Equal(t, []time.Weekday{time.Saturday, time.Sunday, time.Monday}, []time.Weekday{sat.Weekday(), sun.Weekday(), mon.Weekday()})
	monday := Config{Name: "mon", Scope: ScopeTeam, Amount: "100", Period: PeriodWeek}
	sunday := Config{Name: "sun", Scope: ScopeTeam, Amount: "100", Period: PeriodWeek, WeekStart: WeekStartSunday}
	c := newClock(sat)
	tr := newTracker(t, []Config{monday, sunday}, nil, c)

	// Saturday 60: both weeks at 60 %.
	cs := add(t, tr, teamSpend("payments", "60", sat))
	require.Len(t, cs, 2)
	assert.Equal(t, utc(2026, 6, 1, 0, 0), cs[0].WindowStart) // Monday 1st
	assert.Equal(t, utc(2026, 6, 8, 0, 0), cs[0].WindowEnd)
	assert.Equal(t, utc(2026, 5, 31, 0, 0), cs[1].WindowStart) // Sunday 31st
	assert.Equal(t, utc(2026, 6, 7, 0, 0), cs[1].WindowEnd)
	commit(t, tr)

	// Sunday 60: the Monday week is at 120 (75, 90, 100); the Sunday week
	// starts again at 60 (50).
	c.Set(sun)
	cs = add(t, tr, teamSpend("payments", "60", sun))
	assert.Equal(t, []float64{75, 90, 100, 50}, thresholdsOf(cs))
	assert.Equal(t, []string{"mon", "mon", "mon", "sun"}, []string{cs[0].Budget, cs[1].Budget, cs[2].Budget, cs[3].Budget})
	assert.Equal(t, []string{"120", "120", "120", "60"}, spendsOf(cs))
	commit(t, tr)

	// Monday 60: the other way round.
	c.Set(mon)
	cs = add(t, tr, teamSpend("payments", "60", mon))
	assert.Equal(t, []float64{50, 75, 90, 100}, thresholdsOf(cs))
	assert.Equal(t, []string{"mon", "sun", "sun", "sun"}, []string{cs[0].Budget, cs[1].Budget, cs[2].Budget, cs[3].Budget})
	assert.Equal(t, []string{"60", "120", "120", "120"}, spendsOf(cs))
	assert.Equal(t, utc(2026, 6, 8, 0, 0), cs[0].WindowStart)
}

// TestMonthRollover: January ends at Feb 1 00:00; February (28 days in
// 2026) is a new window from zero.
func TestMonthRollover(t *testing.T) {
	cfg := Config{Name: "monthly", Scope: ScopeTeam, Amount: "1000", Period: PeriodMonth}
	last := time.Date(2026, 1, 31, 23, 59, 59, 999999999, time.UTC)
	c := newClock(last)
	tr := newTracker(t, []Config{cfg}, nil, c)

	assert.Empty(t, add(t, tr, teamSpend("payments", "400", utc(2026, 1, 2, 0, 0))))
	cs := add(t, tr, teamSpend("payments", "400", last)) // 800 ≥ 750
	assert.Equal(t, []float64{50, 75}, thresholdsOf(cs))
	assert.Equal(t, utc(2026, 1, 1, 0, 0), cs[0].WindowStart)
	assert.Equal(t, utc(2026, 2, 1, 0, 0), cs[0].WindowEnd)
	commit(t, tr)

	c.Set(utc(2026, 2, 1, 0, 0))
	cs = add(t, tr, teamSpend("payments", "500", c.Now())) // February: 500 ≥ 500
	assert.Equal(t, []float64{50}, thresholdsOf(cs))
	assert.Equal(t, "500", cs[0].Spend.String())
	assert.Equal(t, utc(2026, 2, 1, 0, 0), cs[0].WindowStart)
	assert.Equal(t, utc(2026, 3, 1, 0, 0), cs[0].WindowEnd)
}

// TestFixedWindow: [Start, End) counts; a spend before Start or at End
// counts nowhere.
func TestFixedWindow(t *testing.T) {
	start, end := utc(2026, 6, 1, 0, 0), utc(2026, 6, 15, 0, 0)
	cfg := Config{Name: "sprint", Scope: ScopeTicket, Amount: "100", Period: PeriodFixed, Start: start, End: end}
	store := newPlainStore()
	c := newClock(utc(2026, 6, 10, 0, 0))
	tr := newTracker(t, []Config{cfg}, store, c)
	sp := func(amount string, at time.Time) Spend {
		return Spend{Time: at, Scopes: map[string]string{ScopeTicket: "PAY-1"}, Amount: usd(amount)}
	}

	assert.Empty(t, add(t, tr, sp("50", start.Add(-time.Nanosecond))))
	assert.Empty(t, add(t, tr, sp("1000", end)))
	assert.Equal(t, 0, tr.Stats().Values)
	// At Start: 50, not 100.
	cs := add(t, tr, sp("50", start))
	require.Equal(t, []float64{50}, thresholdsOf(cs))
	assert.Equal(t, "50", cs[0].Spend.String())
	assert.Equal(t, start, cs[0].WindowStart)
	assert.Equal(t, end, cs[0].WindowEnd)
	cs = add(t, tr, sp("25", end.Add(-time.Nanosecond))) // 75
	assert.Equal(t, []float64{75}, thresholdsOf(cs))
	assert.Equal(t, "75", cs[0].Spend.String())
	commit(t, tr)
	st, ok := stored(t, store, "sprint", "PAY-1", start)
	require.True(t, ok)
	assert.Equal(t, "75", st.Spend.String())
}

// TestPastWindows: at 2026-06-03 12:00 the day of 06-02 has ended but its
// state lives until 06-04 00:00 (one day of grace); 06-01's expired at
// 06-03 00:00.
func TestPastWindows(t *testing.T) {
	silent := Config{Name: "silent", Scope: ScopeTeam, Amount: "100", Period: PeriodDay}
	loud := silent
	loud.Name, loud.AlertPastWindows = "loud", true
	store := newPlainStore()
	c := newClock(utc(2026, 6, 3, 12, 0))
	tr := newTracker(t, []Config{silent, loud}, store, c)
	jun1, jun2 := utc(2026, 6, 1, 0, 0), utc(2026, 6, 2, 0, 0)

	// 06-02: 60 counts in both; only loud reports.
	cs := add(t, tr, teamSpend("payments", "60", utc(2026, 6, 2, 10, 0)))
	require.Len(t, cs, 1)
	assert.Equal(t, "loud", cs[0].Budget)
	assert.Equal(t, float64(50), cs[0].Threshold)
	assert.Equal(t, jun2, cs[0].WindowStart)
	// 06-01: expired, counts nowhere.
	assert.Empty(t, add(t, tr, teamSpend("payments", "60", utc(2026, 6, 1, 10, 0))))
	// 06-02 again: 100 in both; silent still says nothing.
	cs = add(t, tr, teamSpend("payments", "40", utc(2026, 6, 2, 23, 0)))
	assert.Equal(t, []float64{75, 90, 100}, thresholdsOf(cs))
	assert.Equal(t, "loud", cs[0].Budget)
	// A past window is not a current one.
	assert.Empty(t, tr.Utilizations())
	commit(t, tr)

	for _, name := range []string{"silent", "loud"} {
		st, ok := stored(t, store, name, "payments", jun2)
		require.True(t, ok, name)
		assert.Equal(t, "100", st.Spend.String(), name)
		_, ok = stored(t, store, name, "payments", jun1)
		assert.False(t, ok, name)
	}
	st, _ := stored(t, store, "silent", "payments", jun2)
	assert.Empty(t, st.Crossed)
	st, _ = stored(t, store, "loud", "payments", jun2)
	assert.Equal(t, []float64{50, 75, 90, 100}, st.Crossed)
	// Ended windows leave memory at Commit once stored.
	assert.Equal(t, 0, tr.Stats().Values)

	// The edges: at 06-03 00:00 sharp, 06-02 has just ended (silent) and
	// 06-01 has just expired; a nanosecond earlier 06-01 still counted.
	store2 := newPlainStore()
	c2 := newClock(utc(2026, 6, 3, 0, 0).Add(-time.Nanosecond))
	tr2 := newTracker(t, []Config{silent}, store2, c2)
	assert.Empty(t, add(t, tr2, teamSpend("payments", "100", utc(2026, 6, 1, 10, 0)))) // past, silent
	c2.Set(utc(2026, 6, 3, 0, 0))
	assert.Empty(t, add(t, tr2, teamSpend("payments", "7", utc(2026, 6, 1, 10, 0))))   // expired
	assert.Empty(t, add(t, tr2, teamSpend("payments", "100", utc(2026, 6, 2, 10, 0)))) // ended: silent
	commit(t, tr2)
	st, _ = stored(t, store2, "silent", "payments", jun1)
	assert.Equal(t, "100", st.Spend.String())
	st, _ = stored(t, store2, "silent", "payments", jun2)
	assert.Equal(t, "100", st.Spend.String())
}

// TestDeliveredBeforeWindowEnd: spend delivered at 23:59 and added after
// midnight (held while the store could not be read) reports the crossings
// of its day, which had not ended when it was delivered; spend delivered
// after midnight for that day is silent.
func TestDeliveredBeforeWindowEnd(t *testing.T) {
	silent := Config{Name: "silent", Scope: ScopeTeam, Amount: "100", Period: PeriodDay}
	c := newClock(utc(2026, 6, 3, 0, 1))
	tr := newTracker(t, []Config{silent}, newPlainStore(), c)
	held := teamSpend("payments", "60", utc(2026, 6, 2, 23, 59))
	held.Delivered = utc(2026, 6, 2, 23, 59)
	cs := add(t, tr, held)
	assert.Equal(t, []float64{50}, thresholdsOf(cs))
	assert.Equal(t, utc(2026, 6, 2, 0, 0), cs[0].WindowStart)
	assert.Empty(t, add(t, tr, teamSpend("payments", "40", utc(2026, 6, 2, 23, 59))), "delivered now: the day has ended")
}

// TestRestartKeepsState: a tracker on the store of one that committed goes
// on from its spend and crossings.
func TestRestartKeepsState(t *testing.T) {
	for _, sf := range storeFactories {
		t.Run(sf.name, func(t *testing.T) {
			store := sf.new()
			c := newClock(utc(2026, 6, 3, 9, 0))
			at := c.Now()
			a := newTracker(t, []Config{validConfig()}, store, c)
			assert.Equal(t, []float64{50}, thresholdsOf(add(t, a, teamSpend("payments", "300", at)))) // 300 ≥ 250
			commit(t, a)

			b := newTracker(t, []Config{validConfig()}, store, c)
			assert.Empty(t, b.Pending())
			// 300 + 50 = 350 < 375: nothing (50 % is not offered again).
			assert.Empty(t, add(t, b, teamSpend("payments", "50", at)))
			// 350 + 25 = 375: 75 %, once.
			cs := add(t, b, teamSpend("payments", "25", at))
			assert.Equal(t, []float64{75}, thresholdsOf(cs))
			assert.Equal(t, "375", cs[0].Spend.String())
			assert.Empty(t, add(t, b, teamSpend("payments", "1", at)))
			commit(t, b)

			cc := newTracker(t, []Config{validConfig()}, store, c)
			assert.Empty(t, cc.Pending())
			cs = add(t, cc, teamSpend("payments", "74", at)) // 376 + 74 = 450: 90 %
			assert.Equal(t, []float64{90}, thresholdsOf(cs))
			assert.Equal(t, "450", cs[0].Spend.String())
		})
	}
}

// TestCrashBeforeCommit: tracker A returns a crossing and dies before
// Commit; B offers it again, once, by its first Add or by Pending; after
// B commits, C offers nothing.
func TestCrashBeforeCommit(t *testing.T) {
	for _, sf := range storeFactories {
		for _, via := range []string{"add", "pending"} {
			t.Run(sf.name+"/"+via, func(t *testing.T) {
				store := sf.new()
				c := newClock(utc(2026, 6, 3, 9, 0))
				at := c.Now()
				a := newTracker(t, []Config{validConfig()}, store, c)
				assert.Empty(t, add(t, a, teamSpend("payments", "200", at)))
				commit(t, a) // 200 stored
				crossed := add(t, a, teamSpend("payments", "100", at))
				require.Equal(t, []float64{50}, thresholdsOf(crossed)) // 300 ≥ 250
				// Crash: no Commit. The 100 is lost with A (spend is
				// stored by Commit), the crossing is pending in the store.

				b := newTracker(t, []Config{validConfig()}, store, c)
				assert.Equal(t, 1, b.Stats().Pending)
				// A Commit before B has offered it keeps it pending.
				commit(t, b)
				assert.Equal(t, 1, b.Stats().Pending)
				assert.Equal(t, idsOf(crossed), storedPendingIDs(t, store))
				var re []Crossing
				if via == "pending" {
					re = b.Pending()
					assert.Equal(t, idsOf(re), idsOf(b.Pending()), "Pending lists it until Commit")
					// Handed out by Pending: Add does not return it again.
					assert.Empty(t, add(t, b, teamSpend("payments", "10", at)))
				} else {
					// The first Add returns it, even for a spend elsewhere.
					re = add(t, b, teamSpend("search", "10", at))
					assert.Empty(t, add(t, b, teamSpend("payments", "10", at)))
				}
				require.Len(t, re, 1)
				assert.Equal(t, crossed[0].ID, re[0].ID)
				assert.Equal(t, "300", re[0].Spend.String())
				assert.True(t, re[0].WindowStart.Equal(crossed[0].WindowStart))
				assert.True(t, re[0].Time.Equal(at))
				// The stored spend is 200 (+10 by B); B reached 50 % only
				// through A's spend, yet 50 % is not returned a second
				// time: the pending crossing holds it.
				cs := add(t, b, teamSpend("payments", "60", at)) // 270 ≥ 250
				assert.Empty(t, cs)
				commit(t, b)
				assert.Empty(t, b.Pending())

				cc := newTracker(t, []Config{validConfig()}, store, c)
				assert.Equal(t, 0, cc.Stats().Pending)
				assert.Empty(t, cc.Pending())
				// 270 + 105 = 375: the next threshold, once.
				cs = add(t, cc, teamSpend("payments", "105", at))
				assert.Equal(t, []float64{75}, thresholdsOf(cs))
				assert.Equal(t, "375", cs[0].Spend.String())
				st, ok := stored(t, store, "team-daily", "payments", utc(2026, 6, 3, 0, 0))
				require.True(t, ok)
				assert.Equal(t, []float64{50}, st.Crossed)
			})
		}
	}
}

// TestStoreGetFailure: Add that cannot read the store counts nothing and
// can be retried; recovered crossings are not lost by a failing Add.
func TestStoreGetFailure(t *testing.T) {
	store := newPlainStore()
	c := newClock(utc(2026, 6, 3, 9, 0))
	at := c.Now()
	tr := newTracker(t, []Config{validConfig()}, store, c)

	store.failGet = errBroken
	cs, err := tr.Add(ctx, teamSpend("payments", "300", at))
	require.ErrorIs(t, err, errBroken)
	assert.Nil(t, cs)
	assert.Equal(t, 0, tr.Stats().Values)
	store.failGet = nil
	cs = add(t, tr, teamSpend("payments", "300", at)) // 300, not 600
	require.Equal(t, []float64{50}, thresholdsOf(cs))
	assert.Equal(t, "300", cs[0].Spend.String())

	// A second tracker recovers the crossing; a failing Add keeps it.
	b := newTracker(t, []Config{validConfig()}, store, c)
	store.failGet = errBroken
	_, err = b.Add(ctx, teamSpend("payments", "1", at))
	require.ErrorIs(t, err, errBroken)
	assert.Equal(t, 1, b.Stats().Pending)
	store.failGet = nil
	cs = add(t, b, teamSpend("payments", "1", at))
	assert.Equal(t, idsOf(cs), []string{CrossingID("team-daily", "payments", utc(2026, 6, 3, 0, 0), 50)})

	// Commit that cannot read the state of the crossing it acknowledges
	// changes nothing.
	d := newTracker(t, []Config{validConfig()}, store, c)
	require.Len(t, d.Pending(), 1)
	store.failGet = errBroken
	require.ErrorIs(t, d.Commit(ctx), errBroken)
	assert.Equal(t, 1, d.Stats().Pending)
	store.failGet = nil
	commit(t, d)
	assert.Equal(t, 0, d.Stats().Pending)
	assert.Nil(t, storedPendingIDs(t, store))

	// New cannot start without reading the pending crossings.
	store.failGet = errBroken
	_, err = New([]Config{validConfig()}, store, c.Now)
	assert.ErrorIs(t, err, errBroken)
}

// TestStoreSetFailure: crossings that cannot be recorded as pending are
// still returned, with ErrPendingNotSaved; a failing Commit is retried.
func TestStoreSetFailure(t *testing.T) {
	store := newPlainStore()
	c := newClock(utc(2026, 6, 3, 9, 0))
	at := c.Now()
	tr := newTracker(t, []Config{validConfig()}, store, c)
	dayStart := utc(2026, 6, 3, 0, 0)

	store.failSet = errBroken
	cs, err := tr.Add(ctx, teamSpend("payments", "300", at))
	require.ErrorIs(t, err, ErrPendingNotSaved)
	require.ErrorIs(t, err, errBroken)
	require.Equal(t, []float64{50}, thresholdsOf(cs))
	assert.Equal(t, "300", cs[0].Spend.String())
	assert.Nil(t, storedPendingIDs(t, store))

	// The next Add, crossing nothing, writes the pending crossing.
	store.failSet = nil
	assert.Empty(t, add(t, tr, teamSpend("payments", "10", at))) // 310
	assert.Equal(t, []string{cs[0].ID}, storedPendingIDs(t, store))

	// Commit fails: nothing written; the crossing is acknowledged in
	// memory all the same.
	store.failSet = errBroken
	require.ErrorIs(t, tr.Commit(ctx), errBroken)
	assert.Empty(t, tr.Pending())
	_, ok := stored(t, store, "team-daily", "payments", dayStart)
	assert.False(t, ok)
	assert.Equal(t, []string{cs[0].ID}, storedPendingIDs(t, store))
	// Retried.
	store.failSet = nil
	commit(t, tr)
	st, ok := stored(t, store, "team-daily", "payments", dayStart)
	require.True(t, ok)
	assert.Equal(t, "310", st.Spend.String())
	assert.Equal(t, []float64{50}, st.Crossed)
	assert.Nil(t, storedPendingIDs(t, store))

	// A tracker after it has nothing to offer and goes on from 310.
	b := newTracker(t, []Config{validConfig()}, store, c)
	assert.Empty(t, b.Pending())
	cs = add(t, b, teamSpend("payments", "65", at)) // 375
	assert.Equal(t, []float64{75}, thresholdsOf(cs))
}

// TestEviction: with room for 2 values, committed values leave memory
// least recently used first, and come back from the store with their
// spend.
func TestEviction(t *testing.T) {
	store := newPlainStore()
	c := newClock(utc(2026, 6, 3, 9, 0))
	at := c.Now()
	tr := newTracker(t, []Config{validConfig()}, store, c, WithMaxValues(2))

	// 5 teams, 100 each (20 %): uncommitted, all stay.
	for _, team := range []string{"a", "b", "c", "d", "e"} {
		assert.Empty(t, add(t, tr, teamSpend(team, "100", at)))
	}
	assert.Equal(t, 5, tr.Stats().Values)
	commit(t, tr)
	// Trimmed to 2: d and e, the most recent, stay.
	s := tr.Stats()
	assert.Equal(t, 2, s.Values)
	assert.Equal(t, uint64(3), s.Evicted)

	// e is in memory: no read.
	gets := store.gets
	assert.Empty(t, add(t, tr, teamSpend("e", "100", at)))
	assert.Equal(t, gets, store.gets)
	// a was evicted: read back with its 100; 100 + 200 = 300 ≥ 250.
	cs := add(t, tr, teamSpend("a", "200", at))
	assert.Equal(t, gets+1, store.gets)
	require.Equal(t, []float64{50}, thresholdsOf(cs))
	assert.Equal(t, "300", cs[0].Spend.String())
	// 3 values over a bound of 2: the Add evicted the clean one (d), the
	// dirty ones (a, e) stay.
	s = tr.Stats()
	assert.Equal(t, 2, s.Values)
	assert.Equal(t, uint64(4), s.Evicted)
	commit(t, tr)
	// b comes back with 100 too: 100 + 150 = 250, exactly 50 %.
	cs = add(t, tr, teamSpend("b", "150", at))
	require.Equal(t, []float64{50}, thresholdsOf(cs))
	assert.Equal(t, "250", cs[0].Spend.String())
	commit(t, tr)
	s = tr.Stats()
	assert.Equal(t, 2, s.Values)
	assert.Equal(t, uint64(5), s.Evicted) // e, by b's Add (b, a stay)
	// Every team's spend is in the store.
	for team, want := range map[string]string{"a": "300", "b": "250", "c": "100", "d": "100", "e": "200"} {
		st, ok := stored(t, store, "team-daily", team, utc(2026, 6, 3, 0, 0))
		require.True(t, ok, team)
		assert.Equal(t, want, st.Spend.String(), team)
	}
}

// TestStats: Swept counts expired state deleted from a store that can be
// walked; Undecodable counts state that is not ours, started afresh.
func TestStats(t *testing.T) {
	store := storagetest.NewInMemoryClient(component.KindProcessor, storagetest.NewStorageID("budget"), "budget")
	c := newClock(utc(2026, 6, 1, 9, 0))
	tr := newTracker(t, []Config{validConfig()}, store, c)
	jun1 := utc(2026, 6, 1, 0, 0)

	require.NoError(t, store.Set(ctx, stateKey("team-daily", "garbled", jun1), []byte("{not json")))
	cs := add(t, tr, teamSpend("garbled", "250", c.Now())) // afresh: 250, 50 %
	assert.Equal(t, []float64{50}, thresholdsOf(cs))
	assert.Equal(t, uint64(1), tr.Stats().Undecodable)
	assert.Empty(t, add(t, tr, teamSpend("payments", "1", c.Now())))
	commit(t, tr)
	assert.Equal(t, uint64(0), tr.Stats().Swept)

	// 06-01's state expires at 06-03 00:00; the sweep runs hourly.
	c.Set(utc(2026, 6, 3, 0, 0))
	commit(t, tr)
	assert.Equal(t, uint64(2), tr.Stats().Swept)
	v, err := store.Get(ctx, stateKey("team-daily", "payments", jun1))
	require.NoError(t, err)
	assert.Nil(t, v)
}

// TestExact: money is summed exactly and a threshold is reached when the
// spend equals it.
func TestExact(t *testing.T) {
	c := newClock(utc(2026, 6, 3, 9, 0))
	at := c.Now()

	t.Run("million nano", func(t *testing.T) {
		// 50 % of 0.002 is 0.001 = 1,000,000 × 0.000000001; in float64
		// the sum drifts off 0.001.
		n := 1_000_000
		if testing.Short() {
			t.Skip("1e6 Adds")
		}
		cfg := Config{Name: "tiny", Scope: ScopeTeam, Amount: "0.002", Period: PeriodDay, Thresholds: []float64{50, 100}}
		tr := newTracker(t, []Config{cfg}, nil, c)
		s := teamSpend("payments", "0.000000001", at)
		var f float64
		for i := 1; i < n; i++ {
			if cs := add(t, tr, s); len(cs) != 0 {
				t.Fatalf("crossed at add %d: %v", i, cs)
			}
			f += 1e-9
		}
		f += 1e-9
		assert.NotEqual(t, 0.001, f) // what float would have done
		cs := add(t, tr, s)
		require.Equal(t, []float64{50}, thresholdsOf(cs))
		assert.Equal(t, "0.001", cs[0].Spend.String())
	})

	t.Run("tenths", func(t *testing.T) {
		// 0.7+0.1+0.1 = 0.9 < 1, +0.1 = 1 (in float64 0.9999999999999999).
		cfg := Config{Name: "one", Scope: ScopeTeam, Amount: "1", Period: PeriodDay, Thresholds: []float64{100}}
		tr := newTracker(t, []Config{cfg}, nil, c)
		for _, a := range []string{"0.7", "0.1", "0.1"} {
			assert.Empty(t, add(t, tr, teamSpend("payments", a, at)))
		}
		cs := add(t, tr, teamSpend("payments", "0.1", at))
		require.Equal(t, []float64{100}, thresholdsOf(cs))
		assert.Equal(t, "1", cs[0].Spend.String())
	})

	t.Run("atto boundary", func(t *testing.T) {
		// Amount 3 atto: 50 % is ceil(1.5) = 2 atto, 100 % is 3 atto.
		cfg := Config{Name: "atto", Scope: ScopeTeam, Amount: "0.000000000000000003", Period: PeriodDay, Thresholds: []float64{50, 100}}
		tr := newTracker(t, []Config{cfg}, nil, c)
		one := teamSpend("payments", "0.000000000000000001", at)
		assert.Empty(t, add(t, tr, one))
		assert.Equal(t, []float64{50}, thresholdsOf(add(t, tr, one)))
		assert.Equal(t, []float64{100}, thresholdsOf(add(t, tr, one)))
		assert.Empty(t, add(t, tr, one))
	})

	t.Run("decimal percent", func(t *testing.T) {
		// 33.3 % of 10 is 3.33 (not 33.29999… % as a double).
		cfg := Config{Name: "third", Scope: ScopeTeam, Amount: "10", Period: PeriodDay, Thresholds: []float64{33.3}}
		tr := newTracker(t, []Config{cfg}, nil, c)
		assert.Empty(t, add(t, tr, teamSpend("payments", "3.329999999999999999", at)))
		cs := add(t, tr, teamSpend("payments", "0.000000000000000001", at))
		require.Equal(t, []float64{33.3}, thresholdsOf(cs))
		assert.Equal(t, "3.33", cs[0].Spend.String())
	})
}

// TestConcurrentAdds: 8 goroutines × 1000 Adds of 0.01 (with Commits,
// Pending and Utilizations running alongside) sum to exactly 80 = the
// budget, and each threshold is returned once in all.
func TestConcurrentAdds(t *testing.T) {
	cfg := Config{Name: "shared", Scope: ScopeTeam, Amount: "80", Period: PeriodDay}
	store := storagetest.NewInMemoryClient(component.KindProcessor, storagetest.NewStorageID("budget"), "budget")
	c := newClock(utc(2026, 6, 3, 9, 0))
	tr := newTracker(t, []Config{cfg}, store, c, WithMaxValues(4))
	at := c.Now()

	const workers, each = 8, 1000
	var (
		mu  sync.Mutex
		all []Crossing
		wg  sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			other := teamSpend("w"+strconv.Itoa(w), "0.01", at)
			for i := range each {
				// assert, not require: FailNow must not run off the
				// test's goroutine.
				cs, err := tr.Add(ctx, teamSpend("payments", "0.01", at))
				assert.NoError(t, err)
				_, err = tr.Add(ctx, other)
				assert.NoError(t, err)
				mu.Lock()
				all = append(all, cs...)
				mu.Unlock()
				switch i % 100 {
				case 0:
					assert.NoError(t, tr.Commit(ctx))
				case 50:
					tr.Pending()
					tr.Utilizations()
					tr.Stats()
				}
			}
		})
	}
	wg.Wait()
	commit(t, tr)

	assert.ElementsMatch(t, []float64{50, 75, 90, 100}, thresholdsOf(all))
	st, ok := stored(t, store, "shared", "payments", utc(2026, 6, 3, 0, 0))
	require.True(t, ok)
	assert.Equal(t, "80", st.Spend.String()) // 8000 × 0.01
	assert.Equal(t, []float64{50, 75, 90, 100}, st.Crossed)
	for w := range workers {
		st, ok := stored(t, store, "shared", "w"+strconv.Itoa(w), utc(2026, 6, 3, 0, 0))
		require.True(t, ok)
		assert.Equal(t, "10", st.Spend.String()) // 1000 × 0.01
	}
}

func benchTracker(b *testing.B) (*Tracker, []Spend) {
	cfg := Config{Name: "team-daily", Scope: ScopeTeam, Amount: "1000000000", Period: PeriodDay}
	now := utc(2026, 6, 3, 9, 0)
	tr, err := New([]Config{cfg}, nil, func() time.Time { return now })
	if err != nil {
		b.Fatal(err)
	}
	spends := make([]Spend, 1000)
	for i := range spends {
		spends[i] = teamSpend("team-"+strconv.Itoa(i), "0.000123", now)
	}
	return tr, spends
}

// BenchmarkAdd: Adds over 1000 team values, in memory.
func BenchmarkAdd(b *testing.B) {
	tr, spends := benchTracker(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := tr.Add(ctx, spends[i%len(spends)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAddCommit: one Add and one Commit (one state written to the
// memory store) per op.
func BenchmarkAddCommit(b *testing.B) {
	tr, spends := benchTracker(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := tr.Add(ctx, spends[i%len(spends)]); err != nil {
			b.Fatal(err)
		}
		if err := tr.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func sessionSpend(team, sid, amount string, at time.Time) Spend {
	s := teamSpend(team, amount, at)
	s.Scopes[ScopeSession] = sid
	return s
}

func topOf(c Crossing) []string {
	out := []string{}
	for _, s := range c.TopSessions {
		out = append(out, s.Session+"="+s.Spend.String())
	}
	return out
}

// A crossing names the sessions that spent most of its window, across a
// restart (their spend is stored with the window's), biggest first.
func TestCrossingTopSessions(t *testing.T) {
	for _, sf := range storeFactories {
		t.Run(sf.name, func(t *testing.T) {
			store := sf.new()
			c := newClock(utc(2026, 6, 3, 9, 0))
			at := c.Now()
			a := newTracker(t, []Config{validConfig()}, store, c)
			assert.Empty(t, add(t, a, sessionSpend("payments", "s1", "100", at)))
			assert.Empty(t, add(t, a, sessionSpend("payments", "s2", "40", at)))
			assert.Empty(t, add(t, a, teamSpend("payments", "9", at))) // names no session
			cs := add(t, a, sessionSpend("payments", "s3", "101", at)) // 250: 50 %
			require.Len(t, cs, 1)
			assert.Equal(t, []string{"s3=101", "s1=100", "s2=40"}, topOf(cs[0]))
			commit(t, a)

			b := newTracker(t, []Config{validConfig()}, store, c)
			add(t, b, sessionSpend("payments", "s4", "60", at))
			cs = add(t, b, sessionSpend("payments", "s2", "65", at)) // 375: 75 %
			require.Len(t, cs, 1)
			assert.Equal(t, []string{"s2=105", "s3=101", "s1=100"}, topOf(cs[0]))
		})
	}
}

// A window keeps the spend of at most trackedSessions sessions: the
// smallest goes when a new one spends, and the biggest stay exact.
func TestTopSessionsBounded(t *testing.T) {
	c := newClock(utc(2026, 6, 3, 9, 0))
	at := c.Now()
	cfg := validConfig()
	cfg.Amount = "1000000"
	a := newTracker(t, []Config{cfg}, nil, c)
	for i := range 100 {
		add(t, a, sessionSpend("payments", fmt.Sprintf("s%03d", i), strconv.Itoa(i+1), at))
	}
	var e *entry
	for _, v := range a.entries {
		e = v
	}
	require.NotNil(t, e)
	assert.Len(t, e.sessions, trackedSessions)
	got := []string{}
	for _, s := range e.top() {
		got = append(got, s.Session+"="+s.Spend.String())
	}
	assert.Equal(t, []string{"s099=100", "s098=99", "s097=98"}, got)
}

// TestSpendWithoutItsScope: a per-session budget given spend that names no
// session counts none of it, rather than all of it under one made-up
// value that crosses for no one, and says so once; spend that names its
// session counts.
func TestSpendWithoutItsScope(t *testing.T) {
	c := newClock(utc(2026, 6, 3, 9, 0))
	perSession := Config{Name: "per-session", Scope: ScopeSession, Amount: "0.05", Period: PeriodDay, Thresholds: []float64{100}}
	tr := newTracker(t, []Config{perSession, validConfig()}, newPlainStore(), c)
	for range 3 {
		s := teamSpend("payments", "0.02", c.Now()) // no session
		assert.Empty(t, add(t, tr, s))
	}
	missed := tr.Unscoped()
	require.Len(t, missed, 1)
	assert.Equal(t, "per-session", missed[0].Name)
	assert.Equal(t, ScopeSession, missed[0].Scope)
	assert.Empty(t, tr.Unscoped(), "reported once")
	assert.Equal(t, 1, tr.Stats().Values, "only the team budget holds a value")

	s := teamSpend("payments", "0.06", c.Now())
	s.Scopes[ScopeSession] = "s1"
	cs := add(t, tr, s)
	require.Len(t, cs, 1, "the session's 100%")
	assert.Equal(t, "per-session", cs[0].Budget)
	assert.Equal(t, "s1", cs[0].Value)
	assert.Equal(t, "0.06", cs[0].Spend.String())
}
