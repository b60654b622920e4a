// Package forwarder is otelcol-copilot-hook: the small program GitHub
// Copilot CLI runs for each hook, which adds the session's usage to the
// payload (Option A of github/copilot-cli#3686) and hands it to the
// copilot receiver of otelcol-copilot, without ever failing or slowing the
// developer's agent.
//
// Forward reads one payload, adds the session's usage computed from its
// transcript with the collector's own accounting (read incrementally, see
// UsageCounter), replays what is spooled, and posts the payload; whatever
// the collector does not take now is spooled (see Spool) and replayed by a
// later hook, by a background drainer (DrainWhenUp) that waits for the
// collector's health, or by Drain.
package forwarder

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/filelock"
	"github.com/otelcol-copilot/otelcol-copilot/internal/hook"
	"github.com/otelcol-copilot/otelcol-copilot/internal/usage"
)

// Forwarder defaults.
const (
	DefaultEndpoint     = "http://127.0.0.1:4320"
	DefaultTimeout      = 300 * time.Millisecond
	DefaultReplayBudget = 200 * time.Millisecond
	DefaultSyncWait     = 150 * time.Millisecond
	DefaultMaxPayload   = 16 << 20
	// DefaultStdinWait bounds the wait for the CLI to close stdin.
	DefaultStdinWait = 5 * time.Second
)

// minReplaySlot is the least time left in the replay budget for which
// another spooled payload is sent.
const minReplaySlot = 20 * time.Millisecond

// Forwarder delivers hook payloads to the collector.
type Forwarder struct {
	Client *Client
	// Spool holds the payloads for Client.Endpoint.
	Spool *Spool
	// Legacy, when set, is where an older forwarder spooled payloads for
	// no endpoint in particular; they are moved into Spool (see
	// adoptLegacy).
	Legacy *Spool
	// Usage computes the usage added to payloads; nil adds none.
	Usage *UsageCounter
	// SyncHooks are the hook types whose usage waits for the CLI to write
	// the hook's own hook.start line (see SyncPoint); nil means
	// DefaultSyncHooks.
	SyncHooks []string
	// CopilotHome locates transcripts of payloads without transcriptPath.
	CopilotHome string
	// Timeout bounds each POST.
	Timeout time.Duration
	// ReplayBudget bounds the time spent replaying the spool before the
	// payload is sent.
	ReplayBudget time.Duration
	// MaxPayload bounds the payload read from stdin.
	MaxPayload int64
	// StdinWait bounds the wait for stdin to be closed.
	StdinWait time.Duration
	Log       *Logger
}

// Result says what Forward did with a payload.
type Result struct {
	Type      string
	ID        string
	SessionID string
	// Usage is set when the usage was added to the payload.
	Usage bool
	// Status is "delivered", "spooled", or "dropped".
	Status string
	// Reason says why a payload was spooled or dropped.
	Reason string
	Replay ReplayResult
	Time   time.Duration
}

// Forward reads a payload of the given hook type from stdin and delivers or
// spools it. It never fails: what goes wrong is logged and in the result.
func (f *Forwarder) Forward(hookType string, stdin io.Reader) (res Result) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			res.Status, res.Reason = "dropped", fmt.Sprintf("internal error: %v", r)
			f.Log.Errorf("internal error, payload lost: %v", r)
		}
		res.Time = time.Since(start)
		f.Log.Debugf("%s %s %s in %s (usage %t) %s", res.Type, res.ID, res.Status, res.Time.Round(time.Microsecond), res.Usage, res.Reason)
	}()

	body, err := readPayload(stdin, f.maxPayload(), f.stdinWait())
	typ, known := hook.Canonical(hookType)
	res.Type = typ
	switch {
	case !known:
		res.Status = "dropped"
		res.Reason = fmt.Sprintf("hook type %q (the argument after forward) is not one of %s", hookType, strings.Join(hook.Types, ", "))
		f.Log.Errorf("payload dropped: %s", res.Reason)
		return res
	case err != nil:
		res.Status, res.Reason = "dropped", err.Error()
		f.Log.Errorf("%s payload dropped: %v", typ, err)
		return res
	}

	body = f.addUsage(typ, body, &res)
	e := Entry{Type: typ, ID: NewID(), Received: time.Now(), Body: body}
	res.ID = e.ID
	f.deliver(e, &res)
	return res
}

