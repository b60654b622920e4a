package copilotreceiver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	zapobserver "go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/metadata"
)

func TestStoreConfig(t *testing.T) {
	ss := SessionStateConfig{Include: []string{
		"/home/a/.copilot/session-state/*/events.jsonl",
		"/home/a/.copilot/session-state/**/events.jsonl",
		"/home/*/.copilot/session-state/*/events.jsonl", // no fixed COPILOT_HOME
		"/srv/transcripts/*/events.jsonl",               // not a session-state directory
		"/home/b/.copilot/session-state/*/events.jsonl",
	}}
	for _, tc := range []struct {
		store string
		paths []string
		err   string
	}{
		{store: StoreAuto, paths: []string{"/home/a/.copilot/session-store.db", "/home/b/.copilot/session-store.db"}},
		{store: StoreNone},
		{store: ""},
		{store: "/var/lib/copilot/session-store.db", paths: []string{"/var/lib/copilot/session-store.db"}},
		{store: "session-store.db", err: `session_state::store: "session-store.db" is not an absolute path`},
		{store: "~/.copilot/session-store.db", err: `session_state::store: "~/.copilot/session-store.db" is not an absolute path`},
	} {
		t.Run(tc.store, func(t *testing.T) {
			ss.Store = tc.store
			err := ss.validateStore()
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.paths, ss.storePaths())
		})
	}
	assert.Equal(t, StoreAuto, createDefaultConfig().(*Config).SessionState.Store)
}

// fakeStore answers the cross-check from a map of sessions.
type fakeStore struct {
	noUsage  bool
	sessions map[string]storeSession
	opened   *int
}

func (f *fakeStore) Session(_ context.Context, id string) (storeSession, bool, error) {
	s, ok := f.sessions[id]
	return s, ok, nil
}
func (f *fakeStore) Close() error { return nil }

// summaryOf is a shutdown's cumulative totals of one model.
func summaryOf(id string, leg int, at time.Time, calls int64, tokens session.TokenDetails, nano int64) session.SummaryFact {
	return session.SummaryFact{
		Ctx: &session.Context{SessionID: id}, Time: at, Leg: leg, ShutdownType: "routine",
		Usage: session.UsageSummary{
			TotalNanoAIU: nano,
			TokenDetails: tokens,
			ModelMetrics: map[string]session.ModelSummary{"gpt-4.1": {Requests: session.RequestSummary{Count: calls}}},
		},
	}
}

func mismatches(t *testing.T, tel *componenttest.Telemetry) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	m, err := tel.GetMetric("otelcol_receiver_copilot_source_mismatch")
	if err != nil {
		return out // nothing counted yet
	}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		f, _ := dp.Attributes.Value("field")
		out[f.AsString()] += dp.Value
	}
	return out
}

