package transcript

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
