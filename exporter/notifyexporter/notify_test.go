package notifyexporter

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/storagetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-copilot/otelcol-copilot/exporter/notifyexporter/internal/metadata"
	"github.com/otelcol-copilot/otelcol-copilot/internal/retryafter"
)

// standIn is a webhook on 127.0.0.1 that records what it got and answers
// with the statuses queued in answers (200 when none is left).
type standIn struct {
	srv *httptest.Server

	mu      sync.Mutex
	got     []request
	answers []answer
}

type request struct {
	header http.Header
	body   []byte
}

type answer struct {
	status     int
	retryAfter string
}

func newStandIn(t *testing.T) *standIn {
	s := &standIn{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.got = append(s.got, request{header: r.Header.Clone(), body: b})
		a := answer{status: http.StatusOK}
		if len(s.answers) > 0 {
			a, s.answers = s.answers[0], s.answers[1:]
		}
		s.mu.Unlock()
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, "ok")
	})}}
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *standIn) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.got...)
}

func (s *standIn) answer(a ...answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers = append(s.answers, a...)
}

// crossingLogs is a batch of crossing records as the chargeback processor
// writes them, with a session summary record among them that is not one.
func crossingLogs(ids ...string) plog.Logs {
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	other := sl.LogRecords().AppendEmpty()
	other.SetEventName("copilot.session.summary")
	for _, id := range ids {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetEventName(eventCrossing)
		lr.SetSeverityText("ERROR")
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)))
		a := lr.Attributes()
		a.PutStr("copilot.budget.name", "payments-daily")
		a.PutStr("copilot.budget.scope", "team")
		a.PutStr("copilot.budget.value", "payments")
		a.PutDouble("copilot.budget.threshold", 100)
		a.PutDouble("copilot.budget.spend", 0.1)
		a.PutDouble("copilot.budget.limit", 0.1)
		a.PutStr("copilot.budget.spend_exact", "0.10")
		a.PutStr("copilot.budget.limit_exact", "0.10")
		a.PutStr("copilot.budget.currency", "USD")
		a.PutStr("copilot.budget.window.start", "2026-03-10T00:00:00Z")
		a.PutStr("copilot.budget.window.end", "2026-03-11T00:00:00Z")
		a.PutStr("copilot.budget.crossing.id", id)
		a.PutStr("team", "payments")
	}
	return ld
}

type env struct {
	slack, teams, hook *standIn
	cfg                *Config
	tel                *componenttest.Telemetry
	storageDir         string
}

func newEnv(t *testing.T) *env {
	e := &env{slack: newStandIn(t), teams: newStandIn(t), hook: newStandIn(t), tel: componenttest.NewTelemetry(), storageDir: t.TempDir()}
	t.Cleanup(func() { require.NoError(t, e.tel.Shutdown(context.Background())) })
	id := storagetest.NewStorageID("notified")
	cfg := createDefaultConfig().(*Config)
	cfg.Storage = &id
	cfg.RetryConfig.InitialInterval = 10 * time.Millisecond
	cfg.RetryConfig.MaxInterval = 50 * time.Millisecond
	cfg.Destinations = []Destination{
		{Name: "finops", Kind: kindSlack, URL: configopaque.String(e.slack.srv.URL), Template: `:warning: {{.Budget}} {{.Scope}}={{.Value}} at {{.Threshold}}%: {{.Spend}}/{{.Limit}} {{.Currency}} ({{.WindowStart}}..{{.WindowEnd}}) {{.ID}}`},
		{Name: "teams", Kind: kindTeams, URL: configopaque.String(e.teams.srv.URL)},
		{Name: "hook", Kind: kindWebhook, URL: configopaque.String(e.hook.srv.URL + "/notify"), Secret: "s3cret"},
	}
	require.NoError(t, cfg.Validate())
	e.cfg = cfg
	return e
}

// start starts an exporter on the file storage in e.storageDir; stopping
// it is the caller's.
func (e *env) start(t *testing.T) exporter.Logs {
	set := exportertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = e.tel.NewTelemetrySettings()
	// The same id after the restart: the storage client is the exporter's.
	set.ID = component.NewIDWithName(metadata.Type, "budgets")
	exp, err := NewFactory().CreateLogs(context.Background(), set, e.cfg)
	require.NoError(t, err)
	host := storagetest.NewStorageHost().WithFileBackedStorageExtension("notified", e.storageDir)
	require.NoError(t, exp.Start(context.Background(), host))
	return exp
}

func (e *env) counter(t *testing.T, name string, kv ...string) int64 {
	t.Helper()
	m, err := e.tel.GetMetric("otelcol_exporter_notify_" + name)
	if err != nil {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok)
	var n int64
	for _, dp := range sum.DataPoints {
		match := true
		for i := 0; i+1 < len(kv); i += 2 {
			if v, ok := dp.Attributes.Value(attribute.Key(kv[i])); !ok || v.AsString() != kv[i+1] {
				match = false
			}
		}
		if match {
			n += dp.Value
		}
	}
	return n
}

