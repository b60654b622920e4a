//go:build windows

package session

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenReadLetsTheCLIDelete: while a transcript is open to be read, the
// CLI can still rename it and delete it; what was opened stays readable.
func TestOpenReadLetsTheCLIDelete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "session")
	require.NoError(t, os.Mkdir(dir, 0o755))
	p := filepath.Join(dir, "events.jsonl")
	require.NoError(t, os.WriteFile(p, []byte("line\n"), 0o644))
	fh, err := openRead(p)
	require.NoError(t, err)
	defer fh.Close()
	moved := filepath.Join(dir, "moved.jsonl")
	require.NoError(t, os.Rename(p, moved))
	require.NoError(t, os.Remove(moved))
	b, err := io.ReadAll(fh)
	require.NoError(t, err)
	require.Equal(t, "line\n", string(b))
}
