package budget

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
)

// Spend is an amount spent at a time, attributed to scope values.
type Spend struct {
	// Time is when the spend happened (the data point's time); it picks
	// the window the spend counts in.
	Time time.Time
	// Scopes maps a scope to its value, e.g. {"team": "payments", "ticket":
	// "PAY-4411"}. A budget of a scope missing here counts the spend under
	// the value "" (a per-value budget) or not at all (a budget of one
	// value); callers that want unattributed spend under a marker put the
	// marker in.
	Scopes map[string]string
	Amount money.Amount
	// Delivered is when the spend was delivered, if before it is added (a
	// spend held while the store could not be read): a window that had
	// not ended by then still reports the crossings it causes. Zero: now.
	Delivered time.Time
}

// Crossing is the spend of a window reaching a threshold of its budget.
type Crossing struct {
	Budget string `json:"budget"`
	Scope  string `json:"scope"`
	Value  string `json:"value"`
	// Threshold is the percent of the budget's amount reached.
	Threshold float64 `json:"threshold"`
	// Spend is the window's spend after the spend that crossed; Limit is
	// the budget's amount.
	Spend       money.Amount `json:"spend"`
	Limit       money.Amount `json:"limit"`
	WindowStart time.Time    `json:"window_start"`
	WindowEnd   time.Time    `json:"window_end"`
	// Time is the time of the spend that crossed the threshold.
	Time time.Time `json:"time"`
	// ID identifies the crossing: a hash of the budget, the value, the
	// window's start and the threshold, the same whenever and however
	// often the crossing is offered.
	ID string `json:"id"`
	// TopSessions are the sessions that spent most of the window's spend,
	// biggest first (at most TopSessions of them; none when the spend
	// named no session).
	TopSessions []SessionSpend `json:"top_sessions,omitempty"`
}

// SessionSpend is a session's spend in a budget's window.
type SessionSpend struct {
	Session string       `json:"session"`
	Spend   money.Amount `json:"spend"`
}

// TopSessions is how many sessions a crossing names; trackedSessions how
// many a (budget, value, window) keeps the spend of. Beyond that the
// smallest is let go when a new session spends, so with more sessions than
// that in a window the ranking is of the biggest ones seen since (the
// window's spend itself is always exact).
const (
	TopSessions     = 3
	trackedSessions = 16
)

// Utilization is the spend of the current window of one (budget, value).
type Utilization struct {
	Budget, Scope, Value   string
	WindowStart, WindowEnd time.Time
	Spend, Limit           money.Amount
	// Ratio is Spend/Limit (1 at the limit).
	Ratio float64
}

// Stats are the tracker's counters.
type Stats struct {
	// Values is how many (budget, value, window) are in memory.
	Values int
	// Pending is how many crossings are returned (or recovered) and not
	// committed.
	Pending int
	// Evicted counts (budget, value, window) dropped from memory to stay
	// within the bound; their state is in the store.
	Evicted uint64
	// Swept counts stored states deleted after their window's expiry.
	Swept uint64
	// Undecodable counts stored states that could not be decoded and were
	// started afresh.
	Undecodable uint64
}

// ErrPendingNotSaved wraps the error of Add when the crossings it returns
// could not be recorded as pending in the store. The crossings are valid
// and the spend is counted; only their redelivery after a crash is not
// assured. The next Add or Commit tries the write again.
var ErrPendingNotSaved = errors.New("budget: crossings not recorded as pending")

// DefaultMaxValues is the default bound on (budget, value, window) kept in
// memory.
const DefaultMaxValues = 100_000

// sweepInterval is how often Commit deletes expired state from the store.
const sweepInterval = time.Hour

// Option configures a Tracker.
type Option func(*Tracker)

// WithMaxValues bounds the (budget, value, window) kept in memory (default
// DefaultMaxValues). Beyond it the least recently used ones whose state is
// committed leave memory; their state stays in the store and is read back
// when they see spend again. Values with uncommitted spend or pending
// crossings stay until the next Commit, so the bound can be exceeded by
// what one batch between commits touches.
func WithMaxValues(n int) Option {
	return func(t *Tracker) {
		if n > 0 {
			t.max = n
		}
	}
}