// TestStoreCheck: a shutdown whose totals differ from the store's sums is
// counted by field and logged once per session; what the store cannot
// answer is skipped without a count.
func TestStoreCheck(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	tokens := session.TokenDetails{Input: 100, Output: 10, CacheRead: 50, Reasoning: 5}
	store := &fakeStore{sessions: map[string]storeSession{
		"same":     {Calls: 2, Input: 100, Output: 10, CacheRead: 50, Reasoning: 5, First: t0, Last: t0.Add(time.Second)},
		"output":   {Calls: 2, Input: 100, Output: 11, CacheRead: 50, Reasoning: 5, First: t0, Last: t0.Add(time.Second)},
		"later":    {Calls: 3, Input: 150, Output: 15, CacheRead: 75, Reasoning: 5, First: t0, Last: t0.Add(time.Hour)},
		"joined":   {Calls: 1, Input: 50, Output: 5, CacheRead: 25, First: t0.Add(time.Hour), Last: t0.Add(time.Hour)},
		"multiple": {Calls: 3, Input: 100, Output: 10, CacheRead: 50, Reasoning: 5, NanoAIU: 7, Last: t0},
	}}
	dir := t.TempDir()
	path := filepath.Join(dir, storeFileName)
	require.NoError(t, os.WriteFile(path, nil, 0o644))

	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	tb, err := metadata.NewTelemetryBuilder(tel.NewTelemetrySettings())
	require.NoError(t, err)
	core, logs := zapobserver.New(zapcore.DebugLevel)
	noUsage := false
	c := newStoreCheck([]string{path}, func(context.Context, string) (storeReader, error) {
		if noUsage {
			return nil, errNoUsageTable
		}
		return store, nil
	}, tb, zap.New(core))
	consume := func(sf ...session.SummaryFact) {
		require.NoError(t, c.signal().Consume(context.Background(), &session.Facts{Summaries: sf}))
	}

	consume(summaryOf("same", 0, t0.Add(2*time.Second), 2, tokens, 0))
	assert.Empty(t, mismatches(t, tel), "equal totals")

	consume(summaryOf("output", 0, t0.Add(2*time.Second), 2, tokens, 0))
	assert.Equal(t, map[string]int64{"output_tokens": 1}, mismatches(t, tel))
	warns := logs.FilterLevelExact(zapcore.WarnLevel).All()
	require.Len(t, warns, 1)
	assert.Equal(t, map[string]any{
		"session.id": "output", "leg": int64(0), "field": "output_tokens", "transcript": int64(10), "store": int64(11),
		"fields": int64(1), "store.path": path,
	}, warns[0].ContextMap())

	// the same session again (a resumed leg's shutdown): counted, not logged
	consume(summaryOf("output", 1, t0.Add(3*time.Second), 2, tokens, 0))
	assert.Equal(t, map[string]int64{"output_tokens": 2}, mismatches(t, tel))
	assert.Len(t, logs.FilterLevelExact(zapcore.WarnLevel).All(), 1, "one warning per session")

	// a first shutdown read after the store has the next leg's calls
	consume(summaryOf("later", 0, t0.Add(2*time.Second), 2, tokens, 0))
	// a session whose first leg a CLI without the usage table ran
	consume(summaryOf("joined", 0, t0.Add(time.Minute), 5, tokens, 0), summaryOf("joined", 1, t0.Add(2*time.Hour), 6, tokens, 0))
	// a leg that went idle, and a session the store does not have
	idle := summaryOf("output", 2, t0.Add(time.Hour), 1, tokens, 0)
	idle.ShutdownType = session.ShutdownIdle
	consume(idle, summaryOf("unknown", 0, t0, 1, tokens, 0))
	assert.Equal(t, map[string]int64{"output_tokens": 2}, mismatches(t, tel), "nothing the store cannot answer is counted")

	consume(summaryOf("multiple", 0, t0.Add(time.Second), 2, tokens, 0))
	assert.Equal(t, map[string]int64{"output_tokens": 2, "calls": 1, "nano_aiu": 1}, mismatches(t, tel))
	assert.Equal(t, "calls", logs.FilterLevelExact(zapcore.WarnLevel).All()[1].ContextMap()["field"], "the first field in order is logged")

	noUsage = true
	consume(summaryOf("output", 0, t0.Add(2*time.Second), 2, tokens, 0), summaryOf("output", 1, t0.Add(2*time.Second), 2, tokens, 0))
	assert.Len(t, logs.FilterMessageSnippet("No usage in the CLI's session store").All(), 1, "logged once")
	assert.Equal(t, map[string]int64{"output_tokens": 2, "calls": 1, "nano_aiu": 1}, mismatches(t, tel))
}

// TestStoreCheckMissingStore: a store that is not there is logged once, at
// info, and the batch goes on.
func TestStoreCheckMissingStore(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	tb, err := metadata.NewTelemetryBuilder(tel.NewTelemetrySettings())
	require.NoError(t, err)
	core, logs := zapobserver.New(zapcore.InfoLevel)
	opened := 0
	c := newStoreCheck([]string{filepath.Join(t.TempDir(), storeFileName)}, func(context.Context, string) (storeReader, error) {
		opened++
		return &fakeStore{}, nil
	}, tb, zap.New(core))
	for range 3 {
		require.NoError(t, c.signal().Consume(context.Background(), &session.Facts{Summaries: []session.SummaryFact{
			summaryOf("s", 0, time.Now(), 1, session.TokenDetails{}, 0),
		}}))
	}
	assert.Zero(t, opened)
	require.Len(t, logs.All(), 1)
	assert.Equal(t, zapcore.InfoLevel, logs.All()[0].Level)
	assert.Empty(t, mismatches(t, tel))
}

