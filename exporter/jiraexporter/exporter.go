package jiraexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/jiraexporter"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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
	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
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
}

// ticketState is what is stored per ticket: the latest total of each of
// its sessions and the comment posted per session leg.
type ticketState struct {
	Sessions map[string]sessionTotal `json:"sessions"`
	Comments map[string]string       `json:"comments"`
}

// ticketTotal is the sum over a ticket's sessions.
type ticketTotal struct {
	NanoAIU         int64
	Tokens          int64
	PremiumRequests float64
	Sessions        int
}

func (s ticketState) total() ticketTotal {
	var t ticketTotal
	for _, v := range s.Sessions {
		t.NanoAIU += v.NanoAIU
		t.Tokens += v.Tokens
		t.PremiumRequests += v.PremiumRequests
		t.Sessions++
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

// summary handles one copilot.session.summary record: it updates its
// session's total, writes the ticket's total and comments once per leg.
func (e *jiraExporter) summary(ctx context.Context, res pcommon.Map, lr plog.LogRecord) error {
	attrs := lr.Attributes()
	ticket := str(attrs, e.cfg.TicketAttribute)
	if ticket == "" || ticket == e.cfg.Unattributed {
		return nil
	}
	sid := str(res, semconv.AttrSessionID)
	if sid == "" {
		sid = str(attrs, semconv.AttrSessionID)
	}
	st, ok := totalOf(lr)
	if !ok || sid == "" {
		e.drop(ctx, "bad_body", ticket, "", "the summary has no session.id or no usage body")
		return nil
	}
	if v, ok := attrs.Get(semconv.AttrCopilotSessionLeg); ok {
		st.Leg = v.Int()
	}

	var state ticketState
	if _, err := storageclient.LoadJSON(ctx, e.store, stateKey(ticket), &state); err != nil {
		var de *storageclient.DecodeError
		if !errors.As(err, &de) {
			return fmt.Errorf("loading ticket %s: %w", ticket, err)
		}
		e.logger.Warn("Stored state of a ticket does not decode; starting it afresh", zap.String("ticket", ticket), zap.Error(err))
	}
	if state.Sessions == nil {
		state.Sessions = map[string]sessionTotal{}
	}
	if state.Comments == nil {
		state.Comments = map[string]string{}
	}
	// A replay of an older leg never takes a session's total back.
	if old, ok := state.Sessions[sid]; !ok || st.Leg >= old.Leg {
		state.Sessions[sid] = st
	}
	if err := e.save(ctx, ticket, state); err != nil {
		return err
	}

	total := state.total()
	if fields := e.fields(total); len(fields) > 0 {
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
			}
		}
	}

	if !e.cfg.Comment {
		return nil
	}
	leg := sid + "/" + strconv.FormatInt(st.Leg, 10)
	if _, done := state.Comments[leg]; done {
		return nil
	}
	text := commentText(sid, st)
	if e.cfg.DryRun {
		e.logger.Info("Dry run: would comment", zap.String("ticket", ticket), zap.String("comment", text))
		e.tel.ExporterJiraComments.Add(ctx, 1)
		return nil
	}
	id, err := e.client.addComment(ctx, ticket, text)
	var d *dropError
	switch {
	case errors.As(err, &d):
		e.drop(ctx, d.reason, ticket, "comment", d.detail)
		return nil
	case err != nil:
		return err
	}
	e.tel.ExporterJiraComments.Add(ctx, 1)
	state.Comments[leg] = id
	return e.save(ctx, ticket, state)
}

func (e *jiraExporter) save(ctx context.Context, ticket string, state ticketState) error {
	b, err := json.Marshal(state)
	if err != nil {
		return err
	}
	if err := e.store.Set(ctx, stateKey(ticket), b); err != nil {
		return fmt.Errorf("storing ticket %s: %w", ticket, err)
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
			f[e.cfg.Fields.Number] = json.Number(strconv.FormatFloat(t.PremiumRequests, 'f', -1, 64))
		case valueTokens:
			f[e.cfg.Fields.Number] = json.Number(strconv.FormatInt(t.Tokens, 10))
		default:
			f[e.cfg.Fields.Number] = json.Number(credits(t.NanoAIU))
		}
	}
	if e.cfg.Fields.Text != "" {
		f[e.cfg.Fields.Text] = strings.NewReplacer(
			"{{credits}}", credits(t.NanoAIU),
			"{{tokens}}", strconv.FormatInt(t.Tokens, 10),
			"{{premium_requests}}", strconv.FormatFloat(t.PremiumRequests, 'f', -1, 64),
			"{{sessions}}", strconv.Itoa(t.Sessions),
		).Replace(e.cfg.Fields.Template)
	}
	return f
}

func fieldNames(f map[string]any) []string {
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	return names
}

func commentText(sid string, st sessionTotal) string {
	return fmt.Sprintf("GitHub Copilot session %s (leg %d): AI Credits: %s, Tokens: %d, Premium requests: %s",
		sid, st.Leg, credits(st.NanoAIU), st.Tokens, strconv.FormatFloat(st.PremiumRequests, 'f', -1, 64))
}

// credits is nano-AIU as AI credits, exactly: n / 1e9 in decimal.
func credits(n int64) string {
	neg := n < 0
	if neg {
		n = -n
	}
	s := fmt.Sprintf("%d.%09d", n/1e9, n%1e9)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if neg {
		s = "-" + s
	}
	return s
}

// totalOf reads the summary body (the usage object's shape): nano-AIU,
// tokens (input + output) and premium requests.
func totalOf(lr plog.LogRecord) (sessionTotal, bool) {
	if lr.Body().Type() != pcommon.ValueTypeMap {
		return sessionTotal{}, false
	}
	b := lr.Body().Map()
	n, ok := b.Get("totalNanoAiu")
	if !ok {
		return sessionTotal{}, false
	}
	st := sessionTotal{NanoAIU: num(n)}
	if v, ok := b.Get("totalPremiumRequestCost"); ok {
		st.PremiumRequests = v.Double()
		if v.Type() == pcommon.ValueTypeInt {
			st.PremiumRequests = float64(v.Int())
		}
	}
	if td, ok := b.Get("tokenDetails"); ok && td.Type() == pcommon.ValueTypeMap {
		for _, k := range []string{"input", "output"} {
			if v, ok := td.Map().Get(k); ok {
				st.Tokens += num(v)
			}
		}
	}
	return st, true
}

func num(v pcommon.Value) int64 {
	if v.Type() == pcommon.ValueTypeDouble {
		return int64(v.Double())
	}
	return v.Int()
}

func str(m pcommon.Map, k string) string {
	if v, ok := m.Get(k); ok {
		return v.AsString()
	}
	return ""
}
