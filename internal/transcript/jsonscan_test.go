package transcript

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSkipValueValid(t *testing.T) {
	tests := []struct {
		in  string
		end int // index just past the value; -1 means len(in)
	}{
		{`""`, -1},
		{`"abc"`, -1},
		{`"a\"b"`, -1},
		{`"a\\"`, -1},          // an escaped backslash before the closing quote
		{`"a\\\"b"`, -1},       // \\ then \" inside
		{`"\\\\"`, -1},         // two escaped backslashes
		{`"a\\\\\"\\"`, -1},    // odd run escapes the quote, even run does not
		{`"\ud83d\ude00"`, -1}, // surrogate pair escapes
		{"\"raw \u2028 and \u2029\"", -1},
		{`"}]"`, -1},
		{`{}`, -1},
		{`[]`, -1},
		{`{ }`, -1},
		{`[ ]`, -1},
		{`{"a":[1,{"b":null}],"c":"}","d":{"e":[[],{}]}}`, -1},
		{`[1,"two",true,false,null,{"x":-1.5e+3},[]]`, -1},
		{` 12.5e-3`, -1},
		{`-0`, -1},
		{`0`, -1},
		{`true`, -1},
		{`false`, -1},
		{`null`, -1},
		{"\t\r\n {\"a\" :\t1 , \"b\"\n:\r[ 2 ,3 ] }", -1},
		{`{"a":1}xyz`, 7},   // skipValue stops after the value
		{`[1] [2]`, 3},      //
		{`"a"b`, 3},         //
		{`123,`, 3},         //
		{`true}`, 4},        //
		{`{"a":"\""}x`, 10}, // the escaped quote does not end the string
	}
	for _, tt := range tests {
		end, err := skipValue([]byte(tt.in), 0)
		require.NoError(t, err, "%q", tt.in)
		want := tt.end
		if want < 0 {
			want = len(tt.in)
		}
		require.Equal(t, want, end, "%q", tt.in)
	}
}

func TestSkipValueInvalid(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{``, errUnexpectedEnd},
		{`   `, errUnexpectedEnd},
		{`"abc`, errUnexpectedEnd},
		{`"abc\"`, errUnexpectedEnd}, // the only quote after the opening one is escaped
		{`"abc\\\"`, errUnexpectedEnd},
		{`{`, errUnexpectedEnd},
		{`[`, errUnexpectedEnd},
		{`{"a"`, errUnexpectedEnd},
		{`{"a":`, errUnexpectedEnd},
		{`{"a":1`, errUnexpectedEnd},
		{`{"a":1,`, errUnexpectedEnd},
		{`[1,`, errUnexpectedEnd},
		{`[1`, errUnexpectedEnd},
		{`[[[{"a":[`, errUnexpectedEnd},
		{`tru`, errUnexpectedEnd},
		{`-`, errUnexpectedEnd},
		{`}`, errSyntax},
		{`]`, errSyntax},
		{`,`, errSyntax},
		{`x`, errSyntax},
		{`{"a":1,}`, errSyntax},
		{`[1,]`, errSyntax},
		{`[,1]`, errSyntax},
		{`{,}`, errSyntax},
		{`{"a" 1}`, errSyntax},
		{`{"a"::1}`, errSyntax},
		{`{a:1}`, errSyntax},
		{`{'a':1}`, errSyntax},
		{`[1 2]`, errSyntax},
		{`{"a":1]`, errSyntax},
		{`[1}`, errSyntax},
		{`[}`, errSyntax},
		{`{]`, errSyntax},
		{`{"a":}`, errSyntax},
		{`{"a":1 "b":2}`, errSyntax},
		{`trux`, errSyntax},
		{`nul1`, errSyntax},
		{`-x`, errSyntax},
		{`[-]`, errSyntax},
		{`{"a":[}`, errSyntax},
		{`{"a":{"b":1}]`, errSyntax},
	}
	for _, tt := range tests {
		_, err := skipValue([]byte(tt.in), 0)
		require.ErrorIs(t, err, tt.want, "%q", tt.in)
	}
}

