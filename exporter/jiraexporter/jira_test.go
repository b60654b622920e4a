package jiraexporter

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-copilot/otelcol-copilot/exporter/jiraexporter/internal/metadata"
	"github.com/otelcol-copilot/otelcol-copilot/exporter/jiraexporter/internal/metadatatest"
	"github.com/otelcol-copilot/otelcol-copilot/internal/semconv"
	"github.com/otelcol-copilot/otelcol-copilot/internal/storageclient"
)

const (
	testEmail = "bot@acme.example"
	testToken = "s3cr3t-t0ken-never-logged"
)

// request is one request the stand-in Jira received.
type request struct {
	Method, Path string
	Body         map[string]any
	Raw          []byte
}

// fakeJira is a stand-in for Jira's REST API, v2 (bearer PAT) or v3
// (basic email and API token): issues that exist, fields on their edit
// screen, the comments posted on each issue, and a number of 429s to
// answer first.
type fakeJira struct {
	t         *testing.T
	v3        bool
	issues    map[string]bool
	onScreen  map[string]bool
	throttle  int
	mu        sync.Mutex
	requests  []request
	commentID int // the last comment id given out
	comments  map[string][]fakeComment
	// commentStatus, when set, answers comment requests instead.
	commentStatus int
	// pageSize is the most comments a GET of them answers with, whatever
	// maxResults asks (Jira has such a cap); 0: 50.
	pageSize int
}

// fakeComment is a comment on an issue: its id and its body, a string
// (v2) or an Atlassian Document Format document (v3).
type fakeComment struct {
	ID   string
	Body any
}

