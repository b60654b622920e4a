package forwarder

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/hook"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/sessionstore"
	"github.com/otelcol-copilot/otelcol-copilot/internal/testsupport/cliaccounting"
)

// The session store and transcript CLI 1.0.102 left for a session with an
// explore subagent: four calls (rows 3 to 6 of the store), the second and
// third the subagent's.
const (
	storeSession = "484fbd51-1aaf-45c3-b3ff-ae6ec8e80c30"
	storeFixture = "../sessionstore/testdata/1.0.102"
)

// storeHome is a COPILOT_HOME with the fixture's store, cut to the rows up
// to lastRow, and no transcript yet.
type storeHome struct {
	t    *testing.T
	home string
}

func newStoreHome(t *testing.T) *storeHome {
	return &storeHome{t: t, home: t.TempDir()}
}

func (h *storeHome) storePath() string { return sessionstore.Path(h.home) }

// store writes the fixture's store with only the rows up to lastRow, as the
// CLI had committed them.
func (h *storeHome) store(lastRow int) {
	h.t.Helper()
	copyFile(h.t, filepath.Join(storeFixture, sessionstore.FileName), h.storePath())
	db, err := sql.Open("sqlite", h.storePath())
	require.NoError(h.t, err)
	defer db.Close()
	_, err = db.Exec(`DELETE FROM assistant_usage_events WHERE id > ?`, lastRow)
	require.NoError(h.t, err)
}

// transcript writes the session's transcript up to line n (0: all).
func (h *storeHome) transcript(n int) string {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(storeFixture, "session-state", storeSession, "events.jsonl"))
	require.NoError(h.t, err)
	if n > 0 {
		b = bytes.Join(bytes.SplitAfter(b, []byte("\n"))[:n], nil)
	}
	path := filepath.Join(SessionStateDir(h.home), storeSession, "events.jsonl")
	require.NoError(h.t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(h.t, os.WriteFile(path, b, 0o644))
	return path
}

// sentUsageOf is the usage object of a payload the collector received.
func sentUsageOf(t *testing.T, r received) (session.UsageSummary, string) {
	t.Helper()
	p, err := hook.Decode(r.Body, r.Type, hook.Options{})
	require.NoError(t, err)
	require.NotNil(t, p.Usage, "%s", r.Body)
	return *p.Usage, p.UsageSource
}

func storeForwarder(t *testing.T, h *storeHome, c *collector) *Forwarder {
	f := testForwarder(t, c.URL())
	f.CopilotHome = h.home
	f.Usage.Roots = []string{SessionStateDir(h.home)}
	f.Usage.Store = h.storePath()
	return f
}

