package copilotreceiver

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// multiUser points the harness at a multi-user host's session
// directories, /home/*/.copilot/session-state/*/events.jsonl, with one
// user, alice, whose session-state directory exists, and returns the
// path of a session's transcript in it.
func multiUser(t *testing.T, h *harness) func(id string) string {
	home := filepath.Join(filepath.Dir(h.root), "home")
	h.cfg.SessionState.Include = []string{filepath.Join(home, "*", ".copilot", "session-state", "*", "events.jsonl")}
	require.NoError(t, os.MkdirAll(filepath.Join(home, "alice", ".copilot", "session-state"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(home, "bob"), 0o755)) // never ran the CLI
	return func(id string) string {
		return filepath.Join(home, "alice", ".copilot", "session-state", id, "events.jsonl")
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

// TestUsageQueryUnderAnyGlob: with a wildcard above the session directory
// (a multi-user host), the usage query answers for every session the
// tailer follows, as the session list does. It answered 404 ("its
// transcript is not under session_state.include") for every one.
func TestUsageQueryUnderAnyGlob(t *testing.T) {
	h := newHarness(t)
	at := multiUser(t, h)
	id := "91298f1d-4404-4591-b87f-13b09d6dc9ce"
	path := at(id)
	writeFile(t, path, readTestdata(t, "1.0.102/session-state/"+id+"/events.jsonl"))
	s := &sink{}
	url, stop := h.startHooks(s, nil)
	defer stop()
	require.Eventually(t, func() bool { return s.summaries() > 0 }, 10*time.Second, 10*time.Millisecond)

	var list sessionList
	require.Equal(t, http.StatusOK, get(t, url+sessionsPath, &list))
	require.Len(t, list.Sessions, 1)
	assert.Equal(t, id, list.Sessions[0].SessionID)

	var m session.UsageMetrics
	require.Equal(t, http.StatusOK, get(t, url+sessionsPath+"/"+id+"/usage", &m))
	want := session.NewCursor(path, session.CursorOptions{})
	_, err := want.Update(nil)
	require.NoError(t, err)
	assert.Equal(t, want.Tracker().Metrics(), m)

	// A session written while running, before the tailer comes to it, is
	// found too.
	other := "0b1e1ed0-5a1e-4c0d-9b11-000000000001"
	writeFile(t, at(other), readTestdata(t, "1.0.102-billed/session-state/"+other+"/events.jsonl"))
	require.Equal(t, http.StatusOK, get(t, url+sessionsPath+"/"+other+"/usage", &m))
	assert.NotZero(t, m.TotalNanoAIU)
	assert.Equal(t, http.StatusNotFound, get(t, url+sessionsPath+"/00000000-0000-4000-8000-000000000000/usage", nil))
}

// TestHookAccountingUnderAnyGlob: in auto mode, a session whose transcript
// the tailer follows, or will follow, under a glob with a wildcard above
// the session directory is counted from its transcript, not from its
// hooks as well.
func TestHookAccountingUnderAnyGlob(t *testing.T) {
	host, err := os.Hostname()
	require.NoError(t, err)
	id := "0b1e1ed0-5a1e-4c0d-9b11-000000000001"
	transcript := readTestdata(t, "1.0.102-billed/session-state/"+id+"/events.jsonl")
	start := []byte(`{"sessionId":"` + id + `","timestamp":1795363646917,"source":"new"}`)

	t.Run("followed", func(t *testing.T) {
		h := newHarness(t)
		at := multiUser(t, h)
		writeFile(t, at(id), transcript)
		s := &sink{}
		url, stop := h.startHooks(s, nil)
		defer stop()
		require.Eventually(t, func() bool { return s.summaries() > 0 }, 10*time.Second, 10*time.Millisecond)
		// No host header: another machine as far as the receiver knows,
		// but the receiver reads the session's transcript.
		require.Equal(t, http.StatusAccepted, post(t, url+hooksPath+"/sessionStart", start).Code)
		assert.Equal(t, int64(1), sumWhere(s.allMetrics(), mSessions, aState, session.StateStarted), "counted from its hooks as well")
		assert.Equal(t, int64(1), sumWhere(s.allMetrics(), mHooks))
	})

	t.Run("will follow", func(t *testing.T) {
		h := newHarness(t)
		at := multiUser(t, h)
		s := &sink{}
		url, stop := h.startHooks(s, nil)
		defer stop()
		// The first hook of a session on this machine comes before the CLI
		// wrote its transcript into alice's session-state.
		require.Equal(t, http.StatusAccepted, post(t, url+hooksPath+"/sessionStart", start, HeaderHookHost, host).Code)
		assert.Zero(t, sumWhere(s.allMetrics(), mSessions), "counted from its hooks")
		writeFile(t, at(id), transcript)
		require.Eventually(t, func() bool { return s.summaries() > 0 }, 10*time.Second, 10*time.Millisecond)
		assert.Equal(t, int64(1), sumWhere(s.allMetrics(), mSessions, aState, session.StateStarted))
	})
}