// Tracker tracks spend against budgets. It is safe for concurrent use.
//
// Every method holds one lock, including while it reads or writes the
// store: Add reads the store the first time it sees a (budget, value,
// window) and writes it when it returns crossings; Commit writes what
// changed.
type Tracker struct {
	mu      sync.Mutex
	budgets []*budget
	byName  map[string]int
	store   Store
	now     func() time.Time
	max     int

	entries map[entryKey]*entry
	lru     entry    // sentinel of the list of entries, most recent first
	dirty   []*entry // entries changed since the last Commit
	// minEnd is no later than the end of every entry's window: before it
	// no window in memory has ended.
	minEnd time.Time

	pending      []*pending
	pendingDirty bool // pending's membership changed since it was stored

	nextSweep time.Time
	stats     Stats
	// unscoped are the budgets that were given spend without a value of
	// their scope, to be reported once (Unscoped); reported, those already
	// reported.
	unscoped, reported map[int]bool
}

// entryKey identifies a (budget, value, window).
type entryKey struct {
	budget int
	value  string
	start  int64 // unix seconds
}

// entry is the state of one (budget, value, window).
type entry struct {
	key        entryKey
	b          *budget
	value      string
	start, end time.Time
	spend      big.Int // atto
	// sessions is the spend by session (atto), at most trackedSessions.
	sessions map[string]*big.Int
	// Bits by threshold index: acked, crossings committed; pend,
	// crossings returned (or recovered from the store) and not committed.
	acked, pend uint64
	dirty       bool // spend or acked changed since the state was stored
	prev, next  *entry
}

// pending is a crossing returned (by this process or one before it) and
// not committed.
type pending struct {
	c   Crossing
	key entryKey
	bit int // index of the threshold in the budget; -1 if it has none
	// offered: returned by this process (Add or Pending), so the next
	// Commit acknowledges it. Crossings recovered from the store are not
	// offered until Add or Pending returns them.
	offered bool
}

// New returns a tracker of budgets, which must pass ValidateAll. store
// keeps its state across restarts; nil keeps it in memory only. now is the
// clock (nil: time.Now): it tells which windows are current and when
// state expires.
//
// New reads the crossings returned and not committed by a tracker before
// it on the same store; the first Add returns them (or Pending does).
// Crossings of budgets no longer configured are dropped.
func New(budgets []Config, store Store, now func() time.Time, opts ...Option) (*Tracker, error) {
	if err := ValidateAll(budgets); err != nil {
		return nil, err
	}
	t := &Tracker{
		byName:  make(map[string]int, len(budgets)),
		store:   store,
		now:     now,
		max:     DefaultMaxValues,
		entries: make(map[entryKey]*entry),
	}
	t.lru.next, t.lru.prev = &t.lru, &t.lru
	if t.store == nil {
		t.store = storageclient.NewMemory()
	}
	if t.now == nil {
		t.now = time.Now
	}
	for _, o := range opts {
		o(t)
	}
	for i, c := range budgets {
		b, err := c.compile()
		if err != nil {
			return nil, err
		}
		t.budgets = append(t.budgets, b)
		t.byName[c.Name] = i
	}

	var sp storedPending
	if _, err := loadJSON(context.Background(), t.store, pendingKey, &sp); err != nil {
		if !isDecodeError(err) {
			return nil, err
		}
		t.stats.Undecodable++
		t.pendingDirty = true
	}
	seen := map[string]bool{}
	for _, c := range sp.Crossings {
		bi, ok := t.byName[c.Budget]
		if !ok || seen[c.ID] {
			t.pendingDirty = true
			continue
		}
		seen[c.ID] = true
		b := t.budgets[bi]
		t.pending = append(t.pending, &pending{
			c:   c,
			key: entryKey{bi, c.Value, c.WindowStart.Unix()},
			bit: b.thresholdIndex(c.Threshold),
		})
	}
	return t, nil
}