// TestForwardUsageFromStoreAhead follows a session as the CLI writes it:
// each hook carries the usage of every call the store has, the store's
// while it is ahead of the transcript, never less than an earlier hook's
// when the store fails, and at the end the transcript's, which is the
// CLI's final accounting.
func TestForwardUsageFromStoreAhead(t *testing.T) {
	h := newStoreHome(t)
	c := newCollector(t)
	f := storeForwarder(t, h, c)
	post := func(typ string) (session.UsageSummary, string) {
		t.Helper()
		res := f.Forward(typ, payload(`{"sessionId":"`+storeSession+`","timestamp":1796651886000,"cwd":"/src","toolName":"bash"}`))
		require.Equal(t, "delivered", res.Status, res.Reason)
		require.True(t, res.Usage, "the %s payload carries usage:\n%s", typ, logText(t, f))
		got := c.requests()
		return sentUsageOf(t, got[len(got)-1])
	}
	calls := func(u session.UsageSummary) int64 { return u.Calls() }

	// 1. The first call ended: the store has it, there is no transcript.
	h.store(3)
	u1, src := post(hook.PreToolUse)
	assert.Equal(t, hook.UsageFromStore, src)
	p, err := hook.Decode(c.requests()[0].Body, hook.PreToolUse, hook.Options{})
	require.NoError(t, err)
	require.NotNil(t, p.Context, "where the session runs, from the store's sessions table")
	assert.Equal(t, "feature/PAY-4411-refund-retries", p.Context.Branch)
	assert.Equal(t, int64(1), calls(u1))
	assert.Equal(t, int64(6052), u1.TokenDetails.Input)
	assert.Equal(t, int64(1), u1.TotalUserRequests)

	// 2. The transcript has the first call, the store the subagent's two
	// more: the store is ahead.
	h.transcript(14)
	h.store(5)
	u2, src := post(hook.PostToolUse)
	assert.Equal(t, hook.UsageFromStore, src)
	assert.Equal(t, int64(3), calls(u2))
	assert.Equal(t, int64(6052+1948+1997), u2.TokenDetails.Input)

	// 3. The store cannot be read (garbage), the transcript is behind:
	// the usage stays what was sent, from the transcript now.
	require.NoError(t, os.WriteFile(h.storePath(), bytes.Repeat([]byte("not sqlite "), 500), 0o644))
	u3, src := post(hook.PostToolUse)
	assert.Equal(t, hook.UsageFromTranscript, src)
	if diff := cmp.Diff(u2, u3, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("the usage went backwards (-sent before +sent now):\n%s", diff)
	}
	post(hook.PreToolUse)
	assert.Equal(t, 1, strings.Count(logText(t, f), "could not read the session store"), "logged once per session:\n%s", logText(t, f))

	var acc cliaccounting.Accounting
	// 4. The session ended: the whole transcript, as many calls as the
	// store: the transcript's usage, the CLI's final accounting.
	path := h.transcript(0)
	h.store(6)
	u4, src := post(hook.SessionEnd)
	assert.Equal(t, hook.UsageFromTranscript, src)
	if diff := cmp.Diff(fullUsage(t, path, storeSession), u4); diff != "" {
		t.Errorf("sessionEnd usage differs from the transcript's (-want +got):\n%s", diff)
	}
	acc, err = cliaccounting.File(path, nil)
	require.NoError(t, err)
	final := acc.Total()
	assert.Equal(t, final.Requests, calls(u4))
	assert.Equal(t, final.InputTokens, u4.TokenDetails.Input)
	assert.Equal(t, final.OutputTokens, u4.TokenDetails.Output)
	assert.Equal(t, final.CacheReadTokens, u4.TokenDetails.CacheRead)
	assert.Equal(t, final.ReasoningTokens, u4.TokenDetails.Reasoning)
	assert.Equal(t, final.NanoAIU, u4.TotalNanoAIU)

	// Every hook's usage is at least the one before, field by field.
	var prev session.UsageSummary
	for i, r := range c.requests() {
		u, _ := sentUsageOf(t, r)
		if back, _ := raiseSummary(u, prev); !sameUsage(back, u) {
			t.Errorf("payload %d went backwards:\n%s", i, cmp.Diff(prev, u))
		}
		prev = u
	}
}

// TestUsageStoreFallbacks: whatever is wrong with the store, the
// transcript's usage is given, and the problem is logged once per session.
func TestUsageStoreFallbacks(t *testing.T) {
	for name, tc := range map[string]struct {
		make func(h *storeHome)
		log  string
	}{
		"no store": {func(h *storeHome) {}, "no session store at"},
		"corrupt": {func(h *storeHome) {
			require.NoError(t, os.WriteFile(h.storePath(), []byte("SQLite format 3\x00 and then nothing"), 0o644))
		}, "could not read the session store"},
		"older schema": {func(h *storeHome) {
			h.store(6)
			db, err := sql.Open("sqlite", h.storePath())
			require.NoError(t, err)
			defer db.Close()
			_, err = db.Exec(`DROP TABLE assistant_usage_events`)
			require.NoError(t, err)
		}, "has no usage table"},
		"locked": {func(h *storeHome) {
			h.store(6)
			db, err := sql.Open("sqlite", h.storePath())
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			db.SetMaxOpenConns(1)
			for _, s := range []string{"PRAGMA locking_mode=EXCLUSIVE", "BEGIN EXCLUSIVE", "DELETE FROM turns", "COMMIT"} {
				_, err := db.Exec(s)
				require.NoError(t, err, s)
			}
		}, "could not read the session store"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newStoreHome(t)
			path := h.transcript(14)
			tc.make(h)
			dir := t.TempDir()
			log := &Logger{Path: filepath.Join(dir, "hook.log"), Level: LevelDebug}
			u := &UsageCounter{CacheDir: dir, Store: h.storePath(), Log: log}
			for range 3 {
				res, err := u.SessionUsage(storeSession, path, nil)
				require.NoError(t, err)
				assert.Equal(t, hook.UsageFromTranscript, res.Source)
				assert.Equal(t, int64(1), res.Calls)
				assert.NotEmpty(t, res.Store)
				if diff := cmp.Diff(fullUsage(t, path, storeSession), res.Summary); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
			b, _ := os.ReadFile(log.Path)
			assert.Equal(t, 1, strings.Count(string(b), tc.log), "logged once:\n%s", b)
		})
	}
}