// addUsage adds the session's usage to the payload when it can.
func (f *Forwarder) addUsage(typ string, body []byte, res *Result) []byte {
	p, err := hook.Decode(body, typ, hook.Options{})
	if err != nil {
		// The collector decides; it answers 400 if it agrees.
		f.Log.Warnf("%s payload is not a hook payload this forwarder understands (%v); forwarding it without usage", typ, err)
		return body
	}
	res.SessionID = p.SessionID
	if f.Usage == nil || p.Usage != nil {
		return body
	}
	// A subagent's own hooks name the subagent as their session; the
	// usage is its session's.
	owner := p.OwnerSessionID(nil)
	path, err := TranscriptPath(f.CopilotHome, owner, p.TranscriptPath)
	if err != nil {
		f.Log.Warnf("no transcript for the %s payload (%v); forwarding it without usage", typ, err)
		return body
	}
	var sync *SyncPoint
	if !p.Time.IsZero() && f.syncs(typ) {
		sync = &SyncPoint{HookType: typ, Time: p.Time}
	}
	u, err := f.Usage.SessionUsage(owner, path, sync)
	if errors.Is(err, usage.ErrOutsideRoots) && p.TranscriptPath != "" {
		// A transcriptPath this forwarder may not read: the session's own
		// place under COPILOT_HOME may still be right.
		if alt, aerr := TranscriptPath(f.CopilotHome, owner, ""); aerr == nil {
			f.Log.Warnf("the %s payload names the transcript %s, which is not under %s; using %s", typ, path, strings.Join(f.Usage.Roots, ", "), alt)
			path = alt
			u, err = f.Usage.SessionUsage(owner, path, sync)
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f.Log.Debugf("session %s has no transcript at %s and no usage in the session store yet; forwarding the %s payload without usage", p.SessionID, path, typ)
		return body
	case errors.Is(err, usage.ErrOutsideRoots):
		f.Log.Warnf("the %s payload names the transcript %s, which is not under %s (see --copilot-home); forwarding it without usage",
			typ, path, strings.Join(f.Usage.Roots, ", "))
		return body
	case err != nil:
		f.Log.Warnf("could not read the transcript of session %s (%v); forwarding the %s payload without usage", p.SessionID, err, typ)
		return body
	}
	f.Log.Debugf("usage of %s: %d calls from the %s (store: %q, raised %t); read %d bytes to offset %d, synced %t, waited %s, restart %q",
		path, u.Calls, u.Source, u.Store, u.Raised, u.Read, u.Offset, u.Synced, u.Waited.Round(time.Microsecond), u.Restart)
	out, added, err := hook.WithUsageFrom(body, u.Summary, u.Source)
	if err != nil {
		f.Log.Warnf("could not add usage to the %s payload: %v", typ, err)
		return body
	}
	res.Usage = added
	// Where the session runs, for a collector that counts its hooks
	// without its transcript: the ticket of the branch, the repository's
	// team.
	if c := u.Context; c.Repository != "" || c.Branch != "" || c.GitRoot != "" {
		if withCtx, _, err := hook.WithContext(out, hook.SessionContext{Repository: c.Repository, Branch: c.Branch, GitRoot: c.GitRoot, HeadCommit: c.HeadCommit}); err == nil {
			out = withCtx
		}
	}
	return out
}

// deliver replays the spool and sends the payload, or spools it.
func (f *Forwarder) deliver(e Entry, res *Result) {
	lock, held, err := f.Spool.lock()
	if err != nil {
		f.Log.Warnf("could not take the spool lock in %s: %v", f.Spool.Dir, err)
	}
	if held {
		defer lock.Unlock()
		f.adoptLegacy()
	}
	if until := f.Spool.backoff(); !until.IsZero() {
		if time.Now().Before(until) {
			f.spool(e, res, fmt.Sprintf("the collector asked to wait until %s", until.Format(time.RFC3339)))
			return
		}
		if held {
			f.Spool.clearBackoff()
		}
	}
	replayDeadline := time.Now().Add(f.ReplayBudget)
	if held {
		res.Replay = f.replay(replayDeadline)
		if res.Replay.Pending > 0 {
			f.spool(e, res, "older payloads are still spooled ("+res.Replay.Stopped+")")
			return
		}
	} else if items, err := f.Spool.list(); err == nil && len(items) > 0 {
		// Another process is replaying: go behind what it has to send.
		f.spool(e, res, "another hook is replaying the spool")
		return
	}
	// Also when the spool is unusable: the collector may be up.
	a := f.send(e, f.Timeout)
	switch {
	case a.Outcome == Delivered:
		res.Status = "delivered"
		if held {
			// Payloads other hooks spooled while this one replayed and sent.
			res.Replay.add(f.replay(replayDeadline))
		}
	case !a.Outcome.keep():
		res.Status, res.Reason = "dropped", a.String()
		f.logDrop(e, a)
	default:
		if a.Outcome == Unauthorized {
			f.logKeep(a)
		}
		f.spool(e, res, a.String())
	}
}

func (f *Forwarder) send(e Entry, timeout time.Duration) Attempt {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	a := f.Client.Send(ctx, e)
	if a.Outcome == Refused && a.RetryAfter > 0 {
		f.Spool.setBackoff(time.Now().Add(a.RetryAfter))
	}
	return a
}

func (f *Forwarder) spool(e Entry, res *Result, why string) {
	res.Status, res.Reason = "spooled", why
	if _, err := f.Spool.Put(e); err != nil {
		res.Status = "dropped"
		res.Reason = fmt.Sprintf("%s; could not spool it: %v", why, err)
		f.Log.Errorf("%s payload %s lost: could not write it to the spool %s: %v", e.Type, e.ID, f.Spool.Dir, err)
		return
	}
	f.Log.Warnf("%s payload %s spooled: %s", e.Type, e.ID, why)
}

func (f *Forwarder) logDrop(e Entry, a Attempt) {
	switch a.Outcome {
	case TooLarge:
		f.Log.Errorf("%s payload %s dropped: the collector refused its size (%d bytes): %s", e.Type, e.ID, len(e.Body), a.Message)
	default:
		f.Log.Errorf("%s payload %s dropped: the collector rejected it: %s", e.Type, e.ID, a)
	}
}

func (f *Forwarder) logKeep(a Attempt) {
	switch a.Outcome {
	case Unauthorized:
		f.Log.Errorf("the collector at %s refused the token (%s): check --token-file, OTELCOL_COPILOT_TOKEN or OTELCOL_COPILOT_TOKEN_FILE against the receiver's configuration; payloads are kept in the spool %s until then",
			f.Client.Endpoint, a, f.Spool.Dir)
	case Refused:
		f.Log.Warnf("the collector at %s is busy (%s, Retry-After %s)", f.Client.Endpoint, a, a.RetryAfter)
	default:
		f.Log.Warnf("the collector at %s did not take the payload: %s", f.Client.Endpoint, a)
	}
}

// ReplayResult says what a replay of the spool did.
type ReplayResult struct {
	Delivered int
	// Dropped payloads were refused by the collector for good (400, 413)
	// or their files were not payloads (corrupt).
	Dropped int
	// Pending is how many payloads are left in the spool, not counting
	// those other processes are sending.
	Pending int
	// Stopped says why the replay stopped with payloads left: the
	// collector's answer, or "time budget".
	Stopped string
	// Last is the last failed attempt.
	Last *Attempt
}

func (r *ReplayResult) add(o ReplayResult) {
	r.Delivered += o.Delivered
	r.Dropped += o.Dropped
	r.Pending = o.Pending
	r.Stopped = o.Stopped
	if o.Last != nil {
		r.Last = o.Last
	}
}

// replay sends spooled payloads oldest first until the spool is empty, one
// is not taken, or deadline. The caller holds the spool lock.
func (f *Forwarder) replay(deadline time.Time) ReplayResult {
	var r ReplayResult
	items, err := f.Spool.list()
	if err != nil {
		f.Log.Warnf("could not list the spool %s: %v", f.Spool.Dir, err)
		r.Pending, r.Stopped = 1, err.Error()
		return r
	}
	if len(items) == 0 {
		return r
	}
	items = f.Spool.recover(items, filelock.IsReal)
	pending := 0
	for _, it := range items {
		if !it.claimed {
			pending++
		}
	}
	for _, it := range items {
		if it.claimed {
			continue // another process is sending it
		}
		left := time.Until(deadline)
		if left < minReplaySlot {
			r.Stopped = "time budget"
			break
		}
		name, ok, err := f.Spool.claim(it)
		if err != nil {
			f.Log.Warnf("could not claim spooled payload %s: %v", it.id, err)
			r.Stopped = err.Error()
			break
		}
		pending--
		if !ok {
			continue // dropped or claimed by another process meanwhile
		}
		e, err := f.Spool.read(name)
		if errors.Is(err, errCorrupt) {
			f.Log.Errorf("dropping spooled payload %s: %v", it.id, err)
			_ = f.Spool.remove(name)
			r.Dropped++
			continue
		}
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed by someone else meanwhile
		}
		if err != nil {
			// Nothing says the payload is bad: keep it in its place and
			// try again at the next replay.
			if uerr := f.Spool.unclaim(it.base, name); uerr != nil {
				f.Log.Errorf("could not put spooled payload %s back (it is retried once its claim is stale): %v", it.id, uerr)
			}
			pending++
			f.Log.Warnf("could not read spooled payload %s; it stays in the spool: %v", it.id, err)
			r.Stopped = "could not read a spooled payload: " + err.Error()
			break
		}
		a := f.send(e, min(f.Timeout, left))
		if a.Outcome.keep() {
			if err := f.Spool.unclaim(it.base, name); err != nil {
				f.Log.Errorf("could not put spooled payload %s back (it is retried once its claim is stale): %v", e.ID, err)
			}
			pending++
			f.logKeep(a)
			r.Stopped, r.Last = a.String(), &a
			break
		}
		if err := f.Spool.remove(name); err != nil {
			f.Log.Errorf("could not remove delivered spooled payload %s (it would be sent again; the collector ignores it by id): %v", e.ID, err)
		}
		if a.Outcome == Delivered {
			r.Delivered++
		} else {
			r.Dropped++
			f.logDrop(e, a)
		}
	}
	r.Pending = pending
	if r.Delivered > 0 || r.Dropped > 0 {
		f.Log.Infof("replayed the spool: %d delivered, %d dropped, %d left", r.Delivered, r.Dropped, r.Pending)
	}
	return r
}

