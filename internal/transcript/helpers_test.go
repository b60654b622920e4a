package transcript

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// realGlob matches the transcripts the real Copilot CLI 1.0.102 wrote (see
// testdata/copilot-cli/README.md at the repository root).
const realGlob = "../../testdata/copilot-cli/*/session-state/*/events.jsonl"

// realTranscripts returns the paths of the real transcripts, sorted.
func realTranscripts(tb testing.TB) []string {
	tb.Helper()
	paths, err := filepath.Glob(realGlob)
	require.NoError(tb, err)
	require.NotEmpty(tb, paths, "no real transcripts under %s", realGlob)
	sort.Strings(paths)
	return paths
}

// realLines returns the lines of a real transcript, without terminators.
func realLines(tb testing.TB, path string) [][]byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	require.NoError(tb, err)
	require.True(tb, bytes.HasSuffix(b, []byte("\n")), "%s: no final newline", path)
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

// chunkReader returns at most n bytes per Read, so that the reader sees its
// input arrive in small pieces.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.n, len(c.data))
	copy(p, c.data[:k])
	c.data = c.data[k:]
	return k, nil
}

// growingReader is a source that the test appends to: it reports io.EOF
// at the current end, like a file that is still being written.
type growingReader struct {
	data []byte
	pos  int
}

func (g *growingReader) Read(p []byte) (int, error) {
	if g.pos >= len(g.data) {
		return 0, io.EOF
	}
	k := copy(p, g.data[g.pos:])
	g.pos += k
	return k, nil
}

// readAll reads every item until io.EOF and fails on any other error. It
// fails, rather than loops, if the reader yields more items than the input
// could hold.
func readAll(tb testing.TB, r *Reader, inputLen int) []Item {
	tb.Helper()
	var items []Item
	for {
		it, err := r.Next()
		if errors.Is(err, io.EOF) {
			return items
		}
		require.NoError(tb, err)
		items = append(items, it)
		require.LessOrEqual(tb, len(items), 2*inputLen+2, "the reader yields more items than the input holds")
	}
}

// describe renders an item as the hazard tables spell it: "TYPE",
// "repaired TYPE" or "skip REASON".
func describe(it Item) string {
	switch {
	case it.Event != nil && it.Skip != nil:
		return "BOTH EVENT AND SKIP"
	case it.Event != nil && it.Repaired:
		return "repaired " + it.Event.Type
	case it.Event != nil:
		return it.Event.Type
	case it.Skip != nil && it.Repaired:
		return "REPAIRED skip " + it.Skip.Reason
	case it.Skip != nil:
		return "skip " + it.Skip.Reason
	}
	return "EMPTY ITEM"
}

func describeAll(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = describe(it)
	}
	return out
}

// itemKey is an item reduced to what must not depend on how the input
// arrived: its description and its end offset.
func itemKeys(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = describe(it) + "@" + strconv.FormatInt(it.End, 10)
	}
	return out
}

// checkEnds asserts that the items' End offsets never decrease, stay within
// [start, size], and that what lies between the last End and size is only
// white space (blank lines, which yield no item).
func checkEnds(tb testing.TB, items []Item, start int64, data []byte) {
	tb.Helper()
	prev := start
	for i, it := range items {
		// Plain comparisons: the fuzz targets call this for every input.
		if it.End < prev {
			tb.Fatalf("item %d (%s): End went backwards: %d after %d", i, describe(it), it.End, prev)
		}
		if it.End > start+int64(len(data)) {
			tb.Fatalf("item %d (%s): End %d beyond the input's end %d", i, describe(it), it.End, start+int64(len(data)))
		}
		prev = it.End
	}
	rest := data[prev-start:]
	require.Empty(tb, strings.Trim(string(rest), " \t\r\n"), "bytes after the last item are not blank: %q", truncate(rest))
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

var skipReasons = map[string]bool{
	ReasonInvalidJSON:      true,
	ReasonTornLine:         true,
	ReasonNULBytes:         true,
	ReasonLineTooLong:      true,
	ReasonMissingType:      true,
	ReasonUnknownType:      true,
	ReasonInvalidTimestamp: true,
	ReasonInvalidData:      true,
}
