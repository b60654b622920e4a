package transcript

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// MaxCount is the largest usage number accepted: 2^53 (9,007,199,254,740,992).
// Beyond it a float64 no longer holds every integer, so sums of such numbers
// (in a backend, or float metrics such as premium requests) lose
// exactness; and no real session comes near it (2^53 nano-AIU is nine
// million AI credits).
const MaxCount = 1 << 53

// ErrInvalidUsage is what errors.Is finds in the error about a usage number
// that breaks the rule of CheckCount or CheckAmount.
var ErrInvalidUsage = errors.New("invalid usage number")

type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == ErrInvalidUsage }

// CheckCount is the rule every usage count obeys, wherever it is read: a
// transcript's usage records, shutdown and checkpoint totals, and the usage
// object of a hook payload. A count (tokens, nano-AIU, requests,
// milliseconds, lines, files) is a whole number from 0 to MaxCount, in any
// JSON number form (13414, 0.0, 4737390000.0). A negative count would make
// a negative point on a monotonic sum; a fraction or a number beyond
// MaxCount is not a count the CLI wrote. A count that is absent or null is
// valid: it is zero.
func CheckCount(n Int) error {
	switch {
	case !n.Set:
		return nil
	case n.V == math.MinInt64 && n.Inexact:
		return &usageError{"a negative number beyond the range of int64; a count is a whole number from 0 to 2^53"}
	case n.V < 0:
		return &usageError{fmt.Sprintf("%d is negative; a count is a whole number from 0 to 2^53", n.V)}
	case n.V == math.MaxInt64 && n.Inexact:
		return &usageError{fmt.Sprintf("a number beyond the range of int64, above 2^53 (%d), the largest count accepted", int64(MaxCount))}
	case n.V > MaxCount:
		return &usageError{fmt.Sprintf("%d is above 2^53 (%d), the largest count accepted", n.V, int64(MaxCount))}
	case n.Inexact:
		return &usageError{"not a whole number; a count is a whole number from 0 to 2^53"}
	}
	return nil
}

// CheckAmount is the rule of usage amounts that may have a fraction
// (premium requests, the model multiplier of calls): a number from 0 to
// MaxCount.
func CheckAmount(f float64) error {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return &usageError{fmt.Sprintf("%v is not a number", f)}
	case f < 0:
		return &usageError{fmt.Sprintf("%v is negative; an amount is a number from 0 to 2^53", f)}
	case f > MaxCount:
		return &usageError{fmt.Sprintf("%v is above 2^53 (%d), the largest amount accepted", f, int64(MaxCount))}
	}
	return nil
}

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
	if v, ok := smallInt(b); ok {
		return v, true, nil
	}
	// A fraction or an exponent is left to splitNumber: ParseInt would
	// fail on it, allocating its error, for numbers the CLI writes often
	// (1234.5, 1.2e3).
	if bytes.IndexAny(b, ".eE") < 0 {
		if v, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			return v, true, nil
		}
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
	i = skipDigits(b, i)
	intDigits := b[start:i]
	if len(intDigits) == 0 || (len(intDigits) > 1 && intDigits[0] == '0') {
		return false, nil, 0, false
	}
	var frac []byte
	if i < len(b) && b[i] == '.' {
		i++
		fs := i
		i = skipDigits(b, i)
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

// smallInt decodes an integer of up to 18 digits without allocating: the
// form nearly every count in a transcript has.
func smallInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	d := b
	if neg {
		d = b[1:]
	}
	if len(d) == 0 || len(d) > 18 || (len(d) > 1 && d[0] == '0') {
		return 0, false
	}
	var v int64
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat decodes a JSON number as a float64, equal to what
// strconv.ParseFloat returns. A decimal of at most 15 significant digits
// and no exponent is the quotient of two exactly representable numbers,
// so one correctly rounded division gives the correctly rounded value
// without allocating; anything else goes to strconv.
func parseFloat(b []byte) (float64, error) {
	d := b
	neg := len(d) > 0 && d[0] == '-'
	if neg {
		d = d[1:]
	}
	var mant uint64
	digits, frac, dot := 0, 0, false
	fast := len(d) > 0
	for _, c := range d {
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			if mant != 0 || dot {
				digits++
			}
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			fast = false
		}
		if !fast || digits > 15 {
			fast = false
			break
		}
	}
	if fast && (!dot || frac > 0) && jsonNumber(b) {
		f := float64(mant) / pow10[frac]
		if neg {
			f = -f
		}
		return f, nil
	}
	if !jsonNumber(b) {
		return 0, fmt.Errorf("%q is not a number", b)
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", b)
	}
	return f, nil
}

// jsonNumber reports whether b is a number as JSON writes it, and nothing
// else (strictNumber's grammar).
func jsonNumber(b []byte) bool {
	n, ok := strictNumber(b, 0)
	return ok && n == len(b)
}