func (f *fakeJira) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var body map[string]any
	b, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(b, &body)
	f.requests = append(f.requests, request{Method: r.Method, Path: r.URL.Path, Body: body, Raw: b})
	prefix := "/rest/api/2/issue/"
	wantAuth := "Bearer " + testToken
	if f.v3 {
		prefix = "/rest/api/3/issue/"
		wantAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte(testEmail+":"+testToken))
	}
	if r.Header.Get("Authorization") != wantAuth {
		http.Error(w, `{"errorMessages":["You are not authenticated."]}`, http.StatusUnauthorized)
		return
	}
	if f.throttle > 0 {
		f.throttle--
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"errorMessages":["rate limited"]}`, http.StatusTooManyRequests)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	// <key>, <key>/comment or <key>/comment/<id>
	key, tail, _ := strings.Cut(rest, "/")
	commentPath, commentID, _ := strings.Cut(tail, "/")
	comment := commentPath == "comment"
	if tail != "" && !comment {
		http.NotFound(w, r)
		return
	}
	if !f.issues[key] {
		http.Error(w, `{"errorMessages":["Issue does not exist or you do not have permission to see it."]}`, http.StatusNotFound)
		return
	}
	if comment && f.commentStatus != 0 {
		http.Error(w, `{"errorMessages":["refused by the test"]}`, f.commentStatus)
		return
	}
	if comment && (r.Method == http.MethodPost || r.Method == http.MethodPut) && f.v3 {
		if _, isDoc := body["body"].(map[string]any); !isDoc {
			http.Error(w, `{"errorMessages":["Comment body is not valid!"]}`, http.StatusBadRequest)
			return
		}
	}
	switch {
	case comment && commentID != "" && r.Method == http.MethodPut:
		for i, c := range f.comments[key] {
			if c.ID == commentID {
				f.comments[key][i].Body = body["body"]
				_ = json.NewEncoder(w).Encode(map[string]any{"id": c.ID, "body": body["body"]})
				return
			}
		}
		http.Error(w, `{"errorMessages":["Can not find a comment for the id: `+commentID+`."]}`, http.StatusNotFound)
	case comment && commentID == "" && r.Method == http.MethodGet:
		all := slices.Clone(f.comments[key])
		if r.URL.Query().Get("orderBy") == "-created" {
			slices.Reverse(all)
		}
		startAt, _ := strconv.Atoi(r.URL.Query().Get("startAt"))
		n, _ := strconv.Atoi(r.URL.Query().Get("maxResults"))
		if size := cmp.Or(f.pageSize, 50); n <= 0 || n > size {
			n = size
		}
		page := []map[string]any{}
		for _, c := range all[min(startAt, len(all)):min(startAt+n, len(all))] {
			page = append(page, map[string]any{"id": c.ID, "body": c.Body, "author": map[string]any{"displayName": "bot"}})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"startAt": startAt, "maxResults": n, "total": len(all), "comments": page})
	case comment && commentID == "" && r.Method == http.MethodPost:
		f.commentID++
		id := strconv.Itoa(10000 + f.commentID)
		f.comments[key] = append(f.comments[key], fakeComment{ID: id, Body: body["body"]})
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "body": body["body"]})
	case tail == "" && r.Method == http.MethodPut:
		fields, _ := body["fields"].(map[string]any)
		for k := range fields {
			if !f.onScreen[k] {
				w.WriteHeader(http.StatusBadRequest)
				_ = json.NewEncoder(w).Encode(map[string]any{"errors": map[string]string{k: "Field '" + k + "' cannot be set. It is not on the appropriate screen, or unknown."}})
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (f *fakeJira) got() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.requests...)
}

// commentTexts are the texts of the issue's comments, oldest first: a v3
// body's text nodes joined.
func (f *fakeJira) commentTexts(key string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.comments[key] {
		out = append(out, fakeText(c.Body))
	}
	return out
}

func fakeText(body any) string {
	switch b := body.(type) {
	case string:
		return b
	case map[string]any:
		s, _ := b["text"].(string)
		content, _ := b["content"].([]any)
		for _, c := range content {
			s += fakeText(c)
		}
		return s
	}
	return ""
}

// addUserComment adds a comment someone wrote on the issue in Jira.
func (f *fakeJira) addUserComment(key, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commentID++
	var body any = text
	if f.v3 {
		body = map[string]any{"type": "doc", "version": 1, "content": []any{map[string]any{
			"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": text}},
		}}}
	}
	f.comments[key] = append(f.comments[key], fakeComment{ID: strconv.Itoa(10000 + f.commentID), Body: body})
}

// deleteComments deletes the issue's comments, as a user can in Jira.
func (f *fakeJira) deleteComments(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.comments, key)
}

// putsTo counts the field writes Jira applied to the issue key.
func (f *fakeJira) putsTo(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if r.Method == http.MethodPut && strings.HasSuffix(r.Path, "/issue/"+key) {
			n++
		}
	}
	return n
}

func (f *fakeJira) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = nil
}

func newFakeJira(t *testing.T, v3 bool) (*fakeJira, string) {
	f := &fakeJira{
		t: t, v3: v3,
		issues:   map[string]bool{"PAY-1": true, "PAY-2": true},
		onScreen: map[string]bool{"customfield_10100": true, "customfield_10101": true},
		comments: map[string][]fakeComment{},
	}
	srv := httptest.NewUnstartedServer(f)
	l, err := net.Listen("tcp", "127.0.0.1:0") // loopback only
	require.NoError(t, err)
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// summary is one copilot.session.summary as the receiver writes it, with
// the ticket the chargeback processor put on the record.
type summary struct {
	session, ticket string
	leg             int64
	nanoAIU         int64
	input, output   int64
	premium         float64
	cost            string // copilot.session.cost_exact; "" for none
}

func logsOf(ss ...summary) plog.Logs {
	ld := plog.NewLogs()
	for _, s := range ss {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr(semconv.AttrSessionID, s.session)
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.SetEventName(semconv.EventCopilotSessionSummary)
		lr.Attributes().PutInt(semconv.AttrCopilotSessionLeg, s.leg)
		if s.ticket != "" {
			lr.Attributes().PutStr("ticket", s.ticket)
		}
		b := lr.Body().SetEmptyMap()
		b.PutDouble("totalPremiumRequestCost", s.premium)
		b.PutInt("totalNanoAiu", s.nanoAIU)
		td := b.PutEmptyMap("tokenDetails")
		td.PutInt("input", s.input)
		td.PutInt("output", s.output)
		if s.cost != "" {
			lr.Attributes().PutStr("copilot.session.cost_exact", s.cost)
			lr.Attributes().PutStr("copilot.session.cost_currency", "EUR")
		}
	}
	return ld
}

func testConfig(endpoint string, v3 bool) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = endpoint
	cfg.Token = testToken
	if v3 {
		cfg.Email = testEmail
	} else {
		cfg.Deployment = deploymentDataCenter
	}
	cfg.Fields = Fields{Number: "customfield_10100", Value: valueCredits, Text: "customfield_10101", Template: "AI Credits: {{credits}}, Tokens: {{tokens}}"}
	cfg.Comment = true
	return cfg
}

// memStorage is a storage extension over one in-memory client, which
// outlives the exporters that use it, as a file_storage directory does.
type memStorage struct{ c *storageclient.Memory }

func (m memStorage) Start(context.Context, component.Host) error { return nil }
func (m memStorage) Shutdown(context.Context) error              { return nil }
func (m memStorage) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	return m.c, nil
}

type testHost struct {
	ext map[component.ID]component.Component
}

func (h testHost) GetExtensions() map[component.ID]component.Component { return h.ext }

var storageID = component.MustNewID("file_storage")

func hostWith(m *storageclient.Memory) component.Host {
	return testHost{ext: map[component.ID]component.Component{storageID: memStorage{c: m}}}
}

type run struct {
	e    *jiraExporter
	logs *observer.ObservedLogs
}

func startExporter(t *testing.T, cfg *Config, store *storageclient.Memory) run {
	core, logs := observer.New(zapcore.DebugLevel)
	set := exportertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	if store != nil {
		cfg.Storage = &storageID
	}
	require.NoError(t, cfg.Validate())
	e, err := newJiraExporter(cfg, set)
	require.NoError(t, err)
	require.NoError(t, e.start(context.Background(), hostWith(store)))
	t.Cleanup(func() { require.NoError(t, e.shutdown(context.Background())) })
	return run{e: e, logs: logs}
}

// puts are the field writes among rs.
func puts(rs []request) []map[string]any {
	var out []map[string]any
	for _, r := range rs {
		if r.Method == http.MethodPut && !strings.Contains(r.Path, "/comment") {
			out = append(out, r.Body["fields"].(map[string]any))
		}
	}
	return out
}

// comments are the comments posted among rs.
func comments(rs []request) []request {
	var out []request
	for _, r := range rs {
		if r.Method == http.MethodPost {
			out = append(out, r)
		}
	}
	return out
}

func TestWritesTicketTotal(t *testing.T) {
	for _, v3 := range []bool{true, false} {
		name := "v2"
		if v3 {
			name = "v3"
		}
		t.Run(name, func(t *testing.T) {
			f, url := newFakeJira(t, v3)
			r := startExporter(t, testConfig(url, v3), storageclient.NewMemory())
			ctx := context.Background()
			require.NoError(t, r.e.pushLogs(ctx, logsOf(
				summary{session: "s1", ticket: "PAY-1", nanoAIU: 1_500_000_000, input: 100, output: 20, premium: 1},
				summary{session: "s2", ticket: "PAY-1", nanoAIU: 250_000_000, input: 10, output: 5, premium: 0.5},
				summary{session: "s3", ticket: "unattributed", nanoAIU: 9_000_000_000},
				summary{session: "s4", nanoAIU: 9_000_000_000},
			)))
			got := f.got()
			p := puts(got)
			require.Len(t, p, 2)
			assert.Equal(t, map[string]any{"customfield_10100": 1.5, "customfield_10101": "AI Credits: 1.5, Tokens: 120"}, p[0])
			assert.Equal(t, map[string]any{"customfield_10100": 1.75, "customfield_10101": "AI Credits: 1.75, Tokens: 135"}, p[1])
			c := comments(got)
			require.Len(t, c, 2)
			for _, q := range got {
				assert.NotEqual(t, http.MethodGet, q.Method, "comments are listed only after a lost answer")
			}
			if v3 {
				assert.Equal(t, "/rest/api/3/issue/PAY-1/comment", c[0].Path)
				assert.Equal(t, "doc", c[0].Body["body"].(map[string]any)["type"])
			} else {
				assert.Equal(t, "/rest/api/2/issue/PAY-1/comment", c[0].Path)
				assert.Contains(t, c[0].Body["body"], "AI Credits: 1.5, Tokens: 120")
			}
		})
	}
}

// A replay, a resumed session and a restart write the same total and
// comment once per session leg.
func TestIdempotentAcrossReplayResumeRestart(t *testing.T) {
	f, url := newFakeJira(t, true)
	store := storageclient.NewMemory()
	ctx := context.Background()
	leg0 := summary{session: "s1", ticket: "PAY-1", nanoAIU: 2_000_000_000, input: 10, output: 10}
	leg1 := summary{session: "s1", ticket: "PAY-1", leg: 1, nanoAIU: 3_000_000_000, input: 20, output: 10}
	other := summary{session: "s2", ticket: "PAY-1", nanoAIU: 1_000_000_000, input: 1, output: 1}

	r := startExporter(t, testConfig(url, true), store)
	require.NoError(t, r.e.pushLogs(ctx, logsOf(leg0, other)))
	require.NoError(t, r.e.pushLogs(ctx, logsOf(leg0))) // replay: the total stays, nothing is written
	p := puts(f.got())
	require.Len(t, p, 2)
	assert.Equal(t, 3.0, p[1]["customfield_10100"])
	assert.Len(t, comments(f.got()), 2)

	// Resumed: leg 1 carries the session's cumulative usage, which
	// replaces leg 0's rather than adding to it.
	f.reset()
	require.NoError(t, r.e.pushLogs(ctx, logsOf(leg1)))
	assert.Equal(t, 4.0, puts(f.got())[0]["customfield_10100"])
	assert.Len(t, comments(f.got()), 1)

	// Restart: a new exporter over the same storage, which is sent
	// everything again, older leg last.
	f.reset()
	r2 := startExporter(t, testConfig(url, true), store)
	require.NoError(t, r2.e.pushLogs(ctx, logsOf(leg1, other, leg0)))
	assert.Empty(t, puts(f.got()), "the issue has the total already")
	assert.Empty(t, comments(f.got()), "every leg was commented on before")
	// A new session writes the new total.
	require.NoError(t, r2.e.pushLogs(ctx, logsOf(summary{session: "s3", ticket: "PAY-1", nanoAIU: 500_000_000, input: 1})))
	p = puts(f.got())
	require.Len(t, p, 1)
	assert.Equal(t, 4.5, p[0]["customfield_10100"])
	assert.Equal(t, "AI Credits: 4.5, Tokens: 33", p[0]["customfield_10101"])
}

// The number field can hold the ticket's cost: the exact sum of the
// chargeback processor's per-session costs, never written while a session
// of the ticket is unpriced.
func TestCostField(t *testing.T) {
	f, url := newFakeJira(t, true)
	cfg := testConfig(url, true)
	cfg.Fields.Value = valueCost
	cfg.Fields.Template = "AI cost: {{cost}} {{currency}} ({{sessions}} sessions)"
	cfg.Comment = false
	r := startExporter(t, cfg, storageclient.NewMemory())
	ctx := context.Background()
	require.NoError(t, r.e.pushLogs(ctx, logsOf(
		summary{session: "s1", ticket: "PAY-1", nanoAIU: 1, cost: "0.100000000000000001"},
		summary{session: "s2", ticket: "PAY-1", nanoAIU: 1, cost: "0.2"},
	)))
	p := puts(f.got())
	require.Len(t, p, 2)
	assert.Equal(t, "AI cost: 0.300000000000000001 EUR (2 sessions)", p[1]["customfield_10101"])
	assert.Equal(t, 0.3, p[1]["customfield_10100"])
	assert.Contains(t, string(f.got()[1].Raw), `"customfield_10100":0.300000000000000001`, "the exact decimal goes on the wire")

	// A session without a cost: the number field is not written (and the
	// drop is counted and logged), the text says so.
	f.reset()
	require.NoError(t, r.e.pushLogs(ctx, logsOf(summary{session: "s3", ticket: "PAY-1", nanoAIU: 1})))
	p = puts(f.got())
	require.Len(t, p, 1)
	assert.Equal(t, map[string]any{"customfield_10101": "AI cost: unpriced EUR (3 sessions)"}, p[0])
	assert.Equal(t, 1, r.logs.FilterMessage("Jira write dropped").FilterField(zap.String("reason", "unpriced")).Len())
}

// A killed session's leg gets an idle summary and, if the CLI comes back
// to it, its shutdown's: the bigger one stands, in whatever order they
// come.
func TestIdleThenShutdownOfOneLeg(t *testing.T) {
	f, url := newFakeJira(t, true)
	r := startExporter(t, testConfig(url, true), storageclient.NewMemory())
	ctx := context.Background()
	idle := summary{session: "s1", ticket: "PAY-1", nanoAIU: 1_000_000_000, input: 10, output: 1}
	shutdown := summary{session: "s1", ticket: "PAY-1", nanoAIU: 2_000_000_000, input: 20, output: 2}
	require.NoError(t, r.e.pushLogs(ctx, logsOf(idle, shutdown, idle)))
	p := puts(f.got())
	require.Len(t, p, 2, "the idle summary after the shutdown's changes nothing")
	for i, want := range []float64{1, 2} {
		assert.Equal(t, want, p[i]["customfield_10100"], i)
	}
}

// A batch that fails part way (here a proxy's 502 to the second ticket's
// write, which Jira applied) is tried again whole: the retry writes no
// ticket whose fields already hold their total, so that each try goes on
// from where the last stopped. With retries without end (the default) and
// a batch of many tickets whose writes take longer than the timeout, a
// retry that wrote every ticket again would never get past the same one.
func TestRetryGoesOnWhereItStopped(t *testing.T) {
	f, _ := newFakeJira(t, false)
	var failed atomic.Bool
	url := serveAfter(t, f, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/issue/PAY-2") && failed.CompareAndSwap(false, true) {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return true
		}
		return false
	})
	cfg := testConfig(url, false)
	cfg.Comment = false
	r := startExporter(t, cfg, storageclient.NewMemory())
	ctx := context.Background()
	batch := logsOf(
		summary{session: "s1", ticket: "PAY-1", nanoAIU: 1_000_000_000, input: 1},
		summary{session: "s2", ticket: "PAY-2", nanoAIU: 2_000_000_000, input: 2},
	)
	require.Error(t, r.e.pushLogs(ctx, batch))
	require.NoError(t, r.e.pushLogs(ctx, batch)) // the retry
	writes := map[string]int{}
	for _, q := range f.got() {
		if q.Method == http.MethodPut {
			writes[q.Path]++
		}
	}
	assert.Equal(t, map[string]int{"/rest/api/2/issue/PAY-1": 1, "/rest/api/2/issue/PAY-2": 2}, writes,
		"PAY-1 once; PAY-2 again, as its answer was lost")
	p := puts(f.got())
	assert.Equal(t, 2.0, p[len(p)-1]["customfield_10100"])
}

func TestDrops(t *testing.T) {
	f, url := newFakeJira(t, false)
	ctx := context.Background()

	cfg := testConfig(url, false)
	r := startExporter(t, cfg, nil)
	require.NoError(t, r.e.pushLogs(ctx, logsOf(summary{session: "s1", ticket: "NOPE-9", nanoAIU: 1})))
	entries := r.logs.FilterMessage("Jira write dropped").All()
	require.Len(t, entries, 1)
	assert.Equal(t, "not_found", entries[0].ContextMap()["reason"])
	assert.Equal(t, "NOPE-9", entries[0].ContextMap()["ticket"])
	assert.Empty(t, comments(f.got()), "no comment on an issue that does not exist")

	cfg = testConfig(url, false)
	cfg.Fields.Text = "customfield_99999" // not on the screen
	r = startExporter(t, cfg, nil)
	require.NoError(t, r.e.pushLogs(ctx, logsOf(summary{session: "s1", ticket: "PAY-2", nanoAIU: 1})))
	entries = r.logs.FilterMessage("Jira write dropped").All()
	require.Len(t, entries, 1)
	assert.Equal(t, "bad_request", entries[0].ContextMap()["reason"])
	assert.Equal(t, "PAY-2", entries[0].ContextMap()["ticket"])
	assert.Contains(t, entries[0].ContextMap()["detail"], "customfield_99999")
	assert.Contains(t, entries[0].ContextMap()["field"], "customfield_99999")

	cfg = testConfig(url, false)
	cfg.Token = "wrong"
	r = startExporter(t, cfg, nil)
	require.NoError(t, r.e.pushLogs(ctx, logsOf(summary{session: "s1", ticket: "PAY-2", nanoAIU: 1})))
	entries = r.logs.FilterMessage("Jira write dropped").All()
	require.Len(t, entries, 1)
	assert.Equal(t, "unauthorized", entries[0].ContextMap()["reason"])
}

// Through the exporter helper's retry: a 429 is retried after its
// Retry-After, and the value lands once throttling ends.
func TestRetriesAfter429(t *testing.T) {
	f, url := newFakeJira(t, true)
	f.throttle = 1
	cfg := testConfig(url, true)
	cfg.Comment = false
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.RetryConfig.InitialInterval = 10 * time.Millisecond
	set := exportertest.NewNopSettings(metadata.Type)
	exp, err := NewFactory().CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), hostWith(nil)))
	require.NoError(t, exp.ConsumeLogs(context.Background(), logsOf(summary{session: "s1", ticket: "PAY-1", nanoAIU: 1_000_000_000})))
	require.NoError(t, exp.Shutdown(context.Background()))
	got := f.got()
	require.Len(t, got, 2)
	assert.Equal(t, 1.0, puts(got)[1]["customfield_10100"])
}

func TestDryRunWritesNothing(t *testing.T) {
	f, url := newFakeJira(t, true)
	cfg := testConfig(url, true)
	cfg.DryRun = true
	r := startExporter(t, cfg, nil)
	require.NoError(t, r.e.pushLogs(context.Background(), logsOf(summary{session: "s1", ticket: "PAY-1", nanoAIU: 1_000_000_000, input: 3, output: 4})))
	assert.Empty(t, f.got())
	assert.Len(t, r.logs.FilterMessage("Dry run: would set fields").All(), 1)
	assert.Len(t, r.logs.FilterMessage("Dry run: would comment").All(), 1)
}

// The token appears in no log entry, whatever happens.
func TestCredentialsNeverLogged(t *testing.T) {
	_, url := newFakeJira(t, true)
	cfg := testConfig(url, true)
	r := startExporter(t, cfg, nil)
	_ = r.e.pushLogs(context.Background(), logsOf(
		summary{session: "s1", ticket: "PAY-1", nanoAIU: 1},
		summary{session: "s1", ticket: "NOPE-1", nanoAIU: 1},
	))
	cfg2 := testConfig("http://127.0.0.1:1", true)
	r2 := startExporter(t, cfg2, nil)
	err := r2.e.pushLogs(context.Background(), logsOf(summary{session: "s1", ticket: "PAY-1", nanoAIU: 1}))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), testToken)
	for _, r := range []run{r, r2} {
		require.NotZero(t, r.logs.Len())
		for _, e := range r.logs.All() {
			b, _ := json.Marshal(e.ContextMap())
			assert.NotContains(t, e.Message+string(b), testToken)
		}
	}
}

// Updates, comments and drops by reason are counted in the exporter's own
// telemetry.
func TestTelemetry(t *testing.T) {
	_, url := newFakeJira(t, true)
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	set := metadatatest.NewSettings(tt)
	set.ID = component.NewID(metadata.Type)
	e, err := newJiraExporter(testConfig(url, true), set)
	require.NoError(t, err)
	require.NoError(t, e.start(context.Background(), hostWith(nil)))
	t.Cleanup(func() { require.NoError(t, e.shutdown(context.Background())) })
	require.NoError(t, e.pushLogs(context.Background(), logsOf(
		summary{session: "s1", ticket: "PAY-1", nanoAIU: 1},
		summary{session: "s2", ticket: "NOPE-1", nanoAIU: 1},
	)))
	metadatatest.AssertEqualExporterJiraUpdates(t, tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualExporterJiraComments(t, tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualExporterJiraDrops(t, tt, []metricdata.DataPoint[int64]{
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "not_found"))},
	}, metricdatatest.IgnoreTimestamp())
}

// Premium requests are fractional (a sum of model multipliers): the
// ticket's total is their exact decimal sum, the same whatever order the
// sessions are summed in, in the number field and in the text. As doubles,
// six sessions of 0.33 came to 1.9800000000000002.
func TestPremiumRequestsSumExactly(t *testing.T) {
	f, url := newFakeJira(t, true)
	cfg := testConfig(url, true)
	cfg.Comment = false
	cfg.Fields = Fields{Number: "customfield_10100", Value: valuePremiumRequests, Text: "customfield_10101", Template: "Premium requests: {{premium_requests}}"}
	r := startExporter(t, cfg, storageclient.NewMemory())
	ctx := context.Background()
	for _, s := range []string{"s1", "s2", "s3", "s4", "s5", "s6"} {
		require.NoError(t, r.e.pushLogs(ctx, logsOf(summary{session: s, ticket: "PAY-1", premium: 0.33})))
	}
	got := f.got()
	require.Len(t, got, 6)
	last := got[5]
	assert.Equal(t, "Premium requests: 1.98", puts(got)[5]["customfield_10101"])
	assert.Contains(t, string(last.Raw), `"customfield_10100":1.98,`, "the exact decimal goes on the wire")
}

func TestExactPremiumRequests(t *testing.T) {
	for _, tt := range []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{0.33, "0.33"},
		{1.9800000000000002, "1.9800000000000002"}, // what the CLI reported stands
		{12, "12"},
		{1.5e-20, "0"},                     // more than 18 decimals: rounded
		{1.25e-17, "0.000000000000000012"}, // 19 decimals: rounded to 18
	} {
		assert.Equal(t, tt.want, exactPremiumRequests(tt.in).String(), "%v", tt.in)
	}
}

// Jira refuses the token (401: it expired): the field and the comment are
// dropped. Once the token is fixed, the ticket's next summary (another
// session's) writes the full total and posts the comment the refused leg
// is missing, as well as its own.
func TestNextSummaryPostsCommentsRefusedBefore(t *testing.T) {
	f, url := newFakeJira(t, true)
	store := storageclient.NewMemory()
	ctx := context.Background()
	expired := testConfig(url, true)
	expired.Token = "expired"
	r := startExporter(t, expired, store)
	require.NoError(t, r.e.pushLogs(ctx, logsOf(summary{session: "s1", ticket: "PAY-1", nanoAIU: 1_000_000_000})))
	assert.Equal(t, 1, r.logs.FilterMessage("Jira write dropped").FilterField(zap.String("reason", "unauthorized")).Len())
	assert.Empty(t, f.commentTexts("PAY-1"))

	r2 := startExporter(t, testConfig(url, true), store) // the token fixed, restarted
	require.NoError(t, r2.e.pushLogs(ctx, logsOf(summary{session: "s2", ticket: "PAY-1", nanoAIU: 500_000_000})))
	p := puts(f.got())
	assert.Equal(t, 1.5, p[len(p)-1]["customfield_10100"], "the full total")
	texts := f.commentTexts("PAY-1")
	require.Len(t, texts, 2)
	assert.Contains(t, texts[0], "GitHub Copilot session s1 (leg 0): AI Credits: 1,")
	assert.Contains(t, texts[1], "GitHub Copilot session s2 (leg 0): AI Credits: 0.5,")

	// Nothing is missing any more: a replay posts nothing.
	require.NoError(t, r2.e.pushLogs(ctx, logsOf(summary{session: "s1", ticket: "PAY-1", nanoAIU: 1_000_000_000})))
	assert.Len(t, f.commentTexts("PAY-1"), 2)
}

// Jira refuses a comment alone: a 403 (the account may not comment yet)
// leaves the leg's comment to the ticket's next summary; a 400 (Jira will
// never take that comment) is dropped for good, not sent again at every
// summary.
func TestCommentRefusedAlone(t *testing.T) {
	for _, tt := range []struct {
		status int
		reason string
		want   []string
	}{
		{http.StatusForbidden, "unauthorized", []string{"session s1 (leg 0)", "session s2 (leg 0)"}},
		{http.StatusBadRequest, "bad_request", []string{"session s2 (leg 0)"}},
	} {
		t.Run(tt.reason, func(t *testing.T) {
			f, url := newFakeJira(t, false)
			r := startExporter(t, testConfig(url, false), storageclient.NewMemory())
			ctx := context.Background()
			f.mu.Lock()
			f.commentStatus = tt.status
			f.mu.Unlock()
			require.NoError(t, r.e.pushLogs(ctx, logsOf(summary{session: "s1", ticket: "PAY-1", nanoAIU: 1_000_000_000})))
			assert.Equal(t, 1, r.logs.FilterMessage("Jira write dropped").FilterField(zap.String("reason", tt.reason)).Len())
			f.mu.Lock()
			f.commentStatus = 0
			f.mu.Unlock()
			require.NoError(t, r.e.pushLogs(ctx, logsOf(summary{session: "s2", ticket: "PAY-1", nanoAIU: 1_000_000_000})))
			texts := f.commentTexts("PAY-1")
			require.Len(t, texts, len(tt.want))
			for i, w := range tt.want {
				assert.Contains(t, texts[i], w)
			}
		})
	}
}

// A killed session's leg gets its idle summary, then (the CLI was only
// quiet) its shutdown's with more usage: the leg's comment is updated to
// the shutdown's usage, so it agrees with the field; an older summary
// coming again changes nothing. A comment deleted in Jira is posted anew
// when its leg's usage changes.
func TestCommentFollowsItsLegsUsage(t *testing.T) {
	for _, v3 := range []bool{true, false} {
		t.Run(map[bool]string{true: "v3", false: "v2"}[v3], func(t *testing.T) {
			f, url := newFakeJira(t, v3)
			r := startExporter(t, testConfig(url, v3), storageclient.NewMemory())
			ctx := context.Background()
			idle := summary{session: "s1", ticket: "PAY-1", nanoAIU: 1_000_000_000, input: 10, output: 1}
			shutdown := summary{session: "s1", ticket: "PAY-1", nanoAIU: 2_000_000_000, input: 20, output: 2}
			require.NoError(t, r.e.pushLogs(ctx, logsOf(idle)))
			require.NoError(t, r.e.pushLogs(ctx, logsOf(shutdown)))
			assert.Equal(t, []string{"GitHub Copilot session s1 (leg 0): AI Credits: 2, Tokens: 22, Premium requests: 0"}, f.commentTexts("PAY-1"))
			var updates []request
			for _, q := range f.got() {
				if q.Method == http.MethodPut && strings.HasSuffix(q.Path, "/comment/10001") {
					updates = append(updates, q)
				}
			}
			require.Len(t, updates, 1, "the leg's comment is updated in place")
			if v3 {
				assert.Equal(t, "doc", updates[0].Body["body"].(map[string]any)["type"], "Atlassian Document Format")
			}

			f.reset()
			require.NoError(t, r.e.pushLogs(ctx, logsOf(idle, shutdown)))
			for _, q := range f.got() {
				assert.NotContains(t, q.Path, "/comment", "the comment says the leg's usage already")
			}

			// Deleted in Jira: the next change of the leg's usage posts a
			// new comment.
			f.deleteComments("PAY-1")
			later := shutdown
			later.nanoAIU = 3_000_000_000
			require.NoError(t, r.e.pushLogs(ctx, logsOf(later)))
			assert.Equal(t, []string{"GitHub Copilot session s1 (leg 0): AI Credits: 3, Tokens: 22, Premium requests: 0"}, f.commentTexts("PAY-1"))
			assert.Empty(t, r.logs.FilterMessage("Jira write dropped").All())
		})
	}
}