// TestStoreCheckOpensOncePerBatch: a batch's shutdowns (a backlog's
// thousands) are compared with one opening of the store, not one each; a
// store that cannot be opened is tried once per batch, and one whose query
// failed is opened again for the next shutdown.
func TestStoreCheckOpensOncePerBatch(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	tokens := session.TokenDetails{Input: 100, Output: 10}
	store := &countingStore{fakeStore: fakeStore{sessions: map[string]storeSession{}}}
	var batch []session.SummaryFact
	for i := range 50 {
		id := fmt.Sprintf("s%02d", i)
		store.sessions[id] = storeSession{Calls: 2, Input: 100, Output: 10, First: t0, Last: t0}
		batch = append(batch, summaryOf(id, 0, t0.Add(time.Second), 2, tokens, 0))
	}
	path := filepath.Join(t.TempDir(), storeFileName)
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	tb, err := metadata.NewTelemetryBuilder(tel.NewTelemetrySettings())
	require.NoError(t, err)
	opens := 0
	var openErr error
	c := newStoreCheck([]string{path}, func(context.Context, string) (storeReader, error) {
		opens++
		if openErr != nil {
			return nil, openErr
		}
		return store, nil
	}, tb, zap.NewNop())
	consume := func() {
		require.NoError(t, c.signal().Consume(context.Background(), &session.Facts{Summaries: batch}))
	}

	consume()
	assert.Equal(t, 1, opens, "openings for a batch of 50 shutdowns")
	assert.Equal(t, int64(50), c.compared)
	assert.Equal(t, 1, store.closed, "the store is closed after the batch")
	assert.Empty(t, mismatches(t, tel))

	consume()
	assert.Equal(t, 2, opens, "one opening per batch")

	openErr = errors.New("locked")
	consume()
	assert.Equal(t, 3, opens, "a store that cannot be opened is tried once per batch")
	assert.Equal(t, int64(100), c.compared)

	openErr, store.failQueries = nil, 1
	consume()
	assert.Equal(t, 5, opens, "opened again after a failed query")
	assert.Equal(t, int64(149), c.compared, "every shutdown but the one whose query failed")
}

// countingStore is a fakeStore that counts closings and can fail queries.
type countingStore struct {
	fakeStore
	closed      int
	failQueries int
}

func (s *countingStore) Session(ctx context.Context, id string) (storeSession, bool, error) {
	if s.failQueries > 0 {
		s.failQueries--
		return storeSession{}, false, errors.New("database is locked")
	}
	return s.fakeStore.Session(ctx, id)
}

func (s *countingStore) Close() error { s.closed++; return nil }

// everyStoreCall is a store row with every attribute of the per-call
// metrics set.
func everyStoreCall() storeCall {
	return storeCall{
		RowID: 1, SessionID: "s", Model: "auto", UsageModel: "gpt-5.3-codex", Initiator: "user",
		ReasoningEffort: "high", FinishReason: "content_filter", ContentFilter: true,
		OutputTTFTMs: 420, HasOutputTTFT: true, InterTokenLatencyMs: 12.5, HasInterTok: true,
		CreatedAt: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC),
	}
}

