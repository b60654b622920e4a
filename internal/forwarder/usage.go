package forwarder

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/hook"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
	"github.com/otelcol-copilot/otelcol-copilot/internal/usage"
)

// The usage cache keeps, per session, where reading its transcript
// stands: the session.Cursor's checkpoint (offset, fingerprint) and its
// tracker's state, so that each hook reads only the lines appended since
// the previous one, with the receiver's own accounting. It is
// <dir>/<key>.json:
//
//	{"v":2, "path":"…/events.jsonl", "hooks":{"agentStop":1795363647009, …},
//	 "checkpoint":<session.Checkpoint>, "session":<Tracker.MarshalState()>}
//
// where hooks is the newest hook.start time (unix ms) seen per hook type
// (see SyncPoint). A version 1 cache (the state of the former usage.File,
// under "file") is read as the same checkpoint, so an upgrade reads no
// transcript again. A cache for another path, of another version, or
// unreadable is ignored: the transcript is read from its start. A
// truncated or replaced transcript is read again by the cursor as the
// receiver does: what was counted stays counted and nothing is counted
// twice. The cache is replaced atomically (temporary file and rename):
// concurrent hooks of one session each write a whole, consistent state and
// the last rename wins; a cache behind the file only costs a longer read
// next time.
const usageCacheVersion = 2

type usageCache struct {
	Version    int                 `json:"v"`
	Path       string              `json:"path,omitempty"`
	Hooks      map[string]int64    `json:"hooks,omitempty"`
	Checkpoint *session.Checkpoint `json:"checkpoint,omitempty"`
	Session    json.RawMessage     `json:"session,omitempty"`
	// File is where version 1 kept the state of its usage.File.
	File json.RawMessage `json:"file,omitempty"`
	// Sent is the usage last given out for the session (added to a
	// payload, or printed): no later usage is less, field by field. It is
	// kept when the transcript's checkpoint is not usable.
	Sent *sentUsage `json:"sent,omitempty"`
	// StoreNote is the session store's problem last logged for the
	// session (a storeProblem), so that it is logged once, not at every
	// hook.
	StoreNote string `json:"storeNote,omitempty"`
}

// sentUsage is a usage given out, with where it was read and its calls.
type sentUsage struct {
	Summary session.UsageSummary `json:"usage"`
	Source  string               `json:"source"`
	Calls   int64                `json:"calls"`
}

// fileStateV1 is the state of a version 1 cache's usage.File.
type fileStateV1 struct {
	Version int             `json:"v"`
	Path    string          `json:"path"`
	Offset  int64           `json:"off"`
	FPLen   int             `json:"fpLen"`
	FPHash  []byte          `json:"fp"`
	Session json.RawMessage `json:"session"`
}

// upgrade turns a version 1 cache into the current version.
func (c *usageCache) upgrade() error {
	var f fileStateV1
	if err := json.Unmarshal(c.File, &f); err != nil {
		return fmt.Errorf("version 1 state: %w", err)
	}
	if f.Version != 1 {
		return fmt.Errorf("version 1 cache holds a state of version %d", f.Version)
	}
	c.Version, c.Path, c.File = usageCacheVersion, f.Path, nil
	c.Checkpoint = &session.Checkpoint{Version: session.CheckpointVersion, FPLen: f.FPLen, FPHash: f.FPHash, Offset: f.Offset}
	c.Session = f.Session
	return nil
}

// UsageResult is a session's usage as read from its transcript or its
// session store.
type UsageResult struct {
	// Summary is the session's cumulative usage: of the transcript or of
	// the store, whichever counts more calls (the transcript when they
	// tie), raised field by field to what the session's last result gave
	// out (never less than an earlier hook's).
	Summary session.UsageSummary
	// Source is where Summary was read: hook.UsageFromTranscript or
	// hook.UsageFromStore.
	Source string
	// Calls is the model calls Summary counts.
	Calls int64
	// Raised is set when Summary was raised to the last usage given out.
	Raised bool
	// Store says what the session store gave: "" (not read: none
	// configured, or the transcript had the hook's own line), the calls
	// it counts ("4 calls"), or the problem that kept it from being read.
	Store string
	// Context is where the session runs (repository, branch, ...), as its
	// transcript says, else as the session store's sessions table does.
	Context session.Context
	// Synced is set when the transcript showed the hook.start event of the
	// SyncPoint: every event the CLI wrote before running the hook is
	// counted.
	Synced bool
	// Waited is, when the call had to wait for the CLI to write the
	// transcript or the SyncPoint's hook.start, the time from the call's
	// start until it was written or the wait gave up.
	Waited time.Duration
	// Offset is how far the transcript is read (complete lines only).
	Offset int64
	// Read is the number of bytes read by this call.
	Read int64
	// Restart says why the transcript was read from its start: "" (it was
	// not, as far as is known here), "new" (no cache), "cache" (the cache
	// was unusable), or "file" (the transcript was truncated or replaced).
	Restart string

	loaded int64 // the offset the cache restored
}

