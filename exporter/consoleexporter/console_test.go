package consoleexporter

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// at is 2026-03-10 14:02:11 UTC, the day the tests' "now" falls on.
var at = time.Date(2026, 3, 10, 14, 2, 11, 0, time.UTC)

// summary is a copilot.session.summary record as the copilot receiver
// writes it (receiver/copilotreceiver/logs.go), in a resource of its own.
type summary struct {
	session, repo, branch, cwd string
	leg                        int64
	when                       time.Time
	uid                        string
	userRequests, calls        int64
	in, out, cacheRead         int64
	nano                       int64
	premium                    float64
	added, removed, files      int64
	// cost is what the chargeback processor priced the usage at ("" when
	// it is not in the pipeline); idle marks a leg that went idle without
	// a shutdown.
	cost string
	idle bool
}

func (s summary) appendTo(ld plog.Logs) {
	rl := ld.ResourceLogs().AppendEmpty()
	res := rl.Resource().Attributes()
	res.PutStr("service.name", "github-copilot")
	res.PutStr("session.id", s.session)
	if s.repo != "" {
		res.PutStr("vcs.owner.name", "acme")
		res.PutStr("vcs.repository.name", s.repo)
	}
	if s.branch != "" {
		res.PutStr("vcs.ref.head.name", s.branch)
	}
	if s.cwd != "" {
		res.PutStr("copilot.cwd", s.cwd)
	}
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName(eventSummary)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(s.when))
	lr.SetSeverityText("INFO")
	lr.Attributes().PutStr("log.record.uid", s.uid)
	lr.Attributes().PutInt("copilot.session.leg", s.leg)
	lr.Attributes().PutStr("copilot.shutdown.type", "routine")
	if s.idle {
		lr.Attributes().PutStr("copilot.shutdown.type", "idle")
	}
	if s.cost != "" {
		lr.Attributes().PutStr("copilot.session.cost_exact", s.cost)
		lr.Attributes().PutStr("copilot.session.cost_currency", "USD")
	}
	m := lr.Body().SetEmptyMap()
	m.PutDouble("totalPremiumRequestCost", s.premium)
	m.PutInt("totalNanoAiu", s.nano)
	m.PutInt("totalUserRequests", s.userRequests)
	m.PutInt("totalApiDurationMs", 80)
	td := m.PutEmptyMap("tokenDetails")
	td.PutInt("input", s.in)
	td.PutInt("output", s.out)
	td.PutInt("cacheRead", s.cacheRead)
	td.PutInt("cacheWrite", 0)
	td.PutInt("reasoning", 0)
	mm := m.PutEmptyMap("modelMetrics")
	// The calls split over two models, to check they are added up.
	for i, model := range []string{"claude-sonnet-4.6", "gpt-5.3-codex"} {
		e := mm.PutEmptyMap(model)
		n := s.calls / 2
		if i == 0 {
			n = s.calls - n
		}
		e.PutEmptyMap("requests").PutInt("count", n)
	}
	cc := m.PutEmptyMap("codeChanges")
	cc.PutInt("linesAdded", s.added)
	cc.PutInt("linesRemoved", s.removed)
	cc.PutInt("filesModified", s.files)
}

// crossing appends a copilot.budget.crossing record as the chargeback
// processor writes it (processor/chargebackprocessor/logs.go).
func crossing(ld plog.Logs, id string, threshold float64, spend, limit string, when time.Time) {
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "github-copilot")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName(eventCrossing)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(when))
	lr.Body().SetStr("Budget ... (the processor's own sentence)")
	a := lr.Attributes()
	a.PutStr("copilot.budget.name", "payments-monthly")
	a.PutStr("copilot.budget.scope", "team")
	a.PutStr("copilot.budget.value", "payments")
	a.PutDouble("copilot.budget.threshold", threshold)
	a.PutDouble("copilot.budget.spend", 8.12)
	a.PutDouble("copilot.budget.limit", 10)
	a.PutStr("copilot.budget.spend_exact", spend)
	a.PutStr("copilot.budget.limit_exact", limit)
	a.PutStr("copilot.budget.currency", "USD")
	a.PutStr("copilot.budget.window.start", "2026-03-01T00:00:00Z")
	a.PutStr("copilot.budget.window.end", "2026-04-01T00:00:00Z")
	a.PutStr("copilot.budget.crossing.id", id)
}

