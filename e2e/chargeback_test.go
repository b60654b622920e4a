//go:build clie2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/fakeprovider"
)

// chargebackConfig adds to the base configuration the chargeback
// processor in every pipeline, the otlp receiver taking the CLI's own
// telemetry, and a budget small enough that the first call crosses every
// threshold.
func chargebackConfig(otlpPort int, actions string) string {
	return fmt.Sprintf(`
receivers:
  copilot:
    resource_attributes:
      session.id:
        enabled: true
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%[1]d
processors:
  chargeback:
    attribution:
      rules:
        - name: payments
          match: {repository: "acme/payments-*"}
          set: {team: payments, project: payments-api, cost_center: CC-1001}
        - name: docs
          match: {repository: "acme/docs-*"}
          set: {team: docs}
    pricing:
      token_prices:
        %[2]s: {input: "2", output: "8", cache_read: "0.5"}
    join:
      hold_time: 60s
    budgets:
      - name: payments-daily
        scope: team
        value: payments
        amount: "0.000000001"
        period: day
    storage: file_storage
  filter/crossings:
    error_mode: ignore
    logs:
      log_record:
        - event_name != "copilot.budget.crossing" and event_name != "copilot.session.summary"
  filter/session-ends:
    error_mode: ignore
    logs:
      log_record:
        - event_name != "copilot.session.summary"
exporters:
  jira:
    endpoint: %[3]s
    deployment: cloud
    email: bot@acme.example
    token: e2e-token
    fields:
      number: customfield_10100
      value: tokens
      text: customfield_10101
      template: "AI Credits: {{credits}}, Tokens: {{tokens}}, Cost: {{cost}} {{currency}}"
    comment: true
    storage: file_storage
    sending_queue:
      storage: file_storage
  notify:
    storage: file_storage
    sessions:
      min_cost: "0.000000001"
    sending_queue:
      storage: file_storage
    destinations:
      - {name: finops, kind: slack, url: %[4]s/slack}
      - {name: finops-teams, kind: teams, url: %[4]s/teams}
service:
  pipelines:
    metrics: {receivers: [copilot, otlp], processors: [chargeback]}
    logs: {receivers: [copilot, otlp], processors: [chargeback]}
    traces: {receivers: [copilot, otlp], processors: [chargeback]}
    logs/jira: {receivers: [copilot], processors: [chargeback, filter/session-ends], exporters: [jira]}
    logs/notify: {receivers: [copilot], processors: [chargeback, filter/crossings], exporters: [notify]}
`, otlpPort, model, actions+"/jira", actions)
}

// actionStandIns stands in for Jira (REST v3) and for Slack and Teams
// incoming webhooks on loopback, and records what each was sent.
type actionStandIns struct {
	mu       sync.Mutex
	fields   map[string][]map[string]any // ticket -> the fields of each update, in order
	comments map[string]int              // ticket -> comments posted
	slack    []string                    // message texts
	teams    int                         // cards
}

