package jiraexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/jiraexporter"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/exporter/jiraexporter/internal/metadata"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
	"github.com/otelcol-copilot/otelcol-copilot/internal/usagebody"
)

// jiraExporter writes tickets' totals to Jira. pushLogs calls are
// serialised: a ticket's state is read, changed and written as one step.
type jiraExporter struct {
	cfg    *Config
	set    exporter.Settings
	logger *zap.Logger
	tel    *metadata.TelemetryBuilder

	mu     sync.Mutex
	store  storage.Client
	client *jiraClient
}

func newJiraExporter(cfg *Config, set exporter.Settings) (*jiraExporter, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &jiraExporter{cfg: cfg, set: set, logger: set.Logger, tel: tel}, nil
}

func (e *jiraExporter) start(ctx context.Context, host component.Host) error {
	token := string(e.cfg.Token)
	if e.cfg.TokenFile != "" {
		b, err := os.ReadFile(e.cfg.TokenFile)
		if err != nil {
			return fmt.Errorf("token_file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	hc, err := e.cfg.ToClient(ctx, host.GetExtensions(), e.set.TelemetrySettings)
	if err != nil {
		return fmt.Errorf("jira client: %w", err)
	}
	if e.cfg.Storage != nil {
		c, err := storageclient.Get(ctx, host, "storage", *e.cfg.Storage, component.KindExporter, e.set.ID)
		if err != nil {
			return err
		}
		e.store = c
	} else {
		e.store = storageclient.NewMemory()
	}
	if err := e.migrateLegs(ctx); err != nil {
		return err
	}
	e.client = newJiraClient(hc, e.cfg, token)
	e.logger.Info("Writing Copilot spend to Jira", zap.String("endpoint", e.cfg.Endpoint),
		zap.String("deployment", e.cfg.Deployment), zap.Bool("dry_run", e.cfg.DryRun))
	return nil
}

func (e *jiraExporter) shutdown(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var err error
	if e.store != nil {
		err = e.store.Close(ctx)
		e.store = nil
	}
	if e.tel != nil {
		e.tel.Shutdown()
		e.tel = nil
	}
	return err
}

// sessionTotal is a session's cumulative usage as of its latest leg's
// summary.
type sessionTotal struct {
	Leg             int64   `json:"leg"`
	NanoAIU         int64   `json:"nano_aiu"`
	Tokens          int64   `json:"tokens"`
	PremiumRequests float64 `json:"premium_requests"`
	// Cost is what the chargeback processor priced the usage at (the
	// record's copilot.session.cost_exact); nil when the record had none.
	Cost     *money.Amount `json:"cost,omitempty"`
	Currency string        `json:"currency,omitempty"`
}

// newerThan reports whether s is a later summary of its session than old:
// a later leg, or the same leg with no less usage (a leg's idle summary,
// then its shutdown's; usage only grows within a leg).
func (s sessionTotal) newerThan(old sessionTotal) bool {
	if s.Leg != old.Leg {
		return s.Leg > old.Leg
	}
	return s.NanoAIU >= old.NanoAIU && s.Tokens >= old.Tokens && s.PremiumRequests >= old.PremiumRequests
}

// ticketState is what is stored per ticket: the latest total of each of
// its sessions and, per session leg ("<session.id>/<leg>"), its comment.
type ticketState struct {
	Sessions map[string]sessionTotal `json:"sessions"`
	// Comments maps a session leg to the id of its comment in Jira, once
	// Jira accepted it.
	Comments map[string]string `json:"comments"`
	// Legs holds every session leg seen with comment on: what its comment
	// is to show. A leg here and not in Comments is still to be commented
	// on (Jira refused the token, say), which the ticket's next summary
	// does. State stored before Legs existed has only Comments; its legs
	// are added here when a summary of them comes again.
	Legs map[string]legComment `json:"legs,omitempty"`
	// Written is the JSON of the fields last written to the issue, once
	// Jira accepted them: a summary that leaves them as they are writes
	// nothing, so that a batch tried again after a failure part way (a
	// timeout, a 5xx) goes on from where it stopped instead of writing
	// every ticket before it again, which with many tickets and retries
	// without end would never get past the same point.
	Written string `json:"written,omitempty"`
}

// legComment is what a session leg's comment is to show.
type legComment struct {
	Session string `json:"session"`
	// Usage is the leg's latest summary.
	Usage sessionTotal `json:"usage"`
	// Shown is the text of the leg's comment in Jira; when Usage gives
	// another (its shutdown's summary came after its idle one), the
	// comment is updated.
	Shown string `json:"shown,omitempty"`
	// Posting is set, and stored, before the leg's comment is posted, and
	// cleared with its id: set without an id, a post was sent whose answer
	// was lost (a 5xx from a proxy, the timeout, the store failing), and
	// Jira may have the comment. The next attempt looks for it among the
	// issue's comments before posting.
	Posting bool `json:"posting,omitempty"`
	// Refused is set when Jira answered the comment with 400: the same
	// comment is not sent again.
	Refused bool `json:"refused,omitempty"`
}

func legKey(sid string, leg int64) string { return sid + "/" + strconv.FormatInt(leg, 10) }

// ticketTotal is the sum over a ticket's sessions.
type ticketTotal struct {
	NanoAIU int64
	Tokens  int64
	// PremiumRequests is the exact sum of the sessions' premium requests,
	// each read as its shortest decimal (see exactPremiumRequests).
	PremiumRequests money.Amount
	Sessions        int
	// Cost is the sum of the sessions' costs; Unpriced counts the sessions
	// without one, whose cost the sum lacks.
	Cost     money.Amount
	Currency string
	Unpriced int
}

func (s ticketState) total() ticketTotal {
	var t ticketTotal
	for _, v := range s.Sessions {
		t.NanoAIU += v.NanoAIU
		t.Tokens += v.Tokens
		t.PremiumRequests = t.PremiumRequests.Add(exactPremiumRequests(v.PremiumRequests))
		t.Sessions++
		if v.Cost == nil {
			t.Unpriced++
			continue
		}
		t.Cost = t.Cost.Add(*v.Cost)
		t.Currency = v.Currency
	}
	return t
}

func stateKey(ticket string) string { return "ticket/" + ticket }

func (e *jiraExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.store == nil {
		return errors.New("jira exporter is not started")
	}
	for _, rl := range ld.ResourceLogs().All() {
		res := rl.Resource().Attributes()
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				if lr.EventName() != semconv.EventCopilotSessionSummary {
					continue
				}
				if err := e.summary(ctx, res, lr); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// summary handles one copilot.session.summary record: it records the
// leg's usage with its session, writes the total of every ticket whose
// share of the session that changed, and comments once per leg.
func (e *jiraExporter) summary(ctx context.Context, res pcommon.Map, lr plog.LogRecord) error {
	attrs := lr.Attributes()
	ticket := str(attrs, e.cfg.TicketAttribute)
	if ticket == e.cfg.Unattributed {
		ticket = ""
	}
	sid := str(res, semconv.AttrSessionID)
	if sid == "" {
		sid = str(attrs, semconv.AttrSessionID)
	}
	st, err := totalOf(lr)
	if err != nil || sid == "" {
		if ticket == "" {
			return nil // nothing of it would be written
		}
		detail := "the summary has no session.id"
		if err != nil {
			detail = err.Error()
		}
		e.drop(ctx, "bad_body", ticket, "", detail)
		return nil
	}
	if v, ok := attrs.Get(semconv.AttrCopilotSessionLeg); ok {
		st.Leg = v.Int()
	}
	// An unattributed leg is recorded too: the next leg's ticket counts
	// only what that leg added.
	changed, current, save, err := e.attribute(ctx, sid, ticket, st)
	if err != nil {
		return err
	}
	for _, t := range slices.Sorted(maps.Keys(changed)) {
		if t != ticket {
			if err := e.writeTicket(ctx, t, sid, changed[t], nil); err != nil {
				return err
			}
		}
	}
	// current.ok is false for a replay of a leg's older summary whose later
	// one went to another ticket: that ticket has the leg.
	// The comment shows the leg's latest summary: st, or a newer one of
	// the leg that state from before comments kept theirs has only in the
	// session's legs.
	if ticket != "" && current.ok {
		if err := e.writeTicket(ctx, ticket, sid, current, &current.leg); err != nil {
			return err
		}
	}
	return save()
}

// writeTicket sets a session's share of a ticket (none: sh.ok false),
// writes the ticket's fields when they changed and, for the ticket of a
// summary st, brings its comments up to date.
func (e *jiraExporter) writeTicket(ctx context.Context, ticket, sid string, sh share, st *sessionTotal) error {
	var state ticketState
	if err := e.load(ctx, stateKey(ticket), "ticket "+ticket, &state); err != nil {
		return err
	}
	if state.Sessions == nil {
		state.Sessions = map[string]sessionTotal{}
	}
	if state.Comments == nil {
		state.Comments = map[string]string{}
	}
	if state.Legs == nil {
		state.Legs = map[string]legComment{}
	}
	if sh.ok {
		state.Sessions[sid] = sh.total
	} else {
		delete(state.Sessions, sid)
	}
	comment := st != nil && e.cfg.Comment
	var leg string
	if comment {
		leg = legKey(sid, st.Leg)
		if l, ok := state.Legs[leg]; !ok || st.newerThan(l.Usage) {
			l.Session, l.Usage = sid, *st
			state.Legs[leg] = l
		}
	}
	if err := e.save(ctx, ticket, state); err != nil {
		return err
	}

	total := state.total()
	fields := e.fields(total)
	if e.cfg.Fields.Number != "" && e.cfg.Fields.Value == valueCost && total.Unpriced > 0 {
		// A total that lacks a session's cost is not written: the field
		// keeps its last right value until every session is priced.
		delete(fields, e.cfg.Fields.Number)
		e.drop(ctx, "unpriced", ticket, e.cfg.Fields.Number, fmt.Sprintf(
			"%d of the ticket's sessions have no copilot.session.cost_exact: put the chargeback processor before this exporter", total.Unpriced))
	}
	written := ""
	if len(fields) > 0 {
		b, err := json.Marshal(fields) // keys in order
		if err != nil {
			return err
		}
		written = string(b)
	}
	if len(fields) > 0 && written != state.Written {
		if e.cfg.DryRun {
			e.logger.Info("Dry run: would set fields", zap.String("ticket", ticket), zap.Any("fields", fields))
			e.tel.ExporterJiraUpdates.Add(ctx, 1)
		} else {
			err := e.client.updateFields(ctx, ticket, fields)
			var d *dropError
			switch {
			case errors.As(err, &d):
				e.drop(ctx, d.reason, ticket, strings.Join(fieldNames(fields), ","), d.detail)
				if d.reason == "not_found" || d.reason == "unauthorized" {
					return nil
				}
			case err != nil:
				return err
			default:
				e.tel.ExporterJiraUpdates.Add(ctx, 1)
				state.Written = written
				if err := e.save(ctx, ticket, state); err != nil {
					return err
				}
			}
		}
	}

	if !comment {
		return nil
	}
	if e.cfg.DryRun {
		if _, done := state.Comments[leg]; !done {
			e.logger.Info("Dry run: would comment", zap.String("ticket", ticket), zap.String("comment", commentText(sid, *st)))
			e.tel.ExporterJiraComments.Add(ctx, 1)
		}
		return nil
	}
	return e.comment(ctx, ticket, &state)
}

// comment brings the comments of the ticket's session legs up to date,
// in the order of their keys: it posts those missing (this summary's
// leg's, and any that Jira refused before (401, 403) or that a request
// dropped after its retries left out) and updates those whose leg has had
// a summary with more usage since. It stops at the first refusal of the
// token or the issue, which the next leg would get too.
func (e *jiraExporter) comment(ctx context.Context, ticket string, state *ticketState) error {
	// The comments, listed once if a leg needs them.
	var listed []comment
	var isListed bool
	for _, leg := range slices.Sorted(maps.Keys(state.Legs)) {
		l := state.Legs[leg]
		text := commentText(l.Session, l.Usage)
		id, posted := state.Comments[leg]
		if !posted && l.Posting && !l.Refused {
			// An earlier post's answer was lost: adopt the comment if
			// Jira has it.
			if !isListed {
				var err error
				if listed, err = e.client.listComments(ctx, ticket); err != nil {
					var d *dropError
					if errors.As(err, &d) {
						e.drop(ctx, d.reason, ticket, "comment", d.detail)
						return nil
					}
					return err
				}
				isListed = true
			}
			if c, ok := findComment(listed, commentMarker(l.Session, l.Usage.Leg)); ok {
				e.tel.ExporterJiraComments.Add(ctx, 1)
				id, posted = c.ID, true
				state.Comments[leg] = id
				l.Posting, l.Shown = false, c.Text
				state.Legs[leg] = l
				if err := e.save(ctx, ticket, *state); err != nil {
					return err
				}
			}
		}
		if l.Refused || posted && l.Shown == text {
			continue
		}
		var err error
		if posted {
			err = e.client.updateComment(ctx, ticket, id, text)
			var d *dropError
			if errors.As(err, &d) && d.reason == "not_found" {
				// Deleted in Jira (or the issue is gone, which the
				// post then finds): the leg gets a new comment.
				e.logger.Info("A session leg's comment is gone from Jira; posting it again",
					zap.String("ticket", ticket), zap.String("comment_id", id))
				delete(state.Comments, leg)
				posted = false
			}
		}
		if !posted {
			if !l.Posting {
				l.Posting = true
				state.Legs[leg] = l
				if err := e.save(ctx, ticket, *state); err != nil {
					return err
				}
			}
			id, err = e.client.addComment(ctx, ticket, text)
		}
		var d *dropError
		switch {
		case errors.As(err, &d):
			// Refused: Jira has no such comment.
			l.Posting = false
			state.Legs[leg] = l
			e.drop(ctx, d.reason, ticket, "comment", d.detail)
			if d.reason != "bad_request" {
				return e.save(ctx, ticket, *state)
			}
			l.Refused = true
		case err != nil:
			return err
		default:
			if !posted {
				e.tel.ExporterJiraComments.Add(ctx, 1)
				state.Comments[leg] = id
				l.Posting = false
			}
			l.Shown = text
		}
		state.Legs[leg] = l
		if err := e.save(ctx, ticket, *state); err != nil {
			return err
		}
	}
	return nil
}

func (e *jiraExporter) save(ctx context.Context, ticket string, state ticketState) error {
	return e.storeJSON(ctx, stateKey(ticket), "ticket "+ticket, state)
}

// load reads the JSON stored under key (what names it: "ticket PAY-1") into
// v, which stays as it is when nothing is stored. A value that does not
// decode is logged and left out: that state starts afresh.
func (e *jiraExporter) load(ctx context.Context, key, what string, v any) error {
	if _, err := storageclient.LoadJSON(ctx, e.store, key, v); err != nil {
		var de *storageclient.DecodeError
		if !errors.As(err, &de) {
			return fmt.Errorf("loading %s: %w", what, err)
		}
		e.logger.Warn("Stored state does not decode; starting it afresh", zap.String("state", what), zap.Error(err))
	}
	return nil
}

// storeJSON stores v as JSON under key.
func (e *jiraExporter) storeJSON(ctx context.Context, key, what string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := e.store.Set(ctx, key, b); err != nil {
		return fmt.Errorf("storing %s: %w", what, err)
	}
	return nil
}

func (e *jiraExporter) drop(ctx context.Context, reason, ticket, field, detail string) {
	e.tel.ExporterJiraDrops.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
	e.logger.Warn("Jira write dropped", zap.String("reason", reason), zap.String("ticket", ticket),
		zap.String("field", field), zap.String("detail", detail))
}

// fields are the issue fields to set to the ticket's total.
func (e *jiraExporter) fields(t ticketTotal) map[string]any {
	f := map[string]any{}
	if e.cfg.Fields.Number != "" {
		switch e.cfg.Fields.Value {
		case valuePremiumRequests:
			f[e.cfg.Fields.Number] = json.Number(t.PremiumRequests.String())
		case valueTokens:
			f[e.cfg.Fields.Number] = json.Number(strconv.FormatInt(t.Tokens, 10))
		case valueCost:
			f[e.cfg.Fields.Number] = json.Number(t.Cost.String())
		default:
			f[e.cfg.Fields.Number] = json.Number(usagebody.Credits(t.NanoAIU))
		}
	}
	if e.cfg.Fields.Text != "" {
		f[e.cfg.Fields.Text] = strings.NewReplacer(
			"{{credits}}", usagebody.Credits(t.NanoAIU),
			"{{tokens}}", strconv.FormatInt(t.Tokens, 10),
			"{{premium_requests}}", t.PremiumRequests.String(),
			"{{sessions}}", strconv.Itoa(t.Sessions),
			"{{cost}}", costText(t),
			"{{currency}}", t.Currency,
		).Replace(e.cfg.Fields.Template)
	}
	return f
}

// exactPremiumRequests is a session's premium requests as an exact
// decimal. The CLI reports them as a double (a sum of model multipliers
// such as 0.33); its shortest decimal form is the number the CLI meant, and
// summing those decimals exactly (in money.Amount's 1e-18 units, as the
// usage ledger exporter does) gives a total that neither drifts (six times
// 0.33 is 1.98, not 1.9800000000000002) nor depends on the order of the
// sessions. A value with more than 18 decimals is rounded to 18. usagebody
// only reads non-negative, finite values, so parsing cannot fail.
func exactPremiumRequests(v float64) money.Amount {
	a, err := money.ParseDecimal(strconv.FormatFloat(v, 'f', -1, 64))
	if err != nil {
		a, _ = money.ParseDecimal(strconv.FormatFloat(v, 'f', money.Scale, 64))
	}
	return a
}

func fieldNames(f map[string]any) []string {
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	return names
}

// commentMarker is how each of the exporter's comments starts, which
// tells its session leg: a lost post's comment is found by it.
func commentMarker(sid string, leg int64) string {
	return fmt.Sprintf("GitHub Copilot session %s (leg %d):", sid, leg)
}

// findComment is the newest of the comments (listed newest first) that
// starts with marker.
func findComment(comments []comment, marker string) (comment, bool) {
	for _, c := range comments {
		if strings.HasPrefix(c.Text, marker) {
			return c, true
		}
	}
	return comment{}, false
}

func commentText(sid string, st sessionTotal) string {
	s := fmt.Sprintf("%s AI Credits: %s, Tokens: %d, Premium requests: %s",
		commentMarker(sid, st.Leg), usagebody.Credits(st.NanoAIU), st.Tokens, strconv.FormatFloat(st.PremiumRequests, 'f', -1, 64))
	if st.Cost != nil {
		s += fmt.Sprintf(", Cost: %s %s", st.Cost, st.Currency)
	}
	return s
}

// costText is the ticket's cost for a template: the exact decimal, or
// "unpriced" while a session of it has no cost.
func costText(t ticketTotal) string {
	if t.Unpriced > 0 {
		return "unpriced"
	}
	return t.Cost.String()
}

// totalOf reads the summary: its body (the usage summary) for nano-AIU,
// tokens (input + output) and premium requests, and the cost the
// chargeback processor put on it.
func totalOf(lr plog.LogRecord) (sessionTotal, error) {
	u, err := usagebody.Get(lr.Body())
	if err != nil {
		return sessionTotal{}, err
	}
	st := sessionTotal{NanoAIU: u.TotalNanoAIU, PremiumRequests: u.TotalPremiumRequestCost, Tokens: u.TokenDetails.Input + u.TokenDetails.Output}
	cost, currency, found, err := usagebody.Cost(lr.Attributes())
	if err != nil {
		return sessionTotal{}, err
	}
	if found {
		st.Cost, st.Currency = &cost, currency
	}
	return st, nil
}

func str(m pcommon.Map, k string) string {
	if v, ok := m.Get(k); ok {
		return v.AsString()
	}
	return ""
}
