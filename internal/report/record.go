// Package report answers "what did Copilot cost, for whom, for what" over
// a time range: records of priced, attributed model usage from a Source
// (the local transcripts, read with the receiver's accounting), grouped,
// filtered and written as a table, CSV, JSON, Markdown or an HTML page.
package report

import (
	"context"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
)

// Record is usage counted once, attributed and priced: one model call (a
// usage record) or what a session's totals reported beyond its calls.
type Record struct {
	// ID identifies the record across reads and sources, for
	// deduplication: the same call read twice has the same ID.
	ID         string
	Start, End time.Time
	// EndRoundedUp says End is the call's end rounded up to the second, as
	// the usage ledger keeps it (ChargePeriodEnd): the call ended in
	// (End-1s, End]. See At.
	EndRoundedUp bool
	SessionID    string
	User         string
	Repository   string
	Branch       string
	Ticket       string
	Team         string
	Project      string
	CostCenter   string
	Model        string
	Agent        string // "main" or the subagent's name

	Requests         int64
	InputTokens      int64 // including cached tokens, as the CLI counts them
	OutputTokens     int64 // including reasoning tokens
	CacheReadTokens  int64
	CacheWriteTokens int64
	ReasoningTokens  int64
	NanoAIU          int64
	PremiumRequests  float64
	APIDurationMs    int64

	Cost       money.Amount
	Currency   string
	CostMethod string // pricing.Method*, "+"-joined when two applied; "" unpriced
}

// Source yields records. Records calls yield once for each record, in no
// particular order, and stops with yield's error; it returns when all
// records were yielded, ctx ended or reading failed. A Source is used by
// one goroutine at a time; the Record passed to yield is the caller's.
type Source interface {
	Records(ctx context.Context, yield func(Record) error) error
}

// At is the instant that places the record in a range, a day and a week:
// the end of its call. For an end rounded up to the second it is the last
// instant before End: the call ended in (End-1s, End], and a range whose
// bounds are whole seconds (dates, midnights) holds that whole interval or
// none of it, unless End is the bound itself, where the call ended before
// the bound, or — what the rounding cannot tell — on it. The report takes
// before: an end read back as 00:00:00 counts in the day before.
func (r *Record) At() time.Time {
	if r.EndRoundedUp {
		return r.End.Add(-time.Nanosecond)
	}
	return r.End
}
