package session

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenRead: openRead reads a file and fails as os.Open does: the
// tailer tells a transcript that is gone by fs.ErrNotExist.
func TestOpenRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "events.jsonl")
	require.NoError(t, os.WriteFile(p, []byte("line\n"), 0o644))
	fh, err := openRead(p)
	require.NoError(t, err)
	b, err := io.ReadAll(fh)
	require.NoError(t, err)
	assert.Equal(t, "line\n", string(b))
	assert.Equal(t, p, fh.Name())
	require.NoError(t, fh.Close())

	_, err = openRead(filepath.Join(dir, "gone"))
	_, want := os.Open(filepath.Join(dir, "gone"))
	require.Error(t, err)
	assert.True(t, errors.Is(err, fs.ErrNotExist), err)
	assert.Equal(t, want.Error(), err.Error())
	var pe *fs.PathError
	assert.True(t, errors.As(err, &pe))
}
