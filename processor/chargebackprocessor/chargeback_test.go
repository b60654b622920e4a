package chargebackprocessor

import (
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/attribution"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/money"
	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback/pricing"
)

// testConfig attributes the repositories of the recordings to teams, and
// prices the bring-your-own-key sessions by their tokens.
func testConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Attribution.Rules = []attribution.Rule{
		{Name: "payments", Match: attribution.Match{Repository: "acme/payments-*"}, Set: attribution.Set{Team: "payments", Project: "payments-api", CostCenter: "CC-100"}},
		{Name: "docs", Match: attribution.Match{Repository: "acme/docs-site"}, Set: attribution.Set{Team: "docs", Project: "docs-site"}},
		{Name: "default-cost-center", Set: attribution.Set{CostCenter: "CC-000"}},
	}
	cfg.Pricing.TokenPrices = map[string]pricing.TokenPrices{
		"gpt-4.1":         {Input: "2", Output: "8", CacheRead: "0.5"},
		"claude-sonnet-4": {Input: "3", Output: "15", CacheRead: "0.3", CacheWrite: "3.75"},
	}
	return cfg
}

// cliModelMetrics is a model's entry in a shutdown's modelMetrics.
type cliModelMetrics struct {
	Usage struct {
		InputTokens, OutputTokens, CacheReadTokens, CacheWriteTokens int64
	}
	Requests     struct{ Cost float64 }
	TotalNanoAiu float64
}

// shutdownMetrics reads, with plain encoding/json, the model metrics of
// each transcript's last shutdown: the CLI's own final accounting (all
// these sessions are 1.0.102, whose shutdowns are cumulative).
func shutdownMetrics(t *testing.T, dir string) map[string]map[string]cliModelMetrics {
	type mm = cliModelMetrics
	out := map[string]map[string]mm{}
	files, err := filepath.Glob(filepath.Join(testdataRoot, dir, "session-state", "*", "events.jsonl"))
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, line := range strings.Split(string(b), "\n") {
			var ev struct {
				Type string
				Data struct{ ModelMetrics map[string]mm }
			}
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Type == "session.shutdown" {
				out[filepath.Base(filepath.Dir(f))] = ev.Data.ModelMetrics
			}
		}
	}
	return out
}

// exact reads a cost point back as the exact decimal it was made from:
// costs have far fewer than 15 significant digits, so the shortest
// representation of their double is that decimal.
func exact(t *testing.T, v float64) money.Amount {
	a, err := money.ParseDecimal(strconv.FormatFloat(v, 'f', -1, 64))
	require.NoError(t, err)
	return a
}

func exactRat(r *big.Rat) money.Amount {
	s := r.FloatString(18)
	a, _ := money.ParseDecimal(s)
	return a
}

