package transcript

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fuzzLines returns the real lines and the lines of the hazard fixtures.
func fuzzLines(f *testing.F) [][]byte {
	var lines [][]byte
	for _, path := range realTranscripts(f) {
		lines = append(lines, realLines(f, path)...)
	}
	for _, data := range hazardFiles(f) {
		lines = append(lines, bytes.Split(data, nl)...)
	}
	return lines
}

func hazardFiles(f *testing.F) [][]byte {
	paths, err := filepath.Glob(filepath.Join(hazardDir, "*.jsonl"))
	require.NoError(f, err)
	require.NotEmpty(f, paths)
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		out = append(out, b)
	}
	return out
}

// envelopeReasons are decided before the data is looked at, so content
// capture cannot change them.
var envelopeReasons = map[string]bool{
	ReasonInvalidJSON:      true,
	ReasonMissingType:      true,
	ReasonUnknownType:      true,
	ReasonInvalidTimestamp: true,
}

func FuzzDecode(f *testing.F) {
	for _, line := range fuzzLines(f) {
		f.Add(line)
	}
	f.Add([]byte(`{"type":"session.usage_record","data":{"usage":{"model":"m","inputTokens":4737390000.0,"outputTokens":1.5e3}},"timestamp":"2026-11-22T16:07:27.766Z"}`))
	f.Add([]byte(`{"type":"user.message","data":{"content":"\ud83d\ude00 \u2028"},"timestamp":"2026-11-22T16:07:27.766Z"}`))
	f.Add([]byte(`"\\\"\u0041"`))
	f.Add([]byte(`[[[[[[[[[[`))

	f.Fuzz(func(t *testing.T, line []byte) {
		evOff, errOff := Decode(line, Options{})
		evOn, errOn := Decode(line, Options{CaptureContent: true})
		reason := func(err error) string {
			if err == nil {
				return ""
			}
			var de *DecodeError
			require.True(t, errors.As(err, &de), "%v is not a DecodeError", err)
			require.True(t, skipReasons[de.Reason], de.Reason)
			require.NotContains(t, []string{ReasonTornLine, ReasonNULBytes, ReasonLineTooLong}, de.Reason, "Decode does not read lines")
			require.NotEmpty(t, err.Error())
			return de.Reason
		}
		rOff, rOn := reason(errOff), reason(errOn)
		if envelopeReasons[rOff] || envelopeReasons[rOn] {
			require.Equal(t, rOff, rOn, "content capture changed an envelope verdict")
		}
		for _, ev := range []struct {
			ev  Event
			err error
		}{{evOff, errOff}, {evOn, errOn}} {
			if ev.err == nil {
				require.True(t, knownTypes[ev.ev.Type], ev.ev.Type)
			}
		}
		if errOff == nil && errOn == nil {
			require.Equal(t, evOff.Type, evOn.Type)
			require.Equal(t, evOff.ID, evOn.ID)
			require.Equal(t, evOff.ParentID, evOn.ParentID)
			require.Equal(t, evOff.AgentID, evOn.AgentID)
			require.True(t, evOff.Timestamp.Equal(evOn.Timestamp))
		}

		// The scanner accepts every valid JSON text, and finds its end.
		valid := json.Valid(line)
		end, err := skipValue(line, 0)
		if valid {
			require.NoError(t, err)
			require.Equal(t, len(line), skipSpace(line, end), "valid JSON, but the scanner stopped at %d", end)
			if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 && trimmed[0] == '{' {
				require.NotEqual(t, ReasonInvalidJSON, rOff, "valid JSON object rejected")
				require.NoError(t, eachMember(line, func(k, v []byte) bool {
					require.True(t, json.Valid(v), "member %q: %q", k, v)
					require.True(t, json.Valid(append(append([]byte(`"`), k...), '"')), "key %q", k)
					return true
				}))
			}
			if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 && trimmed[0] == '"' {
				var want string
				require.NoError(t, json.Unmarshal(trimmed, &want))
				got, ok := unquote(trimmed)
				require.True(t, ok)
				require.Equal(t, want, got)
			}
		}
		if err == nil {
			require.LessOrEqual(t, end, len(line))
		}

		// A prefix the scanner finds cut short ends inside a string exactly
		// when the byte-by-byte reading says so.
		if errors.Is(eachMember(line, func(k, v []byte) bool { return true }), errUnexpectedEnd) {
			in, esc := false, false
			for _, c := range line {
				switch {
				case esc:
					esc = false
				case in && c == '\\':
					esc = true
				case c == '"':
					in = !in
				}
			}
			require.Equal(t, in, openString(line))
		}
	})
}

