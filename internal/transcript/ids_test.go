package transcript

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnquoteIDs: the envelope's ids, unquoted into one allocation, are
// what unquote makes of each: escapes, non-ASCII text, control characters
// and values that are not strings included.
func TestUnquoteIDs(t *testing.T) {
	raws := []string{
		`"5a1c8e2f-0b7d-4c3e-9f61-2d8a7b4c9e10"`, `""`, `"a\u0062c"`, `"caf\u00e9"`, `"café"`,
		"\"tab\there\"", `null`, `42`, `"\"quoted\""`, ``, `"`,
	}
	for _, id := range raws {
		for _, parent := range raws {
			for _, agent := range []string{``, `"agent-1"`, `"é"`} {
				a, b, c := unquoteIDs(raw(id), raw(parent), raw(agent))
				wa, _ := unquote(raw(id))
				wb, _ := unquote(raw(parent))
				wc, _ := unquote(raw(agent))
				assert.Equal(t, [3]string{wa, wb, wc}, [3]string{a, b, c}, "%s %s %s", id, parent, agent)
			}
		}
	}
}

func raw(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// TestIDsThroughCache: with a decode state, whose cache hands out the
// strings of earlier calls, the ids are the same.
func TestIDsThroughCache(t *testing.T) {
	raws := []string{
		`"5a1c8e2f-0b7d-4c3e-9f61-2d8a7b4c9e10"`, `"5a1c8e2f-0b7d-4c3e-9f61-2d8a7b4c9e11"`, `""`, `"a\u0062c"`, `"abc"`, `"caf\u00e9"`, `"café"`,
		"\"tab\there\"", `null`, `42`, `"\"quoted\""`, ``, `"`, `"a"`, `"b"`, `"` + strings.Repeat("x", 200) + `"`,
	}
	st := new(decodeState)
	for range 2 {
		for _, id := range raws {
			for _, parent := range raws {
				a, b, c := st.ids(raw(id), raw(parent), raw(`"agent-1"`))
				wa, _ := unquote(raw(id))
				wb, _ := unquote(raw(parent))
				assert.Equal(t, [3]string{wa, wb, "agent-1"}, [3]string{a, b, c}, "%s %s", id, parent)
			}
		}
	}
	// A string the cache holds costs no allocation.
	id := raw(`"5a1c8e2f-0b7d-4c3e-9f61-2d8a7b4c9e10"`)
	st.ids(id, id, nil)
	assert.Zero(t, testing.AllocsPerRun(100, func() { st.ids(id, id, nil) }))
}

// TestUsageIDsOnly: with UsageIDsOnly every line of the repository's
// transcripts decodes as it does without, but for the ids: an event's ID
// is kept only when it carries usage, and ParentID never.
func TestUsageIDsOnly(t *testing.T) {
	var lines, kept int
	for _, path := range testdataTranscripts(t) {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		for i, line := range bytes.Split(data, []byte("\n")) {
			where := fmt.Sprintf("%s:%d", path, i+1)
			want, wantErr := Decode(line, Options{})
			got, gotErr := Decode(line, Options{UsageIDsOnly: true})
			require.Equal(t, wantErr, gotErr, where)
			require.Empty(t, got.ParentID, where)
			if carriesUsage(want.Type) {
				require.Equal(t, want.ID, got.ID, where)
				if got.ID != "" {
					kept++
				}
			} else {
				require.Empty(t, got.ID, where)
			}
			want.ID, want.ParentID, got.ID = "", "", ""
			require.Equal(t, want, got, where)
			lines++
		}
	}
	require.Greater(t, lines, 1000)
	require.Greater(t, kept, 50)
}
