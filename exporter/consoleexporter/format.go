package consoleexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/consoleexporter"

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-copilot/otelcol-copilot/internal/crossingrecord"
	"github.com/otelcol-copilot/otelcol-copilot/internal/usagebody"
)

// Attributes the lines are made of.
const (
	attrUID        = "log.record.uid"
	attrSessionID  = "session.id"
	attrLeg        = "copilot.session.leg"
	attrRepository = "vcs.repository.name"
	attrBranch     = "vcs.ref.head.name"
	attrGitRoot    = "copilot.git_root"
	attrCwd        = "copilot.cwd"
	attrCrossingID = "copilot.budget.crossing.id"
	// Set by the chargeback processor on summaries: the cost of the
	// session's usage so far (_exact, _currency).
	attrShutdownType = "copilot.shutdown.type"
)

// shutdownIdle is the copilot.shutdown.type of a summary the receiver
// writes when a leg goes idle without a shutdown.
const shutdownIdle = "idle"

// summaryLine is the line of a session end: a copilot.session.summary
// record, whose body is the session's usage so far (the copilot
// receiver's README), on the session's resource.
//
//	14:02:11 session 0b1e1ed0…0002 ended (payments-api, feature/PAY-4411): 2 user requests, 6 model calls, 44,525 in (22,261 cached) / 250 out tokens, 4.6357675 AI credits, 2 premium requests, +12 -3 lines in 1 file
//
// A resumed session's later ends say which leg ended ("ended leg 2"); the
// figures are always the whole session's.
func summaryLine(res pcommon.Map, lr plog.LogRecord, loc *time.Location, now time.Time) string {
	var b strings.Builder
	b.WriteString(stamp(lr, loc, now))
	b.WriteString(" session ")
	b.WriteString(shortID(str(res, attrSessionID)))
	if str(lr.Attributes(), attrShutdownType) == shutdownIdle {
		// The receiver's summary of a leg whose transcript stopped
		// growing without a shutdown (a killed CLI).
		b.WriteString(" went idle without a shutdown")
	} else {
		b.WriteString(" ended")
	}
	// copilot.session.leg counts from 0; people count legs from 1.
	if leg, ok := lr.Attributes().Get(attrLeg); ok && leg.Int() > 0 {
		fmt.Fprintf(&b, " leg %d", leg.Int()+1)
	}
	if where := place(res); where != "" {
		b.WriteString(" (" + where + ")")
	}
	u, err := usagebody.Get(lr.Body())
	if err != nil {
		// Rewritten on the way (a transform processor): show what it says.
		b.WriteString(": " + lr.Body().AsString())
		return b.String()
	}
	fmt.Fprintf(&b, ": %s, %s, %s in", plural(u.TotalUserRequests, "user request"), plural(u.Calls(), "model call"), thousands(u.TokenDetails.Input))
	if cr := u.TokenDetails.CacheRead; cr > 0 {
		fmt.Fprintf(&b, " (%s cached)", thousands(cr))
	}
	premium := decimal(u.TotalPremiumRequestCost)
	noun := "premium requests"
	if premium == "1" {
		noun = "premium request"
	}
	fmt.Fprintf(&b, " / %s out tokens, %s AI credits", thousands(u.TokenDetails.Output), usagebody.Credits(u.TotalNanoAIU))
	// What the chargeback processor priced the usage at, when it is in
	// the pipeline.
	if cost := str(lr.Attributes(), usagebody.AttrCostExact); cost != "" {
		fmt.Fprintf(&b, ", %s %s", cost, str(lr.Attributes(), usagebody.AttrCostCurrency))
	}
	fmt.Fprintf(&b, ", %s %s", premium, noun)
	c := u.CodeChanges
	if c.LinesAdded != 0 || c.LinesRemoved != 0 || c.FilesModified != 0 {
		fmt.Fprintf(&b, ", +%s -%s lines in %s", thousands(c.LinesAdded), thousands(c.LinesRemoved), plural(c.FilesModified, "file"))
	}
	return b.String()
}

// crossingLine is the line of a copilot.budget.crossing record of the
// chargeback processor:
//
//	14:02:11 budget "monthly": team payments reached 80% of its limit: 8.12 of 10 USD spent from 2026-03-01T00:00:00Z to 2026-04-01T00:00:00Z; most by sessions 0b1e1ed0…0002 (5.1), 0b1e1ed0…0001 (2.02)
//
// The top sessions are there when the processor knows them (session.id
// on the receiver's metrics).
func crossingLine(lr plog.LogRecord, loc *time.Location, now time.Time) string {
	c, _ := crossingrecord.Read(lr)
	line := fmt.Sprintf("%s budget %q: %s %s reached %s%% of its limit: %s of %s %s spent from %s to %s",
		stamp(lr, loc, now), c.Budget, c.Scope, c.Value, strconv.FormatFloat(c.Threshold, 'f', -1, 64),
		orUnknown(c.Spend), orUnknown(c.Limit), c.Currency, c.WindowStart, c.WindowEnd)
	var parts []string
	for _, s := range c.TopSessions {
		parts = append(parts, fmt.Sprintf("%s (%s)", shortID(s.Session), orUnknown(s.Spend)))
	}
	if len(parts) > 0 {
		line += "; most by sessions " + strings.Join(parts, ", ")
	}
	return line
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// stamp is the record's time: the time of day for today, the date and
// time otherwise (a backfill shows history).
func stamp(lr plog.LogRecord, loc *time.Location, now time.Time) string {
	ts := lr.Timestamp()
	if ts == 0 {
		ts = lr.ObservedTimestamp()
	}
	t := ts.AsTime().In(loc)
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04:05")
}

// shortID shortens a session id to its first 8 and last 4 characters,
// enough to tell sessions apart and to find the full id.
func shortID(id string) string {
	if id == "" {
		return "(no id)"
	}
	if len(id) <= 13 {
		return id
	}
	return id[:8] + "…" + id[len(id)-4:]
}

// place is where the session ran: its repository (else the name of its
// git root or working directory) and its branch.
func place(res pcommon.Map) string {
	where := str(res, attrRepository)
	if where == "" {
		for _, k := range []string{attrGitRoot, attrCwd} {
			if p := str(res, k); p != "" {
				where = filepath.Base(filepath.FromSlash(p))
				break
			}
		}
	}
	branch := str(res, attrBranch)
	switch {
	case where != "" && branch != "":
		return where + ", " + branch
	case where != "":
		return where
	}
	return branch
}

// decimal writes a float sum (premium requests) to nine decimals at most,
// without the float's rounding noise (0.30000000000000004 is 0.3).
func decimal(v float64) string {
	s := strconv.FormatFloat(v, 'f', 9, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}

// thousands writes n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return thousands(n) + " " + noun + "s"
}

func str(m pcommon.Map, k string) string {
	if v, ok := m.Get(k); ok {
		return v.AsString()
	}
	return ""
}

// num is the integer at the path of keys in m, 0 if absent.
func num(m pcommon.Map, keys ...string) int64 {
	for i, k := range keys {
		v, ok := m.Get(k)
		if !ok {
			return 0
		}
		if i == len(keys)-1 {
			return anyInt(v.AsRaw())
		}
		if v.Type() != pcommon.ValueTypeMap {
			return 0
		}
		m = v.Map()
	}
	return 0
}

func anyInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	}
	return 0
}
