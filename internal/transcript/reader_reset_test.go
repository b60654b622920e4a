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

// TestReaderReadSize: a reader's buffer grows by its read size, so that
// one given a small read size (as the fuzz target's are) reads a short
// input without the default 256 KiB buffer; Reset keeps the read size.
func TestReaderReadSize(t *testing.T) {
	line := []byte(`{"type":"assistant.turn_end","data":{"turnId":"0"},"id":"a","timestamp":"2026-11-22T16:07:27.006Z","parentId":null}` + "\n")
	input := bytes.Repeat(line, 8)

	r := NewReader(bytes.NewReader(input), 0, 0, Options{})
	require.Len(t, readAll(t, r, len(input)), 8)
	require.GreaterOrEqual(t, cap(r.buf), readChunk, "the default read size")

	r = NewReader(bytes.NewReader(input), 0, 0, Options{})
	r.chunk = 64
	require.Len(t, readAll(t, r, len(input)), 8)
	require.Less(t, cap(r.buf), 4*len(input), "a small read size keeps the buffer small")

	r.Reset(bytes.NewReader(input), 0)
	require.Equal(t, 64, r.chunk)
	require.Len(t, readAll(t, r, len(input)), 8)
}
