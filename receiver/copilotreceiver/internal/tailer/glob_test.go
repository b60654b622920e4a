package tailer

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGlobFiles checks the segment walker against doublestar's semantics on
// a small tree.
func TestGlobFiles(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{
		"ss/a/events.jsonl", "ss/b/events.jsonl", "ss/b/other.jsonl", "ss/c/sub/events.jsonl",
		"home/u1/.copilot/ss/x/events.jsonl", "home/u2/.copilot/ss/y/events.jsonl",
	} {
		full := filepath.Join(root, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte("x"), 0o644))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(root, "ss", "d", "events.jsonl"), 0o755))       // a directory, not a file
	require.NoError(t, os.WriteFile(filepath.Join(root, "ss", "stray.txt"), []byte("x"), 0o644)) // a file where session directories are
	require.NoError(t, os.MkdirAll(filepath.Join(root, "ss", ".hidden"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "ss", ".hidden", "events.jsonl"), []byte("x"), 0o644))
	require.NoError(t, os.Symlink(filepath.Join(root, "ss", "a"), filepath.Join(root, "ss", "link")))
	glob := func(pattern string) []string {
		var out []string
		require.NoError(t, GlobFiles(filepath.Join(root, pattern), func(p string, info fs.FileInfo) {
			rel, err := filepath.Rel(root, p)
			require.NoError(t, err)
			require.True(t, info.Mode().IsRegular())
			out = append(out, filepath.ToSlash(rel))
		}))
		slices.Sort(out)
		return out
	}
	require.Equal(t, []string{"ss/.hidden/events.jsonl", "ss/a/events.jsonl", "ss/b/events.jsonl", "ss/link/events.jsonl"}, glob("ss/*/events.jsonl"))
	require.Equal(t, []string{"ss/a/events.jsonl", "ss/b/events.jsonl", "ss/link/events.jsonl"}, glob("ss/[!.]*/events.jsonl"))
	require.Equal(t, []string{"ss/b/events.jsonl", "ss/b/other.jsonl"}, glob("ss/b/*.jsonl"))
	require.Equal(t, []string{"ss/a/events.jsonl"}, glob("ss/a/events.jsonl"))
	require.Equal(t, []string{"home/u1/.copilot/ss/x/events.jsonl", "home/u2/.copilot/ss/y/events.jsonl"}, glob("home/*/.copilot/ss/*/events.jsonl"))
	require.Equal(t, []string{"ss/.hidden/events.jsonl", "ss/a/events.jsonl", "ss/b/events.jsonl", "ss/c/sub/events.jsonl", "ss/link/events.jsonl"}, glob("ss/**/events.jsonl"))
	require.Equal(t, []string{"ss/a/events.jsonl", "ss/b/events.jsonl"}, glob("ss/{a,b}/events.jsonl"))
	require.Empty(t, glob("nowhere/*/events.jsonl"))
}

// TestGlobFilesSkip: the files skip reports true for are not looked at
// nor passed to fn, skip is asked with each file's path, and a rescan
// that skips every session costs about one allocation per session (its
// name in the listing), not an entry and a joined path each.
func TestGlobFilesSkip(t *testing.T) {
	root := t.TempDir()
	const n = 200
	var want []string
	for i := range n {
		p := filepath.Join(root, fmt.Sprintf("s%03d", i), "events.jsonl")
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
		want = append(want, p)
	}
	pattern := filepath.Join(root, "*", "events.jsonl")
	var asked, looked []string
	require.NoError(t, globFiles(pattern, func(p []byte) bool {
		asked = append(asked, string(p))
		return !strings.HasSuffix(filepath.Dir(string(p)), "7")
	}, func(p string, _ fs.FileInfo, _ bool) { looked = append(looked, p) }))
	slices.Sort(asked)
	slices.Sort(looked)
	require.Equal(t, want, asked)
	require.Len(t, looked, n/10)
	for _, p := range looked {
		require.True(t, strings.HasSuffix(filepath.Dir(p), "7"), p)
	}

	skipAll := func([]byte) bool { return true }
	none := func(p string, _ fs.FileInfo, _ bool) { t.Errorf("%s looked at", p) }
	allocs := testing.AllocsPerRun(5, func() { require.NoError(t, globFiles(pattern, skipAll, none)) })
	require.Less(t, allocs/n, 1.5, "allocations per skipped session")
}