// TestUsageStoreOnlyThenTranscript: a cache made while only the store had
// the session (no transcript yet) is taken up by the first read of the
// transcript without being reported as broken, and what was given out
// stays the floor.
func TestUsageStoreOnlyThenTranscript(t *testing.T) {
	h := newStoreHome(t)
	h.store(5)
	dir := t.TempDir()
	log := &Logger{Path: filepath.Join(dir, "hook.log"), Level: LevelDebug}
	u := &UsageCounter{CacheDir: dir, Store: h.storePath(), Log: log}
	path := filepath.Join(SessionStateDir(h.home), storeSession, "events.jsonl")
	res, err := u.SessionUsage(storeSession, path, nil)
	require.NoError(t, err)
	assert.Equal(t, hook.UsageFromStore, res.Source)
	assert.Equal(t, int64(3), res.Calls)

	var c usageCache
	b, err := os.ReadFile(filepath.Join(dir, storeSession+".json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &c))
	require.NotNil(t, c.Sent)
	assert.Equal(t, int64(3), c.Sent.Calls)

	h.transcript(14)
	require.NoError(t, os.Remove(h.storePath()))
	res, err = u.SessionUsage(storeSession, path, nil)
	require.NoError(t, err)
	assert.Equal(t, "new", res.Restart)
	assert.True(t, res.Raised)
	assert.Equal(t, int64(3), res.Calls)
	assert.Equal(t, int64(6052+1948+1997), res.Summary.TokenDetails.Input)
	b, _ = os.ReadFile(log.Path)
	assert.NotContains(t, string(b), "ignoring the usage cache")

	// Neither source has the session: an error, as without a store.
	_, err = u.SessionUsage("other", filepath.Join(SessionStateDir(h.home), "other", "events.jsonl"), nil)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestRaiseSummary(t *testing.T) {
	m := func(count, in int64, cost float64) session.ModelSummary {
		return session.ModelSummary{Requests: session.RequestSummary{Count: count, PremiumCost: cost}, Usage: session.TokenSummary{InputTokens: in}}
	}
	floor := session.UsageSummary{TotalAPIDurationMs: 50, ModelMetrics: map[string]session.ModelSummary{"a": m(2, 100, 1), "b": m(1, 10, 0)}}
	s := session.UsageSummary{TotalAPIDurationMs: 40, TokenDetails: session.TokenDetails{Input: 120}, TotalPremiumRequestCost: 1,
		ModelMetrics: map[string]session.ModelSummary{"a": m(3, 120, 1)}}
	got, raised := raiseSummary(s, floor)
	assert.True(t, raised)
	assert.Equal(t, session.UsageSummary{TotalAPIDurationMs: 50, TokenDetails: session.TokenDetails{Input: 130}, TotalPremiumRequestCost: 1,
		ModelMetrics: map[string]session.ModelSummary{"a": m(3, 120, 1), "b": m(1, 10, 0)}}, got)
	assert.Len(t, s.ModelMetrics, 1, "the summary raised is not changed")

	same, raised := raiseSummary(got, floor)
	assert.False(t, raised)
	assert.Equal(t, got, same)
}
