package usage

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidSessionID(t *testing.T) {
	for _, ok := range []string{"3400c9a6-e6e1-4f11-95cb-6aa9148ed529", "abc_1"} {
		assert.True(t, ValidSessionID(ok), ok)
	}
	for _, bad := range []string{"", "..", "../x", "a/b", `a\b`, "a b", "a\x00", "é", string(make([]byte, 200))} {
		assert.False(t, ValidSessionID(bad), "%q", bad)
		_, err := TranscriptPath("/state", bad)
		assert.Error(t, err, "%q", bad)
	}
	p, err := TranscriptPath("/state", "abc")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join("/state", "abc", TranscriptName), p)
}

func TestConfine(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "home", ".copilot", "session-state")
	inside := filepath.Join(root, "s1", TranscriptName)
	outside := filepath.Join(base, "secret.txt")
	require.NoError(t, os.MkdirAll(filepath.Dir(inside), 0o755))
	require.NoError(t, os.WriteFile(inside, []byte("{}\n"), 0o644))
	require.NoError(t, os.WriteFile(outside, []byte("secret\n"), 0o644))
	// A link inside the root to a file outside it, and a directory link.
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "s1", "link.jsonl")))
	require.NoError(t, os.Symlink(base, filepath.Join(root, "up")))
	// A root reached through a link, and a link into the root from outside.
	require.NoError(t, os.Symlink(filepath.Join(base, "home"), filepath.Join(base, "homelink")))
	require.NoError(t, os.Symlink(inside, filepath.Join(base, "into.jsonl")))
	roots := []string{root}

	got, err := Confine(inside, roots)
	require.NoError(t, err)
	want, _ := filepath.EvalSymlinks(inside)
	assert.Equal(t, want, got)

	// The same file named through a linked parent of the root is fine.
	_, err = Confine(filepath.Join(base, "homelink", ".copilot", "session-state", "s1", TranscriptName), []string{filepath.Join(base, "homelink", ".copilot", "session-state")})
	require.NoError(t, err)
	_, err = Confine(inside, []string{filepath.Join(base, "homelink", ".copilot", "session-state")})
	require.NoError(t, err)

	c := NewConfiner(roots) // one for every path: its roots are resolved once
	for name, p := range map[string]string{
		"outside":           outside,
		"dot-dot":           filepath.Join(root, "s1", "..", "..", "..", "..", "secret.txt"),
		"raw dot-dot":       root + "/s1/../../../../secret.txt",
		"link to outside":   filepath.Join(root, "s1", "link.jsonl"),
		"through dir link":  filepath.Join(root, "up", "secret.txt"),
		"link into root":    filepath.Join(base, "into.jsonl"),
		"relative":          "s1/" + TranscriptName,
		"root itself":       root,
		"etc":               "/etc/passwd",
		"empty":             "",
		"nul":               inside + "\x00",
		"directory in root": filepath.Join(root, "s1"),
	} {
		_, err := Confine(p, roots)
		assert.Error(t, err, name)
		if name != "directory in root" {
			assert.True(t, errors.Is(err, ErrOutsideRoots), "%s: %v", name, err)
		}
		_, cerr := c.Confine(p)
		assert.Equal(t, err, cerr, name)
	}
	got, err = c.Confine(inside)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	// A session directory that is a link within the root resolves to
	// where it leads.
	require.NoError(t, os.Symlink(filepath.Join(root, "s1"), filepath.Join(root, "s2")))
	got, err = c.Confine(filepath.Join(root, "s2", TranscriptName))
	require.NoError(t, err)
	assert.Equal(t, want, got)
}