// SyncPoint is the hook a payload comes from. The CLI writes a hook.start
// event (stamped no earlier than the payload) to the transcript before it
// runs the hook, but writes asynchronously, about every 100 ms: the hook
// may start before that line, and the usage records just before it, are in
// the file. Waiting for the line makes the usage include every model call
// made before the hook.
type SyncPoint struct {
	HookType string    // canonical hook type
	Time     time.Time // the payload's timestamp
}

// UsageCounter computes sessions' usage with the receiver's accounting
// (session.Cursor), keeping each session's state on disk.
type UsageCounter struct {
	// CacheDir holds the per-session caches; empty disables caching.
	CacheDir string
	// Roots are the directories transcripts must be under (after resolving
	// symbolic links); empty allows any path.
	Roots []string
	// SyncWait bounds the wait for a SyncPoint's hook.start; 0 waits not.
	SyncWait time.Duration
	// Store is the CLI's session store ($COPILOT_HOME/session-store.db);
	// empty reads none.
	Store string
	Log   *Logger
}

// CacheKey is the name of a session's cache file (without .json): the
// session id when it is a plain file name, else a hash of it.
func CacheKey(sessionID string) string {
	if usage.ValidSessionID(sessionID) {
		return sessionID
	}
	h := sha256.Sum256([]byte(sessionID))
	return "h-" + hex.EncodeToString(h[:16])
}

// Usage returns the usage of the session whose transcript is at path, the
// session being named by the transcript's directory (see SessionUsage).
func (u *UsageCounter) Usage(path string, sync *SyncPoint) (UsageResult, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return UsageResult{}, err
	}
	return u.SessionUsage(usage.SessionIDOf(abs), abs, sync)
}