// DrainResult says what Drain did.
type DrainResult struct {
	ReplayResult
	Spool Stats
	// Busy is set when another process held the spool lock throughout.
	Busy bool
}

// Drain replays the whole spool now, ignoring a Retry-After, within budget.
func (f *Forwarder) Drain(budget time.Duration) (DrainResult, error) {
	var d DrainResult
	lock, held, err := f.Spool.lockWait(min(budget, 10*time.Second))
	if err != nil {
		return d, fmt.Errorf("spool %s: %w", f.Spool.Dir, err)
	}
	if !held {
		d.Busy = true
	} else {
		defer lock.Unlock()
		f.adoptLegacy()
		f.Spool.clearBackoff()
		deadline := time.Now().Add(budget)
		for {
			r := f.replay(deadline)
			d.add(r)
			if r.Delivered+r.Dropped == 0 || r.Pending == 0 || r.Last != nil || time.Now().After(deadline) {
				break
			}
		}
	}
	d.Spool, err = f.Spool.Stats()
	return d, err
}

// DefaultSyncHooks are the hooks whose usage waits for the CLI's writes by
// default: the end of a turn, of a subagent and of the session, where the
// usage is complete and the wait (about the CLI's write interval, some
// 100 ms) is least felt. Other hooks get the usage the transcript holds
// when they run, which lags the CLI by its unwritten events.
var DefaultSyncHooks = []string{hook.AgentStop, hook.SubagentStop, hook.SessionEnd}