// TestOneMessagePerCrossing: each crossing id reaches each destination
// once, through a crossing emitted again and an exporter restart on file
// storage; the bodies are Slack's, Teams' and the signed webhook's.
func TestOneMessagePerCrossing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	exp := e.start(t)
	require.NoError(t, exp.ConsumeLogs(ctx, crossingLogs("c1", "c2")))
	require.NoError(t, exp.ConsumeLogs(ctx, crossingLogs("c2")))
	require.NoError(t, exp.Shutdown(ctx))

	exp = e.start(t)
	require.NoError(t, exp.ConsumeLogs(ctx, crossingLogs("c1", "c2", "c3")))
	require.NoError(t, exp.Shutdown(ctx))

	for _, s := range []*standIn{e.slack, e.teams, e.hook} {
		require.Len(t, s.requests(), 3)
	}
	assert.EqualValues(t, 9, e.counter(t, "sent"))
	assert.EqualValues(t, 1+2, e.counter(t, "duplicates", "destination", "finops"))
	assert.EqualValues(t, 9, e.counter(t, "duplicates"))

	// Slack: the template, rendered, as text.
	var slack map[string]any
	require.NoError(t, json.Unmarshal(e.slack.requests()[0].body, &slack))
	assert.Equal(t, map[string]any{"text": ":warning: payments-daily team=payments at 100%: 0.10/0.10 USD (2026-03-10T00:00:00Z..2026-03-11T00:00:00Z) c1"}, slack)

	// Teams: an Adaptive Card 1.4 in an attachments envelope.
	var teams teamsMessage
	require.NoError(t, json.Unmarshal(e.teams.requests()[1].body, &teams))
	assert.Equal(t, "message", teams.Type)
	require.Len(t, teams.Attachments, 1)
	assert.Equal(t, "application/vnd.microsoft.card.adaptive", teams.Attachments[0].ContentType)
	card := teams.Attachments[0].Content
	assert.Equal(t, "AdaptiveCard", card.Type)
	assert.Equal(t, "1.4", card.Version)
	assert.Equal(t, "Budget payments-daily: team payments reached 100% — 0.10 USD of 0.10 USD in 2026-03-10T00:00:00Z to 2026-03-11T00:00:00Z", card.Body[0].Text)
	assert.Contains(t, card.Body[1].Facts, cardFact{Title: "Spend", Value: "0.10 USD"})
	assert.Contains(t, string(e.teams.requests()[1].body), `"contentUrl":null`)

	// Webhook: the crossing's fields, signed over "<timestamp>.<body>".
	for i, r := range e.hook.requests() {
		var m webhookMessage
		require.NoError(t, json.Unmarshal(r.body, &m))
		assert.Equal(t, []string{"c1", "c2", "c3"}[i], m.Crossing.ID)
		assert.Equal(t, "0.10", m.Crossing.Spend)
		assert.Equal(t, eventCrossing, m.Event)
		ts := r.header.Get("X-Otelcol-Copilot-Timestamp")
		require.NotEmpty(t, ts)
		mac := hmac.New(sha256.New, []byte("s3cret"))
		mac.Write([]byte(ts + "."))
		mac.Write(r.body)
		assert.Equal(t, "sha256="+hex.EncodeToString(mac.Sum(nil)), r.header.Get("X-Otelcol-Copilot-Signature"))
	}
	assert.Empty(t, e.slack.requests()[0].header.Get("X-Otelcol-Copilot-Signature"), "only webhooks are signed")
}

// TestRejectedIsDropped: a 400 drops the message, counted, and is not
// retried or remembered; the other destinations get theirs.
func TestRejectedIsDropped(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.teams.answer(answer{status: http.StatusBadRequest})
	exp := e.start(t)
	require.NoError(t, exp.ConsumeLogs(ctx, crossingLogs("c1")))
	require.NoError(t, exp.Shutdown(ctx))
	assert.Len(t, e.teams.requests(), 1)
	assert.Len(t, e.slack.requests(), 1)
	assert.EqualValues(t, 1, e.counter(t, "dropped", "destination", "teams", "reason", "rejected"))
	assert.EqualValues(t, 2, e.counter(t, "sent"))
}