// TestStoreCallMetrics: each store row is one observation of the two
// histograms, in seconds, and a content filter hit one count; finish
// reasons are the semantic conventions' string array. The histograms are
// off by default, the counter on.
func TestStoreCallMetrics(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	calls := []storeCall{
		everyStoreCall(),
		{RowID: 2, SessionID: "s", Model: "gpt-4.1", Initiator: "agent", FinishReason: "stop", OutputTTFTMs: 40, HasOutputTTFT: true, InterTokenLatencyMs: 30, HasInterTok: true, CreatedAt: t0},
		{RowID: 3, SessionID: "s", Model: "gpt-4.1", Initiator: "agent", FinishReason: "stop", OutputTTFTMs: 60, HasOutputTTFT: true, InterTokenLatencyMs: 50, HasInterTok: true, CreatedAt: t0},
		// 1.0.80: no output_ttft_ms
		{RowID: 4, SessionID: "s", Model: "gpt-4.1", FinishReason: "tool_calls", InterTokenLatencyMs: 0.5, HasInterTok: true, CreatedAt: t0},
	}
	ctxOf := func(string) *session.Context { return &session.Context{SessionID: "s", Branch: "main"} }

	cfg := testConfig()
	mb, _, _ := builders(cfg)
	md := mb.buildCalls(calls, ctxOf, time.Time{})
	names := map[string]pmetric.Metric{}
	for _, m := range md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().All() {
		names[m.Name()] = m
	}
	require.Len(t, names, 1, "only the content filter counter by default")
	hits := names["copilot.api.content_filter_hits"].Sum().DataPoints()
	require.Equal(t, 1, hits.Len())
	assert.Equal(t, int64(1), hits.At(0).IntValue())
	assert.Equal(t, map[string]any{
		"gen_ai.request.model": "auto", "gen_ai.response.model": "gpt-5.3-codex", "copilot.initiator": "user",
		"gen_ai.response.finish_reasons": []any{"content_filter"}, "gen_ai.request.reasoning.level": "high",
	}, hits.At(0).Attributes().AsRaw())
	branch, _ := md.ResourceMetrics().At(0).Resource().Attributes().Get("vcs.ref.head.name")
	assert.Equal(t, "main", branch.Str(), "the session's resource")

	cfg.Histograms.ServerTimeToFirstToken.Enabled = true
	cfg.Histograms.ServerTimePerOutputToken.Enabled = true
	mb, _, _ = builders(cfg)
	md = mb.buildCalls(calls, ctxOf, time.Time{})
	names = map[string]pmetric.Metric{}
	for _, m := range md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().All() {
		names[m.Name()] = m
	}
	ttft := names["gen_ai.server.time_to_first_token"]
	assert.Equal(t, "s", ttft.Unit())
	type obs struct {
		count  uint64
		sum    float64
		finish any
	}
	points := func(m pmetric.Metric) map[string]obs {
		out := map[string]obs{}
		for _, dp := range m.Histogram().DataPoints().All() {
			model, _ := dp.Attributes().Get("gen_ai.request.model")
			f, _ := dp.Attributes().Get("gen_ai.response.finish_reasons")
			out[model.Str()+"/"+f.AsString()] = obs{dp.Count(), dp.Sum(), f.AsRaw()}
		}
		return out
	}
	got := points(ttft)
	assert.Equal(t, uint64(1), got[`auto/["content_filter"]`].count)
	assert.InDelta(t, 0.42, got[`auto/["content_filter"]`].sum, 1e-9)
	assert.Equal(t, uint64(2), got[`gpt-4.1/["stop"]`].count)
	assert.InDelta(t, 0.1, got[`gpt-4.1/["stop"]`].sum, 1e-9)
	assert.Len(t, got, 2, "a row without output_ttft_ms is no observation")
	assert.Equal(t, semconvTTFTBuckets, ttft.Histogram().DataPoints().At(0).ExplicitBounds().AsRaw())

	tpot := points(names["gen_ai.server.time_per_output_token"])
	assert.Len(t, tpot, 3)
	assert.InDelta(t, 0.0005, tpot[`gpt-4.1/["tool_calls"]`].sum, 1e-12)
	assert.InDelta(t, 0.08, tpot[`gpt-4.1/["stop"]`].sum, 1e-9)
	assert.Equal(t, semconvTPOTBuckets, names["gen_ai.server.time_per_output_token"].Histogram().DataPoints().At(0).ExplicitBounds().AsRaw())
}

const storesDir = "../../testdata/copilot-cli/stores"