// TestGlobFilesPlain: a file is plain when the walk reached it from the
// pattern's directory through no symbolic link, which a walk without skip
// knows from the listing's entry types and the file's own lstat; with
// skip (names only), below a segment without wildcards, for ** and for a
// relative pattern it is not known, and not claimed.
func TestGlobFilesPlain(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	for _, p := range []string{"ss/a/events.jsonl", "ss/in.jsonl", "ss/deep/x/events.jsonl"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, p), []byte("x"), 0o644))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(outside, "o"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "o", "events.jsonl"), []byte("x"), 0o644))
	ss := filepath.Join(root, "ss")
	// A session directory that is a link (out of the root), a transcript
	// that is a link (to a file in the root), and a session below a link.
	require.NoError(t, os.Symlink(filepath.Join(outside, "o"), filepath.Join(ss, "dirlink")))
	require.NoError(t, os.MkdirAll(filepath.Join(ss, "f"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(ss, "in.jsonl"), filepath.Join(ss, "f", "events.jsonl")))
	require.NoError(t, os.Symlink(filepath.Join(ss, "deep"), filepath.Join(ss, "deeplink")))

	walk := func(pattern string, skip func([]byte) bool) map[string]bool {
		got := map[string]bool{}
		require.NoError(t, globFiles(pattern, skip, func(p string, info fs.FileInfo, plain bool) {
			require.True(t, info.Mode().IsRegular(), p)
			rel, err := filepath.Rel(root, p)
			require.NoError(t, err)
			got[filepath.ToSlash(rel)] = plain
		}))
		return got
	}
	require.Equal(t, map[string]bool{
		"ss/a/events.jsonl": true, "ss/dirlink/events.jsonl": false, "ss/f/events.jsonl": false,
	}, walk(filepath.Join(ss, "*", "events.jsonl"), nil))
	require.Equal(t, map[string]bool{
		"ss/deep/x/events.jsonl": true, "ss/deeplink/x/events.jsonl": false,
	}, walk(filepath.Join(ss, "*", "*", "events.jsonl"), nil))
	require.Equal(t, map[string]bool{"ss/in.jsonl": true}, walk(filepath.Join(ss, "*.jsonl"), nil))
	// Not known, so not claimed.
	keep := func([]byte) bool { return false }
	require.Equal(t, map[string]bool{
		"ss/a/events.jsonl": false, "ss/dirlink/events.jsonl": false, "ss/f/events.jsonl": false,
	}, walk(filepath.Join(ss, "*", "events.jsonl"), keep))
	require.Equal(t, map[string]bool{
		"ss/deep/x/events.jsonl": false, "ss/deeplink/x/events.jsonl": false,
	}, walk(filepath.Join(ss, "*", "x", "events.jsonl"), nil))
	// The directory above the first wildcard is the pattern's own (and
	// admit's root).
	require.Equal(t, map[string]bool{"ss/deep/x/events.jsonl": true}, walk(filepath.Join(ss, "deep", "*", "events.jsonl"), nil))
	require.Equal(t, map[string]bool{"ss/a/events.jsonl": false, "ss/deep/x/events.jsonl": false, "ss/dirlink/events.jsonl": false,
		"ss/f/events.jsonl": false, "ss/deeplink/x/events.jsonl": false}, walk(filepath.Join(ss, "**", "events.jsonl"), nil))
	require.Equal(t, map[string]bool{"ss/a/events.jsonl": true}, walk(filepath.Join(ss, "a", "events.jsonl"), nil))
	require.Equal(t, map[string]bool{"ss/f/events.jsonl": false}, walk(filepath.Join(ss, "f", "events.jsonl"), nil))
	t.Chdir(root)
	got := map[string]bool{}
	require.NoError(t, globFiles(filepath.Join("ss", "*", "events.jsonl"), nil, func(p string, _ fs.FileInfo, plain bool) { got[p] = plain }))
	require.Equal(t, false, got[filepath.Join("ss", "a", "events.jsonl")], "a relative pattern")
}

// TestSessionTranscripts: where a session's transcript would be under a
// glob, whatever wildcards lie above its directory.
func TestSessionTranscripts(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{
		"ss", "home/u1/.copilot/session-state", "home/u2/.copilot/session-state", "home/u3",
		"deep/a/b/session-state", "deep/c/session-state",
	} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "home", "file"), nil, 0o644))
	find := func(pattern, id string) []string {
		var out []string
		SessionTranscripts(filepath.Join(root, pattern), id, func(p, parent string) {
			rel, err := filepath.Rel(root, p)
			require.NoError(t, err)
			require.Equal(t, filepath.Dir(filepath.Dir(p)), parent)
			out = append(out, filepath.ToSlash(rel))
		})
		slices.Sort(out)
		return out
	}
	require.Equal(t, []string{"ss/s1/events.jsonl"}, find("ss/*/events.jsonl", "s1"))
	require.Equal(t, []string{"ss/s1/events.jsonl"}, find("ss/*/*.jsonl", "s1"))
	require.Equal(t, []string{"ss/s1/other.jsonl"}, find("ss/*/other.jsonl", "s1"))
	require.Empty(t, find("ss/*/*.txt", "s1"), "not the CLI's transcript name")
	require.Empty(t, find("ss/x-*/events.jsonl", "s1"), "the session directory's segment does not match")
	require.Equal(t, []string{"nowhere/s1/events.jsonl"}, find("nowhere/*/events.jsonl", "s1"), "named, not looked at")
	require.Empty(t, find("no*/*/events.jsonl", "s1"), "no such directory")
	require.Equal(t, []string{
		"home/u1/.copilot/session-state/s1/events.jsonl",
		"home/u2/.copilot/session-state/s1/events.jsonl",
	}, find("home/*/.copilot/session-state/*/events.jsonl", "s1"))
	require.Equal(t, []string{
		"deep/a/b/session-state/s1/events.jsonl",
		"deep/c/session-state/s1/events.jsonl",
	}, find("deep/**/session-state/*/events.jsonl", "s1"))
	require.Contains(t, find("deep/**/events.jsonl", "s1"), "deep/c/session-state/s1/events.jsonl")
}
