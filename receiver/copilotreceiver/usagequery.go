package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback"
	"github.com/otelcol-copilot/otelcol-copilot/internal/hook"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/sessionstore"
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
	User         string               `json:"user,omitempty"`
	Repository   string               `json:"repository,omitempty"`
	Branch       string               `json:"branch,omitempty"`
	Cwd          string               `json:"cwd,omitempty"`
	Attribution  attributionView      `json:"attribution"`
	Cost         costView             `json:"cost"`
	Usage        session.UsageSummary `json:"usage"`

	// key orders the list and names a page's last entry.
	key string
	at  time.Time // when the session was last active, for since/until
}

// attributionView is who pays for a session, as the chargeback processor
// attributes its main agent.
type attributionView struct {
	Ticket     string `json:"ticket"`
	Team       string `json:"team"`
	Project    string `json:"project"`
	CostCenter string `json:"costCenter"`
}

// costView is what a session cost so far, priced as the chargeback
// processor prices it: an exact decimal in the configured currency, and
// how it was priced.
type costView struct {
	Amount   string   `json:"amount"`
	Currency string   `json:"currency"`
	Methods  []string `json:"methods,omitempty"`
}

type sessionList struct {
	Sessions []sessionEntry `json:"sessions"`
	// NextPageToken, when set, is the page_token of the next page.
	NextPageToken string `json:"nextPageToken,omitempty"`
}

func (h *hookServer) queryMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	h.reject(w, http.StatusMethodNotAllowed, rejectMethod, "use GET")
	return false
}

// charge attributes and prices a session's usage so far, as the chargeback
// processor does.
func (h *hookServer) charge(c *session.Context, user string, u session.UsageSummary) (attributionView, costView) {
	ch := chargeback.SessionCharge(h.resolver, h.pricer, c, user, u)
	a := ch.Attribution
	return attributionView{Ticket: a.Ticket, Team: a.Team, Project: a.Project, CostCenter: a.CostCenter},
		costView{Amount: ch.Cost.String(), Currency: ch.Currency, Methods: ch.Methods}
}

// sessionQuery is what GET /v1/sessions is asked for.
type sessionQuery struct {
	limit                int
	since, until         time.Time
	tickets, teams, user []string
	after                string // the key of the previous page's last entry
}

// parseSessionQuery reads the query string of GET /v1/sessions.
func parseSessionQuery(v url.Values) (sessionQuery, error) {
	q := sessionQuery{limit: defaultSessionList}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxSessionList {
			return q, fmt.Errorf("limit %q must be a number from 1 to %d; page on with page_token", s, maxSessionList)
		}
		q.limit = n
	}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"since", &q.since}, {"until", &q.until}} {
		s := v.Get(t.name)
		if s == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			if at, err = time.Parse(time.DateOnly, s); err != nil {
				return q, fmt.Errorf("%s %q must be a date (2026-11-17, midnight UTC) or an RFC 3339 time", t.name, s)
			}
		}
		*t.to = at
	}
	list := func(name string) []string {
		var out []string
		for _, s := range v[name] {
			for _, x := range strings.Split(s, ",") {
				if x = strings.TrimSpace(x); x != "" {
					out = append(out, x)
				}
			}
		}
		return out
	}
	q.tickets, q.teams, q.user = list("ticket"), list("team"), list("user")
	if tok := v.Get("page_token"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		ok := err == nil && len(b) > 1 && b[0] == 'h'
		if err == nil && len(b) > 1 && b[0] == 't' {
			n, _, cut := strings.Cut(string(b[1:]), "|")
			_, perr := strconv.ParseInt(n, 10, 64)
			ok = cut && perr == nil
		}
		if !ok {
			return q, fmt.Errorf("page_token %q is not one this endpoint gave; start again without it", tok)
		}
		q.after = string(b)
	}
	return q, nil
}

// keep reports whether an entry matches the query's filters. since is
// inclusive, until exclusive, both on the session's last activity; a
// session known only from hooks has no time and matches no time filter.
func (q *sessionQuery) keep(e *sessionEntry) bool {
	if !q.since.IsZero() && (e.at.IsZero() || e.at.Before(q.since)) {
		return false
	}
	if !q.until.IsZero() && (e.at.IsZero() || !e.at.Before(q.until)) {
		return false
	}
	in := func(v string, list []string) bool { return len(list) == 0 || slices.Contains(list, v) }
	return in(e.Attribution.Ticket, q.tickets) && in(e.Attribution.Team, q.teams) && in(e.User, q.user)
}

