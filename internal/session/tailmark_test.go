package session

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-copilot/otelcol-copilot/internal/transcript"
)

// readSize is the transcript reader's read size: reads of a large file
// cross its buffer's boundaries at multiples of it.
const readSize = 256 << 10

// tailCase is a read whose tail mark is checked: a read to start (a file
// that long), then one, of the given mode, to end.
type tailCase struct {
	name       string
	data       []byte
	start, end int
	mode       string // "live", "final" or "bounded" (Until end, the whole file there)
	opts       CursorOptions
}

// TestReadDoneTailMark compares the tail mark a read leaves (Done) with
// the one MarkTail reads from the file, for reads of real transcripts that
// start and end at many offsets: at line boundaries and inside lines, at
// and around the reader's buffer boundaries, bounded, Final, with lines
// longer than the buffer or the line limit, and files shorter than a tail
// mark.
//
// Between the last Next and Done the test overwrites the bytes before the
// offset reached. A mark taken from the bytes the reader read, as it is
// whenever the reader started at or before them, is that of the original
// bytes; a mark read from the file again (the fallback) is that of the
// overwritten ones.
func TestReadDoneTailMark(t *testing.T) {
	dir := t.TempDir()
	shared := transcript.NewReader(nil, 0, 0, transcript.Options{})
	reads := 0
	run := func(name string, data []byte, starts, ends []int, opts CursorOptions) {
		for _, start := range starts {
			for i, end := range ends {
				if end <= start {
					continue
				}
				for _, mode := range []string{"live", "final", "bounded"} {
					tc := tailCase{name: name, data: data, start: start, end: end, mode: mode, opts: opts}
					if i%2 == 0 && opts == (CursorOptions{}) {
						checkTailMark(t, dir, tc, shared)
					} else {
						checkTailMark(t, dir, tc, nil)
					}
					reads++
				}
			}
		}
	}

	var all []byte
	for f, path := range realTranscripts(t) {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		all = append(all, data...)
		if f%4 != 0 {
			continue // all of them are read below, in one file
		}
		// Ends: shorter than a tail mark, a few line boundaries and
		// places inside lines, and the end. Starts: the beginning, a line
		// boundary and a place inside a line.
		lines := bytes.Count(data, []byte("\n"))
		ends := []int{1, 100, transcript.TailSize - 1, transcript.TailSize + 1}
		var starts []int
		for i, k := 0, 0; i < len(data); i++ {
			if data[i] == '\n' {
				if k++; k%max(1, lines/4) == 0 {
					ends = append(ends, i+1, min(i+1+150, len(data)))
				}
				if k == lines/2 {
					starts = append(starts, i+1, min(i+1+150, len(data)))
				}
			}
		}
		ends = append(ends, len(data)-37, len(data))
		run(path, data, append([]int{0}, starts...), ends, CursorOptions{})
	}

	// The transcripts in one file, read across the reader's buffer
	// boundaries.
	all = all[:bytes.LastIndexByte(all[:2*readSize+readSize/2], '\n')+1]
	var ends []int
	for b := readSize; b < len(all); b += readSize {
		nl := bytes.LastIndexByte(all[:b], '\n') + 1
		ends = append(ends, nl-1, nl, nl+1, b-1, b, b+1)
	}
	ends = append(ends, len(all))
	run("all", all, []int{0, ends[1], ends[4]}, ends, CursorOptions{})

	// A line longer than the reader's read size and than a line limit
	// that most real lines are over too.
	head := all[:bytes.IndexByte(all[1000:], '\n')+1001]
	long := append(bytes.Clone(head), bytes.Repeat([]byte("x"), readSize+1000)...)
	long = append(append(long, '\n'), all[len(head):len(head)+20000]...)
	ends = []int{len(head) + 5, len(head) + readSize/2, len(head) + readSize + 1001, len(long) - 37, len(long)}
	for _, opts := range []CursorOptions{{}, {MaxLineSize: 1500}} {
		run("long line", long, []int{0, len(head), ends[0]}, ends, opts)
	}
	t.Logf("%d reads", reads)
}

// checkTailMark runs one tailCase, with shared as the reader when set.
func checkTailMark(t *testing.T, dir string, tc tailCase, shared *transcript.Reader) {
	t.Helper()
	where := fmt.Sprintf("%s: %s read from %d to %d, %+v, shared reader %v", tc.name, tc.mode, tc.start, tc.end, tc.opts, shared != nil)
	path := copyTo(t, dir, "s", tc.data[:tc.start])
	c := NewCursor(path, tc.opts)
	if tc.start > 0 {
		rd, err := c.Open(ReadOptions{Reader: shared})
		require.NoError(t, err, where)
		drain(t, rd)
		require.NoError(t, rd.Done(), where)
	}
	started := c.Offset()

	file := tc.data[:tc.end]
	opts := ReadOptions{Reader: shared, Final: tc.mode == "final"}
	if tc.mode == "bounded" {
		file = tc.data
		opts.Bounded, opts.Until = true, int64(tc.end)
	}
	require.NoError(t, os.WriteFile(path, file, 0o644))
	rd, err := c.Open(opts)
	require.NoError(t, err, where)
	require.Empty(t, rd.Restart, where)
	drain(t, rd)
	at := c.Offset()
	readerPast := !rd.Empty() && rd.rd.Offset() > at // an over-long line being discarded

	n := min(at, transcript.TailSize)
	over := bytes.Clone(file)
	copy(over[at-n:at], bytes.Repeat([]byte("#"), int(n)))
	overwrite(t, path, over[at-n:at], at-n)
	require.NoError(t, rd.Done(), where)

	var orig, reread transcript.Fingerprint
	require.NoError(t, orig.MarkTail(bytes.NewReader(file), at))
	require.NoError(t, reread.MarkTail(bytes.NewReader(over), at))
	want := reread
	switch {
	case at == started && tc.mode != "bounded":
		want = orig // nothing read: the mark of the read before stands
	case started <= at-n:
		want = orig
	}
	cp := c.Checkpoint()
	got := transcript.Fingerprint{TailAt: at, TailLen: cp.TailLen}
	copy(got.Tail[:], cp.TailHash)
	if readerPast && got == reread {
		return // the reader moved the bytes out: read again, rightly
	}
	require.Equal(t, want.TailLen, got.TailLen, where)
	require.Equal(t, want.Tail, got.Tail, where)
}