// TestStoreCrossCheckRecorded: over the real stores of CLI 1.0.20 to
// 1.0.102, with the transcripts of the same sessions, nothing differs, and
// exactly the shutdowns the store can answer are compared: the last
// shutdown of each session with per-call rows (1.0.80 on), none of the
// session resumed by a CLI whose store joined after its first leg, none
// where there is no store or no usage table.
func TestStoreCrossCheckRecorded(t *testing.T) {
	want := map[string]int64{
		"1.0.20-resumed": 0, "1.0.40-resumed": 0, "1.0.60-resumed": 0, "1.0.65-resumed": 0, "1.0.66-resumed": 0,
		"1.0.80-resumed": 1, "1.0.92-resumed": 1, "1.0.102-resumed": 1,
		"1.0.80-subagent": 1, "1.0.92-subagent": 1, "1.0.102-subagent": 1,
		"mixed-1.0.66-to-1.0.102": 0,
	}
	dirs, err := filepath.Glob(filepath.Join(storesDir, "*", "session-state"))
	require.NoError(t, err)
	require.Len(t, dirs, len(want))
	for _, d := range dirs {
		name := filepath.Base(filepath.Dir(d))
		t.Run(name, func(t *testing.T) {
			tel := componenttest.NewTelemetry()
			t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
			tb, err := metadata.NewTelemetryBuilder(tel.NewTelemetrySettings())
			require.NoError(t, err)
			core, logs := zapobserver.New(zapcore.DebugLevel)
			store := filepath.Join(filepath.Dir(d), storeFileName)
			c := newStoreCheck([]string{store}, func(ctx context.Context, p string) (storeReader, error) {
				return openSessionStore(ctx, p)
			}, tb, zap.New(core))
			files, err := filepath.Glob(filepath.Join(d, "*", "events.jsonl"))
			require.NoError(t, err)
			require.Len(t, files, 1)
			require.NoError(t, c.signal().Consume(context.Background(), readFacts(t, files[0], false)))
			assert.Equal(t, want[name], c.compared, "shutdowns compared")
			assert.Equal(t, want[name], checked(t, tel), "otelcol_receiver_copilot_source_checked")
			assert.Empty(t, mismatches(t, tel))
			assert.Empty(t, logs.FilterLevelExact(zapcore.WarnLevel).All())
		})
	}
}

// copyStore puts a recorded case's store where session_state::store's
// "auto" finds it for the harness ($COPILOT_HOME/session-store.db beside
// its session-state), and its transcripts in the harness's session-state.
// It returns the copy's path and the number of shutdowns.
func (h *harness) copyStoreCase(name string) (string, int) {
	h.t.Helper()
	files, err := filepath.Glob(filepath.Join(storesDir, name, "session-state", "*", "events.jsonl"))
	require.NoError(h.t, err)
	shutdowns := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(h.t, err)
		h.write(filepath.Base(filepath.Dir(f)), b)
		shutdowns += strings.Count(string(b), `"type":"session.shutdown"`)
	}
	b, err := os.ReadFile(filepath.Join(storesDir, name, storeFileName))
	require.NoError(h.t, err)
	db := filepath.Join(filepath.Dir(h.root), storeFileName)
	require.NoError(h.t, os.WriteFile(db, b, 0o644))
	return db, shutdowns
}

// execStore changes a store copy with SQL, as the CLI would write it.
func execStore(t *testing.T, db, query string, args ...any) {
	t.Helper()
	// The CLI's writer waits for a reader's lock; so does the test's, or a
	// write that meets the receiver's read of the store fails the test.
	w, err := sql.Open("sqlite", "file:"+db+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer w.Close()
	_, err = w.Exec(query, args...)
	require.NoError(t, err)
}

// TestStoreCrossCheckReceiver: the receiver, on its default
// session_state::store, compares a real resumed session with its real
// store and counts nothing; with one row's output tokens altered in the
// store, it counts one output_tokens mismatch (the last, cumulative
// shutdown; the first is read after the store has the second leg) and
// exports the transcript's figures unchanged.
func TestStoreCrossCheckReceiver(t *testing.T) {
	for _, tc := range []struct {
		name  string
		alter string
		want  map[string]int64
	}{
		{name: "real", want: map[string]int64{}},
		{name: "altered", alter: "UPDATE assistant_usage_events SET output_tokens = output_tokens + 7 WHERE id = 3", want: map[string]int64{"output_tokens": 1}},
		{name: "row deleted", alter: "DELETE FROM assistant_usage_events WHERE id = 7", want: map[string]int64{
			"calls": 1, "input_tokens": 1, "output_tokens": 1, "cache_read_tokens": 1, "reasoning_tokens": 1,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			db, shutdowns := h.copyStoreCase("1.0.102-resumed")
			if tc.alter != "" {
				execStore(t, db, tc.alter)
			}
			s := &sink{}
			stop := h.run(s)
			defer stop()
			require.Eventually(t, func() bool { return s.summaries() == shutdowns }, 10*time.Second, 10*time.Millisecond)
			assert.Equal(t, tc.want, mismatches(t, h.tel))
			assert.Equal(t, map[string]modelTotals{"gpt-4.1": {Requests: 7, Input: 45342, Output: 305, CacheRead: 22669, Reas: 35}}, totalsOf(s),
				"the transcript's figures are exported")
		})
	}
}

// observations counts the observations of a histogram in what s received,
// by the session.id of their resource.
func observations(s *sink, name string) map[string]uint64 {
	out := map[string]uint64{}
	for _, rm := range s.allMetrics().ResourceMetrics().All() {
		id, _ := rm.Resource().Attributes().Get("session.id")
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() == name {
					for _, dp := range m.Histogram().DataPoints().All() {
						out[id.Str()] += dp.Count()
					}
				}
			}
		}
	}
	return out
}

