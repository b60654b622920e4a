package transcript

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// The fast paths of jsonstrict.go must give what encoding/json gives,
// which is what decoded these types before them: the same value, or the
// same error.

// strictCase decodes raw with a fast path and with encoding/json, and
// returns both results.
type strictCase struct {
	name string
	fast func(raw []byte) (any, error)
	ref  func(raw []byte) (any, error)
}

// strictState is the decode state of the fast paths: its cache hands
// them the strings of earlier texts.
var strictState = new(decodeState)

func dataCase[T any](name string, fast func(m *members, d *T) bool) strictCase {
	return strictCase{
		name: name,
		fast: func(raw []byte) (any, error) { return strictData(strictState, raw, fast) },
		ref:  func(raw []byte) (any, error) { return unmarshal[T](raw) },
	}
}

// memberCase decodes raw as the value of a member into a pointer that is
// nil, or already set (as a duplicate member leaves it).
func memberCase[T any](name string, fast func(m *members, d *T) bool, preset bool) strictCase {
	init := func() *T {
		if preset {
			v := new(T)
			// Some field set, for a merge to keep.
			_ = json.Unmarshal([]byte(`{"cwd":"/pre","message":"pre","exitCode":7}`), v)
			return v
		}
		return nil
	}
	return strictCase{
		name: name,
		fast: func(raw []byte) (any, error) {
			wrapped := append(append([]byte(`{"k":`), raw...), '}')
			m := openMembers(wrapped, 0)
			m.st = strictState
			if _, ok := m.next(); !ok {
				return nil, m.err
			}
			d := init()
			err := jsonMember(&m, &d, fast)
			return d, err
		},
		ref: func(raw []byte) (any, error) {
			d := init()
			end, err := skipValue(raw, 0)
			if err != nil || skipSpace(raw, end) != len(raw) {
				return nil, errSyntax
			}
			err = json.Unmarshal(raw, &d)
			return d, err
		},
	}
}

func stringsCase(preset bool) strictCase {
	init := func() []string {
		if preset {
			return []string{"pre", "pre2", "pre3"}
		}
		return nil
	}
	return strictCase{
		name: fmt.Sprintf("filesModified preset=%v", preset),
		fast: func(raw []byte) (any, error) {
			d := init()
			err := jsonStrings(raw, &d)
			return d, err
		},
		ref: func(raw []byte) (any, error) {
			d := init()
			err := json.Unmarshal(raw, &d)
			return d, err
		},
	}
}

var strictCases = []strictCase{
	dataCase("session.start", fastStart),
	dataCase("subagent", fastSubagent),
	dataCase("abort", fastAbort),
	dataCase("session.model_change", fastModelChange),
	dataCase("session.context_changed", fastContext),
	memberCase("tool error", fastToolError, false),
	memberCase("tool error preset", fastToolError, true),
	memberCase("shellExecution", fastShellExecution, false),
	memberCase("shellExecution preset", fastShellExecution, true),
	memberCase("resume context", fastContext, false),
	memberCase("resume context preset", fastContext, true),
	stringsCase(false),
	stringsCase(true),
}

func requireSameAsJSON(t *testing.T, raw []byte) {
	t.Helper()
	require.Equal(t, validJSON(raw), validJSON(raw) && json.Valid(raw), "validJSON accepted what encoding/json rejects: %q", raw)
	for _, c := range strictCases {
		got, gerr := c.fast(raw)
		want, werr := c.ref(raw)
		if werr != nil || gerr != nil {
			if werr == errSyntax { // not one value: the member case cannot be built
				continue
			}
			require.Error(t, gerr, "%s: %q: encoding/json: %v", c.name, raw, werr)
			require.Error(t, werr, "%s: %q: fast: %v", c.name, raw, gerr)
			require.Equal(t, werr.Error(), gerr.Error(), "%s: %q", c.name, raw)
			continue
		}
		require.True(t, reflect.DeepEqual(want, got), "%s: %q:\n got %#v\nwant %#v", c.name, raw, got, want)
	}
}

