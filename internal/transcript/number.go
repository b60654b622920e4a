package transcript

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// Int is an integer count (tokens, nano-AIU, milliseconds) as the CLI writes
// it. The CLI writes the same field as 13414, as 0.0 or as 4737390000.0
// depending on where it comes from, so a count is accepted in any JSON number
// form whose value is a whole number, and decoded exactly. A value with a
// fraction is rounded half away from zero; Inexact records that this
// happened. null leaves the value at zero.
type Int struct {
	V       int64
	Set     bool // the field was present and not null
	Inexact bool // the value had a fraction or did not fit an int64
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*n = Int{}
		return nil
	}
	v, exact, err := parseInt(b)
	if err != nil {
		return err
	}
	*n = Int{V: v, Set: true, Inexact: !exact}
	return nil
}

// parseInt decodes a JSON number as an int64. Integers are decoded with
// strconv; anything else from its decimal digits and exponent, so
// 4737390000.0 and 4.73739e9 give the same value. The work is linear in the
// length of the text whatever the exponent: 1e999999 is clamped at once
// rather than expanded into a number of a million digits.
func parseInt(b []byte) (int64, bool, error) {
	if v, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		return v, true, nil
	}
	neg, digits, exp, ok := splitNumber(b)
	if !ok {
		return 0, false, fmt.Errorf("%q is not a number", b)
	}
	if len(digits) == 0 {
		return 0, true, nil
	}
	// The value is 0.digits × 10^intLen: digits has intLen digits before
	// the decimal point (none when intLen <= 0).
	intLen := int64(len(digits)) + exp
	if intLen > 19 { // at least 10^19, beyond int64
		return clamp(neg), false, nil
	}
	var mag uint64 // at most 10^19, which fits
	for i := int64(0); i < intLen; i++ {
		d := uint64(0)
		if i < int64(len(digits)) {
			d = uint64(digits[i] - '0')
		}
		mag = mag*10 + d
	}
	exact := exp >= 0
	// digits has no trailing zeros, so a negative exponent means a
	// fraction; round it half away from zero.
	if !exact && intLen >= 0 && digits[intLen] >= '5' {
		mag++
	}
	switch {
	case !neg && mag <= math.MaxInt64:
		return int64(mag), exact, nil
	case neg && mag <= 1<<63:
		return -int64(mag-1) - 1, exact, nil
	}
	return clamp(neg), false, nil
}

// splitNumber splits a JSON number into its sign and its value as
// digits × 10^exp, where digits has neither leading nor trailing zeros
// (and is empty for zero). It reports whether b is a JSON number. The
// exponent saturates far beyond any value that matters.
func splitNumber(b []byte) (neg bool, digits []byte, exp int64, ok bool) {
	i := 0
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	intDigits := b[start:i]
	if len(intDigits) == 0 || (len(intDigits) > 1 && intDigits[0] == '0') {
		return false, nil, 0, false
	}
	var frac []byte
	if i < len(b) && b[i] == '.' {
		i++
		fs := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == fs {
			return false, nil, 0, false
		}
		frac = b[fs:i]
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		es := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if exp < 1<<40 {
				exp = exp*10 + int64(b[i]-'0')
			}
			i++
		}
		if i == es {
			return false, nil, 0, false
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(b) {
		return false, nil, 0, false
	}
	// digits × 10^exp with digits = intDigits followed by frac.
	all := make([]byte, 0, len(intDigits)+len(frac))
	all = append(append(all, intDigits...), frac...)
	exp -= int64(len(frac))
	k := 0
	for k < len(all) && all[k] == '0' {
		k++
	}
	all = all[k:]
	for len(all) > 0 && all[len(all)-1] == '0' {
		all = all[:len(all)-1]
		exp++
	}
	return neg, all, exp, true
}

func clamp(neg bool) int64 {
	if neg {
		return math.MinInt64
	}
	return math.MaxInt64
}
