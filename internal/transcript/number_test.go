package transcript

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseInt(t *testing.T) {
	tests := []struct {
		in    string
		v     int64
		exact bool
	}{
		{"0", 0, true},
		{"-0", 0, true},
		{"0.0", 0, true},
		{"-0.0", 0, true},
		{"0e5", 0, true},
		{"0.000e-7", 0, true},
		{"13414", 13414, true},
		{"4737390000.0", 4737390000, true},
		{"4737390000.000000", 4737390000, true},
		{"4.73739e9", 4737390000, true},
		{"473739E4", 4737390000, true},
		{"1.5e3", 1500, true},
		{"1.5E+3", 1500, true},
		{"15000e-1", 1500, true},
		{"-1.5e3", -1500, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"9223372036854775807.0", math.MaxInt64, true},
		{"9.223372036854775807e18", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true},
		{"-9223372036854775808.0", math.MinInt64, true},
		{"-9.223372036854775808e18", math.MinInt64, true},
		{"1" + strings.Repeat("0", 2000) + "e-2000", 1, true},
		{"0." + strings.Repeat("0", 2000) + "1e2001", 1, true},

		// A fraction is rounded half away from zero.
		{"1.5", 2, false},
		{"2.5", 3, false},
		{"2.4999999999999999999999", 2, false},
		{"-2.5", -3, false},
		{"-2.4", -2, false},
		{"0.5", 1, false},
		{"-0.5", -1, false},
		{"0.4", 0, false},
		{"-0.4", 0, false},
		{"1e-1", 0, false},
		{"5e-1", 1, false},
		{"123456789012345678901234567890e-20", 1234567890, false},
		{"9223372036854775806.5", math.MaxInt64, false},
		{"-9223372036854775807.5", math.MinInt64, false},
		{"0." + strings.Repeat("0", 2000) + "1", 0, false},

		// Out of range: clamped.
		{"9223372036854775808", math.MaxInt64, false},
		{"9223372036854775807.5", math.MaxInt64, false},
		{"-9223372036854775809", math.MinInt64, false},
		{"-9223372036854775808.5", math.MinInt64, false},
		{"1e19", math.MaxInt64, false},
		{"99999999999999999999", math.MaxInt64, false},
		{"-1e19", math.MinInt64, false},
		{"1e400", math.MaxInt64, false},
		{"1e999999999999999999999999", math.MaxInt64, false},
		{"-1e999999999999999999999999", math.MinInt64, false},
		{"1e-999999999999999999999999", 0, false},
		{"0e999999999999999999999999", 0, true},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 40 {
			name = name[:40] + "…"
		}
		t.Run(name, func(t *testing.T) {
			v, exact, err := parseInt([]byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.v, v)
			require.Equal(t, tt.exact, exact)

			var n Int
			require.NoError(t, json.Unmarshal([]byte(tt.in), &n))
			require.Equal(t, Int{V: tt.v, Set: true, Inexact: !tt.exact}, n)
		})
	}
}

func TestParseIntRejects(t *testing.T) {
	for _, in := range []string{"", "-", "abc", `"12"`, "true", "{}", "[1]", "1.", ".5", "1e", "1e+", "--1", "1..2", "1e1.5", "0x10", "1/2", "Inf", "NaN", "1_000", " 1"} {
		_, _, err := parseInt([]byte(in))
		require.Error(t, err, "%q", in)
	}
	var n Int
	require.Error(t, json.Unmarshal([]byte(`"12"`), &n))
	require.Error(t, json.Unmarshal([]byte(`true`), &n))
	require.Error(t, json.Unmarshal([]byte(`{}`), &n))
	n = Int{V: 7, Set: true}
	require.NoError(t, json.Unmarshal([]byte(`null`), &n))
	require.Equal(t, Int{}, n)
}

// parseIntRat is the exact reference: the value as a rational, rounded
// half away from zero and clamped to int64.
func parseIntRat(s string) (int64, bool) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	num, den := r.Num(), r.Denom()
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	exact := m.Sign() == 0
	if new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	switch {
	case q.IsInt64():
		return q.Int64(), exact
	case q.Sign() < 0:
		return math.MinInt64, false
	default:
		return math.MaxInt64, false
	}
}

// TestParseIntMatchesRational compares parseInt with exact rational
// arithmetic on numbers written every way JSON allows.
func TestParseIntMatchesRational(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	digits := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		return b.String()
	}
	for range 20000 {
		var b strings.Builder
		if rng.IntN(2) == 0 {
			b.WriteByte('-')
		}
		intPart := digits(1 + rng.IntN(22))
		intPart = strings.TrimLeft(intPart, "0")
		if intPart == "" || rng.IntN(5) == 0 {
			intPart = "0"
		}
		b.WriteString(intPart)
		if rng.IntN(2) == 0 {
			b.WriteString("." + digits(1+rng.IntN(22)))
		}
		if rng.IntN(2) == 0 {
			b.WriteString([]string{"e", "E"}[rng.IntN(2)])
			b.WriteString([]string{"", "+", "-"}[rng.IntN(3)])
			b.WriteString(fmt.Sprint(rng.IntN(25)))
		}
		s := b.String()
		require.True(t, json.Valid([]byte(s)), s)
		wantV, wantExact := parseIntRat(s)
		v, exact, err := parseInt([]byte(s))
		require.NoError(t, err, s)
		require.Equal(t, wantV, v, s)
		require.Equal(t, wantExact, exact, s)
	}
}

