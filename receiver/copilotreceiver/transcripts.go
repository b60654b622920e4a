package copilotreceiver // import "github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver"

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
	"github.com/otelcol-copilot/otelcol-copilot/internal/usage"
	"github.com/otelcol-copilot/otelcol-copilot/receiver/copilotreceiver/internal/tailer"
)

// transcriptIndex locates the transcripts of sessions for the hook
// endpoint and the usage query, and admits only those the receiver may
// read: under the static directories of session_state.include once
// symbolic links are resolved, and matched by the include and exclude
// globs. What a transcript says comes from the tailer (tailer.Sessions),
// which reads each transcript once. It is safe for concurrent use.
type transcriptIndex struct {
	include, exclude []string
	roots            []string
	sessions         *tailer.Sessions
}

func newTranscriptIndex(include, exclude []string, sessions *tailer.Sessions) *transcriptIndex {
	x := &transcriptIndex{include: include, exclude: exclude, sessions: sessions}
	for _, p := range include {
		x.roots = append(x.roots, tailer.GlobRoot(p))
	}
	return x
}

// locate returns the transcript of a session the receiver follows, if
// there is one: the transcript a payload names, the one the tailer read
// for the session, or the session's directory in a directory the include
// globs let the CLI create sessions in.
func (x *transcriptIndex) locate(sessionID, transcriptPath string) (string, bool) {
	if transcriptPath != "" {
		if p, ok := x.admit(transcriptPath); ok {
			return p, true
		}
	}
	if p, ok := x.sessions.Path(sessionID); ok {
		return p, true
	}
	for _, c := range x.candidates(sessionID) {
		if p, ok := x.admit(c.path); ok {
			return p, true
		}
	}
	return "", false
}

// candidate is a session's transcript path under a glob, and the directory
// in which the CLI creates the session's directory.
type candidate struct{ path, dir string }

// candidates are where the CLI would write a session's transcript under
// the include globs: in a directory named by the session id, in each
// existing directory a glob lets session directories be in, whatever
// wildcards lie above it (/home/*/.copilot/session-state/*/events.jsonl).
func (x *transcriptIndex) candidates(sessionID string) []candidate {
	if !usage.ValidSessionID(sessionID) {
		return nil
	}
	var out []candidate
	for _, pattern := range x.include {
		tailer.SessionTranscripts(pattern, sessionID, func(path, dir string) {
			out = append(out, candidate{path: path, dir: dir})
		})
	}
	return out
}

// watches reports whether the receiver would read the session's transcript
// once the CLI writes it: a candidate path matches the globs, in a
// directory the CLI creates sessions in that exists.
func (x *transcriptIndex) watches(sessionID string) bool {
	for _, c := range x.candidates(sessionID) {
		if !tailer.Match(x.include, x.exclude, c.path) {
			continue
		}
		if fi, err := os.Stat(c.dir); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}

// admit returns the path of a transcript the receiver may read: under a
// root once links are resolved, and matched by the globs. It is the path
// as the globs match it, which is the tailer's name for the transcript,
// else the resolved path.
func (x *transcriptIndex) admit(path string) (string, bool) {
	clean := filepath.Clean(path)
	resolved, err := usage.Confine(clean, x.roots)
	if err != nil {
		return "", false
	}
	switch {
	case tailer.Match(x.include, x.exclude, clean):
		return clean, true
	case tailer.Match(x.include, x.exclude, resolved):
		return resolved, true
	}
	return "", false
}

// context is where the session of a transcript (as locate returned it)
// runs, as the tailer read it; nil when the transcript cannot be read.
func (x *transcriptIndex) context(path string) *session.Context {
	c, err := x.sessions.Context(path)
	if err != nil || c.SessionID == "" {
		return nil
	}
	return &c
}

type recentFile struct {
	path    string
	modTime time.Time
}

// recent returns the n most recently written transcripts the receiver
// follows (all of them for a negative n), newest first.
func (x *transcriptIndex) recent(n int) []recentFile {
	seen := map[string]bool{}
	var all []recentFile
	for _, pattern := range x.include {
		_ = tailer.GlobFiles(pattern, func(p string, info fs.FileInfo) {
			if seen[p] || !tailer.Match(x.include, x.exclude, p) {
				return
			}
			seen[p] = true
			all = append(all, recentFile{path: p, modTime: info.ModTime()})
		})
	}
	slices.SortFunc(all, func(a, b recentFile) int {
		if c := b.modTime.Compare(a.modTime); c != 0 {
			return c
		}
		return strings.Compare(a.path, b.path)
	})
	if n >= 0 && len(all) > n {
		all = all[:n]
	}
	return all
}