// TestStoreCallsRestart: the store's rows are exported once across a
// restart: the watermark kept in session_state::storage after the first
// run makes the second export only the rows the CLI wrote since.
func TestStoreCallsRestart(t *testing.T) {
	h := newHarness(t)
	h.cfg.Histograms.ServerTimeToFirstToken.Enabled = true
	h.cfg.Histograms.ServerTimePerOutputToken.Enabled = true
	h.cfg.ResourceAttributes.SessionID.Enabled = true
	db, _ := h.copyStoreCase("1.0.102-resumed")
	const id = "7b01f271-4cdc-4c16-bd60-fb6cd140a487"

	first := &sink{}
	stop := h.run(first)
	require.Eventually(t, func() bool {
		return observations(first, "gen_ai.server.time_to_first_token")[id] == 7
	}, 10*time.Second, 10*time.Millisecond)
	stop()
	assert.Equal(t, map[string]uint64{id: 7}, observations(first, "gen_ai.server.time_per_output_token"))
	md := first.allMetrics()
	var branch string
	for _, rm := range md.ResourceMetrics().All() {
		if v, ok := rm.Resource().Attributes().Get("vcs.ref.head.name"); ok {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if m.Name() == "gen_ai.server.time_to_first_token" {
						branch = v.Str()
					}
				}
			}
		}
	}
	assert.Equal(t, "feature/PAY-4411-refund-retries", branch, "the per-call metrics carry the session's resource")

	// Two more calls while the collector is down.
	execStore(t, db, `INSERT INTO assistant_usage_events (session_id, turn_index, model, input_tokens, output_tokens,
		output_ttft_ms, inter_token_latency_ms, initiator, finish_reason, content_filter_triggered, created_at)
		SELECT session_id, turn_index, model, input_tokens, output_tokens, output_ttft_ms, inter_token_latency_ms, initiator,
		'content_filter', 1, created_at FROM assistant_usage_events WHERE id IN (6, 7)`)
	second := &sink{}
	stop = h.run(second)
	require.Eventually(t, func() bool {
		return observations(second, "gen_ai.server.time_to_first_token")[id] >= 2
	}, 10*time.Second, 10*time.Millisecond)
	stop() // delivers what was read
	assert.Equal(t, map[string]uint64{id: 2}, observations(second, "gen_ai.server.time_to_first_token"), "only the new rows")
	hits := int64(0)
	for _, rm := range second.allMetrics().ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() == "copilot.api.content_filter_hits" {
					for _, dp := range m.Sum().DataPoints().All() {
						hits += dp.IntValue()
					}
				}
			}
		}
	}
	assert.Equal(t, int64(2), hits)
}

