package notifyexporter

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/usagebody"
)

// sessionSummary is a copilot.session.summary as the receiver writes it
// and the chargeback processor prices it ("" cost: not priced).
func sessionSummary(ld plog.Logs, sid string, leg int64, cost string, nanoAIU, input, output int64) {
	rl := ld.ResourceLogs().AppendEmpty()
	r := rl.Resource().Attributes()
	r.PutStr("session.id", sid)
	r.PutStr("vcs.repository.name", "payments-api")
	r.PutStr("user.name", "dev")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName(eventSummary)
	a := lr.Attributes()
	a.PutInt("copilot.session.leg", leg)
	a.PutStr("ticket", "PAY-4411")
	if cost != "" {
		a.PutStr("copilot.session.cost_exact", cost)
		a.PutStr("copilot.session.cost_currency", "USD")
	}
	usagebody.Put(lr.Body().SetEmptyMap(), session.UsageSummary{TotalNanoAIU: nanoAIU, TokenDetails: session.TokenDetails{Input: input, Output: output}})
}

// With sessions::min_cost, each session whose cost reaches it is one
// message per destination, once: not again for a later leg, a replay or
// after a restart; summaries below it, or without a cost (counted), send
// nothing.
func TestCostlySessions(t *testing.T) {
	e := newEnv(t)
	e.cfg.Sessions = Sessions{MinCost: "1.00"}
	require.NoError(t, e.cfg.Validate())
	ctx := context.Background()

	ld := plog.NewLogs()
	sessionSummary(ld, "s-below", 0, "0.999999999999999999", 1, 1, 1)
	sessionSummary(ld, "s-at", 0, "1", 100_000_000_000, 40, 2)
	sessionSummary(ld, "s-over", 0, "2.5", 250_000_000_000, 1000, 200)
	sessionSummary(ld, "s-unpriced", 0, "", 900_000_000_000, 1, 1)
	exp := e.start(t)
	require.NoError(t, exp.ConsumeLogs(ctx, ld))
	again := plog.NewLogs()
	sessionSummary(again, "s-over", 1, "3.75", 375_000_000_000, 1500, 300) // resumed
	sessionSummary(again, "s-at", 0, "1", 100_000_000_000, 40, 2)          // replayed
	require.NoError(t, exp.ConsumeLogs(ctx, again))
	require.NoError(t, exp.Shutdown(ctx))
	exp = e.start(t)
	require.NoError(t, exp.ConsumeLogs(ctx, again)) // after a restart
	require.NoError(t, exp.Shutdown(ctx))

	for _, s := range []*standIn{e.slack, e.teams, e.hook} {
		require.Len(t, s.requests(), 2)
	}
	assert.EqualValues(t, 1, e.counter(t, "unpriced"), "s-unpriced")

	var slack map[string]any
	require.NoError(t, json.Unmarshal(e.slack.requests()[1].body, &slack))
	assert.Equal(t, "Copilot session s-over (PAY-4411) in payments-api by dev has cost 2.5 USD, over 1 USD: 250 AI credits, 1200 tokens", slack["text"])

	var teams teamsMessage
	require.NoError(t, json.Unmarshal(e.teams.requests()[0].body, &teams))
	card := teams.Attachments[0].Content
	assert.Equal(t, "Copilot session s-at (PAY-4411) in payments-api by dev has cost 1 USD, over 1 USD: 100 AI credits, 42 tokens", card.Body[0].Text)
	assert.Contains(t, card.Body[1].Facts, cardFact{Title: "Ticket", Value: "PAY-4411"})

	var m sessionMessage
	require.NoError(t, json.Unmarshal(e.hook.requests()[1].body, &m))
	assert.Equal(t, eventSummary, m.Event)
	assert.Equal(t, Session{ID: "s-over", Cost: "2.5", Currency: "USD", MinCost: "1", Credits: "250", Tokens: 1200,
		Repository: "payments-api", User: "dev", Ticket: "PAY-4411"}, m.Session)
}

func TestSessionsValidate(t *testing.T) {
	for _, tc := range []struct {
		s    Sessions
		want string
	}{
		{Sessions{MinCost: "ten"}, `sessions::min_cost: "ten" is not a positive decimal amount`},
		{Sessions{MinCost: "0"}, `sessions::min_cost: "0" is not a positive decimal amount`},
		{Sessions{Template: "{{.ID}}"}, "sessions::template: set sessions::min_cost too"},
		{Sessions{MinCost: "1", Template: "{{.ID"}, "sessions::template:"},
	} {
		e := newEnv(t)
		e.cfg.Sessions = tc.s
		assert.ErrorContains(t, e.cfg.Validate(), tc.want)
	}
}

// TestCostlySessionsOfHistory: a first start reads months of transcripts,
// and their summaries (timestamped when each leg ended) reach the exporter
// at once. As budgets keep past windows silent, sessions::max_age (24h by
// default) keeps old sessions from becoming messages today: they are
// counted instead. A summary within it, or without a time, is sent; with
// max_age 0 every one is.
func TestCostlySessionsOfHistory(t *testing.T) {
	ctx := context.Background()
	history := func(ld plog.Logs) {
		for i, sid := range []string{"s-march-1", "s-march-2", "s-march-3"} {
			sessionSummary(ld, sid, 0, "5", 500_000_000_000, 1, 1)
			ld.ResourceLogs().At(i).ScopeLogs().At(0).LogRecords().At(0).SetTimestamp(
				pcommon.NewTimestampFromTime(time.Date(2026, 3, 2+i, 10, 0, 0, 0, time.UTC)))
		}
	}

	e := newEnv(t)
	e.cfg.Sessions.MinCost = "1.00"
	require.Equal(t, 24*time.Hour, e.cfg.Sessions.MaxAge, "the default")
	require.NoError(t, e.cfg.Validate())
	ld := plog.NewLogs()
	history(ld)
	sessionSummary(ld, "s-now", 0, "5", 500_000_000_000, 1, 1)
	ld.ResourceLogs().At(3).ScopeLogs().At(0).LogRecords().At(0).SetTimestamp(pcommon.NewTimestampFromTime(time.Now().Add(-time.Hour)))
	sessionSummary(ld, "s-untimed", 0, "5", 500_000_000_000, 1, 1)
	exp := e.start(t)
	require.NoError(t, exp.ConsumeLogs(ctx, ld))
	require.NoError(t, exp.Shutdown(ctx))
	var sent []string
	for _, r := range e.slack.requests() {
		sent = append(sent, string(r.body))
	}
	require.Len(t, sent, 2, "messages: %q", sent)
	assert.Contains(t, sent[0]+sent[1], "s-now")
	assert.Contains(t, sent[0]+sent[1], "s-untimed")
	assert.Equal(t, int64(3), e.counter(t, "sessions_too_old"))

	e = newEnv(t)
	e.cfg.Sessions = Sessions{MinCost: "1.00"} // max_age 0: no limit
	require.NoError(t, e.cfg.Validate())
	ld = plog.NewLogs()
	history(ld)
	exp = e.start(t)
	require.NoError(t, exp.ConsumeLogs(ctx, ld))
	require.NoError(t, exp.Shutdown(ctx))
	assert.Len(t, e.slack.requests(), 3)

	e.cfg.Sessions.MaxAge = -time.Hour
	assert.ErrorContains(t, e.cfg.Validate(), "sessions::max_age: -1h0m0s must not be negative")
}