// Add counts s in every budget it falls under, in the window of each that
// contains s.Time, and returns the crossings it caused: one per threshold
// reached, in the order of the budgets and, within one, of increasing
// thresholds. Crossings recovered from a previous tracker and not yet
// offered come first.
//
// Only windows that have not ended by the tracker's clock (or by
// s.Delivered, when earlier) report crossings, unless the budget sets
// AlertPastWindows: spend replayed for a past window is counted, silently. Spend whose window's state has already
// expired (one period after the window's end) counts nowhere, nor does
// spend outside a fixed budget's window.
//
// A crossing is returned once. When Add cannot read the store it returns
// the error and counts nothing, so the call can be retried. When it cannot
// record its crossings as pending, it returns them with an error wrapping
// ErrPendingNotSaved.
func (t *Tracker) Add(ctx context.Context, s Spend) ([]Crossing, error) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()

	var buf [8]*entry
	hits := buf[:0]
	if s.Amount.Sign() > 0 {
		for bi, b := range t.budgets {
			value, ok, missing := b.match(s.Scopes)
			if missing && !t.reported[bi] {
				if t.unscoped == nil {
					t.unscoped = map[int]bool{}
				}
				t.unscoped[bi] = true
			}
			if !ok {
				continue
			}
			start, end, ok := b.window(s.Time)
			if !ok || !now.Before(expiry(start, end)) {
				continue
			}
			e, err := t.load(ctx, bi, value, start, end)
			if err != nil {
				return nil, err
			}
			hits = append(hits, e)
		}
	}

	var out []Crossing
	for _, p := range t.pending {
		if !p.offered {
			p.offered = true
			out = append(out, p.c)
		}
	}
	if len(hits) > 0 {
		atto := s.Amount.Atto()
		sid := s.Scopes[ScopeSession]
		current := now // windows not ended by then report crossings
		if !s.Delivered.IsZero() && s.Delivered.Before(now) {
			current = s.Delivered
		}
		for _, e := range hits {
			e.spend.Add(&e.spend, atto)
			e.addSession(sid, atto)
			t.markDirty(e)
			t.touch(e)
			if !e.end.After(current) && !e.b.cfg.AlertPastWindows {
				continue
			}
			for i, thr := range e.b.thrAtto {
				bit := uint64(1) << i
				if (e.acked|e.pend)&bit != 0 {
					continue
				}
				if e.spend.Cmp(thr) < 0 {
					break // thresholds increase
				}
				c := e.crossing(i, s.Time)
				e.pend |= bit
				t.pending = append(t.pending, &pending{c: c, key: e.key, bit: i, offered: true})
				t.pendingDirty = true
				out = append(out, c)
			}
		}
	}

	var err error
	if t.pendingDirty {
		if err = t.storePending(ctx); err != nil {
			err = fmt.Errorf("%w: %w", ErrPendingNotSaved, err)
		}
	}
	if len(t.entries) > t.max {
		t.trim(4)
	}
	return out, err
}

// Pending returns every crossing returned and not committed yet, including
// those recovered from a tracker before this one. It hands them out: a
// recovered crossing it returns is not returned again by Add, and the next
// Commit acknowledges it, so a caller that calls Pending delivers what it
// returns before it commits.
func (t *Tracker) Pending() []Crossing {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Crossing, 0, len(t.pending))
	for _, p := range t.pending {
		p.offered = true
		out = append(out, p.c)
	}
	return out
}

// Unscoped returns, once each, the budgets that were given spend carrying
// no value of their scope (a per-session budget over metrics without
// session.id): they counted none of it, where counting it under one
// made-up value would cross for no one.
func (t *Tracker) Unscoped() []Config {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Config
	for _, bi := range slices.Sorted(maps.Keys(t.unscoped)) {
		out = append(out, t.budgets[bi].cfg)
		if t.reported == nil {
			t.reported = map[int]bool{}
		}
		t.reported[bi] = true
	}
	clear(t.unscoped)
	return out
}

// Refused takes back every crossing returned so far (by Add or Pending)
// and not committed: the caller could not deliver them. They stay
// pending, stored as such, and are offered again by the next Add or
// Pending; a Commit before then persists the spend without acknowledging
// them, so that neither the spend nor the crossings are lost to a crash or
// a stop in between.
func (t *Tracker) Refused() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.pending {
		p.offered = false
	}
}

// Commit acknowledges every crossing returned so far (by Add or Pending)
// and persists the state changed since the last Commit: the spend of each
// (budget, value, window) and the crossings delivered. Call it after the
// crossings are delivered. When the store has a Batch, everything is
// written in one batch.
//
// Crossings are acknowledged in memory even when writing fails (they are
// not returned again by this tracker); the write is retried by the next
// Commit.
//
// Commit also drops windows that have ended from memory, trims memory to
// its bound, and, hourly, deletes from the store the state of windows one
// period past their end.
func (t *Tracker) Commit(ctx context.Context) error {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()

	// Acknowledge what was offered: read the state it belongs to first, so
	// that a failing read changes nothing.
	var acked []*entry
	var keep []*pending
	for _, p := range t.pending {
		if !p.offered {
			keep = append(keep, p)
			continue
		}
		if p.bit < 0 {
			acked = append(acked, nil)
			continue
		}
		b := t.budgets[p.key.budget]
		start, end, ok := b.window(p.c.WindowStart)
		if !ok || start.Unix() != p.key.start {
			start, end = p.c.WindowStart, p.c.WindowEnd
		}
		e, err := t.load(ctx, p.key.budget, p.c.Value, start, end)
		if err != nil {
			return err
		}
		acked = append(acked, e)
	}
	if len(acked) > 0 {
		i := 0
		for _, p := range t.pending {
			if !p.offered {
				continue
			}
			if e := acked[i]; e != nil {
				bit := uint64(1) << p.bit
				e.acked |= bit
				e.pend &^= bit
				t.markDirty(e)
			}
			i++
		}
		t.pending = keep
		t.pendingDirty = true
	}

	ops := make([]*storage.Operation, 0, len(t.dirty)+1)
	for _, e := range t.dirty {
		v, err := json.Marshal(e.stored())
		if err != nil {
			return err
		}
		ops = append(ops, storage.SetOperation(stateKey(e.b.cfg.Name, e.value, e.start), v))
	}
	if t.pendingDirty {
		op, err := t.pendingOp()
		if err != nil {
			return err
		}
		ops = append(ops, op)
	}
	if err := apply(ctx, t.store, ops); err != nil {
		return err
	}
	for _, e := range t.dirty {
		e.dirty = false
	}
	clear(t.dirty)
	t.dirty = t.dirty[:0]
	t.pendingDirty = false

	t.dropEnded(now)
	t.trim(len(t.entries))
	if !now.Before(t.nextSweep) {
		t.nextSweep = now.Add(sweepInterval)
		if n, err := sweep(ctx, t.store, now); err == nil {
			t.stats.Swept += uint64(n)
		}
	}
	return nil
}