// TestParseIntHugeExponent: a count written with an enormous exponent is
// clamped at once; it used to be expanded into an exact rational of a
// million digits, about 25 ms a number, so that one hostile line of them
// could stall the reader for hours.
func TestParseIntHugeExponent(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"type":"session.usage_record","data":{"usage":{"model":"m","inputTokens":1e999999,"outputTokens":-1e999999,"cacheReadTokens":1e-999999,"duration":1,"x":[`)
	for i := range 2000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"count":1e999999}`)
	}
	b.WriteString(`]}},"id":"i","timestamp":"2026-11-22T16:07:27.766Z"}`)
	line := []byte(b.String())
	start := time.Now()
	// Such counts are no usage (see CheckCount): the line is skipped.
	_, err := Decode(line, Options{})
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	require.Equal(t, ReasonInvalidUsage, de.Reason)
	for in, want := range map[string]Int{
		"1e999999":  {V: math.MaxInt64, Set: true, Inexact: true},
		"-1e999999": {V: math.MinInt64, Set: true, Inexact: true},
		"1e-999999": {V: 0, Set: true, Inexact: true},
	} {
		for range 2000 {
			var n Int
			require.NoError(t, n.UnmarshalJSON([]byte(in)))
			require.Equal(t, want, n)
		}
	}

	// The same numbers where the accounting reads counts: 2000 model
	// metrics in a shutdown.
	var s strings.Builder
	s.WriteString(`{"type":"session.shutdown","data":{"modelMetrics":{`)
	for i := range 2000 {
		if i > 0 {
			s.WriteByte(',')
		}
		fmt.Fprintf(&s, `"m%d":{"requests":{"count":1e999999},"usage":{"inputTokens":1e-999999}}`, i)
	}
	s.WriteString(`}},"id":"i","timestamp":"2026-11-22T16:07:27.766Z"}`)
	_, err = Decode([]byte(s.String()), Options{})
	require.ErrorAs(t, err, &de)
	require.Equal(t, ReasonInvalidUsage, de.Reason)
	require.Less(t, time.Since(start), 2*time.Second)
}

// TestParseFloatMatchesStrconv checks the allocation-free fast path against
// strconv on random decimals, and the fallback on the forms it hands on.
func TestParseFloatMatchesStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	check := func(s string) {
		want, werr := strconv.ParseFloat(s, 64)
		got, err := parseFloat([]byte(s))
		if werr != nil {
			require.Error(t, err, s)
			return
		}
		require.NoError(t, err, s)
		require.Equal(t, math.Float64bits(want), math.Float64bits(got), s)
	}
	for range 50000 {
		intDigits := rng.IntN(10)
		fracDigits := rng.IntN(10)
		var sb strings.Builder
		if rng.IntN(4) == 0 {
			sb.WriteByte('-')
		}
		sb.WriteString(strconv.FormatUint(rng.Uint64N(uint64(math.Pow10(intDigits))+1), 10))
		if fracDigits > 0 {
			sb.WriteByte('.')
			for range fracDigits {
				sb.WriteByte(byte('0' + rng.IntN(10)))
			}
		}
		check(sb.String())
	}
	for _, s := range []string{"0", "0.0", "-0.0", "0.33", "1.0", "36.10893", "123456789012345", "1234567890123456789", "0.1234567890123456789", "1e3", "1.5E-7", "-2.5e+10"} {
		check(s)
	}
	// Not JSON numbers, though strconv takes some of them.
	for _, s := range []string{"1.", ".5", "-", "", "1.2.3", "0x10", "Infinity", "NaN", "+1"} {
		_, err := parseFloat([]byte(s))
		require.Error(t, err, s)
	}
}

