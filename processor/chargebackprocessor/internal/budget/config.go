// Package budget tracks spend against budgets and reports each threshold
// crossing exactly once.
//
// A budget caps the spend of one scope (a team, a project, a ticket, a user,
// a session, a cost center), either of one value ("payments") or of every
// value separately ("every team gets 500"), over a window: a calendar day,
// week or month in the budget's time zone, or a fixed [start, end). Spend is
// summed exactly in money.Amount; when the spend of a window reaches a
// threshold (a percent of the amount), the Tracker returns one Crossing,
// once, even across restarts when it is given a Store.
//
// # Delivery
//
// Add returns the crossings a spend caused. The caller delivers them, then
// calls Commit, which persists the spend and marks the crossings delivered.
// Crossings returned but not committed are recorded in the store as pending
// when Add returns them: after a crash, the next Tracker offers them again,
// once, through its first Add or through Pending. Delivery is therefore at
// least once across a crash between Add and Commit, and exactly once
// otherwise.
package budget

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
)

// Scopes a budget applies to; values come from the spend's attribution.
const (
	ScopeTicket     = "ticket"
	ScopeTeam       = "team"
	ScopeProject    = "project"
	ScopeUser       = "user"
	ScopeSession    = "session"
	ScopeCostCenter = "cost_center"
)

// Scopes lists every scope, in the order they are documented.
var Scopes = []string{ScopeTicket, ScopeTeam, ScopeProject, ScopeUser, ScopeSession, ScopeCostCenter}

// Periods of a budget's window.
const (
	PeriodDay   = "day"
	PeriodWeek  = "week"
	PeriodMonth = "month"
	// PeriodFixed is one window, [Start, End).
	PeriodFixed = "fixed"
)

// Days a week can start on.
const (
	WeekStartMonday = "monday"
	WeekStartSunday = "sunday"
)

// MaxThresholds is the most thresholds a budget can have.
const MaxThresholds = 64

// DefaultThresholds are the thresholds, in percent of the amount, of a
// budget that lists none.
func DefaultThresholds() []float64 { return []float64{50, 75, 90, 100} }

// Config is one budget.
type Config struct {
	// Name identifies the budget; required and unique. It is part of the
	// state stored for the budget and of the id of its crossings: renaming
	// a budget starts it afresh.
	Name string `mapstructure:"name"`
	// Scope is the attribution the budget applies to: one of Scopes.
	Scope string `mapstructure:"scope"`
	// Value is the one value of the scope the budget applies to (team
	// "payments"). Empty: every value has a budget of its own ("every team
	// gets 500").
	Value string `mapstructure:"value"`
	// Amount is the budget, a decimal amount of currency greater than zero.
	Amount string `mapstructure:"amount"`
	// Period is the window: day, week, month, or fixed.
	Period string `mapstructure:"period"`
	// Start and End bound the window of a fixed budget, [Start, End); they
	// are required for period fixed and not allowed otherwise.
	Start time.Time `mapstructure:"start"`
	End   time.Time `mapstructure:"end"`
	// Timezone is the IANA time zone in which days, weeks and months start
	// (at midnight); default UTC.
	Timezone string `mapstructure:"timezone"`
	// WeekStart is the first day of a week: monday (default) or sunday.
	WeekStart string `mapstructure:"week_start"`
	// Thresholds are the percents of Amount at which a crossing is
	// reported, strictly increasing and greater than zero (above 100 is
	// allowed); default 50, 75, 90, 100.
	Thresholds []float64 `mapstructure:"thresholds"`
	// AlertPastWindows reports crossings in windows that have already
	// ended (spend replayed from history). By default such spend is
	// counted but reports nothing: only windows that have not ended when
	// the spend is added (by the Tracker's clock) report crossings.
	AlertPastWindows bool `mapstructure:"alert_past_windows"`
}

// Validate checks one budget. Its errors name the key and what is wrong
// ("amount: must be greater than 0"); ValidateAll adds which budget.
func (c Config) Validate() error {
	_, err := c.compile()
	return err
}

// ValidateAll checks every budget and that their names are unique. Each
// error names the budget: `budgets::2 ("team-daily"): amount: must be
// greater than 0`.
func ValidateAll(budgets []Config) error {
	var errs []error
	seen := make(map[string]int, len(budgets))
	for i, c := range budgets {
		if err := c.Validate(); err != nil {
			errs = append(errs, budgetError(i, c.Name, err))
		}
		if c.Name == "" {
			continue
		}
		if j, dup := seen[c.Name]; dup {
			errs = append(errs, budgetError(i, c.Name, fmt.Errorf("name: also the name of budgets::%d", j)))
			continue
		}
		seen[c.Name] = i
	}
	return errors.Join(errs...)
}

// budgetError prefixes each of err's errors (Validate joins them) with the
// budget they are about.
func budgetError(i int, name string, err error) error {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]error, len(errs))
	for k, e := range errs {
		out[k] = fmt.Errorf("budgets::%d (%q): %w", i, name, e)
	}
	return errors.Join(out...)
}

