package tailer

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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
	require.NoError(t, os.MkdirAll(filepath.Join(root, "ss", "d", "events.jsonl"), 0o755)) // a directory, not a file
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
	require.Equal(t, []string{"ss/a/events.jsonl", "ss/b/events.jsonl", "ss/link/events.jsonl"}, glob("ss/*/events.jsonl"))
	require.Equal(t, []string{"ss/b/events.jsonl", "ss/b/other.jsonl"}, glob("ss/b/*.jsonl"))
	require.Equal(t, []string{"ss/a/events.jsonl"}, glob("ss/a/events.jsonl"))
	require.Equal(t, []string{"home/u1/.copilot/ss/x/events.jsonl", "home/u2/.copilot/ss/y/events.jsonl"}, glob("home/*/.copilot/ss/*/events.jsonl"))
	require.Equal(t, []string{"ss/a/events.jsonl", "ss/b/events.jsonl", "ss/c/sub/events.jsonl", "ss/link/events.jsonl"}, glob("ss/**/events.jsonl"))
	require.Equal(t, []string{"ss/a/events.jsonl", "ss/b/events.jsonl"}, glob("ss/{a,b}/events.jsonl"))
	require.Empty(t, glob("nowhere/*/events.jsonl"))
}
