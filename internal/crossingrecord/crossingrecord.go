// Package crossingrecord is the one reading of a budget crossing record
// (event copilot.budget.crossing, written by the chargeback processor): the
// names of its attributes and the Crossing the notify and console exporters
// show.
package crossingrecord // import "github.com/otelcol-copilot/otelcol-copilot/internal/crossingrecord"

import (
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// EventName is the event name of a budget crossing record.
const EventName = "copilot.budget.crossing"

// The record's attributes (the chargeback processor's README, Budgets).
const (
	AttrID          = "copilot.budget.crossing.id"
	AttrBudget      = "copilot.budget.name"
	AttrScope       = "copilot.budget.scope"
	AttrValue       = "copilot.budget.value"
	AttrThreshold   = "copilot.budget.threshold"
	AttrSpend       = "copilot.budget.spend"
	AttrLimit       = "copilot.budget.limit"
	AttrCurrency    = "copilot.budget.currency"
	AttrWindowStart = "copilot.budget.window.start"
	AttrWindowEnd   = "copilot.budget.window.end"
	AttrTopSessions = "copilot.budget.top_sessions"
	// ExactSuffix names the exact decimal beside a double amount
	// (copilot.budget.spend_exact).
	ExactSuffix = "_exact"
)

// Crossing is a budget crossing as templates see it: the attributes of a
// copilot.budget.crossing record (the chargeback processor's README).
type Crossing struct {
	// ID is copilot.budget.crossing.id, stable across re-emissions.
	ID string `json:"crossing_id"`
	// Budget, Scope and Value: the budget's name, its scope (team, ticket,
	// user, …) and the scope's value that crossed (payments).
	Budget string `json:"budget"`
	Scope  string `json:"scope"`
	Value  string `json:"value"`
	// Threshold is the percentage of the limit that was reached.
	Threshold float64 `json:"threshold"`
	// Spend and Limit are exact decimals in Currency.
	Spend    string `json:"spend"`
	Limit    string `json:"limit"`
	Currency string `json:"currency"`
	// WindowStart and WindowEnd bound the budget's window (RFC 3339).
	WindowStart string `json:"window_start"`
	WindowEnd   string `json:"window_end"`
	// Severity is WARN, or ERROR at 100 % and above.
	Severity string `json:"severity"`
	// Time is when the crossing happened (RFC 3339).
	Time string `json:"time"`
	// Body is the record's own one-line description.
	Body string `json:"message"`
	// TopSessions are the sessions that spent most of the window, biggest
	// first (copilot.budget.top_sessions; empty when the spend named no
	// session).
	TopSessions []TopSession `json:"top_sessions,omitempty"`
}

// TopSession is one of a crossing's top sessions.
type TopSession struct {
	Session string `json:"session_id"`
	// Spend is an exact decimal in the crossing's currency.
	Spend string `json:"spend"`
}

// All returns the budget crossings in ld, in order; records without a
// crossing id are not crossings.
func All(ld plog.Logs) []Crossing {
	var out []Crossing
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				if c, ok := Read(lr); ok {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// Read reads one record; false when it is not a crossing.
func Read(lr plog.LogRecord) (Crossing, bool) {
	if lr.EventName() != EventName {
		return Crossing{}, false
	}
	a := lr.Attributes()
	c := Crossing{
		ID:          str(a, AttrID),
		Budget:      str(a, AttrBudget),
		Scope:       str(a, AttrScope),
		Value:       str(a, AttrValue),
		Threshold:   num(a, AttrThreshold),
		Spend:       exact(a, AttrSpend),
		Limit:       exact(a, AttrLimit),
		Currency:    str(a, AttrCurrency),
		WindowStart: str(a, AttrWindowStart),
		WindowEnd:   str(a, AttrWindowEnd),
		Severity:    lr.SeverityText(),
		Body:        lr.Body().AsString(),
		TopSessions: topSessions(a),
	}
	if ts := lr.Timestamp(); ts != 0 {
		c.Time = ts.AsTime().UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	return c, c.ID != ""
}

// topSessions reads copilot.budget.top_sessions: maps with session.id and
// spend_exact (or spend). Entries that are not maps with a session are
// skipped.
func topSessions(a pcommon.Map) []TopSession {
	v, ok := a.Get(AttrTopSessions)
	if !ok || v.Type() != pcommon.ValueTypeSlice {
		return nil
	}
	var out []TopSession
	for _, e := range v.Slice().All() {
		if e.Type() != pcommon.ValueTypeMap {
			continue
		}
		s := TopSession{Session: str(e.Map(), "session.id"), Spend: exact(e.Map(), "spend")}
		if s.Session != "" {
			out = append(out, s)
		}
	}
	return out
}

func str(a pcommon.Map, k string) string {
	if v, ok := a.Get(k); ok {
		return v.AsString()
	}
	return ""
}

func num(a pcommon.Map, k string) float64 {
	v, ok := a.Get(k)
	if !ok {
		return 0
	}
	switch v.Type() {
	case pcommon.ValueTypeDouble:
		return v.Double()
	case pcommon.ValueTypeInt:
		return float64(v.Int())
	}
	f, _ := strconv.ParseFloat(v.AsString(), 64)
	return f
}

// exact is the _exact decimal string of k, or its double when missing.
func exact(a pcommon.Map, k string) string {
	if s := str(a, k+ExactSuffix); s != "" {
		return s
	}
	if _, ok := a.Get(k); ok {
		return strconv.FormatFloat(num(a, k), 'f', -1, 64)
	}
	return ""
}