// budget is a validated Config, ready for the tracker.
type budget struct {
	cfg        Config
	limit      money.Amount
	limitAtto  *big.Int
	loc        *time.Location
	sundayWeek bool
	thresholds []float64
	// thrAtto[i] is the least spend, in atto, at which thresholds[i] is
	// crossed: ceil(amount × threshold / 100).
	thrAtto []*big.Int

	// The last window computed, reused while spends fall into it.
	cacheStart, cacheEnd time.Time
	cacheOK              bool
}

func (c Config) compile() (*budget, error) {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	b := &budget{cfg: c, loc: time.UTC}

	if c.Name == "" {
		bad("name", "required")
	}
	if !slices.Contains(Scopes, c.Scope) {
		if c.Scope == "" {
			bad("scope", "required, one of %v", Scopes)
		} else {
			bad("scope", "%q is not one of %v", c.Scope, Scopes)
		}
	}
	if a, err := money.ParseDecimal(c.Amount); err != nil {
		if c.Amount == "" {
			bad("amount", "required, a decimal amount such as 500 or 12.50")
		} else {
			bad("amount", "%v", err)
		}
	} else if a.Sign() <= 0 {
		bad("amount", "must be greater than 0")
	} else {
		b.limit = a
		b.limitAtto = a.Atto()
	}

	switch c.Period {
	case PeriodDay, PeriodWeek, PeriodMonth:
		if !c.Start.IsZero() || !c.End.IsZero() {
			bad("start", "start and end apply to period %q only", PeriodFixed)
		}
	case PeriodFixed:
		switch {
		case c.Start.IsZero():
			bad("start", "required for period %q", PeriodFixed)
		case c.End.IsZero():
			bad("end", "required for period %q", PeriodFixed)
		case !c.End.After(c.Start):
			bad("end", "%s is not after start %s", c.End.Format(time.RFC3339), c.Start.Format(time.RFC3339))
		}
	case "":
		bad("period", "required, one of day, week, month, fixed")
	default:
		bad("period", "%q is not one of day, week, month, fixed", c.Period)
	}

	if c.Timezone != "" {
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			bad("timezone", "%q is not an IANA time zone: %v", c.Timezone, err)
		} else {
			b.loc = loc
		}
	}
	switch c.WeekStart {
	case "", WeekStartMonday:
	case WeekStartSunday:
		b.sundayWeek = true
	default:
		bad("week_start", "%q is not monday or sunday", c.WeekStart)
	}

	b.thresholds = c.Thresholds
	if len(b.thresholds) == 0 {
		b.thresholds = DefaultThresholds()
	}
	if len(b.thresholds) > MaxThresholds {
		bad("thresholds", "%d thresholds, at most %d", len(b.thresholds), MaxThresholds)
	}
	for i, p := range b.thresholds {
		switch {
		case math.IsNaN(p) || math.IsInf(p, 0) || p <= 0:
			bad("thresholds", "%v is not a percent greater than 0", p)
		case i > 0 && p <= b.thresholds[i-1]:
			bad("thresholds", "%v after %v: thresholds must be strictly increasing", p, b.thresholds[i-1])
		}
	}

	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	b.thresholds = slices.Clone(b.thresholds)
	b.thrAtto = make([]*big.Int, len(b.thresholds))
	for i, p := range b.thresholds {
		b.thrAtto[i] = thresholdAtto(b.limitAtto, p)
	}
	return b, nil
}

// thresholdAtto is ceil(limit × percent / 100), with the percent read as
// the decimal it prints as (33.3 is 333/10, not the nearest double).
func thresholdAtto(limit *big.Int, percent float64) *big.Int {
	p, ok := new(big.Rat).SetString(strconv.FormatFloat(percent, 'f', -1, 64))
	if !ok { // cannot happen for a finite float
		p = new(big.Rat).SetFloat64(percent)
	}
	p.Mul(p, new(big.Rat).SetInt(limit))
	p.Quo(p, big.NewRat(100, 1))
	q, r := new(big.Int).QuoRem(p.Num(), p.Denom(), new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q
}

// thresholdIndex is the index of percent in b's thresholds, or -1.
func (b *budget) thresholdIndex(percent float64) int {
	for i, p := range b.thresholds {
		if p == percent {
			return i
		}
	}
	return -1
}

// match reports whether a spend attributed to scopes falls under b, and
// the value it counts under; missing reports a spend that carries no value
// of b's scope (a session budget, and metrics without session.id), which
// no value of b can count.
func (b *budget) match(scopes map[string]string) (value string, ok, missing bool) {
	v := scopes[b.cfg.Scope]
	if v == "" {
		return "", false, true
	}
	if b.cfg.Value != "" && v != b.cfg.Value {
		return "", false, false
	}
	return v, true, false
}