// fuzzRead reads everything src holds, checking on the way that the reader
// neither loops nor moves backwards. It checks each item with plain
// comparisons: testify's assertions walk the stack (t.Helper) on every
// call, which cost more than reading.
func fuzzRead(t *testing.T, r *Reader, inputLen int) []Item {
	var items []Item
	prev := r.Offset()
	for {
		it, err := r.Next()
		if errors.Is(err, io.EOF) {
			if r.Offset() < prev {
				t.Fatalf("offset %d went back before %d", r.Offset(), prev)
			}
			return items
		}
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case (it.Event == nil) == (it.Skip == nil):
			t.Fatalf("an item must be an event or a skip: %s", describe(it))
		case it.Skip != nil && !skipReasons[it.Skip.Reason]:
			t.Fatalf("unknown skip reason %q", it.Skip.Reason)
		case it.Skip != nil && it.Repaired:
			t.Fatalf("a skip is repaired: %s", describe(it))
		case it.Event != nil && !knownTypes[it.Event.Type]:
			t.Fatalf("unknown event type %q", it.Event.Type)
		case it.End < prev:
			t.Fatalf("End went backwards: %d after %d", it.End, prev)
		}
		prev = it.End
		items = append(items, it)
		if len(items) > 2*inputLen+2 {
			t.Fatalf("more items than the input could hold: %d from %d bytes", len(items), inputLen)
		}
	}
}

func FuzzReader(f *testing.F) {
	for _, data := range hazardFiles(f) {
		f.Add(data, uint16(512), uint8(7))
		f.Add(data, uint16(4000), uint8(255))
	}
	// Real lines, a few at a time: small inputs keep the fuzzer fast.
	k := 0
	for _, path := range realTranscripts(f) {
		lines := realLines(f, path)
		for i := 0; i < len(lines); i += 6 {
			group := bytes.Join(lines[i:min(i+6, len(lines))], nl)
			f.Add(append(group, '\n'), uint16(300+k*97), uint8(k*37))
			k++
		}
	}
	f.Add([]byte("\x00\x00\x00"), uint16(2), uint8(1))
	f.Add([]byte("{\"a\":\"\n\n\"}\n"), uint16(5), uint8(3))
	f.Add([]byte("\r\n\r\n  \n"), uint16(0), uint8(0))

	// maxLine's low 12 bits are the line limit, its high 4 the reader's
	// read size; chunk is how many bytes the source hands out at a time.
	f.Fuzz(func(t *testing.T, data []byte, maxLine uint16, chunk uint8) {
		tStart := time.Now()
		defer func() {
			if d := time.Since(tStart); d > 10*time.Second {
				t.Fatalf("SLOW %v len=%d maxLine=%d chunk=%d", d, len(data), maxLine, chunk)
			}
		}()
		ml := 1 + int(maxLine)%4096
		rc := 1 << (int(maxLine>>12) % 12) // 1 B to 2 KiB
		opts := Options{CaptureContent: chunk%2 == 1}
		n := int64(len(data))
		newReader := func(src io.Reader, off int64) *Reader {
			r := NewReader(src, off, ml, opts)
			// The default read size, 256 KiB, cost every execution
			// megabytes of zeroed buffers, and the fuzzer ran a few
			// hundred executions a second. Small reads also make the
			// buffer compact and grow under joined and over-long lines.
			r.chunk = rc
			return r
		}

		final := func(src []byte, off int64, c int) (*Reader, []Item) {
			r := newReader(&chunkReader{data: src, n: c}, off)
			r.Final = true
			return r, fuzzRead(t, r, len(data))
		}

		// A finished file is consumed whole; what follows the last item
		// is blank lines, and the items' spans add up to the offset.
		r, items := final(data, 0, len(data)+1)
		require.Equal(t, n, r.Offset())
		checkEnds(t, items, 0, data)
		want := itemKeys(items)

		// The items do not depend on the chunks the input arrives in.
		_, chunked := final(data, 0, 1+int(chunk)%64)
		require.Equal(t, want, itemKeys(chunked), "chunked")

		// A file still being written: read what is complete, then finish
		// from the offset reached, with a fresh reader.
		live := newReader(&chunkReader{data: data, n: 1 + int(chunk)}, 0)
		got := fuzzRead(t, live, len(data))
		off := live.Offset()
		require.LessOrEqual(t, off, n)
		if len(got) > 0 {
			require.LessOrEqual(t, got[len(got)-1].End, off)
		}
		r, rest := final(data[off:], off, 1+int(chunk))
		require.Equal(t, n, r.Offset())
		require.Equal(t, want, itemKeys(append(got, rest...)), "not final, then final from %d", off)

		// The same with one reader over a file that grows.
		split := len(data) * int(chunk) / 255
		src := &growingReader{data: data[:split]}
		g := newReader(src, 0)
		got = fuzzRead(t, g, len(data))
		require.LessOrEqual(t, g.Offset(), int64(split))
		src.data = data
		g.Final = true
		got = append(got, fuzzRead(t, g, len(data))...)
		require.Equal(t, n, g.Offset())
		require.Equal(t, want, itemKeys(got), "grown at %d", split)
	})
}