// other appends records the exporter has no line for.
func other(ld plog.Logs) {
	rl := ld.ResourceLogs().AppendEmpty()
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	e := lrs.AppendEmpty()
	e.SetEventName("copilot.session.error")
	e.Body().SetStr("HTTP 500")
	end := lrs.AppendEmpty()
	end.SetEventName("copilot.session.end")
	end.Attributes().PutStr("copilot.session.end.reason", "complete")
	lrs.AppendEmpty().Body().SetStr("a record of the CLI's own telemetry")
}

func newTestConsole(t *testing.T, out *bytes.Buffer) *console {
	t.Helper()
	c, err := newConsole(&Config{Output: OutputStdout, TimeZone: "UTC"}, componenttest.NewNopTelemetrySettings(), out)
	require.NoError(t, err)
	c.now = func() time.Time { return at.Add(time.Hour) }
	return c
}

func TestLines(t *testing.T) {
	ld := plog.NewLogs()
	// The README's example: two user requests on gpt-5.3-codex.
	summary{
		session: "0b1e1ed0-5a1e-4c0d-9b11-000000000002", repo: "payments-api", branch: "feature/PAY-4411",
		when: at, uid: "u1", userRequests: 2, calls: 6, in: 44525, out: 250, cacheRead: 22261,
		nano: 4635767500, premium: 2, added: 12, removed: 3, files: 1, cost: "0.046357675",
	}.appendTo(ld)
	other(ld)
	// A resumed session's second end (leg 1, counting from 0), on another day: the date is shown;
	// no repository, so the working directory's name; 1 of everything.
	summary{
		session: "a92b1b62-74c7-4c1a-af6c-ac66b8e23ba2", cwd: "/home/dev/ledger", leg: 1,
		when: time.Date(2026, 3, 9, 23, 59, 59, 0, time.UTC), uid: "u2", userRequests: 1, calls: 1, in: 1234567, out: 1,
		nano: 1, premium: 0.1 + 0.2, added: 1, files: 1,
	}.appendTo(ld)
	// Bring-your-own-key: no AI credits, no premium requests, no code; a
	// CLI killed, so the leg went idle without a shutdown.
	summary{session: "5fc41fe9-2cf0-4410-b210-6aeb460047e4", branch: "main", when: at, uid: "u3", userRequests: 1, calls: 2, in: 9000, out: 40, idle: true}.appendTo(ld)
	crossing(ld, "c1", 80, "8.120000001", "10", at.Add(time.Minute))
	crossing(ld, "c2", 100, "10.5", "10", at.Add(2*time.Minute))
	// The processor names the sessions that spent most of the window.
	top := ld.ResourceLogs().At(ld.ResourceLogs().Len() - 1).ScopeLogs().At(0).LogRecords().At(0).Attributes().PutEmptySlice("copilot.budget.top_sessions")
	for _, s := range []struct{ id, spend string }{{"0b1e1ed0-5a1e-4c0d-9b11-000000000002", "5.1"}, {"0b1e1ed0-5a1e-4c0d-9b11-000000000001", "2.02"}} {
		m := top.AppendEmpty().SetEmptyMap()
		m.PutStr("session.id", s.id)
		m.PutDouble("spend", 5.1)
		m.PutStr("spend_exact", s.spend)
	}

	var out bytes.Buffer
	c := newTestConsole(t, &out)
	require.NoError(t, c.pushLogs(context.Background(), ld))
	compareGolden(t, "testdata/lines.golden", out.String())
	assert.Equal(t, 5, strings.Count(out.String(), "\n"), "one line per summary and per crossing, none for the others")
}

