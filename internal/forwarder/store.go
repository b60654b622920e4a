package forwarder

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/sessionstore"
)

// storeTimeout bounds a hook's whole read of the session store: open,
// schema, one query. A WAL reader is not kept waiting by the CLI; a store
// locked otherwise gives up after sessionstore.BusyTimeout.
const storeTimeout = 250 * time.Millisecond

// Problems with the session store, as noted in a session's usage cache so
// that each is logged once per session.
const (
	storeMissing = "no store"
	storeBusy    = "locked"
	storeCorrupt = "corrupt"
	storeOld     = "older schema"
	storeFailed  = "unreadable"
)

// readStore sums the session's rows in the store at path and, with
// withContext, reads where the session runs. problem names what kept the
// usage from being read (with err); the context is best effort.
func readStore(path, sessionID string, withContext bool) (u sessionstore.Usage, ok bool, info *sessionstore.SessionInfo, problem string, err error) {
	s, err := sessionstore.Open(path)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		u, ok, err = s.SessionUsage(ctx, sessionID)
		if err == nil && ok && withContext {
			if si, found, serr := s.Session(ctx, sessionID); serr == nil && found {
				info = &si
			}
		}
		cancel()
		_ = s.Close()
	}
	if err != nil {
		return u, false, nil, storeProblem(err), err
	}
	return u, ok, info, "", nil
}

func storeProblem(err error) string {
	switch {
	case errors.Is(err, sessionstore.ErrNoStore):
		return storeMissing
	case errors.Is(err, sessionstore.ErrBusy), errors.Is(err, context.DeadlineExceeded):
		return storeBusy
	case errors.Is(err, sessionstore.ErrCorrupt):
		return storeCorrupt
	case errors.Is(err, sessionstore.ErrNoUsageTable):
		return storeOld
	}
	return storeFailed
}

// logStore says, once per session and problem, that the store could not
// give the session's usage and the transcript is used instead.
func (u *UsageCounter) logStore(sessionID, problem string, err error) {
	switch problem {
	case storeMissing:
		// An older CLI, or the store not made yet: nothing to fix.
		u.Log.Debugf("session %s: no session store at %s; usage from the transcript only", sessionID, u.Store)
	case storeOld:
		// An older CLI's, or one the CLI has not migrated yet (its first
		// session's first hooks).
		u.Log.Infof("session %s: the session store %s has no usage table (%v); usage from the transcript only", sessionID, u.Store, err)
	default:
		u.Log.Warnf("session %s: could not read the session store %s (%v); usage from the transcript only (logged once per session)", sessionID, u.Store, err)
	}
}

// raiseSummary returns s raised, field by field and model by model, to
// floor (the usage last given out), and whether anything was raised. The
// totals of a raised summary are its models' sums again.
func raiseSummary(s, floor session.UsageSummary) (session.UsageSummary, bool) {
	out := s
	out.ModelMetrics = make(map[string]session.ModelSummary, max(len(s.ModelMetrics), len(floor.ModelMetrics)))
	for name, m := range s.ModelMetrics {
		out.ModelMetrics[name] = m
	}
	raised := false
	for name, fm := range floor.ModelMetrics {
		m, had := out.ModelMetrics[name]
		r := !had
		up := func(v *int64, f int64) {
			if f > *v {
				*v, r = f, true
			}
		}
		up(&m.Requests.Count, fm.Requests.Count)
		up(&m.Requests.UserInitiated, fm.Requests.UserInitiated)
		if fm.Requests.PremiumCost > m.Requests.PremiumCost+1e-9 {
			m.Requests.PremiumCost, r = fm.Requests.PremiumCost, true
		}
		up(&m.Usage.InputTokens, fm.Usage.InputTokens)
		up(&m.Usage.OutputTokens, fm.Usage.OutputTokens)
		up(&m.Usage.CacheReadTokens, fm.Usage.CacheReadTokens)
		up(&m.Usage.CacheWriteTokens, fm.Usage.CacheWriteTokens)
		up(&m.Usage.ReasoningTokens, fm.Usage.ReasoningTokens)
		up(&m.TotalNanoAIU, fm.TotalNanoAIU)
		if r {
			out.ModelMetrics[name], raised = m, true
		}
	}
	if raised {
		out.Retotal()
	}
	for _, p := range []struct {
		v *int64
		f int64
	}{
		{&out.TotalAPIDurationMs, floor.TotalAPIDurationMs},
		{&out.CodeChanges.LinesAdded, floor.CodeChanges.LinesAdded},
		{&out.CodeChanges.LinesRemoved, floor.CodeChanges.LinesRemoved},
		{&out.CodeChanges.FilesModified, floor.CodeChanges.FilesModified},
	} {
		if p.f > *p.v {
			*p.v, raised = p.f, true
		}
	}
	return out, raised
}

// sameUsage reports whether two summaries give out the same figures.
func sameUsage(a, b session.UsageSummary) bool {
	if len(a.ModelMetrics) != len(b.ModelMetrics) {
		return false
	}
	for name, m := range a.ModelMetrics {
		o, ok := b.ModelMetrics[name]
		if !ok || m.Requests.Count != o.Requests.Count || m.Requests.UserInitiated != o.Requests.UserInitiated ||
			math.Abs(m.Requests.PremiumCost-o.Requests.PremiumCost) > 1e-9 || m.Usage != o.Usage || m.TotalNanoAIU != o.TotalNanoAIU {
			return false
		}
	}
	return a.TotalNanoAIU == b.TotalNanoAIU && a.TotalUserRequests == b.TotalUserRequests &&
		a.TotalAPIDurationMs == b.TotalAPIDurationMs && a.TokenDetails == b.TokenDetails && a.CodeChanges == b.CodeChanges &&
		math.Abs(a.TotalPremiumRequestCost-b.TotalPremiumRequestCost) <= 1e-9
}