// TestCostAddsUp runs real transcripts (billed ones, and bring-your-own-key
// ones in two repositories) through the receiver and the processor: the
// costs by team and by ticket add up exactly to the total, which is what a
// hand computation from the CLI's own accounting gives.
func TestCostAddsUp(t *testing.T) {
	r := runReceiver(t, "1.0.102-billed", "1.0.102-repos")
	p := newPipeline(t, testConfig(), nil)
	p.feed(t, r)
	p.stop(t)

	// By hand, from the CLI's shutdowns: AI credits of the billed
	// sessions at US$0.01 per 1e9 nano-AIU, tokens of the others at the
	// test's prices per million.
	want := map[string]*big.Rat{} // method -> amount
	add := func(method string, v *big.Rat) {
		if want[method] == nil {
			want[method] = new(big.Rat)
		}
		want[method].Add(want[method], v)
	}
	for _, models := range shutdownMetrics(t, "1.0.102-billed") {
		for _, m := range models {
			add(pricing.MethodAICredits, new(big.Rat).Mul(big.NewRat(int64(m.TotalNanoAiu), 1e9), big.NewRat(1, 100)))
		}
	}
	prices := map[string][4]*big.Rat{ // input, output, cache read, cache write per million
		"gpt-4.1":         {big.NewRat(2, 1), big.NewRat(8, 1), big.NewRat(1, 2), big.NewRat(2, 1)},
		"claude-sonnet-4": {big.NewRat(3, 1), big.NewRat(15, 1), big.NewRat(3, 10), big.NewRat(375, 100)},
	}
	for _, models := range shutdownMetrics(t, "1.0.102-repos") {
		for name, m := range models {
			pr, ok := prices[name]
			require.True(t, ok, name)
			u := m.Usage
			v := new(big.Rat)
			for i, n := range []int64{u.InputTokens - u.CacheReadTokens - u.CacheWriteTokens, u.OutputTokens, u.CacheReadTokens, u.CacheWriteTokens} {
				v.Add(v, new(big.Rat).Mul(big.NewRat(n, 1), pr[i]))
			}
			add(pricing.MethodTokenPrice, v.Quo(v, big.NewRat(1e6, 1)))
		}
	}
	require.Len(t, want, 2)
	require.Positive(t, want[pricing.MethodAICredits].Sign())

	total := money.Zero()
	byMethod := map[string]money.Amount{}
	byTeam := map[string]money.Amount{}
	byTicket := map[string]money.Amount{}
	points := 0
	for _, m := range metricsNamed(p, mCost) {
		require.Equal(t, "USD", m.Unit())
		require.Equal(t, pmetric.AggregationTemporalityDelta, m.Sum().AggregationTemporality())
		for _, dp := range m.Sum().DataPoints().All() {
			a := exact(t, dp.DoubleValue())
			attrs := dp.Attributes()
			method, team, ticket := strAttr(attrs, attrCostMethod), strAttr(attrs, "team"), strAttr(attrs, "ticket")
			total = total.Add(a)
			byMethod[method] = byMethod[method].Add(a)
			byTeam[team] = byTeam[team].Add(a)
			byTicket[ticket] = byTicket[ticket].Add(a)
			points++
		}
	}
	require.Positive(t, points)
	for method, w := range want {
		assert.Equal(t, exactRat(w).String(), byMethod[method].String(), method)
	}
	sumOf := func(m map[string]money.Amount) money.Amount {
		s := money.Zero()
		for _, v := range m {
			s = s.Add(v)
		}
		return s
	}
	assert.Equal(t, total.String(), sumOf(byTeam).String(), "teams add up to the total")
	assert.Equal(t, total.String(), sumOf(byTicket).String(), "tickets add up to the total")
	assert.Equal(t, exactRat(new(big.Rat).Add(want[pricing.MethodAICredits], want[pricing.MethodTokenPrice])).String(), total.String())
	// The billed sessions have no repository: no team, but the ticket of
	// their branch; the repositories' sessions have their teams.
	assert.Equal(t, byMethod[pricing.MethodAICredits].String(), byTeam["unattributed"].String())
	assert.Positive(t, byTeam["payments"].Sign())
	assert.Positive(t, byTeam["docs"].Sign())
	assert.Positive(t, byTicket["PAY-4411"].Sign())
	assert.Positive(t, byTicket["unattributed"].Sign(), "main and chore/update-deps carry no ticket")
	t.Logf("total %s USD over %d cost points: by team %v, by ticket %v", total, points, byTeam, byTicket)
}

// TestPremiumRequestBilling prices the billed sessions under legacy
// billing: premium requests at US$0.04, from the CLI's own request cost.
func TestPremiumRequestBilling(t *testing.T) {
	r := runReceiver(t, "1.0.102-billed")
	cfg := testConfig()
	cfg.Pricing.Billing = pricing.BillingPremiumRequests
	cfg.Pricing.TokenPrices = nil
	p := newPipeline(t, cfg, nil)
	p.feed(t, r)
	p.stop(t)

	want := new(big.Rat)
	for _, models := range shutdownMetrics(t, "1.0.102-billed") {
		for _, m := range models {
			c, ok := new(big.Rat).SetString(strconv.FormatFloat(m.Requests.Cost, 'f', -1, 64))
			require.True(t, ok)
			want.Add(want, c.Mul(c, big.NewRat(4, 100)))
		}
	}
	require.Positive(t, want.Sign())
	total := money.Zero()
	for _, m := range metricsNamed(p, mCost) {
		for _, dp := range m.Sum().DataPoints().All() {
			require.Equal(t, pricing.MethodPremiumRequests, strAttr(dp.Attributes(), attrCostMethod))
			total = total.Add(exact(t, dp.DoubleValue()))
		}
	}
	assert.Equal(t, exactRat(want).String(), total.String())
}
