package notifyexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/notifyexporter"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/usagebody"
)

// eventSummary is the event name of the copilot receiver's session
// summary records (one per session leg ending; the body is the session's
// cumulative usage).
const eventSummary = "copilot.session.summary"

// Session is a session whose cost passed sessions::min_cost, as templates
// see it: its summary record, with the cost the chargeback processor put
// on it.
type Session struct {
	// ID is the session id.
	ID string `json:"session_id"`
	// Leg is the summary's leg (0, then 1 after the first resume, …).
	Leg int64 `json:"leg"`
	// Cost is the session's cost so far, an exact decimal in Currency
	// (copilot.session.cost_exact); MinCost the threshold it passed.
	Cost     string `json:"cost"`
	Currency string `json:"currency"`
	MinCost  string `json:"min_cost"`
	// Credits is the AI credits so far (nano-AIU / 1e9, exact); Tokens
	// input + output tokens; PremiumRequests the premium requests.
	Credits         string  `json:"credits"`
	Tokens          int64   `json:"tokens"`
	PremiumRequests float64 `json:"premium_requests"`
	// Repository, Branch and User are the session's (resource attributes
	// vcs.repository.name, vcs.ref.head.name, user.name); Team and Ticket
	// the chargeback processor's attribution (attributes team, ticket).
	Repository string `json:"repository,omitempty"`
	Branch     string `json:"branch,omitempty"`
	User       string `json:"user,omitempty"`
	Team       string `json:"team,omitempty"`
	Ticket     string `json:"ticket,omitempty"`
	// Time is when the leg ended (RFC 3339).
	Time string `json:"time,omitempty"`
}

// defaultSessionTemplate is the text of a session message when
// sessions::template is not set.
const defaultSessionTemplate = `Copilot session {{.ID}}{{if .Ticket}} ({{.Ticket}}){{end}}{{if .Repository}} in {{.Repository}}{{end}}{{if .User}} by {{.User}}{{end}} has cost {{.Cost}} {{.Currency}}, over {{.MinCost}} {{.Currency}}: {{.Credits}} AI credits, {{.Tokens}} tokens`

func str(m pcommon.Map, k string) string {
	if v, ok := m.Get(k); ok {
		return v.AsString()
	}
	return ""
}

// sessionsOver returns the summaries in ld whose cost is at least min, and
// counts those that carry no cost (no chargeback processor before the
// exporter) in unpriced, and those at least min that ended before since
// (zero: no limit) in old.
func sessionsOver(ld plog.Logs, min money.Amount, since time.Time) (out []Session, unpriced, old int) {
	for _, rl := range ld.ResourceLogs().All() {
		res := rl.Resource().Attributes()
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				if lr.EventName() != eventSummary {
					continue
				}
				a := lr.Attributes()
				cost, currency, found, err := usagebody.Cost(a)
				if !found || err != nil {
					unpriced++
					continue
				}
				if cost.Cmp(min) < 0 {
					continue
				}
				// A summary without a time is taken for a current one.
				if ts := lr.Timestamp(); !since.IsZero() && ts != 0 && ts.AsTime().Before(since) {
					old++
					continue
				}
				s := Session{
					ID: str(res, "session.id"), Cost: cost.String(), Currency: currency, MinCost: min.String(),
					Repository: str(res, "vcs.repository.name"), Branch: str(res, "vcs.ref.head.name"), User: str(res, "user.name"),
					Team: str(a, "team"), Ticket: str(a, "ticket"),
				}
				if v, ok := a.Get("copilot.session.leg"); ok {
					s.Leg = v.Int()
				}
				if u, err := usagebody.Get(lr.Body()); err == nil {
					s.Credits = usagebody.Credits(u.TotalNanoAIU)
					s.Tokens = u.TokenDetails.Input + u.TokenDetails.Output
					s.PremiumRequests = u.TotalPremiumRequestCost
				}
				if ts := lr.Timestamp(); ts != 0 {
					s.Time = ts.AsTime().UTC().Format("2006-01-02T15:04:05Z07:00")
				}
				if s.ID == "" {
					continue
				}
				out = append(out, s)
			}
		}
	}
	return out, unpriced, old
}
