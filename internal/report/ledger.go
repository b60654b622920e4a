package report

import (
	"context"
	"fmt"
	"strconv"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/ledger"
)

// Ledger is the second source of a report: the usage ledger the
// usage_ledger exporter of a central collector writes (FOCUS day files,
// see internal/ledger), the whole organization's spend, priced and
// attributed where it was collected. A row delivered twice (a retry, a
// queue replaying after a restart) has the same id and is counted once.
type Ledger struct {
	// Dirs are the ledger directories: every collector's day files in
	// them are read.
	Dirs []string

	rows []ledger.Row
	read bool
}

// Load reads the ledger's rows once; Records and Currency call it.
func (l *Ledger) Load() error {
	if l.read {
		return nil
	}
	for _, d := range l.Dirs {
		rows, err := ledger.ReadDir(d)
		if err != nil {
			return fmt.Errorf("ledger %s: %w", d, err)
		}
		l.rows = append(l.rows, rows...)
	}
	l.read = true
	return nil
}

// Currency is the currency all the ledger's costs are in. A ledger of
// several currencies is an error naming two of them. A report over a
// ledger takes the currency of the rows it counts instead (Run with no
// currency): a ledger whose currency changed can be reported for a range
// of one currency.
func (l *Ledger) Currency() (string, error) {
	if err := l.Load(); err != nil {
		return "", err
	}
	currency := ""
	for _, r := range l.rows {
		switch {
		case r.Currency == "" || r.Currency == currency:
		case currency == "":
			currency = r.Currency
		default:
			return "", fmt.Errorf("the ledger holds costs in %s and %s (row %s); report one currency at a time", currency, r.Currency, r.ID)
		}
	}
	return currency, nil
}

// Records implements Source.
func (l *Ledger) Records(ctx context.Context, yield func(Record) error) error {
	if err := l.Load(); err != nil {
		return err
	}
	for i := range l.rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := recordOf(&l.rows[i])
		if err != nil {
			return fmt.Errorf("ledger row %s: %w", l.rows[i].ID, err)
		}
		if err := yield(rec); err != nil {
			return err
		}
	}
	return nil
}

// recordOf is a ledger row as a report record.
func recordOf(r *ledger.Row) (Record, error) {
	rec := Record{
		ID: r.ID, Start: r.Start, End: r.End, EndRoundedUp: true, // ChargePeriodEnd, rounded up to the second
		SessionID: r.SessionID, User: r.User, Repository: r.Repository, Branch: r.Branch,
		Ticket: r.Ticket, Team: r.Team, Project: r.Project, CostCenter: r.CostCenter,
		Model: r.Model, Agent: r.Agent,
		Requests: r.Requests, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens,
		CacheReadTokens: r.CacheReadTokens, CacheWriteTokens: r.CacheWriteTokens, ReasoningTokens: r.ReasoningTokens,
		NanoAIU: r.NanoAIU, APIDurationMs: r.APIDurationMs,
		Currency: r.Currency, CostMethod: r.CostMethod,
	}
	if r.Cost != "" {
		c, err := money.ParseDecimal(r.Cost)
		if err != nil {
			return Record{}, fmt.Errorf("BilledCost %q: %w", r.Cost, err)
		}
		rec.Cost = c
	}
	if r.PremiumRequests != "" {
		p, err := strconv.ParseFloat(r.PremiumRequests, 64)
		if err != nil {
			return Record{}, fmt.Errorf("x_PremiumRequests %q: %w", r.PremiumRequests, err)
		}
		rec.PremiumRequests = p
	}
	return rec, nil
}
