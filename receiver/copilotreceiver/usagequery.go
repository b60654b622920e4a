package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/usage"
)

// Limits of GET /v1/sessions.
const (
	defaultSessionList = 20
	maxSessionList     = 500
)

// sessionEntry is one session of GET /v1/sessions.
type sessionEntry struct {
	SessionID    string               `json:"sessionId"`
	Source       string               `json:"source"` // transcript or hooks
	LastModified string               `json:"lastModified,omitempty"`
	LastEvent    string               `json:"lastEvent,omitempty"`
	Ended        bool                 `json:"ended"`
	CLIVersion   string               `json:"cliVersion,omitempty"`
	Repository   string               `json:"repository,omitempty"`
	Branch       string               `json:"branch,omitempty"`
	Cwd          string               `json:"cwd,omitempty"`
	Usage        session.UsageSummary `json:"usage"`
}

type sessionList struct {
	Sessions []sessionEntry `json:"sessions"`
}

func (h *hookServer) queryMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	h.reject(w, http.StatusMethodNotAllowed, rejectMethod, "use GET")
	return false
}

// handleSessions lists the most recently active sessions with their usage
// so far: those whose transcripts the receiver follows, then those known
// only from hooks.
func (h *hookServer) handleSessions(w http.ResponseWriter, r *http.Request) {
	if !h.queryMethod(w, r) {
		return
	}
	limit := defaultSessionList
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxSessionList {
			h.reject(w, http.StatusBadRequest, rejectMalformed, fmt.Sprintf("limit %q must be a number from 1 to %d", v, maxSessionList))
			return
		}
		limit = n
	}
	out := sessionList{Sessions: []sessionEntry{}}
	seen := map[string]bool{}
	for _, rf := range h.index.recent(limit) {
		path, ok := h.index.admit(rf.path)
		if !ok {
			continue
		}
		e := sessionEntry{Source: "transcript", LastModified: rf.modTime.UTC().Format(time.RFC3339Nano)}
		snap, err := h.index.sessions.Current(path)
		if err != nil {
			h.log.Debug("Could not read a transcript for the session list", zap.String("path", path), zap.Error(err))
			continue
		}
		c := snap.Context
		e.SessionID = c.SessionID
		e.CLIVersion, e.Repository, e.Branch, e.Cwd = c.CLIVersion, c.Repository, c.Branch, c.Cwd
		if !snap.LastEvent.IsZero() {
			e.LastEvent = snap.LastEvent.UTC().Format(time.RFC3339Nano)
		}
		e.Ended = snap.Ended
		e.Usage = snap.Summary
		seen[e.SessionID] = true
		out.Sessions = append(out.Sessions, e)
	}
	h.mu.Lock()
	for _, id := range h.sessions.Keys() { // oldest first
		if len(out.Sessions) >= limit {
			break
		}
		s, ok := h.sessions.Peek(id)
		if !ok || seen[id] || s.followed || s.usage == nil {
			continue
		}
		out.Sessions = append(out.Sessions, sessionEntry{SessionID: id, Source: "hooks", Cwd: s.ctx.Cwd, Usage: *s.usage})
	}
	h.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// handleUsage answers a session's usage so far in the shape of the CLI's
// own usage.getMetrics result: as the tailer read it while the transcript
// has not changed since, else read on from there.
func (h *hookServer) handleUsage(w http.ResponseWriter, r *http.Request) {
	if !h.queryMethod(w, r) {
		return
	}
	id := r.PathValue("id")
	if !usage.ValidSessionID(id) {
		h.reject(w, http.StatusBadRequest, rejectMalformed, fmt.Sprintf("%q is not a session id", id))
		return
	}
	if path, ok := h.index.locate(id, ""); ok {
		snap, err := h.index.sessions.Current(path)
		switch {
		case err == nil:
			writeJSON(w, http.StatusOK, snap.Metrics)
			return
		case !errors.Is(err, os.ErrNotExist):
			writeJSON(w, http.StatusInternalServerError, response{Error: "the session's transcript could not be read: " + err.Error()})
			return
		}
	}
	h.mu.Lock()
	u, err := h.hooks.summary(id)
	h.mu.Unlock()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, response{Error: err.Error()})
		return
	}
	if u == nil {
		h.reject(w, http.StatusNotFound, rejectNotFound, fmt.Sprintf("no session %s: its transcript is not under session_state.include and no hook reported usage for it", id))
		return
	}
	writeJSON(w, http.StatusOK, session.MetricsFromSummary(*u))
}