// TestScannerDeepNesting: nesting is checked without recursion, so a line
// of brackets fails (or passes) cleanly instead of exhausting the stack.
func TestScannerDeepNesting(t *testing.T) {
	const depth = 100_000
	open := bytes.Repeat([]byte("["), depth)
	_, err := skipValue(open, 0)
	require.ErrorIs(t, err, errUnexpectedEnd)

	closed := append(append(append([]byte(nil), open...), '1'), bytes.Repeat([]byte("]"), depth)...)
	end, err := skipValue(closed, 0)
	require.NoError(t, err)
	require.Equal(t, len(closed), end)

	_, err = skipValue(append(append([]byte(nil), open...), bytes.Repeat([]byte("]"), depth-1)...), 0)
	require.ErrorIs(t, err, errUnexpectedEnd)
	_, err = skipValue(append(append([]byte(nil), open...), bytes.Repeat([]byte("}"), depth)...), 0)
	require.ErrorIs(t, err, errSyntax)

	objs := []byte(strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth))
	end, err = skipValue(objs, 0)
	require.NoError(t, err)
	require.Equal(t, len(objs), end)

	// Without its last bracket the outer object lacks its end, but its one
	// member is complete.
	var n int
	require.ErrorIs(t, eachMember(objs[:len(objs)-1], func(k, v []byte) bool { n++; return true }), errUnexpectedEnd)
	require.Equal(t, 1, n)
	require.ErrorIs(t, eachMember(open, func(k, v []byte) bool { return true }), errNotObject)

	// Through Decode and the reader: a skip, not a crash.
	line := []byte(`{"type":"session.usage_record","data":{"usage":{"model":"m","x":` + string(open) + `}},"timestamp":"2026-11-22T16:07:27.766Z"}`)
	_, err = Decode(line, Options{})
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	require.Equal(t, ReasonInvalidJSON, de.Reason)

	// Valid, deeper than encoding/json accepts, in a member of the usage
	// that is not read: checked and skipped, the usage is decoded.
	line = []byte(`{"type":"session.usage_record","data":{"usage":{"model":"m","x":` + string(closed) + `}},"timestamp":"2026-11-22T16:07:27.766Z"}`)
	ev0, err := Decode(line, Options{})
	require.NoError(t, err)
	require.Equal(t, "m", ev0.Data.(*UsageRecordData).Usage.Model)

	// Deep nesting in a member nobody decodes is fine.
	line = []byte(`{"type":"hook.end","data":{"x":` + string(closed) + `},"timestamp":"2026-11-22T16:07:27.766Z"}`)
	ev, err := Decode(line, Options{})
	require.NoError(t, err)
	require.Equal(t, "hook.end", ev.Type)

	// An array is not an event; an object cut short is a torn line.
	data := join(open, nl, objs[:len(objs)/2], nl, realLine(t, sessEdit, 8), nl)
	r := NewReader(bytes.NewReader(data), 0, 0, Options{})
	r.Final = true
	require.Equal(t, []string{"skip invalid_json", "skip torn_line", "assistant.turn_start"}, describeAll(readAll(t, r, len(data))))
}

func TestEachMember(t *testing.T) {
	type kv struct{ k, v string }
	collect := func(in string) ([]kv, error) {
		var got []kv
		err := eachMember([]byte(in), func(k, v []byte) bool {
			got = append(got, kv{string(k), string(v)})
			return true
		})
		return got, err
	}

	got, err := collect(` {"type":"x", "data" : {"a":[1,2,{"b":"}"}]} ,"n":-1.5e3,"t":true,"z":null,"s":"a\"b\\"}  `)
	require.NoError(t, err)
	require.Equal(t, []kv{
		{"type", `"x"`},
		{"data", `{"a":[1,2,{"b":"}"}]}`},
		{"n", `-1.5e3`},
		{"t", `true`},
		{"z", `null`},
		{"s", `"a\"b\\"`},
	}, got)

	// Keys come back raw: still escaped.
	got, err = collect(`{"a\"b":1,"\u0074ype":2}`)
	require.NoError(t, err)
	require.Equal(t, []kv{{`a\"b`, "1"}, {`\u0074ype`, "2"}}, got)

	got, err = collect(`{}`)
	require.NoError(t, err)
	require.Empty(t, got)
	got, err = collect("{ \t}\r\n")
	require.NoError(t, err)
	require.Empty(t, got)

	for in, want := range map[string]error{
		``:                  errUnexpectedEnd,
		` `:                 errUnexpectedEnd,
		`{`:                 errUnexpectedEnd,
		`{"a"`:              errUnexpectedEnd,
		`{"a":1`:            errUnexpectedEnd,
		`{"a":1,`:           errUnexpectedEnd,
		`{"a":"x`:           errUnexpectedEnd,
		`[]`:                errNotObject,
		`"x"`:               errNotObject,
		`1`:                 errNotObject,
		`null`:              errNotObject,
		`{"a":1}x`:          errSyntax,
		`{"a":1}{"b":2}`:    errSyntax,
		`{}x`:               errSyntax,
		`{"a":1,}`:          errSyntax,
		`{"a" 1}`:           errSyntax,
		`{"a":1 "b":2}`:     errSyntax,
		`{a:1}`:             errSyntax,
		`{"a":[1,}`:         errSyntax,
		`{"a":1}` + "\x00":  errSyntax,
		"\x00" + `{"a":1}`:  errNotObject,
		`{"a":1]`:           errSyntax,
		`{"a":{"b":1}}}`:    errSyntax,
		`{"a":{"b":1]}`:     errSyntax,
		`{"a":"x"` + "\n}x": errSyntax,
	} {
		_, err := collect(in)
		require.ErrorIs(t, err, want, "%q", in)
	}

	// fn stops the walk; the rest is not checked.
	var keys []string
	err = eachMember([]byte(`{"a":1,"b":2,"c":garbage`), func(k, v []byte) bool {
		keys = append(keys, string(k))
		return string(k) != "b"
	})
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, keys)
}

