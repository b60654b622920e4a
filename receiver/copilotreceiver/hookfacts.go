package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/otelcol-copilot/otelcol-copilot/internal/hook"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/pipeline"
)

// Values of hooks.accounting.
const (
	AccountingAuto       = "auto"
	AccountingTranscript = "transcript"
	AccountingHooks      = "hooks"
)

// hookFacts takes each hook payload to the hook accounting of its session
// (session.HookTracker), and decides by hooks.accounting whether the
// session is counted from its transcript or from its hooks. Sessions are
// kept in an LRU of hooks.max_sessions; the usage they accepted, and the
// payloads they delivered, stay in the storage client. Payloads of
// different sessions are handled concurrently: a session's hookSession is
// only used with its lock held (sessionLocks), and the LRUs are safe for
// concurrent use.
type hookFacts struct {
	sessions    *lru.Cache[string, *hookSession]
	agents      *lru.Cache[string, string] // subagent instance id -> session id
	transcripts transcriptSessions
	mode        string // hooks.accounting
	opts        session.HookOptions
}

// hookSession is one session the hooks reported. Its fields are used with
// the session's lock held (hookServer.locks).
type hookSession struct {
	acct     *session.HookTracker
	followed bool   // counted from its transcript
	path     string // the transcript, once found
	// ctx and usage are acct's context and accepted usage (once read), for
	// the session list.
	ctx   *session.Context
	usage *session.UsageSummary
}

// session returns the session of id, made anew (its usage and payloads read
// from storage on first use) when the LRU holds none. Call it with the
// session's lock held, once per payload: the LRU may drop the session while
// a payload is handled (other sessions come in), and the same hookSession
// must serve the whole payload.
func (h *hookFacts) session(id string) *hookSession {
	s, ok := h.sessions.Get(id)
	if !ok {
		acct := session.NewHookTracker(id, h.opts)
		s = &hookSession{acct: acct, ctx: acct.Context()}
		h.sessions.Add(id, s)
	}
	return s
}

// own sets the payload's session to the session it belongs to: a
// subagent's hooks name the subagent as their session (see
// hook.Payload.OwnerSessionID).
func (h *hookFacts) own(p *hook.Payload) {
	owner := p.OwnerSessionID(h.agents.Get)
	if p.AgentID != "" && p.AgentID != owner {
		h.agents.Add(p.AgentID, owner)
	}
	p.SessionID = owner
}

// facts are the facts of a payload besides usage; call it once per
// payload. local says that the payload comes from this machine
// (X-Copilot-Hook-Host).
func (h *hookFacts) facts(s *hookSession, p *hook.Payload, local bool) *session.Facts {
	tc := h.transcript(s, p, local)
	ev := p.Event()
	f := &session.Facts{}
	s.acct.Apply(&ev, tc, s.followed, f)
	return f
}

// countedFromTranscript is the hooks.accounting rule for a session not yet
// counted from its transcript: in auto mode it is when the receiver finds
// the transcript, or when watched says the payload comes from this machine
// and the receiver watches the directory the CLI writes the session into:
// the CLI writes its transcript in batches, so the first hooks of a session
// can come before the file does. Once a session is counted from its
// transcript it stays so.
func countedFromTranscript(mode string, found bool, watched func() bool) bool {
	switch mode {
	case AccountingHooks:
		return false
	case AccountingTranscript:
		return true
	}
	return found || watched()
}

// transcript settles whether the payload's session is counted from its
// transcript, and returns the session's context as the transcript gives
// it: nil when it is not counted from it or the transcript gives none yet.
func (h *hookFacts) transcript(s *hookSession, p *hook.Payload, local bool) *session.Context {
	if h.mode == AccountingHooks {
		return nil // no transcript counts: none is looked up
	}
	path := s.path
	if path == "" {
		path = p.TranscriptPath
	}
	ts, found := h.transcripts.Lookup(p.SessionID, path)
	if found {
		s.path = ts.Path
	}
	if !s.followed {
		s.followed = countedFromTranscript(h.mode, found, func() bool { return local && h.transcripts.Watches(p.SessionID) })
	}
	if !s.followed {
		return nil
	}
	return ts.Ctx
}

// usage returns the facts of the usage a payload reports beyond the usage
// accepted so far for its session, and the usage to commit once the
// metrics pipeline took them (see session.HookTracker.Usage). Sessions
// counted from their transcript, and payloads without usage, have none.
func (h *hookFacts) usage(s *hookSession, p *hook.Payload) (*session.Facts, *session.HookUsage, error) {
	if p.Usage == nil || s.followed {
		return nil, nil, nil
	}
	if err := h.accepted(s); err != nil {
		return nil, nil, err
	}
	ev := p.Event()
	return s.acct.Usage(bg, &ev)
}

// record makes next (when not nil) the usage accepted for the session, and
// notes that the payload of id was taken by every signal but those not
// done, in one write to storage.
func (h *hookFacts) record(s *hookSession, next *session.HookUsage, id string, signals []pipeline.Signal, done map[string]bool) error {
	var pending []string
	for _, sig := range signals {
		if !done[sig.Name] {
			pending = append(pending, sig.Name)
		}
	}
	if err := s.acct.Record(bg, next, id, pending); err != nil {
		return err
	}
	if next == nil {
		return nil
	}
	return h.accepted(s)
}

// summary is the usage hooks reported for a session the receiver does not
// read the transcript of, if any was seen. Call it with the session's lock
// held.
func (h *hookFacts) summary(sessionID string) (*session.UsageSummary, error) {
	s, ok := h.sessions.Get(sessionID)
	if !ok {
		if h.opts.Store == nil {
			return nil, nil
		}
		s = h.session(sessionID)
	}
	if err := h.accepted(s); err != nil {
		return nil, err
	}
	return s.usage, nil
}

// accepted brings s.usage up to date with the session's accepted usage.
func (h *hookFacts) accepted(s *hookSession) error {
	u, err := s.acct.Accepted(bg)
	if err != nil {
		return err
	}
	s.usage = u
	return nil
}

// transcriptSessions is what the hook path asks of the receiver's
// transcripts, and the only place it asks: whether the receiver reads a
// session's transcript, and the session's context as the transcript gives
// it. It is called concurrently, for different sessions at once.
type transcriptSessions interface {
	// Lookup finds the transcript of a session the receiver reads: the one
	// at path (a payload's transcriptPath, or the Path an earlier Lookup
	// returned) if the receiver may read it, else the session's own under
	// session_state.include. false: the receiver reads none.
	Lookup(sessionID, path string) (transcriptSession, bool)
	// Watches reports whether the receiver will read the session's
	// transcript once the CLI writes it: it would lie under
	// session_state.include, in a directory that exists.
	Watches(sessionID string) bool
}

// transcriptSession is what the receiver's transcripts say of a session.
type transcriptSession struct {
	Path string           // where the transcript is
	Ctx  *session.Context // the session's context; nil while the transcript gives none
}

// indexedTranscripts answers transcriptSessions from the transcript index:
// the context is what the tailer last read of the transcript (a transcript
// it does not follow yet is read from where the tailer left it).
type indexedTranscripts struct{ index *transcriptIndex }

func (x indexedTranscripts) Lookup(sessionID, path string) (transcriptSession, bool) {
	p, ok := x.index.locate(sessionID, path)
	if !ok {
		return transcriptSession{}, false
	}
	return transcriptSession{Path: p, Ctx: x.index.context(p)}, true
}

func (x indexedTranscripts) Watches(sessionID string) bool { return x.index.watches(sessionID) }

var _ transcriptSessions = indexedTranscripts{}
