package transcript

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFingerprintAllocs checks that fingerprinting a transcript, marking
// its tail and checking both allocate nothing: it is done for every file
// opened, thousands of them in a backlog.
func TestFingerprintAllocs(t *testing.T) {
	f, err := os.Open(realTranscripts(t)[0])
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	size := st.Size()
	require.Greater(t, size, int64(FingerprintSize))

	allocs := testing.AllocsPerRun(100, func() {
		var fp Fingerprint
		same, err := fp.Check(f, size, 0)
		if err != nil || !same || fp.Len != FingerprintSize {
			t.Fatalf("first check: same=%v len=%d err=%v", same, fp.Len, err)
		}
		if err := fp.MarkTail(f, size); err != nil || fp.TailLen != TailSize {
			t.Fatalf("mark: len=%d err=%v", fp.TailLen, err)
		}
		same, err = fp.Check(f, size, size)
		if err != nil || !same {
			t.Fatalf("second check: same=%v err=%v", same, err)
		}
	})
	if !raceEnabled { // the checks above still ran
		require.Zero(t, allocs)
	}
}

// TestReaderBefore reads real transcripts from several offsets, in pieces
// of several sizes, with and without Final and a line limit, cut inside a
// line or shorter than a tail mark, and checks that at io.EOF the reader
// still holds the bytes a tail mark hashes (Before), unless it started
// reading after them, and that whatever Before returns is the input's.
func TestReaderBefore(t *testing.T) {
	type input struct {
		name string
		data []byte
	}
	var inputs []input
	for _, path := range realTranscripts(t) {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		inputs = append(inputs, input{path, data}, input{path + " cut inside its last line", data[:len(data)-37]})
	}
	data := inputs[0].data
	for _, n := range []int{0, 1, 100, TailSize - 1, TailSize, TailSize + 1, 700} {
		inputs = append(inputs, input{"first " + strconv.Itoa(n) + " bytes", data[:n]})
	}

	for _, in := range inputs {
		data := in.data
		// Starts: the beginning, some line boundaries, and inside lines.
		starts := []int64{0}
		for i, k := 0, 0; i < len(data); i++ {
			if data[i] == '\n' {
				if k++; k%8 == 1 {
					starts = append(starts, int64(i+1), int64(min(i+1+TailSize/2, len(data))))
				}
			}
		}
		for _, start := range starts {
			for _, chunk := range []int{13, 4096, readChunk} {
				for _, maxLine := range []int{0, 1500} {
					for _, final := range []bool{false, true} {
						r := NewReader(&chunkReader{data: data[start:], n: chunk}, start, maxLine, Options{})
						r.chunk = chunk
						r.Final = final
						where := func() string {
							return in.name + " from " + strconv.FormatInt(start, 10) + ", chunk " + strconv.Itoa(chunk) +
								", maxLine " + strconv.Itoa(maxLine) + ", final " + strconv.FormatBool(final)
						}
						for {
							it, err := r.Next()
							if err == io.EOF {
								break
							}
							require.NoError(t, err)
							for _, n := range []int{1, TailSize} {
								if got := r.Before(it.End, n); got != nil {
									require.Equal(t, data[it.End-int64(n):it.End], got, where())
								}
							}
						}
						at := r.Offset()
						n := min(at, TailSize)
						got := r.Before(at, int(n))
						if start > at-n {
							require.Nil(t, got, where())
							continue
						}
						require.NotNil(t, got, "%s: the bytes before the offset reached are gone", where())
						require.Equal(t, data[at-n:at], got, where())

						if n > 0 {
							r.Reset(&chunkReader{data: data, n: chunk}, 0)
							require.Nil(t, r.Before(at, int(n)), "%s: after Reset", where())
						}
					}
				}
			}
		}
	}
}

// TestReaderBeforeGrowing reads a real transcript as it grows, a few lines
// at a time, and checks that at every io.EOF the reader holds the bytes a
// tail mark hashes.
func TestReaderBeforeGrowing(t *testing.T) {
	for _, path := range realTranscripts(t) {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		src := &growingReader{}
		r := NewReader(src, 0, 0, Options{})
		r.chunk = 300
		for end := 0; end < len(data); {
			end = min(end+777, len(data))
			src.data = data[:end]
			for {
				_, err := r.Next()
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
			}
			at := r.Offset()
			n := min(at, TailSize)
			require.Equal(t, data[at-n:at], r.Before(at, int(n)), "%s grown to %d", path, end)
		}
	}
}

// TestReaderKeepsOneChunk: keeping the bytes before the offset does not
// grow the buffer of a reader whose input fits in one read.
func TestReaderKeepsOneChunk(t *testing.T) {
	for _, path := range realTranscripts(t) {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Less(t, len(data), readChunk)
		r := NewReader(bytes.NewReader(data), 0, 0, Options{})
		readAll(t, r, len(data))
		require.Equal(t, int64(len(data)), r.Offset())
		require.Equal(t, readChunk, cap(r.buf), "%s: the buffer grew", path)
	}
}
