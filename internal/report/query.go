package report

import (
	"context"
	"fmt"
	"math/big"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/calendar"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
)

// The keys records are grouped and filtered by.
const (
	KeyTicket     = "ticket"
	KeyTeam       = "team"
	KeyProject    = "project"
	KeyCostCenter = "cost_center"
	KeyUser       = "user"
	KeyRepository = "repository"
	KeyBranch     = "branch"
	KeyModel      = "model"
	KeyAgent      = "agent"
	KeySession    = "session"
	KeyDay        = "day"
	KeyWeek       = "week"
)

// Keys are the keys, in the order the usage text lists them.
var Keys = []string{KeyTicket, KeyTeam, KeyProject, KeyCostCenter, KeyUser, KeyRepository, KeyBranch, KeyModel, KeyAgent, KeySession, KeyDay, KeyWeek}

// attributionKeys are the keys the attribution decides; their value is
// the unattributed value when nothing did.
var attributionKeys = []string{KeyTicket, KeyTeam, KeyProject, KeyCostCenter}

// Value is a record's value of a key. Days and ISO weeks are of the
// record's end (At), in loc.
func Value(r *Record, key string, loc *time.Location) string {
	switch key {
	case KeyTicket:
		return r.Ticket
	case KeyTeam:
		return r.Team
	case KeyProject:
		return r.Project
	case KeyCostCenter:
		return r.CostCenter
	case KeyUser:
		return r.User
	case KeyRepository:
		return r.Repository
	case KeyBranch:
		return r.Branch
	case KeyModel:
		return r.Model
	case KeyAgent:
		return r.Agent
	case KeySession:
		return r.SessionID
	case KeyDay:
		return r.At().In(loc).Format(time.DateOnly)
	case KeyWeek:
		y, w := r.At().In(loc).ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	}
	return ""
}

