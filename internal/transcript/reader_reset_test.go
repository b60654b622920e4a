package transcript

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReaderReset reads two inputs with one reader: the second read is as
// if by a new reader, and the buffer is kept.
func TestReaderReset(t *testing.T) {
	line := []byte(`{"type":"assistant.turn_end","data":{"turnId":"0"},"id":"a","timestamp":"2026-11-22T16:07:27.006Z","parentId":null}` + "\n")
	r := NewReader(bytes.NewReader(append(bytes.Clone(line), line[:20]...)), 100, 0, Options{})
	it, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, int64(100+len(line)), it.End)
	_, err = r.Next()
	require.Equal(t, io.EOF, err, "an incomplete line waits")
	r.Final = true
	capBefore := cap(r.buf)

	r.Reset(bytes.NewReader(line), 7)
	require.False(t, r.Final)
	require.Equal(t, capBefore, cap(r.buf))
	it, err = r.Next()
	require.NoError(t, err)
	require.Equal(t, "assistant.turn_end", it.Event.Type)
	require.Equal(t, int64(7+len(line)), it.End)
	_, err = r.Next()
	require.Equal(t, io.EOF, err)
}