// SessionUsage returns the usage of the session sessionID, whose
// transcript is at path. With a sync point, it waits up to SyncWait for
// the CLI to create the transcript and to write the hook's hook.start
// event, if the transcript has hook events at all.
//
// When a session store is configured and the transcript did not show the
// sync point's hook.start, the session's rows in the store are summed too,
// and the source with more calls is taken (the transcript when they tie):
// the CLI commits each call to the store as it ends but writes the
// transcript in batches, so mid-session the store is often ahead, while at
// the end the transcript is complete (and also has what the store does
// not: code changes, where the session runs). Either way the result is
// raised to the last usage given out for the session, kept in its cache,
// so a session's usage never goes backwards from hook to hook. A store
// that is missing, locked, corrupt or of an older schema is logged once
// per session and the transcript is used.
//
// An error means that neither the transcript nor the store has the
// session's usage: the transcript could not be read (fs.ErrNotExist when
// there is none yet), or is outside the roots (usage.ErrOutsideRoots).
func (u *UsageCounter) SessionUsage(sessionID, path string, sync *SyncPoint) (UsageResult, error) {
	var res UsageResult
	start := time.Now()
	abs, err := filepath.Abs(path)
	if err != nil {
		return res, err
	}
	waiting := sync != nil && u.SyncWait > 0
	until := start.Add(u.SyncWait)
	resolved, terr := u.confine(abs)
	if errors.Is(terr, os.ErrNotExist) && waiting {
		// The CLI creates the transcript at its first write, which may come
		// after the first hooks of a short session.
		for pause := 500 * time.Microsecond; errors.Is(terr, os.ErrNotExist) && time.Now().Before(until); pause = min(2*pause, 4*time.Millisecond) {
			time.Sleep(pause)
			resolved, terr = u.confine(abs)
		}
		res.Waited = time.Since(start)
	}
	if terr != nil && (u.Store == "" || !errors.Is(terr, os.ErrNotExist)) {
		return res, terr
	}

	cachePath := ""
	if u.CacheDir != "" {
		id := sessionID
		if resolved != "" {
			id = usage.SessionIDOf(resolved)
		}
		cachePath = filepath.Join(u.CacheDir, CacheKey(id)+".json")
	}
	c, f, why := u.load(cachePath, resolved)
	dirty := false
	var tr session.UsageSummary
	var trCalls int64
	if resolved != "" {
		if f == nil {
			res.Restart = why
			c.Version, c.Path, c.Hooks, c.Checkpoint, c.Session = usageCacheVersion, resolved, nil, nil, nil
			f = session.NewCursor(resolved, session.CursorOptions{})
		}
		if err := u.readTranscript(f, &c, sync, waiting, until, start, &res); err != nil {
			return res, fmt.Errorf("transcript %s: %w", resolved, err)
		}
		tr = f.Tracker().Summary()
		trCalls = tr.Calls()
		if ctx := f.Tracker().Context(); ctx != nil {
			res.Context = *ctx
		}
		if res.Restart == "file" {
			u.Log.Infof("transcript %s was truncated or replaced since the last hook; read again from its start", resolved)
		}
		if f.Offset() != res.loaded || res.Restart != "" {
			if res.loaded == 0 && res.Restart != "file" && cachePath != "" {
				// A session new to the cache: a good time to forget old ones.
				u.prune(time.Now())
			}
			cp := f.Checkpoint()
			c.Checkpoint = &cp
			if c.Session, err = f.Tracker().MarshalState(); err != nil {
				u.Log.Warnf("could not keep the accounting state of %s (the next hook reads the transcript again): %v", resolved, err)
				c.Checkpoint, c.Session = nil, nil
			}
			dirty = true
		}
	}
	res.Summary, res.Calls, res.Source = tr, trCalls, hook.UsageFromTranscript

	if u.Store != "" && !res.Synced {
		su, ok, info, problem, serr := readStore(u.Store, sessionID, res.Context == (session.Context{}))
		switch {
		case serr != nil:
			res.Store = problem
			if c.StoreNote != problem {
				c.StoreNote, dirty = problem, true
				u.logStore(sessionID, problem, serr)
			}
		case !ok:
			res.Store = "0 calls"
		default:
			res.Store = strconv.FormatInt(su.Calls, 10) + " calls"
			if resolved == "" || su.Ahead(tr) {
				code := tr.CodeChanges
				res.Summary, res.Calls, res.Source = su.Summary, su.Calls, hook.UsageFromStore
				res.Summary.CodeChanges = code
			}
			if info != nil {
				// No transcript context yet: where the store says the
				// session runs (no git root or commit there).
				res.Context = session.Context{SessionID: sessionID, Cwd: info.Cwd, Repository: info.Repository, Branch: info.Branch}
			}
		}
	}
	if resolved == "" && res.Source != hook.UsageFromStore {
		// Neither the transcript nor the store has the session.
		if dirty && cachePath != "" {
			u.trySave(cachePath, c)
		}
		return res, terr
	}

	if c.Sent != nil {
		res.Summary, res.Raised = raiseSummary(res.Summary, c.Sent.Summary)
		res.Calls = max(res.Calls, c.Sent.Calls)
	}
	if c.Sent == nil || c.Sent.Calls != res.Calls || c.Sent.Source != res.Source || !sameUsage(c.Sent.Summary, res.Summary) {
		c.Sent = &sentUsage{Summary: res.Summary, Source: res.Source, Calls: res.Calls}
		dirty = true
	}
	if c.Version == 0 {
		c.Version = usageCacheVersion
	}
	if dirty && cachePath != "" {
		u.trySave(cachePath, c)
	}
	return res, nil
}

// readTranscript reads what was appended to the transcript and, for a sync
// point, waits for its hook.start line.
func (u *UsageCounter) readTranscript(f *session.Cursor, c *usageCache, sync *SyncPoint, waiting bool, until, start time.Time, res *UsageResult) error {
	res.loaded = f.Offset()
	// The hook.start lines read note when each hook type last ran.
	onEvent := func(ev *transcript.Event) {
		d, ok := ev.Data.(*transcript.HookStartData)
		if !ok {
			return
		}
		if t, ok := hook.Canonical(d.HookType); ok {
			if c.Hooks == nil {
				c.Hooks = map[string]int64{}
			}
			c.Hooks[t] = max(c.Hooks[t], ev.Timestamp.UnixMilli())
		}
	}
	// update reads what was appended.
	update := func() error {
		from, restarts := f.Offset(), f.Restarts()
		if _, err := f.Update(onEvent); err != nil {
			return err
		}
		if f.Restarts() != restarts {
			res.Restart, from = "file", 0
		}
		res.Read += f.Offset() - from
		return nil
	}
	if err := update(); err != nil {
		return err
	}
	synced := func() bool {
		return sync == nil || c.Hooks[sync.HookType] >= sync.Time.UnixMilli()
	}
	res.Synced = sync != nil && synced()
	if waiting && !res.Synced && (len(c.Hooks) > 0 || f.Offset() == 0) {
		// The transcript has hook events, but not yet this hook's, or
		// nothing yet (the CLI created it and has not written its first
		// batch): the CLI has not written its last lines. Wait for them.
		// A transcript with lines but no hook events is an older CLI's,
		// which writes none: waiting would only cost SyncWait.
		for pause := 500 * time.Microsecond; time.Now().Before(until); pause = min(2*pause, 4*time.Millisecond) {
			time.Sleep(pause)
			if err := update(); err != nil {
				return err
			}
			if res.Synced = synced(); res.Synced {
				break
			}
		}
		res.Waited = time.Since(start)
	}
	res.Offset = f.Offset()
	return nil
}

