package transcript

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
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
// strconv; anything else through an exact rational, so 4737390000.0 and
// 4.73739e9 give the same value.
func parseInt(b []byte) (int64, bool, error) {
	if v, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		return v, true, nil
	}
	if _, err := skipNumber(b, 0); err != nil || len(b) == 0 {
		return 0, false, fmt.Errorf("%q is not a number", b)
	}
	r, ok := new(big.Rat).SetString(string(b))
	if !ok {
		return 0, false, fmt.Errorf("%q is not a number", b)
	}
	if r.IsInt() {
		if r.Num().IsInt64() {
			return r.Num().Int64(), true, nil
		}
		return clampBig(r.Num()), false, nil
	}
	// Round half away from zero.
	num := new(big.Int).Set(r.Num())
	den := r.Denom()
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	if new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	if q.IsInt64() {
		return q.Int64(), false, nil
	}
	return clampBig(q), false, nil
}

func clampBig(v *big.Int) int64 {
	if v.Sign() < 0 {
		return math.MinInt64
	}
	return math.MaxInt64
}
