package money

import (
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAndString(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "0.00": "0", "12.50": "12.5", "0.01": "0.01", "1": "1", ".5": "0.5", "5.": "5",
		"0.000000000000000001": "0.000000000000000001", "123456789012345678901234567890": "123456789012345678901234567890",
	} {
		a, err := ParseDecimal(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, a.String(), in)
		b, _ := a.MarshalText()
		var c Amount
		require.NoError(t, c.UnmarshalText(b))
		assert.Equal(t, 0, a.Cmp(c))
	}
	for _, bad := range []string{"", ".", "-1", "+1", "1e3", "0.0000000000000000001", "1,5", "abc", "1.2.3", " "} {
		_, err := ParseDecimal(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// TestNoDrift: a million tiny amounts add up exactly, where float64 would
// not: 1e6 calls of 1 nano-AIU at US$0.01 per credit (1e9 nano-AIU) are
// US$0.00001 exactly.
func TestNoDrift(t *testing.T) {
	perCredit := MustParse("0.01")
	one, exact := perCredit.MulInt(1).DivInt(1e9) // one nano-AIU
	require.True(t, exact)
	sum := Zero()
	f := 0.0
	for range 1_000_000 {
		sum = sum.Add(one)
		f += 0.01 / 1e9
	}
	assert.Equal(t, "0.00001", sum.String())
	assert.NotEqual(t, 0.00001, f, "float64 drifts; this test shows why Amount exists")
	assert.InDelta(t, 0.00001, sum.Float64(), 0)
}

func TestArithmetic(t *testing.T) {
	a := MustParse("0.04")
	assert.Equal(t, "0.12", a.MulInt(3).String())
	q, exact := MustParse("1").DivInt(3)
	assert.False(t, exact)
	assert.Equal(t, "0.333333333333333333", q.String())
	assert.Equal(t, 0.5, MustParse("1").Ratio(MustParse("2")))
	assert.Zero(t, MustParse("1").Ratio(Zero()))
	assert.True(t, Zero().IsZero())
	assert.Equal(t, big.NewInt(40000000000000000), a.Atto())
	assert.Equal(t, 1, a.Cmp(Zero()))
}

func TestIsCurrencyCode(t *testing.T) {
	for _, ok := range []string{"USD", "EUR", "JPY"} {
		assert.True(t, IsCurrencyCode(ok), ok)
	}
	for _, bad := range []string{"", "US", "USDX", "usd", "Usd", "<A>", "1$%", "ÜSD", "US1"} {
		assert.False(t, IsCurrencyCode(bad), bad)
	}
}
