package jiraexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/jiraexporter"

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
)

// sessionLegs is what is stored per session (sessionKey): each leg's
// latest summary and the ticket it was attributed to ("" for none). A
// summary carries the session's usage so far, all legs included; a
// session resumed on another branch has legs on different tickets, and
// each ticket is to count only what its legs added, not what the legs
// before them spent on another ticket (or on none).
type sessionLegs struct {
	Legs map[int64]legTicket `json:"legs"`
}

type legTicket struct {
	Ticket string       `json:"ticket,omitempty"`
	Total  sessionTotal `json:"total"`
}

func sessionKey(sid string) string { return "session/" + sid }

// record takes a leg's summary attributed to ticket: it replaces the leg's
// when it is newer (a later summary of the same leg, its ticket with it),
// and reports whether it did.
func (s *sessionLegs) record(ticket string, st sessionTotal) bool {
	if s.Legs == nil {
		s.Legs = map[int64]legTicket{}
	}
	if old, ok := s.Legs[st.Leg]; ok && !st.newerThan(old.Total) {
		return false
	}
	s.Legs[st.Leg] = legTicket{Ticket: ticket, Total: st}
	return true
}

// shares returns, per ticket, the session's usage its legs added: each
// leg's total less the total of the leg before it (in leg order), summed
// over the ticket's legs. A session on one ticket has its latest total
// there, as without legs. Unattributed legs ("") are left out.
func (s sessionLegs) shares() map[string]sessionTotal {
	out := map[string]sessionTotal{}
	var prev *sessionTotal
	for _, leg := range slices.Sorted(maps.Keys(s.Legs)) {
		l := s.Legs[leg]
		added := l.Total.minus(prev)
		if l.Ticket != "" {
			if have, ok := out[l.Ticket]; ok {
				added = have.plus(added)
			}
			out[l.Ticket] = added
		}
		t := l.Total
		prev = &t
	}
	return out
}

// minus is the usage s adds to prev, the total of the leg before (nil for
// none); a field that went down counts zero. The cost is unknown (nil)
// when either total has none.
func (s sessionTotal) minus(prev *sessionTotal) sessionTotal {
	if prev == nil {
		return s
	}
	d := sessionTotal{
		Leg:             s.Leg,
		NanoAIU:         max(s.NanoAIU-prev.NanoAIU, 0),
		Tokens:          max(s.Tokens-prev.Tokens, 0),
		PremiumRequests: premiumFloat(nonNegative(exactPremiumRequests(s.PremiumRequests).Add(exactPremiumRequests(prev.PremiumRequests).MulInt(-1)))),
		Currency:        s.Currency,
	}
	if s.Cost != nil && prev.Cost != nil {
		c := nonNegative(s.Cost.Add(prev.Cost.MulInt(-1)))
		d.Cost = &c
	}
	return d
}

// plus adds the usage of another leg of the session on the same ticket.
func (s sessionTotal) plus(o sessionTotal) sessionTotal {
	sum := sessionTotal{
		Leg:             max(s.Leg, o.Leg),
		NanoAIU:         s.NanoAIU + o.NanoAIU,
		Tokens:          s.Tokens + o.Tokens,
		PremiumRequests: premiumFloat(exactPremiumRequests(s.PremiumRequests).Add(exactPremiumRequests(o.PremiumRequests))),
		Currency:        s.Currency,
	}
	if s.Cost != nil && o.Cost != nil {
		c := s.Cost.Add(*o.Cost)
		sum.Cost = &c
	}
	return sum
}

func (s sessionTotal) same(o sessionTotal) bool {
	if (s.Cost == nil) != (o.Cost == nil) || s.Cost != nil && s.Cost.Cmp(*o.Cost) != 0 {
		return false
	}
	return s.Leg == o.Leg && s.NanoAIU == o.NanoAIU && s.Tokens == o.Tokens && s.PremiumRequests == o.PremiumRequests && s.Currency == o.Currency
}

func nonNegative(a money.Amount) money.Amount {
	if a.Sign() < 0 {
		return money.Zero()
	}
	return a
}

// premiumFloat is an exact number of premium requests as the double whose
// shortest decimal it is (what exactPremiumRequests reads back).
func premiumFloat(a money.Amount) float64 {
	f, _ := strconv.ParseFloat(a.String(), 64)
	return f
}