// TestStoreCallsStoreReplaced: a store removed and made again (its rowids
// start at 1 again, below the watermark of the one it replaced) has its
// rows exported from its first, not from the old store's last rowid on.
func TestStoreCallsStoreReplaced(t *testing.T) {
	h := newHarness(t)
	h.cfg.Histograms.ServerTimeToFirstToken.Enabled = true
	h.cfg.ResourceAttributes.SessionID.Enabled = true
	db, _ := h.copyStoreCase("1.0.102-resumed")
	const id = "7b01f271-4cdc-4c16-bd60-fb6cd140a487"
	s := &sink{}
	stop := h.run(s)
	defer stop()
	require.Eventually(t, func() bool {
		return observations(s, "gen_ai.server.time_to_first_token")[id] == 7
	}, 10*time.Second, 10*time.Millisecond)
	// The user removes ~/.copilot/session-store.db; the CLI makes a new one
	// for its next session.
	files, err := filepath.Glob(filepath.Join(storesDir, "1.0.102-subagent", "session-state", "*", "events.jsonl"))
	require.NoError(t, err)
	other := filepath.Base(filepath.Dir(files[0]))
	b, err := os.ReadFile(files[0])
	require.NoError(t, err)
	h.write(other, b)
	nb, err := os.ReadFile(filepath.Join(storesDir, "1.0.102-subagent", storeFileName))
	require.NoError(t, err)
	require.NoError(t, os.Remove(db))
	require.NoError(t, os.WriteFile(db+".new", nb, 0o644))
	require.NoError(t, os.Rename(db+".new", db))
	assert.Eventually(t, func() bool {
		return observations(s, "gen_ai.server.time_to_first_token")[other] == 4
	}, 5*time.Second, 10*time.Millisecond, "the new store's calls: %v", observations(s, "gen_ai.server.time_to_first_token"))
}

// TestStoreDamaged: a store that is not SQLite is logged once, at warn, by
// the cross-check and by the per-call reader, and the receiver exports the
// transcript's usage as without a store.
func TestStoreDamaged(t *testing.T) {
	h := newHarness(t)
	h.cfg.Histograms.ServerTimeToFirstToken.Enabled = true
	db, shutdowns := h.copyStoreCase("1.0.102-resumed")
	require.NoError(t, os.WriteFile(db, []byte("not a database, but long enough to have a header of one: "+strings.Repeat("x", 200)), 0o644))
	core, logs := zapobserver.New(zapcore.InfoLevel)
	h.logger = zap.New(core)
	s := &sink{}
	stop := h.run(s)
	require.Eventually(t, func() bool { return s.summaries() == shutdowns }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, map[string]modelTotals{"gpt-4.1": {Requests: 7, Input: 45342, Output: 305, CacheRead: 22669, Reas: 35}}, totalsOf(s))
	assert.Empty(t, mismatches(t, h.tel))
	require.Eventually(t, func() bool {
		return logs.FilterMessageSnippet("its per-call metrics wait").Len() == 1
	}, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return h.recv.calls.rounds.Load() >= 5 }, 10*time.Second, 10*time.Millisecond, "a few polls")
	stop()
	assert.Equal(t, 1, logs.FilterMessageSnippet("Cannot read the CLI's session store; the transcripts are not cross-checked").Len(), "logged once for two shutdowns")
	assert.Equal(t, 1, logs.FilterMessageSnippet("its per-call metrics wait").Len(), "logged once for every poll")
	assert.Empty(t, observations(s, "gen_ai.server.time_to_first_token"))
}

// TestStoreCallsStartAtEnd: with start_at end, the rows a store has at the
// first start are not exported; those written after are.
func TestStoreCallsStartAtEnd(t *testing.T) {
	h := newHarness(t)
	h.cfg.SessionState.StartAt = StartAtEnd
	h.cfg.Histograms.ServerTimePerOutputToken.Enabled = true
	db, _ := h.copyStoreCase("1.0.102-resumed")
	s := &sink{}
	stop := h.run(s)
	require.Eventually(t, func() bool { return h.recv.calls.rounds.Load() >= 2 }, 10*time.Second, 10*time.Millisecond)
	execStore(t, db, `INSERT INTO assistant_usage_events (session_id, model, inter_token_latency_ms, initiator, created_at)
		SELECT session_id, model, inter_token_latency_ms, initiator, created_at FROM assistant_usage_events WHERE id = 7`)
	require.Eventually(t, func() bool {
		return len(observations(s, "gen_ai.server.time_per_output_token")) > 0
	}, 10*time.Second, 10*time.Millisecond)
	stop()
	total := uint64(0)
	for _, n := range observations(s, "gen_ai.server.time_per_output_token") {
		total += n
	}
	assert.Equal(t, uint64(1), total, "only the row written after the start")
}

