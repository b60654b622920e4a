package transcript

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDecodeStateChangesNothing: what a decode state adds (its member
// stack, its cache of recent strings, its slabs of data) changes no
// result. One state decodes every line, in order, of the real transcripts,
// the hook payloads and the hazard fixtures, and of variants of their
// lines (values replaced, keys cased, escaped or repeated: strings that
// collide in the cache, types read the slow way), and each result must be
// the one of a decode without a state, as Decode was before states.
func TestDecodeStateChangesNothing(t *testing.T) {
	var files []string
	for _, g := range []string{realGlob, "../../testdata/copilot-cli/*/*/session-state/*/events.jsonl", "../../testdata/copilot-cli/*/hooks/*.jsonl", filepath.Join(hazardDir, "*.jsonl")} {
		m, err := filepath.Glob(g)
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.NotEmpty(t, files)
	st := new(decodeState)
	var none *decodeState
	n := 0
	check := func(line []byte) {
		for _, opts := range []Options{{}, {CaptureContent: true}} {
			got, gerr := st.decode(line, opts)
			want, werr := none.decode(line, opts)
			if werr != nil || gerr != nil {
				require.Error(t, gerr, "%q: without a state: %v", line, werr)
				require.Error(t, werr, "%q: with a state: %v", line, gerr)
				require.Equal(t, werr.Error(), gerr.Error(), "%q", line)
			}
			require.True(t, reflect.DeepEqual(want, got), "%q:\n got %#v\nwant %#v", line, got, want)
			n++
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		lines := bytes.Split(data, nl)
		for _, line := range lines {
			check(line)
		}
		for i, line := range lines {
			if i%97 != 0 || len(line) > 20000 { // a sample keeps the test short
				continue
			}
			for _, v := range strictMutations(line) {
				check(v)
			}
		}
	}
	t.Logf("%d decodes", n)
}

// FuzzDecodeState: a decode with a state, kept from one input to the next
// so that its cache and slabs carry what earlier inputs left, gives what
// a decode without a state gives.
func FuzzDecodeState(f *testing.F) {
	for _, line := range fuzzLines(f) {
		f.Add(line)
	}
	st := new(decodeState)
	var none *decodeState
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, opts := range []Options{{}, {CaptureContent: true}} {
			got, gerr := st.decode(line, opts)
			want, werr := none.decode(line, opts)
			if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
				t.Fatalf("%q: error %v, without a state %v", line, gerr, werr)
			}
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("%q:\n got %#v\nwant %#v", line, got, want)
			}
		}
	})
}