// Utilizations returns the spend of the current window (by the tracker's
// clock) of every (budget, value) in memory that has spend, sorted by
// budget, then value.
func (t *Tracker) Utilizations() []Utilization {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Utilization
	for e := t.lru.next; e != &t.lru; e = e.next {
		if e.spend.Sign() == 0 || now.Before(e.start) || !now.Before(e.end) {
			continue
		}
		spend := money.FromAtto(&e.spend)
		out = append(out, Utilization{
			Budget: e.b.cfg.Name, Scope: e.b.cfg.Scope, Value: e.value,
			WindowStart: e.start, WindowEnd: e.end,
			Spend: spend, Limit: e.b.limit, Ratio: spend.Ratio(e.b.limit),
		})
	}
	slices.SortFunc(out, func(a, b Utilization) int {
		return cmp.Or(cmp.Compare(a.Budget, b.Budget), cmp.Compare(a.Value, b.Value), a.WindowStart.Compare(b.WindowStart))
	})
	return out
}

// Stats returns the tracker's counters.
func (t *Tracker) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.Values = len(t.entries)
	s.Pending = len(t.pending)
	return s
}

// load returns the entry of (budget bi, value, window), from memory or
// else from the store.
func (t *Tracker) load(ctx context.Context, bi int, value string, start, end time.Time) (*entry, error) {
	k := entryKey{bi, value, start.Unix()}
	if e := t.entries[k]; e != nil {
		return e, nil
	}
	b := t.budgets[bi]
	var st storedState
	found, err := loadJSON(ctx, t.store, stateKey(b.cfg.Name, value, start), &st)
	if err != nil {
		if !isDecodeError(err) {
			return nil, err
		}
		t.stats.Undecodable++
		found = false
	}
	e := &entry{key: k, b: b, value: value, start: start, end: end}
	if found {
		e.spend.Set(st.Spend.Atto())
		for sid, a := range st.Sessions {
			e.addSession(sid, a.Atto())
		}
		for _, p := range st.Crossed {
			if i := b.thresholdIndex(p); i >= 0 {
				e.acked |= 1 << i
			}
		}
	}
	for _, p := range t.pending {
		if p.key == k && p.bit >= 0 {
			e.pend |= 1 << p.bit
		}
	}
	t.entries[k] = e
	e.next, e.prev = t.lru.next, &t.lru
	e.next.prev, t.lru.next = e, e
	if t.minEnd.IsZero() || end.Before(t.minEnd) {
		t.minEnd = end
	}
	return e, nil
}

// isDecodeError reports whether err is loadJSON's decoding error rather
// than the store's.
func isDecodeError(err error) bool {
	var d *storageclient.DecodeError
	return errors.As(err, &d)
}

// touch makes e the most recently used entry.
func (t *Tracker) touch(e *entry) {
	if t.lru.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	e.next, e.prev = t.lru.next, &t.lru
	e.next.prev, t.lru.next = e, e
}

func (t *Tracker) remove(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(t.entries, e.key)
}

func (t *Tracker) markDirty(e *entry) {
	if !e.dirty {
		e.dirty = true
		t.dirty = append(t.dirty, e)
	}
}

