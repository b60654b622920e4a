// Package money holds exact amounts of currency. Usage arrives as integers
// (nano-AIU, tokens) and premium-request multipliers; prices are decimals.
// An Amount counts 1e-18 currency units in a big.Int, so that every product
// of a count and a price with up to nine decimals is exact, and sums of
// millions of them do not drift.
package money

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Scale is the number of decimals an Amount keeps.
const Scale = 18

var (
	scale     = new(big.Int).Exp(big.NewInt(10), big.NewInt(Scale), nil)
	errFormat = errors.New("not a decimal amount such as 0.01 or 12.50")
)

// Amount is an exact, non-negative amount of currency in 1e-18 units. The
// zero value is zero. Amounts are immutable: operations return new ones.
type Amount struct{ v *big.Int }

// Zero is no money.
func Zero() Amount { return Amount{} }

// FromAtto is an amount of v 1e-18 units.
func FromAtto(v *big.Int) Amount { return Amount{new(big.Int).Set(v)} }

func (a Amount) int() *big.Int {
	if a.v == nil {
		return new(big.Int)
	}
	return a.v
}

// ParseDecimal reads a non-negative decimal with at most 18 decimals.
func ParseDecimal(s string) (Amount, error) {
	s = strings.TrimSpace(s)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || len(frac) > Scale || strings.HasPrefix(whole, "+") || strings.HasPrefix(whole, "-") {
		return Amount{}, fmt.Errorf("%q: %w", s, errFormat)
	}
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			return Amount{}, fmt.Errorf("%q: %w", s, errFormat)
		}
	}
	digits := strings.TrimLeft(whole+frac+strings.Repeat("0", Scale-len(frac)), "0")
	if digits == "" {
		return Amount{}, nil
	}
	v, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return Amount{}, fmt.Errorf("%q: %w", s, errFormat)
	}
	return Amount{v}, nil
}

// MustParse is ParseDecimal for constants; it panics on a bad literal.
func MustParse(s string) Amount {
	a, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return a
}

// Add returns a+b.
func (a Amount) Add(b Amount) Amount { return Amount{new(big.Int).Add(a.int(), b.int())} }

// MulInt returns a×n for a count n (tokens, nano-AIU).
func (a Amount) MulInt(n int64) Amount {
	return Amount{new(big.Int).Mul(a.int(), big.NewInt(n))}
}

// DivInt returns a/n, which must be exact (a price per 1e9 or 1e6 units
// times a count is); it panics on division by zero.
func (a Amount) DivInt(n int64) (Amount, bool) {
	q, r := new(big.Int).QuoRem(a.int(), big.NewInt(n), new(big.Int))
	return Amount{q}, r.Sign() == 0
}

// Cmp compares a and b: -1, 0 or +1.
func (a Amount) Cmp(b Amount) int { return a.int().Cmp(b.int()) }

// Sign is 0 for zero, 1 otherwise.
func (a Amount) Sign() int { return a.int().Sign() }

// IsZero reports whether a is zero.
func (a Amount) IsZero() bool { return a.Sign() == 0 }

// Atto returns the amount in 1e-18 units.
func (a Amount) Atto() *big.Int { return new(big.Int).Set(a.int()) }

// Rat returns the amount as an exact fraction of currency units.
func (a Amount) Rat() *big.Rat { return new(big.Rat).SetFrac(a.int(), scale) }

// Float64 is the nearest double.
func (a Amount) Float64() float64 {
	f, _ := a.Rat().Float64()
	return f
}

// Ratio is a/b as a double, 0 when b is zero.
func (a Amount) Ratio(b Amount) float64 {
	if b.IsZero() {
		return 0
	}
	f, _ := new(big.Rat).SetFrac(a.int(), b.int()).Float64()
	return f
}

// String is the exact decimal, without trailing zeros: "12.5", "0.00001".
func (a Amount) String() string {
	q, r := new(big.Int).QuoRem(a.int(), scale, new(big.Int))
	if r.Sign() == 0 {
		return q.String()
	}
	frac := r.String()
	frac = strings.Repeat("0", Scale-len(frac)) + frac
	return q.String() + "." + strings.TrimRight(frac, "0")
}

// MarshalText writes the decimal.
func (a Amount) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads a decimal.
func (a *Amount) UnmarshalText(b []byte) error {
	v, err := ParseDecimal(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// IsCurrencyCode reports whether s has the form of an ISO 4217 code, the
// currency an Amount is in: three capital letters A-Z (a code goes into
// file names, ledgers and pages, so nothing else passes).
func IsCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range len(s) {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