func (u *UsageCounter) trySave(cachePath string, c usageCache) {
	if err := u.save(cachePath, c); err != nil {
		u.Log.Warnf("could not write the usage cache %s (the next hook reads the transcript again): %v", cachePath, err)
	}
}

// calls is the model calls a usage summary counts.
func (u *UsageCounter) confine(abs string) (string, error) {
	if len(u.Roots) == 0 {
		if _, err := os.Stat(abs); err != nil {
			return "", err
		}
		return abs, nil
	}
	return usage.Confine(abs, u.Roots)
}

// CacheMaxAge is how long the usage cache of a session that no hook has
// touched is kept. A session resumed later is read again from its start.
const CacheMaxAge = 30 * 24 * time.Hour

// prune removes the caches of sessions no hook touched for CacheMaxAge and
// temporary files left by processes that died while writing.
func (u *UsageCounter) prune(now time.Time) {
	des, err := os.ReadDir(u.CacheDir)
	if err != nil {
		return
	}
	for _, de := range des {
		name := de.Name()
		limit := CacheMaxAge
		switch {
		case strings.HasPrefix(name, tmpPrefix):
			limit = staleTemp
		case !strings.HasSuffix(name, ".json"):
			continue
		}
		if info, err := de.Info(); err == nil && now.Sub(info.ModTime()) > limit {
			_ = os.Remove(filepath.Join(u.CacheDir, name))
		}
	}
}

// load reads a cache and restores its cursor, with its tracker. A nil
// cursor means there is no usable cache, for the reason returned.
func (u *UsageCounter) load(cachePath, path string) (usageCache, *session.Cursor, string) {
	var c usageCache
	if cachePath == "" {
		return c, nil, "new"
	}
	b, err := os.ReadFile(cachePath)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil, "new"
	}
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	storeOnly := err == nil && c.Version == usageCacheVersion && c.Path == "" && c.Checkpoint == nil
	if err == nil && c.Version == 1 {
		err = c.upgrade()
	}
	if err == nil && c.Version != usageCacheVersion {
		err = fmt.Errorf("version %d, this build reads %d", c.Version, usageCacheVersion)
	}
	if err == nil && c.Path != path {
		err = fmt.Errorf("it is of %s, not of %s", c.Path, path)
	}
	if err == nil && (c.Checkpoint == nil || c.Session == nil) {
		err = errors.New("it holds no checkpoint")
	}
	var f *session.Cursor
	if err == nil {
		f = session.NewCursor(path, session.CursorOptions{})
		err = f.SetCheckpoint(*c.Checkpoint)
	}
	if err == nil {
		// Past the start, a state that cannot be restored is refused.
		err = f.Attach(c.Session)
	}
	if err != nil {
		// What was given out stays given out.
		kept := usageCache{Sent: c.Sent, StoreNote: c.StoreNote}
		if storeOnly {
			// A cache of the store alone, before the transcript existed.
			return kept, nil, "new"
		}
		if path != "" {
			u.Log.Infof("ignoring the usage cache %s: %v", cachePath, err)
		}
		return kept, nil, "cache"
	}
	return c, f, ""
}

func (u *UsageCounter) save(cachePath string, c usageCache) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	dir := filepath.Dir(cachePath)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s%s-%d-%s", tmpPrefix, filepath.Base(cachePath), os.Getpid(), strconv.FormatInt(time.Now().UnixNano(), 36))
	return writeFileAtomic(dir, tmp, filepath.Base(cachePath), b, 0o600)
}

// TranscriptPath is where a session's transcript is: the payload's
// transcriptPath when it has one, else
// <copilotHome>/session-state/<sessionID>/events.jsonl, for a session id
// that can name a directory.
func TranscriptPath(copilotHome, sessionID, fromPayload string) (string, error) {
	if fromPayload != "" {
		return fromPayload, nil
	}
	return usage.TranscriptPath(SessionStateDir(copilotHome), sessionID)
}

// SessionStateDir is where the CLI keeps its sessions' directories.
func SessionStateDir(copilotHome string) string {
	return filepath.Join(copilotHome, "session-state")
}