// TestRewrittenBody: a summary whose body a transform processor turned
// into a sentence is shown with that sentence.
func TestRewrittenBody(t *testing.T) {
	ld := plog.NewLogs()
	summary{session: "0b1e1ed0-5a1e-4c0d-9b11-000000000001", repo: "payments-api", when: at, uid: "u"}.appendTo(ld)
	ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().SetStr("session 0b1e…: 2 user requests")
	var out bytes.Buffer
	require.NoError(t, newTestConsole(t, &out).pushLogs(context.Background(), ld))
	assert.Equal(t, "14:02:11 session 0b1e1ed0…0001 ended (payments-api): session 0b1e…: 2 user requests\n", out.String())
}

// TestOnceEach: a batch delivered again (a retry, a restart) writes
// nothing new; the crossing the processor re-emits has the same id.
func TestOnceEach(t *testing.T) {
	ld := plog.NewLogs()
	summary{session: "0b1e1ed0-5a1e-4c0d-9b11-000000000001", when: at, uid: "u1", userRequests: 1}.appendTo(ld)
	crossing(ld, "c1", 50, "5", "10", at)
	var out bytes.Buffer
	c := newTestConsole(t, &out)
	require.NoError(t, c.pushLogs(context.Background(), ld))
	first := out.String()
	require.NoError(t, c.pushLogs(context.Background(), ld))
	assert.Equal(t, first, out.String())
	assert.Equal(t, 2, strings.Count(first, "\n"))
}

func TestIDSetForgetsOldest(t *testing.T) {
	s := newIDSet(2)
	assert.True(t, s.add("a"))
	assert.True(t, s.add("b"))
	assert.False(t, s.add("a"))
	assert.True(t, s.add("c")) // a is forgotten
	assert.True(t, s.add("a"))
	assert.False(t, s.add("c"))
}

// TestConcurrent: batches pushed at once come out as whole lines, each
// once.
func TestConcurrent(t *testing.T) {
	var out bytes.Buffer
	c := newTestConsole(t, &out)
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ld := plog.NewLogs()
			id := strings.Repeat("0", 30) + string(rune('a'+i%26)) + string(rune('a'+i/26))
			summary{session: id, when: at, uid: id, userRequests: 3, calls: 3, in: 100, out: 10, nano: 1e9}.appendTo(ld)
			assert.NoError(t, c.pushLogs(context.Background(), ld))
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, n)
	seen := map[string]bool{}
	for _, l := range lines {
		assert.Regexp(t, `^14:02:11 session 00000000…00[a-z]{2} ended: 3 user requests, 3 model calls, 100 in / 10 out tokens, 1 AI credits, 0 premium requests$`, l)
		assert.False(t, seen[l], "line written twice: %s", l)
		seen[l] = true
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriteFailureIsPermanent(t *testing.T) {
	c, err := newConsole(&Config{Output: OutputStdout}, componenttest.NewNopTelemetrySettings(), failingWriter{})
	require.NoError(t, err)
	ld := plog.NewLogs()
	summary{session: "s", when: at, uid: "u"}.appendTo(ld)
	err = c.pushLogs(context.Background(), ld)
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err))
	// Nothing to write, nothing to fail.
	require.NoError(t, c.pushLogs(context.Background(), plog.NewLogs()))
}

func TestFormatting(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 44525: "44,525", 1234567: "1,234,567", -1234: "-1,234"} {
		assert.Equal(t, want, thousands(n), n)
	}
	for v, want := range map[float64]string{0: "0", 2: "2", 0.1 + 0.2: "0.3", 0.33: "0.33", 1e-10: "0"} {
		assert.Equal(t, want, decimal(v), v)
	}
	assert.Equal(t, "0b1e1ed0…0002", shortID("0b1e1ed0-5a1e-4c0d-9b11-000000000002"))
	assert.Equal(t, "short", shortID("short"))
}

func TestValidate(t *testing.T) {
	assert.NoError(t, (&Config{Output: OutputStderr, TimeZone: "Europe/Paris"}).Validate())
	assert.ErrorContains(t, (&Config{Output: "file"}).Validate(), `output: "file" is not "stdout" or "stderr"`)
	assert.ErrorContains(t, (&Config{Output: OutputStdout, TimeZone: "Mars/Olympus"}).Validate(), `time_zone: "Mars/Olympus" is not a time zone`)
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run the test with -update to write %s, then check it by hand", path)
	assert.Equal(t, string(want), got)
}
