package copilotreceiver

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
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
	w, err := sql.Open("sqlite", db)
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
