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

// UsageResult is a session's usage as read from its transcript.
type UsageResult struct {
	Summary session.UsageSummary
	// Context is where the session runs (repository, branch, ...), as its
	// transcript says.
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
	Log      *Logger
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

// Usage returns the usage of the session whose transcript is at path (the
// session is named by the transcript's directory). With a sync point, it
// waits up to SyncWait for the CLI to create the transcript and to write
// the hook's hook.start event, if the transcript has hook events at all.
// An error means that the transcript could not be read, or is outside the
// roots (usage.ErrOutsideRoots).
func (u *UsageCounter) Usage(path string, sync *SyncPoint) (UsageResult, error) {
	var res UsageResult
	start := time.Now()
	abs, err := filepath.Abs(path)
	if err != nil {
		return res, err
	}
	waiting := sync != nil && u.SyncWait > 0
	until := start.Add(u.SyncWait)
	resolved, err := u.confine(abs)
	if errors.Is(err, os.ErrNotExist) && waiting {
		// The CLI creates the transcript at its first write, which may come
		// after the first hooks of a short session.
		for pause := 500 * time.Microsecond; errors.Is(err, os.ErrNotExist) && time.Now().Before(until); pause = min(2*pause, 4*time.Millisecond) {
			time.Sleep(pause)
			resolved, err = u.confine(abs)
		}
		res.Waited = time.Since(start)
	}
	if err != nil {
		return res, err
	}

	cachePath := ""
	if u.CacheDir != "" {
		cachePath = filepath.Join(u.CacheDir, CacheKey(usage.SessionIDOf(resolved))+".json")
	}
	c, f, why := u.load(cachePath, resolved)
	if f == nil {
		res.Restart = why
		c = usageCache{Version: usageCacheVersion, Path: resolved}
		f = session.NewCursor(resolved, session.CursorOptions{})
	}
	loaded := f.Offset()
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
		return res, fmt.Errorf("transcript %s: %w", resolved, err)
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
				return res, fmt.Errorf("transcript %s: %w", resolved, err)
			}
			if res.Synced = synced(); res.Synced {
				break
			}
		}
		res.Waited = time.Since(start)
	}
	res.Offset = f.Offset()
	res.Summary = f.Tracker().Summary()
	if c := f.Tracker().Context(); c != nil {
		res.Context = *c
	}
	if res.Restart == "file" {
		u.Log.Infof("transcript %s was truncated or replaced since the last hook; read again from its start", resolved)
	}

	if cachePath != "" && (f.Offset() != loaded || res.Restart != "") {
		if loaded == 0 && res.Restart != "file" {
			// A session new to the cache: a good time to forget old ones.
			u.prune(time.Now())
		}
		cp := f.Checkpoint()
		c.Checkpoint = &cp
		c.Session, err = f.Tracker().MarshalState()
		if err == nil {
			err = u.save(cachePath, c)
		}
		if err != nil {
			u.Log.Warnf("could not write the usage cache %s (the next hook reads the transcript again): %v", cachePath, err)
		}
	}
	return res, nil
}

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
		u.Log.Infof("ignoring the usage cache %s: %v", cachePath, err)
		return usageCache{}, nil, "cache"
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