func (a *actionStandIns) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case r.URL.Path == "/slack":
		var m struct{ Text string }
		_ = json.Unmarshal(body, &m)
		a.slack = append(a.slack, m.Text)
	case r.URL.Path == "/teams":
		a.teams++
	case strings.HasPrefix(r.URL.Path, "/jira/rest/api/3/issue/") && strings.HasSuffix(r.URL.Path, "/comment"):
		key := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/jira/rest/api/3/issue/"), "/comment")
		a.comments[key]++
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"1"}`)
		return
	case strings.HasPrefix(r.URL.Path, "/jira/rest/api/3/issue/") && r.Method == http.MethodPut:
		key := strings.TrimPrefix(r.URL.Path, "/jira/rest/api/3/issue/")
		var m struct{ Fields map[string]any }
		_ = json.Unmarshal(body, &m)
		a.fields[key] = append(a.fields[key], m.Fields)
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (e *env) readTraces() ptrace.Traces {
	out := ptrace.NewTraces()
	files, _ := filepath.Glob(filepath.Join(e.out, "traces-*.jsonl"))
	var ut ptrace.JSONUnmarshaler
	for _, f := range files {
		forLines(e.t, f, func(line []byte) {
			td, err := ut.UnmarshalTraces(line)
			require.NoError(e.t, err)
			td.ResourceSpans().MoveAndAppendTo(out.ResourceSpans())
		})
	}
	return out
}

const receiverScope = "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

func str(m pcommon.Map, k string) string {
	if v, ok := m.Get(k); ok {
		return v.AsString()
	}
	return ""
}

// attribution of a span or point.
type owner struct{ team, ticket string }

func ownerOf(m pcommon.Map) owner { return owner{str(m, "team"), str(m, "ticket")} }

// TestChargebackRealCLI runs the real CLI in two GitHub repositories, one
// on a branch with a Jira key, with its own OTLP export on, through the
// distribution with the chargeback processor, restarting the collector in
// between: the cost by team and ticket is the hand computation from the
// CLI's own accounting, the CLI's chat spans carry their session's team
// and ticket, and each budget threshold is crossed exactly once.
func TestChargebackRealCLI(t *testing.T) {
	e := newEnv(t)
	if keep := os.Getenv("E2E_KEEP"); keep != "" {
		t.Cleanup(func() { _ = exec.Command("cp", "-r", e.out, e.copilotHome, keep).Run() })
	}
	payments := e.repo // on feature/PAY-4411-refund-retries
	e.git(payments, "remote", "add", "origin", "https://github.com/acme/payments-api.git")
	docs := filepath.Join(e.home, "src", "docs-site")
	e.gitInitIn(docs, "chore/update-deps", "acme/docs-site")

	otlpPort := freePort(t)
	actions := &actionStandIns{fields: map[string][]map[string]any{}, comments: map[string]int{}}
	stand := httptest.NewServer(actions)
	defer stand.Close()
	otel := []string{
		"COPILOT_OTEL_ENABLED=true",
		fmt.Sprintf("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d", otlpPort),
	}
	e.startCollectorWith(chargebackConfig(otlpPort, stand.URL))
	ids := []string{
		e.copilotIn(payments, otel, "Do the task [scenario:"+fakeprovider.ScenarioSimple+"]", ""),
		e.copilotIn(docs, otel, "Do the task [scenario:"+fakeprovider.ScenarioSubagent+"]", ""),
	}
	e.waitJoined(ids[:2])
	e.stopCollector()
	e.startCollectorWith(chargebackConfig(otlpPort, stand.URL))
	ids = append(ids, e.copilotIn(payments, otel, "Do the task [scenario:"+fakeprovider.ScenarioEdit+"]", ""))
	// The first session, resumed: its second leg's summary carries its
	// cumulative usage, which replaces the first leg's in the ticket's
	// total rather than adding to it.
	e.copilotIn(payments, otel, "continue [scenario:"+fakeprovider.ScenarioContinue+"]", ids[0])
	e.waitJoined(ids)

	// The ticket's fields by hand, from the CLI's own final accounting of
	// its two sessions (the resumed one's last shutdown is cumulative):
	// tokens (input + output) and what they cost at the token prices.
	var wantTokens int64
	wantCost := new(big.Rat)
	for _, id := range []string{ids[0], ids[2]} {
		tr := e.readTranscript(id)
		for _, v := range tr.Final {
			wantTokens += v.Usage.InputTokens + v.Usage.OutputTokens
			wantCost.Add(wantCost, tokenCost(v))
		}
	}
	require.Equal(t, 2, e.readTranscript(ids[0]).Shutdowns, "the first session was resumed and shut down twice")
	t.Cleanup(func() {
		if t.Failed() {
			actions.mu.Lock()
			defer actions.mu.Unlock()
			t.Logf("actions received: slack %q, teams %d, fields %v, comments %v (want %d tokens, cost %s)",
				actions.slack, actions.teams, actions.fields, actions.comments, wantTokens, wantCost.FloatString(18))
		}
	})
	lastField := func() string {
		actions.mu.Lock()
		defer actions.mu.Unlock()
		u := actions.fields["PAY-4411"]
		if len(u) == 0 {
			return ""
		}
		return fmt.Sprint(u[len(u)-1]["customfield_10100"])
	}
	require.Eventually(t, func() bool { return lastField() == strconv.FormatInt(wantTokens, 10) },
		30*time.Second, 100*time.Millisecond, "the ticket did not reach its total after the resume")
	e.stopCollector()

	// By hand, from the CLI's own final accounting: BYOK, so priced by
	// tokens at 2/8/0.5 US$ per million (input without cache, output,
	// cache read).
	sessionTeam := map[string]owner{ids[0]: {"payments", "PAY-4411"}, ids[1]: {"docs", "unattributed"}, ids[2]: {"payments", "PAY-4411"}}
	sessionRepo := map[string]string{ids[0]: "payments-api", ids[1]: "docs-site", ids[2]: "payments-api"}
	want := map[owner]*big.Rat{}
	for _, id := range ids {
		tr := e.readTranscript(id)
		require.NotEmpty(t, tr.Final, id)
		for m, v := range tr.Final {
			require.Equal(t, model, m)
			o := sessionTeam[id]
			if want[o] == nil {
				want[o] = new(big.Rat)
			}
			want[o].Add(want[o], tokenCost(v))
		}
	}
	got := map[owner]*big.Rat{}
	md := e.readMetrics()
	for _, rm := range md.ResourceMetrics().All() {
		_, hasSession := rm.Resource().Attributes().Get("session.id")
		assert.False(t, hasSession, "session.id is taken off metrics")
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() != "copilot.cost" {
					continue
				}
				for _, dp := range m.Sum().DataPoints().All() {
					assert.Equal(t, "token_price", str(dp.Attributes(), "copilot.cost.method"))
					a, ok := new(big.Rat).SetString(strconv.FormatFloat(dp.DoubleValue(), 'f', -1, 64))
					require.True(t, ok)
					o := ownerOf(dp.Attributes())
					if got[o] == nil {
						got[o] = new(big.Rat)
					}
					got[o].Add(got[o], a)
				}
			}
		}
	}
	require.Len(t, got, 2, "two owners: %v", got)
	for o, w := range want {
		require.NotNil(t, got[o], "no cost for %v", o)
		assert.Equal(t, w.FloatString(18), got[o].FloatString(18), "cost of %v", o)
	}

	// The receiver's spans and the CLI's own spans of each session carry
	// the session's team and ticket.
	chats := map[string]int{}
	for _, rs := range e.readTraces().ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			native := ss.Scope().Name() != receiverScope
			for _, s := range ss.Spans().All() {
				sid := str(rs.Resource().Attributes(), "session.id")
				if native {
					sid = str(s.Attributes(), "gen_ai.conversation.id")
				}
				w, ok := sessionTeam[sid]
				require.True(t, ok, "span %q of an unknown session %q", s.Name(), sid)
				assert.Equal(t, w, ownerOf(s.Attributes()), "span %q (native %v) of %s", s.Name(), native, sid)
				if native && strings.HasPrefix(s.Name(), "chat") {
					chats[sid]++
					assert.Equal(t, sessionRepo[sid], str(s.Attributes(), "vcs.repository.name"), "the session's context is lent to the CLI's span")
				}
			}
		}
	}
	for _, id := range ids {
		assert.Positive(t, chats[id], "no native chat span of %s", id)
	}

	// Each threshold of the payments budget crossed once, across the
	// restart.
	var thresholds []string
	for _, rl := range e.readLogs().ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				if lr.EventName() == "copilot.budget.crossing" {
					thresholds = append(thresholds, str(lr.Attributes(), "copilot.budget.threshold"))
					assert.Equal(t, "payments", str(lr.Attributes(), "team"))
				}
			}
		}
	}
	slices.Sort(thresholds)
	assert.Equal(t, []string{"100", "50", "75", "90"}, thresholds)

	// The actions: each crossing once in Slack and once in Teams, across
	// the restart, naming the session that crossed; the ticket's fields
	// hold the tokens and the cost of its two sessions by the CLI's own
	// accounting, the unattributed session wrote nothing, and each session
	// leg (the resumed session has two) was commented once.
	assert.Equal(t, want[owner{"payments", "PAY-4411"}].FloatString(18), wantCost.FloatString(18))
	require.Eventually(t, func() bool {
		actions.mu.Lock()
		defer actions.mu.Unlock()
		u := actions.fields["PAY-4411"]
		return len(actions.slack) >= 4+3 && actions.teams >= 4+3 && len(u) > 0 &&
			fmt.Sprint(u[len(u)-1]["customfield_10100"]) == strconv.FormatInt(wantTokens, 10)
	}, 30*time.Second, 100*time.Millisecond, "the actions did not arrive")
	actions.mu.Lock()
	defer actions.mu.Unlock()
	// Four crossings and three sessions over sessions::min_cost (the
	// resumed one once), in Slack and in Teams.
	assert.Len(t, actions.slack, 4+3, "one Slack message per crossing and per session: %q", actions.slack)
	assert.Equal(t, 4+3, actions.teams, "one Teams card per crossing and per session")
	crossingMsgs, sessionMsgs := 0, map[string]int{}
	for _, m := range actions.slack {
		if strings.HasPrefix(m, "Copilot session ") {
			sessionMsgs[strings.Fields(m)[2]]++
			continue
		}
		crossingMsgs++
		assert.Contains(t, m, "payments-daily")
		assert.Contains(t, m, "Top sessions: "+ids[0]+" (", "the session that crossed")
	}
	assert.Equal(t, 4, crossingMsgs)
	assert.Equal(t, map[string]int{ids[0]: 1, ids[1]: 1, ids[2]: 1}, sessionMsgs)
	updates := actions.fields["PAY-4411"]
	last := -1.0
	for _, f := range updates {
		v, ok := f["customfield_10100"].(float64)
		require.True(t, ok, "the number field: %v", f)
		assert.GreaterOrEqual(t, v, last, "the ticket's total never goes back")
		last = v
	}
	text := fmt.Sprint(updates[len(updates)-1]["customfield_10101"])
	prefix := fmt.Sprintf("AI Credits: 0, Tokens: %d, Cost: ", wantTokens)
	require.True(t, strings.HasPrefix(text, prefix) && strings.HasSuffix(text, " USD"), "the text field: %q", text)
	gotCost, ok := new(big.Rat).SetString(strings.TrimSuffix(strings.TrimPrefix(text, prefix), " USD"))
	require.True(t, ok, text)
	assert.Equal(t, wantCost.FloatString(18), gotCost.FloatString(18), "the ticket's cost, exact")
	assert.NotContains(t, actions.fields, "unattributed")
	assert.Equal(t, 3, actions.comments["PAY-4411"], "one comment per session leg")
}

// tokenCost is what a model's final usage costs at the test's token
// prices, by hand: BYOK, so US$2/8/0.5 per million tokens of input without
// cache, output and cache read (cache writes at the input price).
func tokenCost(v modelMetric) *big.Rat {
	u := v.Usage
	c := new(big.Rat).SetInt64(2 * (u.InputTokens - u.CacheReadTokens - u.CacheWriteTokens))
	c.Add(c, new(big.Rat).SetInt64(8*u.OutputTokens))
	c.Add(c, new(big.Rat).SetFrac64(u.CacheReadTokens, 2))
	c.Add(c, new(big.Rat).SetInt64(2*u.CacheWriteTokens))
	return c.Quo(c, big.NewRat(1_000_000, 1))
}

// waitJoined waits until the receiver has read the sessions to their
// shutdown and the CLI's own spans of them came out joined (or the wait
// gives up: the assertions say what is missing).
func (e *env) waitJoined(ids []string) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		joined, summarized := map[string]bool{}, map[string]bool{}
		// The files are being written: a last line may be torn.
		var ul plog.JSONUnmarshaler
		var ut ptrace.JSONUnmarshaler
		e.eachLine("logs-*.jsonl", func(line []byte) {
			ld, err := ul.UnmarshalLogs(line)
			if err != nil {
				return
			}
			for _, rl := range ld.ResourceLogs().All() {
				for _, sl := range rl.ScopeLogs().All() {
					for _, lr := range sl.LogRecords().All() {
						if lr.EventName() == "copilot.session.summary" {
							summarized[str(rl.Resource().Attributes(), "session.id")] = true
						}
					}
				}
			}
		})
		e.eachLine("traces-*.jsonl", func(line []byte) {
			td, err := ut.UnmarshalTraces(line)
			if err != nil {
				return
			}
			for _, rs := range td.ResourceSpans().All() {
				for _, ss := range rs.ScopeSpans().All() {
					if ss.Scope().Name() == receiverScope {
						continue
					}
					for _, s := range ss.Spans().All() {
						if team := str(s.Attributes(), "team"); team != "" && team != "unattributed" {
							joined[str(s.Attributes(), "gen_ai.conversation.id")] = true
						}
					}
				}
			}
		})
		all := true
		for _, id := range ids {
			all = all && joined[id] && summarized[id]
		}
		if all {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// eachLine calls fn with every line of the output files matching glob.
func (e *env) eachLine(glob string, fn func([]byte)) {
	files, _ := filepath.Glob(filepath.Join(e.out, glob))
	for _, f := range files {
		forLines(e.t, f, fn)
	}
}