func (f *Forwarder) syncs(typ string) bool {
	hooks := f.SyncHooks
	if hooks == nil {
		hooks = DefaultSyncHooks
	}
	for _, h := range hooks {
		if h == typ {
			return true
		}
	}
	return false
}

// ParseHookList reads a comma-separated list of hook types (either
// dialect), "all" or "none".
func ParseHookList(s string) ([]string, error) {
	switch strings.TrimSpace(s) {
	case "all":
		return append([]string(nil), hook.Types...), nil
	case "none", "":
		return []string{}, nil
	}
	var out []string
	for _, name := range strings.Split(s, ",") {
		t, ok := hook.Canonical(strings.TrimSpace(name))
		if !ok {
			return nil, fmt.Errorf("%q is not a hook type (%s)", name, strings.Join(hook.Types, ", "))
		}
		out = append(out, t)
	}
	return out, nil
}

// NewID returns a fresh idempotency key: 32 hexadecimal digits.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (f *Forwarder) maxPayload() int64 {
	if f.MaxPayload > 0 {
		return f.MaxPayload
	}
	return DefaultMaxPayload
}

func (f *Forwarder) stdinWait() time.Duration {
	if f.StdinWait > 0 {
		return f.StdinWait
	}
	return DefaultStdinWait
}

// readPayload reads stdin up to max bytes. A larger payload is read to its
// end (so that the CLI's write does not fail) and refused.
func readPayload(r io.Reader, max int64, wait time.Duration) ([]byte, error) {
	if fi, ok := r.(interface{ Stat() (os.FileInfo, error) }); ok {
		if st, err := fi.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return nil, errors.New("stdin is a terminal: the CLI writes the payload to stdin (run this as a hook, or pipe a payload into it)")
		}
	}
	type read struct {
		body []byte
		n    int64
		err  error
	}
	done := make(chan read, 1)
	go func() {
		body, err := io.ReadAll(io.LimitReader(r, max+1))
		n := int64(len(body))
		if err == nil && n > max {
			var rest int64
			rest, err = io.Copy(io.Discard, r)
			n += rest
		}
		done <- read{body, n, err}
	}()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case rd := <-done:
		switch {
		case rd.err != nil:
			return nil, fmt.Errorf("reading the payload from stdin: %w", rd.err)
		case rd.n > max:
			return nil, fmt.Errorf("the payload (%d bytes) is larger than the limit of %d bytes", rd.n, max)
		case len(bytes.TrimSpace(rd.body)) == 0:
			return nil, errors.New("stdin was empty: no payload")
		}
		return rd.body, nil
	case <-timer.C:
		return nil, fmt.Errorf("stdin was not closed within %s: no complete payload", wait)
	}
}