// attribute works out what a leg's summary changes: the tickets whose
// share of the session it changes, with their new shares (a ticket that
// loses the session, its only leg's latest summary having gone to another
// ticket, has ok=false), and ticket's share as it then is. save stores
// the session's legs with the summary in them; the caller calls it once
// the tickets are written, so that a crash or a failure before (a retry
// of the batch comes) finds the same changes again, not legs that already
// say them and tickets that do not.
func (e *jiraExporter) attribute(ctx context.Context, sid, ticket string, st sessionTotal) (changed map[string]share, current share, save func() error, err error) {
	var legs sessionLegs
	if err := e.load(ctx, sessionKey(sid), "session "+sid, &legs); err != nil {
		return nil, share{}, nil, err
	}
	before := legs.shares()
	if !legs.record(ticket, st) {
		// An older summary of the leg (a replay): nothing moves.
		cur, ok := before[ticket]
		return nil, share{total: cur, ok: ok, leg: legs.Legs[st.Leg].Total}, func() error { return nil }, nil
	}
	after := legs.shares()
	changed = map[string]share{}
	for t, s := range after {
		if old, ok := before[t]; !ok || !old.same(s) {
			changed[t] = share{total: s, ok: true}
		}
	}
	for t := range before {
		if _, ok := after[t]; !ok {
			changed[t] = share{}
		}
	}
	save = func() error { return e.storeJSON(ctx, sessionKey(sid), "session "+sid, legs) }
	cur, ok := after[ticket]
	return changed, share{total: cur, ok: ok, leg: st}, save, nil
}

// share is a ticket's share of a session; ok=false: none.
type share struct {
	total sessionTotal
	ok    bool
	// leg is, for the summary's ticket, the latest summary of the
	// summary's leg: the summary, or a newer one of the leg stored before.
	leg sessionTotal
}

// legsMigratedKey is stored once the sessions of state from before legs
// were kept (0ddac1d) have theirs.
const legsMigratedKey = "legs/migrated"

// migrateLegs gives legs to the sessions of state stored before sessions
// had legs: such a ticket holds a session's whole total as of its latest
// leg there, and no session/<id> key says which leg, and so which part,
// is the ticket's. Without them a summary after the upgrade starts the
// session afresh: a replayed older summary of the leg took the ticket's
// total back, and a leg on another ticket counted there again what the
// ticket before it has. Each session found on tickets and without legs
// gets a leg per ticket (the leg and total it holds there), and each of
// those tickets the share those legs give it, all in one batch with the
// key that says it is done. A store that cannot be walked is left as it
// is.
func (e *jiraExporter) migrateLegs(ctx context.Context) error {
	w, ok := e.store.(storage.Walker)
	if !ok {
		return nil
	}
	done, err := e.store.Get(ctx, legsMigratedKey)
	if err != nil {
		return fmt.Errorf("loading %s: %w", legsMigratedKey, err)
	}
	if done != nil {
		return nil
	}
	tickets := map[string]ticketState{}
	hasLegs := map[string]bool{}
	err = w.Walk(ctx, func(key string, value []byte) ([]*storage.Operation, error) {
		if sid, ok := strings.CutPrefix(key, "session/"); ok {
			hasLegs[sid] = true
		} else if ticket, ok := strings.CutPrefix(key, "ticket/"); ok {
			var st ticketState
			if json.Unmarshal(value, &st) == nil {
				tickets[ticket] = st
			}
		}
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("walking the stored state: %w", err)
	}
	legs := map[string]*sessionLegs{}
	for _, ticket := range slices.Sorted(maps.Keys(tickets)) {
		for sid, total := range tickets[ticket].Sessions {
			if hasLegs[sid] {
				continue
			}
			if legs[sid] == nil {
				legs[sid] = &sessionLegs{}
			}
			legs[sid].record(ticket, total)
		}
	}
	var ops []*storage.Operation
	changed := map[string]bool{}
	for _, sid := range slices.Sorted(maps.Keys(legs)) {
		b, err := json.Marshal(legs[sid])
		if err != nil {
			return err
		}
		ops = append(ops, storage.SetOperation(sessionKey(sid), b))
		shares := legs[sid].shares()
		for ticket, st := range tickets {
			if _, ok := st.Sessions[sid]; !ok {
				continue
			}
			if sh, ok := shares[ticket]; ok {
				st.Sessions[sid] = sh
			} else {
				delete(st.Sessions, sid)
			}
			changed[ticket] = true
		}
	}
	for _, ticket := range slices.Sorted(maps.Keys(changed)) {
		b, err := json.Marshal(tickets[ticket])
		if err != nil {
			return err
		}
		ops = append(ops, storage.SetOperation(stateKey(ticket), b))
	}
	ops = append(ops, storage.SetOperation(legsMigratedKey, []byte("1")))
	if err := e.store.Batch(ctx, ops...); err != nil {
		return fmt.Errorf("storing the legs of sessions stored without them: %w", err)
	}
	if len(legs) > 0 {
		e.logger.Info("Gave legs to sessions stored before they were kept",
			zap.Int("sessions", len(legs)), zap.Int("tickets", len(changed)))
	}
	return nil
}