// handleSessions lists sessions with their usage, attribution and cost so
// far, most recently active first: those whose transcripts the receiver
// follows, then those known only from hooks. since/until, ticket, team and
// user filter; limit and page_token page through all of them.
func (h *hookServer) handleSessions(w http.ResponseWriter, r *http.Request) {
	if !h.queryMethod(w, r) {
		return
	}
	q, err := parseSessionQuery(r.URL.Query())
	if err != nil {
		h.reject(w, http.StatusBadRequest, rejectMalformed, err.Error())
		return
	}
	out := sessionList{Sessions: []sessionEntry{}}
	// add takes an entry in list order; it reports false once the page
	// is full and one more entry showed that a next page exists.
	add := func(e sessionEntry) bool {
		if q.after != "" && !listedAfter(e.key, q.after) {
			return true // on an earlier page
		}
		if !q.keep(&e) {
			return true
		}
		if len(out.Sessions) == q.limit {
			last := out.Sessions[len(out.Sessions)-1].key
			out.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(last))
			return false
		}
		out.Sessions = append(out.Sessions, e)
		return true
	}
	seen := map[string]bool{}
	user := h.r.cfg.SessionState.User
	more := true
	for _, rf := range h.index.recent(-1) {
		path, ok := h.index.admit(rf.path)
		if !ok {
			continue
		}
		snap, err := h.index.sessions.Current(path)
		if err != nil {
			h.log.Debug("Could not read a transcript for the session list", zap.String("path", path), zap.Error(err))
			continue
		}
		c := snap.Context
		e := sessionEntry{
			SessionID: c.SessionID, Source: "transcript", LastModified: rf.modTime.UTC().Format(time.RFC3339Nano),
			CLIVersion: c.CLIVersion, User: user, Repository: c.Repository, Branch: c.Branch, Cwd: c.Cwd,
			Ended: snap.Ended, Usage: snap.Summary,
			key: "t" + strconv.FormatInt(rf.modTime.UnixNano(), 10) + "|" + rf.path,
			at:  rf.modTime,
		}
		if !snap.LastEvent.IsZero() {
			e.LastEvent = snap.LastEvent.UTC().Format(time.RFC3339Nano)
			e.at = snap.LastEvent
		}
		e.Attribution, e.Cost = h.charge(&c, user, snap.Summary)
		seen[e.SessionID] = true
		if more = add(e); !more {
			break
		}
	}
	if more {
		type hookOnly struct {
			id  string
			ctx session.Context
			use session.UsageSummary
		}
		var hooks []hookOnly
		for _, id := range h.sessions.Keys() {
			if seen[id] {
				continue
			}
			// Each session as its last payload left it.
			unlock := h.locks.lock(id)
			s, ok := h.sessions.Peek(id)
			if ok && !s.followed && s.usage != nil {
				hooks = append(hooks, hookOnly{id: id, ctx: *s.ctx, use: *s.usage})
			}
			unlock()
		}
		slices.SortFunc(hooks, func(a, b hookOnly) int { return strings.Compare(a.id, b.id) })
		for _, s := range hooks {
			e := sessionEntry{SessionID: s.id, Source: "hooks", Cwd: s.ctx.Cwd, Repository: s.ctx.Repository, Branch: s.ctx.Branch, Usage: s.use, key: "h" + s.id}
			e.Attribution, e.Cost = h.charge(&s.ctx, "", s.use)
			if !add(e) {
				break
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// listedAfter reports whether the entry of key comes after the entry of
// token in the list's order: transcripts by last write, newest first, then
// path; then sessions known only from hooks, by id. An entry that was
// written since the page of token was listed moved up, and is not listed
// again on the pages after it.
func listedAfter(key, token string) bool {
	if key[0] != token[0] {
		return key[0] == 'h'
	}
	if key[0] == 'h' {
		return key > token
	}
	kn, kp, _ := strings.Cut(key[1:], "|")
	tn, tp, _ := strings.Cut(token[1:], "|")
	k, _ := strconv.ParseInt(kn, 10, 64)
	t, _ := strconv.ParseInt(tn, 10, 64)
	return k < t || k == t && kp > tp
}

// usageAnswer is a session's usage in the shape of the CLI's own
// usage.getMetrics result, with its attribution and cost.
type usageAnswer struct {
	session.UsageMetrics
	Attribution attributionView `json:"attribution"`
	Cost        costView        `json:"cost"`
	// Source is where the usage was read: transcript, store or hooks.
	Source string `json:"source"`
}

// handleUsage answers a session's usage so far in the shape of the CLI's
// own usage.getMetrics result: as the tailer read it while the transcript
// has not changed since, else read on from there; or from the CLI's
// session store when it counts more calls (sessionstore.Usage.Ahead), as
// the forwarder chooses; or, for a session without a transcript here, from
// its hooks' last usage or the store, whichever is ahead.
func (h *hookServer) handleUsage(w http.ResponseWriter, r *http.Request) {
	if !h.queryMethod(w, r) {
		return
	}
	id := r.PathValue("id")
	if !usage.ValidSessionID(id) {
		h.reject(w, http.StatusBadRequest, rejectMalformed, fmt.Sprintf("%q is not a session id", id))
		return
	}
	if h.passToOwner(w, r, nil, id) {
		return
	}
	if path, ok := h.index.locate(id, ""); ok {
		snap, err := h.index.sessions.Current(path)
		switch {
		case err == nil:
			a := usageAnswer{UsageMetrics: snap.Metrics, Source: hook.UsageFromTranscript}
			summary := snap.Summary
			if su, ok := h.storeUsage(r.Context(), id); ok && su.Ahead(summary) {
				// The CLI writes its transcript in batches: mid-turn its
				// session store has the calls finished since.
				code := summary.CodeChanges
				summary = su.Summary
				summary.CodeChanges = code
				a.UsageMetrics, a.Source = session.MetricsFromSummary(summary), hook.UsageFromStore
			}
			a.Attribution, a.Cost = h.charge(&snap.Context, h.r.cfg.SessionState.User, summary)
			writeJSON(w, http.StatusOK, a)
			return
		case !errors.Is(err, os.ErrNotExist):
			writeJSON(w, http.StatusInternalServerError, response{Error: "the session's transcript could not be read: " + err.Error()})
			return
		}
	}
	unlock := h.locks.lock(id)
	u, err := h.hooks.summary(id)
	var hctx session.Context
	if s, ok := h.sessions.Peek(id); ok && s.ctx != nil {
		hctx = *s.ctx
	}
	unlock()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, response{Error: err.Error()})
		return
	}
	source := hook.UsageFromHooks
	if su, ok := h.storeUsage(r.Context(), id); ok && (u == nil || su.Ahead(*u)) {
		// No transcript to read yet (the CLI's first batch is not
		// written), or the hooks' last usage is behind the store.
		u, source = &su.Summary, hook.UsageFromStore
	}
	if u == nil {
		h.reject(w, http.StatusNotFound, rejectNotFound, fmt.Sprintf("no session %s: its transcript is not under session_state.include, the CLI's session store (session_state.store) has no call of it, and no hook reported usage for it", id))
		return
	}
	a := usageAnswer{UsageMetrics: session.MetricsFromSummary(*u), Source: source}
	a.Attribution, a.Cost = h.charge(&hctx, "", *u)
	writeJSON(w, http.StatusOK, a)
}

// storeUsage is the session's usage in the CLI's session store: the first
// of session_state::store's stores that has calls of it. A store that
// cannot be read answers nothing here (the cross-check logs why).
func (h *hookServer) storeUsage(ctx context.Context, id string) (sessionstore.Usage, bool) {
	for _, path := range h.r.cfg.SessionState.storePaths() {
		st, err := sessionstore.Open(path)
		if err != nil {
			continue
		}
		u, ok, err := st.SessionUsage(ctx, id)
		_ = st.Close()
		if err == nil && ok {
			return u, true
		}
	}
	return sessionstore.Usage{}, false
}
