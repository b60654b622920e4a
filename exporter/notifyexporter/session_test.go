package notifyexporter

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
