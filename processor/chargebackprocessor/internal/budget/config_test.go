package budget

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validConfig() Config {
	return Config{Name: "team-daily", Scope: ScopeTeam, Amount: "500", Period: PeriodDay}
}

func TestValidate(t *testing.T) {
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   string // substring of the error; "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"all scopes", func(c *Config) { c.Scope = ScopeCostCenter }, ""},
		{"one value", func(c *Config) { c.Value = "payments" }, ""},
		{"decimal amount", func(c *Config) { c.Amount = "12.50" }, ""},
		{"week sunday", func(c *Config) { c.Period, c.WeekStart = PeriodWeek, "sunday" }, ""},
		{"month in a zone", func(c *Config) { c.Period, c.Timezone = PeriodMonth, "Europe/Paris" }, ""},
		{"fixed", func(c *Config) { c.Period, c.Start, c.End = PeriodFixed, start, start.AddDate(0, 0, 14) }, ""},
		{"thresholds above 100", func(c *Config) { c.Thresholds = []float64{80, 100, 150} }, ""},
		{"no name", func(c *Config) { c.Name = "" }, "name: required"},
		{"no scope", func(c *Config) { c.Scope = "" }, "scope: required"},
		{"bad scope", func(c *Config) { c.Scope = "org" }, `scope: "org" is not one of`},
		{"no amount", func(c *Config) { c.Amount = "" }, "amount: required"},
		{"bad amount", func(c *Config) { c.Amount = "$5" }, "amount: "},
		{"negative amount", func(c *Config) { c.Amount = "-5" }, "amount: "},
		{"zero amount", func(c *Config) { c.Amount = "0.00" }, "amount: must be greater than 0"},
		{"no period", func(c *Config) { c.Period = "" }, "period: required"},
		{"bad period", func(c *Config) { c.Period = "year" }, `period: "year" is not one of`},
		{"start on a day budget", func(c *Config) { c.Start = start }, "start: start and end apply to period \"fixed\" only"},
		{"fixed without start", func(c *Config) { c.Period, c.End = PeriodFixed, start }, "start: required"},
		{"fixed without end", func(c *Config) { c.Period, c.Start = PeriodFixed, start }, "end: required"},
		{"fixed end before start", func(c *Config) { c.Period, c.Start, c.End = PeriodFixed, start, start }, "end: 2026-06-01T00:00:00Z is not after start"},
		{"bad timezone", func(c *Config) { c.Timezone = "Mars/Olympus" }, `timezone: "Mars/Olympus" is not an IANA time zone`},
		{"bad week start", func(c *Config) { c.WeekStart = "friday" }, `week_start: "friday" is not monday or sunday`},
		{"zero threshold", func(c *Config) { c.Thresholds = []float64{0, 50} }, "thresholds: 0 is not a percent greater than 0"},
		{"decreasing thresholds", func(c *Config) { c.Thresholds = []float64{50, 90, 75} }, "thresholds: 75 after 90: thresholds must be strictly increasing"},
		{"repeated threshold", func(c *Config) { c.Thresholds = []float64{50, 50} }, "strictly increasing"},
		{"too many thresholds", func(c *Config) {
			c.Thresholds = nil
			for i := range MaxThresholds + 1 {
				c.Thresholds = append(c.Thresholds, float64(i+1))
			}
		}, "thresholds: 65 thresholds, at most 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.modify(&c)
			err := c.Validate()
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestValidateAll: every problem of every budget, each naming its budget,
// and duplicate names.
func TestValidateAll(t *testing.T) {
	a := validConfig()
	b := validConfig()
	b.Name, b.Amount, b.Period = "broken", "0", "year"
	c := validConfig() // same name as a
	err := ValidateAll([]Config{a, b, c})
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	assert.Equal(t, []string{
		`budgets::1 ("broken"): amount: must be greater than 0`,
		`budgets::1 ("broken"): period: "year" is not one of day, week, month, fixed`,
		`budgets::2 ("team-daily"): name: also the name of budgets::0`,
	}, lines)

	assert.NoError(t, ValidateAll([]Config{a}))
	assert.NoError(t, ValidateAll(nil))
	_, err = New([]Config{a, c}, nil, nil)
	assert.ErrorContains(t, err, `budgets::1 ("team-daily"): name: also the name of budgets::0`)
}

func TestDefaultThresholds(t *testing.T) {
	b, err := validConfig().compile()
	require.NoError(t, err)
	assert.Equal(t, []float64{50, 75, 90, 100}, b.thresholds)
}

// TestThresholdAmounts: a threshold is reached at ceil(amount × percent /
// 100), with the percent taken as the decimal it is written as.
func TestThresholdAmounts(t *testing.T) {
	c := validConfig()
	c.Amount = "10"
	c.Thresholds = []float64{33.3, 100, 150}
	b, err := c.compile()
	require.NoError(t, err)
	assert.Equal(t, "3330000000000000000", b.thrAtto[0].String())  // 3.33 exactly
	assert.Equal(t, "10000000000000000000", b.thrAtto[1].String()) // 10
	assert.Equal(t, "15000000000000000000", b.thrAtto[2].String()) // 15

	c.Amount = "0.000000000000000001" // 1 atto: 33.3% of it rounds up to 1
	b, err = c.compile()
	require.NoError(t, err)
	assert.Equal(t, "1", b.thrAtto[0].String())
	assert.Equal(t, "2", b.thrAtto[2].String())
}