// trim removes least recently used entries whose state is stored until
// memory is within its bound, looking at most at scan entries.
func (t *Tracker) trim(scan int) {
	e := t.lru.prev
	for ; scan > 0 && len(t.entries) > t.max && e != &t.lru; scan-- {
		prev := e.prev
		if !e.dirty && e.pend == 0 {
			t.remove(e)
			t.stats.Evicted++
		}
		e = prev
	}
}

// dropEnded removes entries of windows that ended by now and whose state
// is stored.
func (t *Tracker) dropEnded(now time.Time) {
	if t.minEnd.IsZero() || now.Before(t.minEnd) {
		return
	}
	t.minEnd = time.Time{}
	for e := t.lru.next; e != &t.lru; {
		next := e.next
		if !e.end.After(now) && !e.dirty && e.pend == 0 {
			t.remove(e)
		} else if t.minEnd.IsZero() || e.end.Before(t.minEnd) {
			t.minEnd = e.end
		}
		e = next
	}
}

func (t *Tracker) pendingOp() (*storage.Operation, error) {
	if len(t.pending) == 0 {
		return storage.DeleteOperation(pendingKey), nil
	}
	sp := storedPending{Version: stateVersion, Crossings: make([]Crossing, len(t.pending))}
	for i, p := range t.pending {
		sp.Crossings[i] = p.c
	}
	v, err := json.Marshal(sp)
	if err != nil {
		return nil, err
	}
	return storage.SetOperation(pendingKey, v), nil
}

func (t *Tracker) storePending(ctx context.Context) error {
	op, err := t.pendingOp()
	if err != nil {
		return err
	}
	if err := apply(ctx, t.store, []*storage.Operation{op}); err != nil {
		return err
	}
	t.pendingDirty = false
	return nil
}

// addSession counts atto spent by session sid (none: "").
func (e *entry) addSession(sid string, atto *big.Int) {
	if sid == "" {
		return
	}
	if v := e.sessions[sid]; v != nil {
		v.Add(v, atto)
		return
	}
	if e.sessions == nil {
		e.sessions = map[string]*big.Int{}
	}
	if len(e.sessions) >= trackedSessions {
		var minID string
		var minV *big.Int
		for id, v := range e.sessions {
			if minV == nil || v.Cmp(minV) < 0 || (v.Cmp(minV) == 0 && id > minID) {
				minID, minV = id, v
			}
		}
		delete(e.sessions, minID)
	}
	e.sessions[sid] = new(big.Int).Set(atto)
}

// top returns the sessions that spent most, biggest first (ties by id).
func (e *entry) top() []SessionSpend {
	if len(e.sessions) == 0 {
		return nil
	}
	out := make([]SessionSpend, 0, len(e.sessions))
	for id, v := range e.sessions {
		out = append(out, SessionSpend{Session: id, Spend: money.FromAtto(v)})
	}
	slices.SortFunc(out, func(a, b SessionSpend) int {
		if c := b.Spend.Cmp(a.Spend); c != 0 {
			return c
		}
		return strings.Compare(a.Session, b.Session)
	})
	return out[:min(len(out), TopSessions)]
}

func (e *entry) stored() storedState {
	st := storedState{Version: stateVersion, Start: e.start, End: e.end, Spend: money.FromAtto(&e.spend)}
	if len(e.sessions) > 0 {
		st.Sessions = make(map[string]money.Amount, len(e.sessions))
		for id, v := range e.sessions {
			st.Sessions[id] = money.FromAtto(v)
		}
	}
	for i, p := range e.b.thresholds {
		if e.acked&(1<<i) != 0 {
			st.Crossed = append(st.Crossed, p)
		}
	}
	return st
}

func (e *entry) crossing(i int, at time.Time) Crossing {
	return Crossing{
		Budget:      e.b.cfg.Name,
		Scope:       e.b.cfg.Scope,
		Value:       e.value,
		Threshold:   e.b.thresholds[i],
		Spend:       money.FromAtto(&e.spend),
		Limit:       e.b.limit,
		WindowStart: e.start,
		WindowEnd:   e.end,
		Time:        at,
		ID:          CrossingID(e.b.cfg.Name, e.value, e.start, e.b.thresholds[i]),
		TopSessions: e.top(),
	}
}

// CrossingID is the id of the crossing of threshold (a percent) by the
// spend of value in the window of budget starting at windowStart: the
// first 16 bytes of a SHA-256, in hex.
func CrossingID(budget, value string, windowStart time.Time, threshold float64) string {
	h := sha256.New()
	for _, s := range []string{budget, value, windowStart.UTC().Format(time.RFC3339Nano), strconv.FormatFloat(threshold, 'g', -1, 64)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