// drain reads rd to io.EOF.
func drain(t *testing.T, rd *Read) {
	t.Helper()
	for {
		_, err := rd.Next(nil)
		if err == io.EOF {
			return
		}
		require.NoError(t, err)
	}
}

// overwrite writes b into the file at path at offset off.
func overwrite(t *testing.T, path string, b []byte, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// TestReadDoneSharedReader: a read finished after its shared reader was
// reset for another file takes its tail mark from its own file, not from
// the other file's bytes, even when those sit at the same offsets; and a
// read closed without Done leaves no mark at the offset it reached.
func TestReadDoneSharedReader(t *testing.T) {
	data, err := os.ReadFile(realTranscripts(t)[0])
	require.NoError(t, err)
	dir := t.TempDir()
	shared := transcript.NewReader(nil, 0, 0, transcript.Options{})
	pa := copyTo(t, dir, "a", data)
	pb := copyTo(t, dir, "b", data)
	a, b := NewCursor(pa, CursorOptions{}), NewCursor(pb, CursorOptions{})

	ra, err := a.Open(ReadOptions{Reader: shared})
	require.NoError(t, err)
	drain(t, ra)
	rb, err := b.Open(ReadOptions{Reader: shared})
	require.NoError(t, err)
	drain(t, rb)
	require.NoError(t, rb.Done())

	at := a.Offset()
	n := min(at, transcript.TailSize)
	over := bytes.Clone(data)
	copy(over[at-n:at], bytes.Repeat([]byte("#"), int(n)))
	overwrite(t, pa, over[at-n:at], at-n)
	require.NoError(t, ra.Done())
	var want transcript.Fingerprint
	require.NoError(t, want.MarkTail(bytes.NewReader(over), at))
	cp := a.Checkpoint()
	require.Equal(t, want.TailLen, cp.TailLen)
	require.Equal(t, want.Tail[:], cp.TailHash, "the mark of the other file's bytes")

	// Closed without Done: the mark stays where the last Done left it.
	c := NewCursor(copyTo(t, dir, "c", data[:len(data)/2]), CursorOptions{})
	rc, err := c.Open(ReadOptions{Reader: shared})
	require.NoError(t, err)
	drain(t, rc)
	require.NoError(t, rc.Done())
	mark := c.Checkpoint()
	require.NotZero(t, mark.TailLen)
	require.NoError(t, os.WriteFile(c.Path(), data, 0o644))
	rc, err = c.Open(ReadOptions{Reader: shared})
	require.NoError(t, err)
	drain(t, rc)
	rc.Close()
	require.Greater(t, c.Offset(), mark.Offset)
	require.Zero(t, c.Checkpoint().TailLen, "a mark at an offset no Done reached")
}

// TestReadFirstFingerprint: a transcript read from its start for the first
// time is fingerprinted from its reader's first bytes; the fingerprint is
// the one Check gives, whether the read is closed at once or read to its
// end, and the next read finds the file the same.
func TestReadFirstFingerprint(t *testing.T) {
	dir := t.TempDir()
	shared := transcript.NewReader(nil, 0, 0, transcript.Options{})
	for f, path := range realTranscripts(t) {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		if f%4 != 0 {
			continue
		}
		for _, size := range []int{1, 100, transcript.FingerprintSize - 1, transcript.FingerprintSize, transcript.FingerprintSize + 1, len(data) - 37, len(data)} {
			for _, reader := range []*transcript.Reader{nil, shared} {
				for _, read := range []bool{false, true} {
					where := fmt.Sprintf("%s: first %d bytes, shared reader %v, read %v", path, size, reader != nil, read)
					p := copyTo(t, dir, "s", data[:size])
					c := NewCursor(p, CursorOptions{})
					rd, err := c.Open(ReadOptions{Reader: reader})
					require.NoError(t, err, where)
					if read {
						drain(t, rd)
						require.NoError(t, rd.Done(), where)
					} else {
						rd.Close()
					}
					var want transcript.Fingerprint
					_, err = want.Check(bytes.NewReader(data[:size]), int64(size), 0)
					require.NoError(t, err)
					cp := c.Checkpoint()
					require.Equal(t, want.Len, cp.FPLen, where)
					require.Equal(t, want.Hash[:], cp.FPHash, where)

					require.NoError(t, os.WriteFile(p, data, 0o644))
					rd, err = c.Open(ReadOptions{Reader: reader})
					require.NoError(t, err, where)
					require.Empty(t, rd.Restart, where)
					drain(t, rd)
					require.NoError(t, rd.Done(), where)
					_, err = want.Check(bytes.NewReader(data), int64(len(data)), int64(size))
					require.NoError(t, err)
					cp = c.Checkpoint()
					require.Equal(t, want.Len, cp.FPLen, where)
					require.Equal(t, want.Hash[:], cp.FPHash, where)
				}
			}
		}
	}
}
