package forwarder

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/otelcol-copilot/otelcol-copilot/internal/chargeback"
	"github.com/otelcol-copilot/otelcol-copilot/internal/session"
)

// EnvVar is one variable of the usage as environment variables (Option B).
type EnvVar struct {
	Name, Value string
}

// EnvPrefix starts the name of every usage variable.
const EnvPrefix = "COPILOT_SESSION_"

// UsageEnv returns a session's usage as COPILOT_SESSION_* variables:
// counts as integers, AI credits as an exact decimal (nano-AIU / 1e9),
// premium requests as a decimal, the model with the most requests, and the
// models by requests (most first, then by name).
func UsageEnv(sessionID string, u session.UsageSummary) []EnvVar {
	models := Models(u)
	model := ""
	if len(models) > 0 {
		model = models[0]
	}
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	vars := []EnvVar{
		{"ID", sessionID},
		{"AI_CREDITS", Credits(u.TotalNanoAIU)},
		{"NANO_AIU", i(u.TotalNanoAIU)},
		{"PREMIUM_REQUESTS", Decimal(u.TotalPremiumRequestCost)},
		{"USER_REQUESTS", i(u.TotalUserRequests)},
		{"REQUESTS", i(u.Calls())},
		{"API_DURATION_MS", i(u.TotalAPIDurationMs)},
		{"INPUT_TOKENS", i(u.TokenDetails.Input)},
		{"OUTPUT_TOKENS", i(u.TokenDetails.Output)},
		{"CACHE_READ_TOKENS", i(u.TokenDetails.CacheRead)},
		{"CACHE_WRITE_TOKENS", i(u.TokenDetails.CacheWrite)},
		{"REASONING_TOKENS", i(u.TokenDetails.Reasoning)},
		{"MODEL", model},
		{"MODELS", strings.Join(models, ",")},
		{"LINES_ADDED", i(u.CodeChanges.LinesAdded)},
		{"LINES_REMOVED", i(u.CodeChanges.LinesRemoved)},
		{"FILES_MODIFIED", i(u.CodeChanges.FilesModified)},
	}
	for k := range vars {
		vars[k].Name = EnvPrefix + vars[k].Name
	}
	return vars
}

// ChargeEnv returns who pays for a session and what it cost so far, as
// COPILOT_SESSION_* variables, attributed and priced by the chargeback
// processor's code (chargeback.SessionCharge): TICKET, TEAM, PROJECT,
// COST_CENTER (the unattributed value where nothing decided), COST (an
// exact decimal in CURRENCY), and TOTAL_TOKENS (input and output tokens as
// the CLI counts them: input includes the cached, output the reasoning).
func ChargeEnv(ch chargeback.Charge, u session.UsageSummary) []EnvVar {
	vars := []EnvVar{
		{"TICKET", ch.Attribution.Ticket},
		{"TEAM", ch.Attribution.Team},
		{"PROJECT", ch.Attribution.Project},
		{"COST_CENTER", ch.Attribution.CostCenter},
		{"COST", ch.Cost.String()},
		{"CURRENCY", ch.Currency},
		{"TOTAL_TOKENS", strconv.FormatInt(u.TokenDetails.Input+u.TokenDetails.Output, 10)},
	}
	for k := range vars {
		vars[k].Name = EnvPrefix + vars[k].Name
	}
	return vars
}

// FormatEnv writes variables as NAME='value' lines, for eval in a POSIX
// shell.
func FormatEnv(vars []EnvVar) string {
	var b strings.Builder
	for _, v := range vars {
		b.WriteString(v.Name)
		b.WriteByte('=')
		b.WriteString(ShellQuote(v.Value))
		b.WriteByte('\n')
	}
	return b.String()
}

// Models returns the models of a usage summary, most requests first, then
// by name.
func Models(u session.UsageSummary) []string {
	models := make([]string, 0, len(u.ModelMetrics))
	for m := range u.ModelMetrics {
		models = append(models, m)
	}
	slices.SortFunc(models, func(a, b string) int {
		ra, rb := u.ModelMetrics[a].Requests.Count, u.ModelMetrics[b].Requests.Count
		if ra != rb {
			if ra > rb {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	return models
}

// Credits writes nano-AIU as AI credits (1 credit = 1e9 nano-AIU), exactly:
// integer arithmetic, no trailing zeros.
func Credits(nano int64) string {
	neg := nano < 0
	u := uint64(nano)
	if neg {
		u = uint64(-(nano + 1)) + 1 // also right for math.MinInt64
	}
	whole, frac := u/1e9, u%1e9
	s := strconv.FormatUint(whole, 10)
	if frac != 0 {
		f := strconv.FormatUint(frac, 10)
		f = strings.Repeat("0", 9-len(f)) + f
		s += "." + strings.TrimRight(f, "0")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Decimal writes a premium-request count (a sum of model multipliers such
// as 0.33) rounded to 6 decimals, without float noise or trailing zeros.
func Decimal(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	r := math.Round(v*1e6) / 1e6
	if r == 0 {
		return "0"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}