// comparedShutdowns is how many shutdowns the running receiver compared,
// as its telemetry counts them.
func (h *harness) comparedShutdowns() int64 {
	c := h.recv.check
	c.mu.Lock()
	n := c.compared
	c.mu.Unlock()
	if got := checked(h.t, h.tel); got != n {
		h.t.Errorf("otelcol_receiver_copilot_source_checked is %d, shutdowns compared %d", got, n)
	}
	return n
}

// checked is the value of otelcol_receiver_copilot_source_checked, 0 when
// nothing was counted yet.
func checked(t testing.TB, tel *componenttest.Telemetry) int64 {
	t.Helper()
	m, err := tel.GetMetric("otelcol_receiver_copilot_source_checked")
	if err != nil {
		return 0
	}
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		n += dp.Value
	}
	return n
}

// TestStoreCrossCheckLive: a session followed while the CLI writes it, as
// the real 1.0.102 CLI wrote it: the store has each leg's calls before its
// shutdown is in the transcript, and each shutdown is compared when it is
// read, the resumed leg's with the cumulative totals, with no mismatch.
func TestStoreCrossCheckLive(t *testing.T) {
	h := newHarness(t)
	db, _ := h.copyStoreCase("1.0.102-resumed")
	const id = "7b01f271-4cdc-4c16-bd60-fb6cd140a487"
	path := filepath.Join(h.root, id, "events.jsonl")
	whole, err := os.ReadFile(path)
	require.NoError(t, err)
	cut := strings.Index(string(whole), `{"type":"session.shutdown"`)
	cut += strings.IndexByte(string(whole[cut:]), '\n') + 1
	// the first leg: its transcript up to its shutdown, its five calls
	require.NoError(t, os.WriteFile(path, whole[:cut], 0o644))
	execStore(t, db, `CREATE TABLE later AS SELECT * FROM assistant_usage_events WHERE id > 5`)
	execStore(t, db, `DELETE FROM assistant_usage_events WHERE id > 5`)

	s := &sink{}
	stop := h.run(s)
	defer stop()
	require.Eventually(t, func() bool { return s.summaries() == 1 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, int64(1), h.comparedShutdowns())

	// the resumed leg: its calls reach the store first, then the transcript
	execStore(t, db, `INSERT INTO assistant_usage_events SELECT * FROM later`)
	h.appendTo(path, whole[cut:])
	require.Eventually(t, func() bool { return s.summaries() == 2 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, int64(2), h.comparedShutdowns())
	assert.Empty(t, mismatches(t, h.tel))
}

// TestStoreCallsExcluded: the rows of a session whose transcript
// session_state::exclude leaves out are not exported, and do not hold up
// the rows after them (a session without a transcript goes, after a
// while, with its id alone).
func TestStoreCallsExcluded(t *testing.T) {
	h := newHarness(t)
	h.cfg.Histograms.ServerTimePerOutputToken.Enabled = true
	h.cfg.ResourceAttributes.SessionID.Enabled = true
	db, _ := h.copyStoreCase("1.0.102-resumed")
	const id = "7b01f271-4cdc-4c16-bd60-fb6cd140a487"
	h.cfg.SessionState.Exclude = []string{filepath.Join(h.root, id, "events.jsonl")}
	execStore(t, db, `INSERT INTO sessions (id) VALUES ('00000000-0000-4000-8000-000000000001')`)
	execStore(t, db, `INSERT INTO assistant_usage_events (session_id, model, inter_token_latency_ms, initiator, created_at)
		VALUES ('00000000-0000-4000-8000-000000000001', 'gpt-4.1', 12.5, 'user', '2026-12-07T14:00:00.000Z')`)
	s := &sink{}
	stop := h.run(s)
	require.Eventually(t, func() bool {
		return observations(s, "gen_ai.server.time_per_output_token")["00000000-0000-4000-8000-000000000001"] == 1
	}, 10*time.Second, 10*time.Millisecond)
	stop()
	assert.Equal(t, map[string]uint64{"00000000-0000-4000-8000-000000000001": 1}, observations(s, "gen_ai.server.time_per_output_token"))
}