// TestThrottledIsRetried: a 429 with Retry-After is retried after it, and a
// retry sends only what was not accepted yet.
func TestThrottledIsRetried(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.hook.answer(answer{status: http.StatusTooManyRequests, retryAfter: "1"})
	exp := e.start(t)
	require.NoError(t, exp.ConsumeLogs(ctx, crossingLogs("c1")))
	require.NoError(t, exp.Shutdown(ctx))
	got := e.hook.requests()
	require.Len(t, got, 2)
	assert.Equal(t, got[0].body, got[1].body)
	assert.Len(t, e.slack.requests(), 1, "accepted before the retry: not sent again")
	assert.EqualValues(t, 3, e.counter(t, "sent"))
	assert.EqualValues(t, 2, e.counter(t, "duplicates"))
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	assert.Equal(t, 7*time.Second, retryafter.Parse("7", now))
	assert.Equal(t, 30*time.Second, retryafter.Parse(now.Add(30*time.Second).Format(http.TimeFormat), now))
	assert.Zero(t, retryafter.Parse("", now))
	assert.Zero(t, retryafter.Parse("soon", now))
}

func TestBadTemplateIsDropped(t *testing.T) {
	e := newEnv(t)
	e.cfg.Destinations = e.cfg.Destinations[:1]
	e.cfg.Destinations[0].Template = "{{.NoSuchField}}"
	require.NoError(t, e.cfg.Validate(), "parses; fails at execution")
	ctx := context.Background()
	exp := e.start(t)
	require.NoError(t, exp.ConsumeLogs(ctx, crossingLogs("c1")))
	require.NoError(t, exp.Shutdown(ctx))
	assert.Empty(t, e.slack.requests())
	assert.EqualValues(t, 1, e.counter(t, "dropped", "reason", "template"))
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    []Destination
		want string
	}{
		{"none", nil, "destinations: at least one"},
		{"kind", []Destination{{Name: "a", Kind: "email", URL: "https://x"}}, `destinations::0::kind: "email"`},
		{"url", []Destination{{Name: "a", Kind: kindSlack, URL: "hooks.slack.com/x"}}, "destinations::0::url: must be an http or https URL"},
		{"name twice", []Destination{{Name: "a", Kind: kindSlack, URL: "https://x"}, {Name: "a", Kind: kindSlack, URL: "https://y"}}, `destinations::1::name: "a" is used twice`},
		{"template", []Destination{{Name: "a", Kind: kindSlack, URL: "https://x", Template: "{{"}}, "destinations::0::template:"},
		{"secret on slack", []Destination{{Name: "a", Kind: kindSlack, URL: "https://x", Secret: "s"}}, "destinations::0::secret"},
		{"timeout", []Destination{{Name: "a", Kind: kindWebhook, URL: "https://x", Timeout: -time.Second}}, "destinations::0::timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.Destinations = tc.d
			err := cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "https://x", "the URL is a secret")
		})
	}
}

func TestStartWithoutStorageExtension(t *testing.T) {
	e := newEnv(t)
	exp, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), e.cfg)
	require.NoError(t, err)
	err = exp.Start(context.Background(), componenttest.NewNopHost())
	require.ErrorContains(t, err, "storage: extension")
	require.NoError(t, exp.Shutdown(context.Background()))
}

// The crossing's top sessions reach every kind: in the default text, as
// Teams facts and in the webhook's fields.
func TestTopSessions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ld := crossingLogs("c1")
	a := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(1).Attributes()
	top := a.PutEmptySlice("copilot.budget.top_sessions")
	for _, s := range [][2]string{{"0b1e1ed0-0000-4000-8000-000000000002", "0.06"}, {"0b1e1ed0-0000-4000-8000-000000000001", "0.04"}} {
		m := top.AppendEmpty().SetEmptyMap()
		m.PutStr("session.id", s[0])
		m.PutStr("spend_exact", s[1])
	}
	top.AppendEmpty().SetStr("not a map") // skipped
	exp := e.start(t)
	require.NoError(t, exp.ConsumeLogs(ctx, ld))
	require.NoError(t, exp.Shutdown(ctx))

	var teams teamsMessage
	require.Len(t, e.teams.requests(), 1)
	require.NoError(t, json.Unmarshal(e.teams.requests()[0].body, &teams))
	card := teams.Attachments[0].Content
	assert.Equal(t, "Budget payments-daily: team payments reached 100% — 0.10 USD of 0.10 USD in 2026-03-10T00:00:00Z to 2026-03-11T00:00:00Z."+
		" Top sessions: 0b1e1ed0-0000-4000-8000-000000000002 (0.06 USD), 0b1e1ed0-0000-4000-8000-000000000001 (0.04 USD)", card.Body[0].Text)
	assert.Contains(t, card.Body[1].Facts, cardFact{Title: "Top session 2", Value: "0b1e1ed0-0000-4000-8000-000000000001 (0.04 USD)"})

	var m webhookMessage
	require.NoError(t, json.Unmarshal(e.hook.requests()[0].body, &m))
	assert.Equal(t, []TopSession{{Session: "0b1e1ed0-0000-4000-8000-000000000002", Spend: "0.06"}, {Session: "0b1e1ed0-0000-4000-8000-000000000001", Spend: "0.04"}}, m.Crossing.TopSessions)
}