// TestUsageRule: the one rule every usage number obeys, from a transcript
// or a hook payload.
func TestUsageRule(t *testing.T) {
	for in, ok := range map[string]bool{
		"0": true, "0.0": true, "13414": true, "4737390000.0": true, "4.73739e9": true, "9007199254740992": true,
		"-5": false, "-0.5": false, "2.5": false, "0.4": false, "9007199254740993": false, "9.3e18": false,
		"9300000000000000000": false, "1e999999": false, "-1e999999": false, "1e-9": false,
	} {
		var n Int
		require.NoError(t, json.Unmarshal([]byte(in), &n), in)
		err := CheckCount(n)
		if ok {
			require.NoError(t, err, in)
			continue
		}
		require.ErrorIs(t, err, ErrInvalidUsage, in)
	}
	require.NoError(t, CheckCount(Int{}), "absent is zero")
	for f, ok := range map[float64]bool{0: true, 0.33: true, 50: true, MaxCount: true, -0.5: false, -5: false, 9.3e18: false, math.Inf(1): false, math.NaN(): false} {
		if ok {
			require.NoError(t, CheckAmount(f), "%v", f)
		} else {
			require.ErrorIs(t, CheckAmount(f), ErrInvalidUsage, "%v", f)
		}
	}
}

// TestInvalidUsageLines: a usage record, shutdown or checkpoint with a
// usage number that breaks the rule is skipped for invalid_usage, naming
// the member; the forms the CLI writes are read.
func TestInvalidUsageLines(t *testing.T) {
	const ts = `,"id":"i","timestamp":"2026-11-22T16:07:27.766Z"}`
	record := func(usage string) string {
		return `{"type":"session.usage_record","data":{"usage":{"model":"m",` + usage + `}}` + ts
	}
	shutdown := func(data string) string { return `{"type":"session.shutdown","data":{` + data + `}` + ts }
	for line, member := range map[string]string{
		record(`"inputTokens":-5`):                                                                  `"inputTokens"`,
		record(`"outputTokens":9.3e18`):                                                             `"outputTokens"`,
		record(`"cacheReadTokens":9007199254740993`):                                                `"cacheReadTokens"`,
		record(`"cacheWriteTokens":2.5`):                                                            `"cacheWriteTokens"`,
		record(`"reasoningTokens":-1`):                                                              `"reasoningTokens"`,
		record(`"duration":-40`):                                                                    `"duration"`,
		record(`"cost":-1`):                                                                         `"cost"`,
		record(`"copilotUsage":{"totalNanoAiu":-5}`):                                                `"totalNanoAiu"`,
		record(`"copilotUsage":{"totalNanoAiu":9.3e18}`):                                            `"totalNanoAiu"`,
		record(`"accounting":{"sourceSessionId":"s","sequence":9.3e18}`):                            `"sequence"`,
		shutdown(`"totalNanoAiu":9.3e18`):                                                           `"totalNanoAiu"`,
		shutdown(`"totalPremiumRequests":-0.5`):                                                     `"totalPremiumRequests"`,
		shutdown(`"totalApiDurationMs":-5`):                                                         `"totalApiDurationMs"`,
		shutdown(`"codeChanges":{"linesAdded":-1}`):                                                 `"linesAdded"`,
		shutdown(`"modelMetrics":{"m":{"requests":{"count":-5}}}`):                                  `"count"`,
		shutdown(`"modelMetrics":{"m":{"requests":{"cost":-1}}}`):                                   `"cost"`,
		shutdown(`"modelMetrics":{"m":{"usage":{"inputTokens":9.3e18}}}`):                           `"inputTokens"`,
		shutdown(`"modelMetrics":{"m":{"totalNanoAiu":1.5}}`):                                       `"totalNanoAiu"`,
		shutdown(`"accountingSnapshot":{"totalUserRequests":-1}`):                                   `"totalUserRequests"`,
		shutdown(`"accountingSnapshot":{"totalPremiumRequestCost":-2}`):                             `"totalPremiumRequestCost"`,
		shutdown(`"agentMetrics":{"main":{"totalNanoAiu":-5}}`):                                     `"totalNanoAiu"`,
		shutdown(`"usageAccountingWatermarks":{"s":-3}`):                                            `"s"`,
		`{"type":"session.usage_checkpoint","data":{"totalNanoAiu":-5}` + ts:                        `"totalNanoAiu"`,
		`{"type":"session.usage_checkpoint","data":{"accountingSnapshot":{"totalNanoAiu":-5}}` + ts: `"totalNanoAiu"`,
	} {
		_, err := Decode([]byte(line), Options{})
		var de *DecodeError
		require.ErrorAs(t, err, &de, line)
		require.Equal(t, ReasonInvalidUsage, de.Reason, line)
		require.ErrorIs(t, err, ErrInvalidUsage, line)
		require.Contains(t, err.Error(), member, line)
	}
	for _, line := range []string{
		record(`"inputTokens":4737390000.0,"outputTokens":0.0,"cost":0.33,"duration":9007199254740992,"copilotUsage":{"totalNanoAiu":4.73739e9}`),
		record(`"inputTokens":null,"timeToFirstTokenMs":-1`),
		shutdown(`"totalNanoAiu":4737390000.0,"modelMetrics":{"m":{"requests":{"count":4,"cost":1.0}}}`),
	} {
		_, err := Decode([]byte(line), Options{})
		require.NoError(t, err, line)
	}
}