// ParseKeys reads a comma-separated list of keys ("ticket,model").
func ParseKeys(s string) ([]string, error) {
	var keys []string
	for k := range strings.SplitSeq(s, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		k = strings.ReplaceAll(k, "-", "_")
		if !slices.Contains(Keys, k) {
			return nil, fmt.Errorf("%q is not one of %s", k, strings.Join(Keys, ", "))
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// Filter keeps the records whose value of Key matches one of Values, each
// a glob (path.Match: '*', '?', '[...]').
type Filter struct {
	Key    string
	Values []string
}

// ParseFilter reads "key=value[,value...]".
func ParseFilter(s string) (Filter, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return Filter{}, fmt.Errorf("%q: want key=value[,value...]", s)
	}
	keys, err := ParseKeys(k)
	if err != nil || len(keys) != 1 {
		return Filter{}, fmt.Errorf("%q: want one key of %s", s, strings.Join(Keys, ", "))
	}
	f := Filter{Key: keys[0]}
	for p := range strings.SplitSeq(v, ",") {
		if _, err := path.Match(p, ""); err != nil {
			return Filter{}, fmt.Errorf("%q: %w", p, err)
		}
		f.Values = append(f.Values, p)
	}
	return f, nil
}

func (f Filter) match(r *Record, loc *time.Location) bool {
	v := Value(r, f.Key, loc)
	for _, p := range f.Values {
		if ok, _ := path.Match(p, v); ok {
			return true
		}
	}
	return false
}

// Query is what a report counts: the records that end (At) in [Since, Until)
// (a zero bound is open) and pass every filter, grouped by By.
type Query struct {
	By           []string
	Filters      []Filter
	Since, Until time.Time
	// Location is where days and weeks begin; nil is UTC.
	Location *time.Location
	// Unattributed is the attribution's value for what nothing decided.
	Unattributed string
	// FindUnattributed takes that value from the records counted instead,
	// when they show it: records attributed and priced elsewhere (a
	// ledger's rows) carry the value of the attribution that wrote them.
	// A record nothing attributed has the same value as its ticket, team,
	// project and cost center; when no record counted is one, Unattributed
	// is used, and when records show several values, Run fails.
	FindUnattributed bool
}

// Totals are the sums of a group of records.
type Totals struct {
	Sessions         int
	Users            int
	Requests         int64
	PremiumRequests  float64
	NanoAIU          int64
	Cost             money.Amount
	InputTokens      int64
	OutputTokens     int64
	CacheReadTokens  int64
	CacheWriteTokens int64
	ReasoningTokens  int64
	APIDurationMs    int64
	// Share is Cost over the report's total cost (0 to 1).
	Share float64

	sessions, users map[string]bool
	premium         *big.Rat
}

func (t *Totals) add(r *Record) {
	if t.sessions == nil {
		t.sessions, t.users, t.premium = map[string]bool{}, map[string]bool{}, new(big.Rat)
	}
	if r.SessionID != "" { // a record without one is of no known session
		t.sessions[r.SessionID] = true
	}
	if r.User != "" {
		t.users[r.User] = true
	}
	t.Sessions, t.Users = len(t.sessions), len(t.users)
	t.Requests += r.Requests
	t.NanoAIU += r.NanoAIU
	t.Cost = t.Cost.Add(r.Cost)
	t.InputTokens += r.InputTokens
	t.OutputTokens += r.OutputTokens
	t.CacheReadTokens += r.CacheReadTokens
	t.CacheWriteTokens += r.CacheWriteTokens
	t.ReasoningTokens += r.ReasoningTokens
	t.APIDurationMs += r.APIDurationMs
	// Premium requests are sums of multipliers such as 0.33: summed as
	// the decimals the CLI writes, so that the total is not a float's.
	if p, ok := new(big.Rat).SetString(fmt.Sprint(r.PremiumRequests)); ok {
		t.premium.Add(t.premium, p)
		t.PremiumRequests, _ = t.premium.Float64()
	}
}

// AICredits is the nano-AIU in AI credits (1e9 nano-AIU), exact.
func (t *Totals) AICredits() string {
	return money.FromAtto(new(big.Int).Mul(big.NewInt(t.NanoAIU), big.NewInt(1e9))).String()
}

// Row is one group: its values of the query's keys, and its totals.
type Row struct {
	Values []string
	Totals
}

// Report is a query's answer.
type Report struct {
	By           []string
	Since, Until time.Time
	Currency     string
	Rows         []Row // by cost, highest first, then by values
	Total        Totals
	// Unattributed is the spend no ticket and no team was found for.
	Unattributed Totals
	// UnattributedValue is the attribution's value for what nothing
	// decided.
	UnattributedValue string
	// Records is the number of records counted; Duplicates those left
	// out because a record with their ID was counted.
	Records, Duplicates int
	// NoSession is the number of records counted that name no session (a
	// ledger written without session.id): no session counts them, and
	// the top sessions leave them out.
	NoSession int
	// Days is spend per day and model, TopSessions the sessions that cost
	// most, for the HTML charts.
	Days        []DayModel
	TopSessions []Row // values: session, ticket, repository, branch
	Tickets     []Row // values: ticket
}

// DayModel is a day's spend on a model.
type DayModel struct {
	Day, Model string
	Cost       money.Amount
}

// Run reads the source and answers the query. currency is the pricing's,
// or "" for the currency of the records counted (a ledger's rows, priced
// where they were collected). It is an ISO 4217 code (three capital
// letters), anything else is refused, for it is written into every
// format; and the records counted — those in the range that pass the
// filters — must all be in it: costs in two currencies are not added up.
// Records out of the range or filtered out may be in any currency.
func Run(ctx context.Context, src Source, q Query, currency string) (*Report, error) {
	if currency != "" && !money.IsCurrencyCode(currency) {
		return nil, fmt.Errorf("currency %q is not an ISO 4217 code such as USD", currency)
	}
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	unattr := q.Unattributed
	if unattr == "" {
		unattr = "unattributed"
	}
	rep := &Report{By: q.By, Since: q.Since, Until: q.Until, Currency: currency}
	// The spend with neither a ticket nor a team, by that value: the
	// unattributed value may be known only once every record is read.
	neither := map[string]*Totals{}
	var shown []string // values of records nothing attributed (FindUnattributed)
	groups := map[string]*Row{}
	sessions := map[string]*Row{}
	days := map[[2]string]*DayModel{}
	tickets := map[string]*Row{}
	ids := map[string]bool{}
	err := src.Records(ctx, func(r Record) error {
		if at := r.At(); !q.Since.IsZero() && at.Before(q.Since) || !q.Until.IsZero() && !at.Before(q.Until) {
			return nil
		}
		for _, f := range q.Filters {
			if !f.match(&r, loc) {
				return nil
			}
		}
		if ids[r.ID] {
			rep.Duplicates++
			return nil
		}
		ids[r.ID] = true
		if r.Currency != "" {
			switch {
			case !money.IsCurrencyCode(r.Currency):
				return fmt.Errorf("record %s: currency %q is not an ISO 4217 code such as USD", r.ID, r.Currency)
			case rep.Currency == "":
				rep.Currency = r.Currency
			case r.Currency != rep.Currency:
				return fmt.Errorf("the records in the range are in %s and %s (record %s); report one currency at a time (a narrower range or a filter)", rep.Currency, r.Currency, r.ID)
			}
		}
		rep.Records++
		vals := make([]string, len(q.By))
		for i, k := range q.By {
			vals[i] = Value(&r, k, loc)
		}
		key := strings.Join(vals, "\x00")
		g := groups[key]
		if g == nil {
			g = &Row{Values: vals}
			groups[key] = g
		}
		g.add(&r)
		rep.Total.add(&r)
		if r.Ticket == r.Team {
			n := neither[r.Ticket]
			if n == nil {
				n = &Totals{}
				neither[r.Ticket] = n
			}
			n.add(&r)
			if v := r.Ticket; v != "" && v == r.Project && v == r.CostCenter && !slices.Contains(shown, v) {
				shown = append(shown, v)
			}
		}
		if r.SessionID == "" {
			rep.NoSession++
		} else {
			s := sessions[r.SessionID]
			if s == nil {
				s = &Row{Values: []string{r.SessionID, r.Ticket, r.Repository, r.Branch}}
				sessions[r.SessionID] = s
			}
			s.add(&r)
		}
		t := tickets[r.Ticket]
		if t == nil {
			t = &Row{Values: []string{r.Ticket}}
			tickets[r.Ticket] = t
		}
		t.add(&r)
		dk := [2]string{Value(&r, KeyDay, loc), r.Model}
		d := days[dk]
		if d == nil {
			d = &DayModel{Day: dk[0], Model: dk[1]}
			days[dk] = d
		}
		d.Cost = d.Cost.Add(r.Cost)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if q.FindUnattributed {
		switch slices.Sort(shown); len(shown) {
		case 0:
		case 1:
			unattr = shown[0]
		default:
			return nil, fmt.Errorf("records nothing attributed show several values for it (%s): name the one to report as unattributed", strings.Join(shown, ", "))
		}
	}
	rep.UnattributedValue = unattr
	if n := neither[unattr]; n != nil {
		rep.Unattributed = *n
	}
	// The unattributed group is always a row when the report is by
	// attribution only: a bucket nobody is charged for stays visible.
	if len(q.By) > 0 && !slices.ContainsFunc(q.By, func(k string) bool { return !slices.Contains(attributionKeys, k) }) {
		vals := make([]string, len(q.By))
		for i := range vals {
			vals[i] = unattr
		}
		if k := strings.Join(vals, "\x00"); groups[k] == nil {
			groups[k] = &Row{Values: vals}
		}
	}
	for _, g := range groups {
		rep.Rows = append(rep.Rows, *g)
	}
	sortRows(rep.Rows)
	for _, s := range sessions {
		rep.TopSessions = append(rep.TopSessions, *s)
	}
	sortRows(rep.TopSessions)
	if len(rep.TopSessions) > 10 {
		rep.TopSessions = rep.TopSessions[:10]
	}
	for _, t := range tickets {
		rep.Tickets = append(rep.Tickets, *t)
	}
	sortRows(rep.Tickets)
	for _, d := range days {
		rep.Days = append(rep.Days, *d)
	}
	slices.SortFunc(rep.Days, func(a, b DayModel) int {
		return strings.Compare(a.Day+"\x00"+a.Model, b.Day+"\x00"+b.Model)
	})
	share := func(t *Totals) { t.Share = t.Cost.Ratio(rep.Total.Cost) }
	for i := range rep.Rows {
		share(&rep.Rows[i].Totals)
	}
	for i := range rep.TopSessions {
		share(&rep.TopSessions[i].Totals)
	}
	for i := range rep.Tickets {
		share(&rep.Tickets[i].Totals)
	}
	share(&rep.Total)
	share(&rep.Unattributed)
	return rep, nil
}

func sortRows(rows []Row) {
	slices.SortFunc(rows, func(a, b Row) int {
		if c := b.Cost.Cmp(a.Cost); c != 0 {
			return c
		}
		if a.NanoAIU != b.NanoAIU {
			return int(min(max(b.NanoAIU-a.NanoAIU, -1), 1))
		}
		return slices.Compare(a.Values, b.Values)
	})
}

// ParseTime reads a bound of a range: RFC 3339, or a date (its first
// instant in loc, see calendar.DayStart).
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := parseDay(s, loc, 0)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want a date (2026-11-17) or an RFC 3339 time", s)
	}
	return t, nil
}

// ParseSprint reads "2026-11-17..2026-11-30": from the first day's start
// to the end of the last day, in loc.
func ParseSprint(s string, loc *time.Location) (since, until time.Time, err error) {
	a, b, ok := strings.Cut(s, "..")
	if !ok {
		return since, until, fmt.Errorf("%q: want first..last day, such as 2026-11-17..2026-11-30", s)
	}
	if since, err = parseDay(a, loc, 0); err != nil {
		return since, until, fmt.Errorf("%q: want first..last day, such as 2026-11-17..2026-11-30", s)
	}
	until, err = parseDay(b, loc, 1)
	if err != nil || !until.After(since) {
		return since, until, fmt.Errorf("%q: want first..last day, the last not before the first", s)
	}
	return since, until, nil
}

// parseDay reads a date and returns the first instant, in loc, of that
// day plus days.
func parseDay(s string, loc *time.Location, days int) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, err
	}
	y, m, d := t.Date()
	return calendar.DayStart(y, m, d+days, loc), nil
}