func TestUnquote(t *testing.T) {
	for _, in := range []string{
		`""`,
		`"plain"`,
		`"a\"b"`,
		`"a\\"`,
		`"a\\\"b"`,
		`"tab\tnewline\nslash\/"`,
		`"\ud83d\ude00"`,       // a surrogate pair
		`"x\uD83D\uDE00y"`,     // upper-case hex
		`"\ud83d"`,             // a lone high surrogate: U+FFFD
		`"\ude00\ud83d"`,       // reversed pair
		`"\u2028\u2029"`,       // escaped line separators
		"\"raw \u2028\u2029\"", // raw line separators
		"\"caf\u00e9 \U0001F600\"",
		"\"bad utf8 \xff\xfe\"", // invalid UTF-8 becomes U+FFFD, as encoding/json does
	} {
		want := ""
		require.NoError(t, json.Unmarshal([]byte(in), &want), in)
		got, ok := unquote([]byte(in))
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	got, _ := unquote([]byte(`"\ud83d\ude00"`))
	require.Equal(t, "\U0001F600", got)
	got, _ = unquote([]byte("\"\u2028\""))
	require.Equal(t, "\u2028", got)

	for _, in := range []string{
		``,
		`"`,
		`abc`,
		`'abc'`,
		`"abc`,
		`abc"`,
		`123`,
		`null`,
		`"\x"`,
		`"\u12"`,
		`"\u12g4"`,
		"\"raw\x01control\"",
		"\"raw\ttab\"",
		"\"raw\nnewline\"",
	} {
		_, ok := unquote([]byte(in))
		require.False(t, ok, "%q", in)
	}
	_, ok := unquote(nil)
	require.False(t, ok)
}

// TestScannerOnRealLines: every real line is a valid object, every proper
// prefix of it ends early (never a syntax error: a cut line must look cut,
// not damaged), and openString tells whether a prefix ends inside a
// string.
func TestScannerOnRealLines(t *testing.T) {
	for _, path := range realTranscripts(t) {
		for i, line := range realLines(t, path) {
			end, err := skipValue(line, 0)
			require.NoError(t, err)
			require.Equal(t, len(line), end)
			require.NoError(t, eachMember(line, func(k, v []byte) bool {
				require.True(t, json.Valid(v), "%s:%d member %s", path, i+1, k)
				return true
			}))
			if i%7 != 0 {
				continue // every prefix of every line is slow; a sample will do
			}
			inString := false
			escaped := false
			for n := 0; n < len(line); n++ {
				prefix := line[:n]
				err := eachMember(prefix, func(k, v []byte) bool { return true })
				require.ErrorIs(t, err, errUnexpectedEnd, "%s:%d prefix of %d bytes", path, i+1, n)
				require.Equal(t, inString, openString(prefix), "%s:%d prefix of %d bytes", path, i+1, n)
				c := line[n]
				switch {
				case escaped:
					escaped = false
				case inString && c == '\\':
					escaped = true
				case c == '"':
					inString = !inString
				}
			}
		}
	}
}

func TestUnescapedQuotes(t *testing.T) {
	for in, want := range map[string]int{
		``:                  0,
		`abc`:               0,
		`"`:                 1,
		`\"`:                0,
		`\\"`:               1,
		`\\\"`:              0,
		`"a\"b"`:            2,
		`"a\\"b"`:           3,
		`{"a":"x","b":"y"}`: 8,
	} {
		require.Equal(t, want, unescapedQuotes([]byte(in), 0), "%q", in)
	}
	// Backslashes before from count.
	require.Equal(t, 0, unescapedQuotes([]byte(`ab\"c`), 3))
	require.Equal(t, 1, unescapedQuotes([]byte(`ab\\"c`), 4))
	require.Equal(t, 0, unescapedQuotes([]byte(`"ab"`), 4))
}