// strictSeeds are the data of the real events of the types concerned, and
// values of the members concerned, with some hostile ones.
func strictSeeds(tb testing.TB) [][]byte {
	seeds := [][]byte{
		[]byte(`{}`), []byte(`null`), []byte(`[]`), []byte(`["a",null,"\u00e9"]`), []byte(`[1]`), []byte(`"x"`),
		[]byte(`{"message":"m","code":"c"}`), []byte(`{"exitCode":1}`), []byte(`{"exitCode":1.5}`), []byte(`{"exitCode":null}`),
		[]byte(`{"cwd":"/a","Cwd":"/b"}`), []byte(`{"context":{"cwd":"/a"},"context":{"branch":"b"}}`), []byte(`{"context":{"cwd":"/a"},"context":null}`),
		[]byte(`{"ſessionId":"s"}`), []byte(`{"session\u0049d":"s"}`), []byte(`{"cancelled":null,"totalTokens":null}`),
		[]byte(`{"a":"\x01"}`), []byte(`{"a":01}`), []byte(`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`),
	}
	types := map[string]bool{TypeSessionStart: true, TypeSubagentStarted: true, TypeSubagentCompleted: true, TypeSubagentFailed: true,
		TypeAbort: true, TypeSessionModelChange: true, TypeSessionContextChanged: true, TypeToolComplete: true, TypeSessionResume: true, TypeSessionShutdown: true}
	whole := map[string]bool{TypeSessionStart: true, TypeSubagentStarted: true, TypeSubagentCompleted: true, TypeSubagentFailed: true,
		TypeAbort: true, TypeSessionModelChange: true, TypeSessionContextChanged: true}
	for _, path := range realTranscripts(tb) {
		for _, line := range realLines(tb, path) {
			var env envelope
			decodeRef(tb, line, &env)
			if !types[env.Type] {
				continue
			}
			if whole[env.Type] {
				seeds = append(seeds, env.Data)
			}
			// The members decoded with encoding/json before.
			var members map[string]json.RawMessage
			require.NoError(tb, json.Unmarshal(env.Data, &members))
			for _, k := range []string{"error", "shellExecution", "context"} {
				if v, ok := members[k]; ok {
					seeds = append(seeds, v)
				}
			}
			if cc, ok := members["codeChanges"]; ok {
				var c map[string]json.RawMessage
				require.NoError(tb, json.Unmarshal(cc, &c))
				if v, ok := c["filesModified"]; ok {
					seeds = append(seeds, v)
				}
			}
		}
	}
	return seeds
}

var strictReplacements = []string{`null`, `true`, `false`, `0`, `-1`, `1.5`, `1e400`, `4737390000.0`, `9223372036854775808`,
	`"x"`, `""`, `{}`, `[]`, `["a",null]`, `[1]`, `{"a":1}`, `{"message":"m","code":"c","exitCode":3,"cwd":"/x"}`,
	`"\u0041b"`, `"a\u0000"`, "\"\x01\"", `01`, `1.`, `-`, `"\q"`, `"é"`, "\"\xff\"", `"\ud800"`, `.5`, `[1,]`, `{"a":1,}`, `tru`}

// strictMutations returns raw with each value replaced in turn, each key
// changed in case or escaped, and each member repeated.
func strictMutations(raw []byte) [][]byte {
	var out [][]byte
	var walk func(i, depth int)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	walk = func(i, depth int) {
		end, err := skipValue(raw, i)
		if err != nil || depth > 4 {
			return
		}
		for _, r := range strictReplacements {
			out = append(out, cat(raw[:i], []byte(r), raw[end:]))
		}
		if raw[i] != '{' && raw[i] != '[' {
			return
		}
		if raw[i] == '[' {
			j := skipSpace(raw, i+1)
			for j < end && raw[j] != ']' {
				ve, err := skipValue(raw, j)
				if err != nil {
					return
				}
				walk(j, depth+1)
				j = skipSpace(raw, ve)
				if j < end && raw[j] == ',' {
					j = skipSpace(raw, j+1)
				}
			}
			return
		}
		j := skipSpace(raw, i+1)
		for j < end && raw[j] == '"' {
			ke, err := skipString(raw, j)
			if err != nil {
				return
			}
			key := raw[j+1 : ke-1]
			vs := skipSpace(raw, skipSpace(raw, ke)+1)
			ve, err := skipValue(raw, vs)
			if err != nil || len(key) == 0 {
				return
			}
			upper := bytes.ToUpper(key)
			esc := append([]byte(fmt.Sprintf(`\u%04x`, key[0])), key[1:]...)
			long := bytes.ReplaceAll(key, []byte("s"), []byte("ſ"))
			for _, nk := range [][]byte{upper, esc, long} {
				out = append(out, cat(raw[:j+1], nk, raw[ke-1:]))
			}
			out = append(out, cat(raw[:ve], []byte(","), raw[j:ve], raw[ve:]))
			walk(vs, depth+1)
			j = skipSpace(raw, ve)
			if j < end && raw[j] == ',' {
				j = skipSpace(raw, j+1)
			}
		}
	}
	walk(0, 0)
	return out
}

func TestStrictDecodersMatchEncodingJSON(t *testing.T) {
	n := 0
	seen := map[string]bool{}
	shapes := map[string]int{}
	for _, seed := range strictSeeds(t) {
		// Seeds of one shape (the same keys) differ in values only: two
		// of each are mutated, which keeps the test short.
		var shape []byte
		if eachMember(seed, func(k, _ []byte) bool {
			shape = append(append(shape, k...), ',')
			return true
		}) != nil || len(shape) == 0 {
			shape = seed // not an object, or an empty one
		}
		if shapes[string(shape)]++; shapes[string(shape)] > 2 {
			requireSameAsJSON(t, seed)
			continue
		}
		for _, raw := range append([][]byte{seed}, strictMutations(seed)...) {
			if seen[string(raw)] {
				continue
			}
			seen[string(raw)] = true
			requireSameAsJSON(t, raw)
			n++
		}
	}
	t.Logf("%d texts", n)
}

func FuzzStrictDecoders(f *testing.F) {
	for _, seed := range strictSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		requireSameAsJSON(t, raw)
	})
}
