package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Row is one priced usage point group: the usage of one session by one
// model and agent (and initiator) in one point window, as the chargeback
// processor prices it (its copilot.cost points and the usage points that
// share their resource, attributes and times), with its attribution.
//
// Cost is the exact decimal the processor priced: the copilot.cost points
// are doubles, and the shortest decimal that reads back as the same double
// is the amount the processor computed (its amounts have far fewer than 15
// significant digits). A group the processor could not price has cost 0
// and no CostMethod.
type Row struct {
	ID        string // x_RowId: see ComputeID
	Collector string // x_Collector: the collector that wrote the row

	BillingAccountID   string
	BillingAccountName string
	Currency           string // BillingCurrency, ISO 4217 (the processor's pricing.currency)

	Start, End time.Time // the point window: ChargePeriodStart, ChargePeriodEnd
	Cost       string    // BilledCost = EffectiveCost = ListCost = ContractedCost
	CostMethod string    // copilot.cost.method; methods joined by '+' when several priced the group

	SessionID, User, Repository, Branch string
	Ticket, Team, Project, CostCenter   string
	Agent, Initiator, Model             string

	Requests, InputTokens, OutputTokens, CacheReadTokens, CacheWriteTokens, ReasoningTokens int64
	NanoAIU                                                                                 int64
	PremiumRequests                                                                         string // decimal: multipliers are fractional
	APIDurationMs                                                                           int64
}

// ComputeID sets the row's id: a hash of what the row is about and what it
// says — session, user, repository, branch, model, agent, initiator, point
// window, attribution, usage and cost — and nothing of the collector that
// wrote it or when. A batch delivered twice (a retry, a persistent queue
// replaying after a restart) makes rows with the same ids, which readers
// keep once.
func (r *Row) ComputeID() {
	h := sha256.New()
	for _, s := range []string{r.SessionID, r.User, r.Repository, r.Branch, r.Model, r.Agent, r.Initiator,
		r.Ticket, r.Team, r.Project, r.CostCenter, r.Currency, r.Cost, r.CostMethod, r.PremiumRequests} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var b []byte
	b = binary.LittleEndian.AppendUint64(b, uint64(r.Start.UnixNano()))
	b = binary.LittleEndian.AppendUint64(b, uint64(r.End.UnixNano()))
	for _, n := range []int64{r.Requests, r.InputTokens, r.OutputTokens, r.CacheReadTokens, r.CacheWriteTokens, r.ReasoningTokens, r.NanoAIU, r.APIDurationMs} {
		b = binary.LittleEndian.AppendUint64(b, uint64(n))
	}
	h.Write(b)
	r.ID = hex.EncodeToString(h.Sum(nil)[:16])
}

// Day is the UTC day a row belongs to, by the start of its point window:
// the ledger's files are one per day.
func (r *Row) Day() string { return r.Start.UTC().Format(time.DateOnly) }

// TimeFormat is FOCUS's date/time format: ISO 8601 in UTC, to the second.
const TimeFormat = "2006-01-02T15:04:05Z"

// billingPeriod is the calendar month (UTC) the point window starts in:
// GitHub bills Copilot by the month.
func billingPeriod(t time.Time) (time.Time, time.Time) {
	t = t.UTC()
	start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 1, 0)
}

// periodEnd is the end of the point window rounded up to the second, so
// that the charge period, to FOCUS's precision, still contains it.
func periodEnd(t time.Time) time.Time {
	t = t.UTC()
	if tr := t.Truncate(time.Second); !tr.Equal(t) {
		return tr.Add(time.Second)
	}
	return t
}

// pricing is the row's PricingQuantity and PricingUnit: what the method
// that priced it counts (AI credits, premium requests, million tokens;
// unpriced usage in million tokens at no cost). FOCUS wants both on every
// Usage row, and a unit's quantity a whole number ("1000000 Tokens").
func (r *Row) pricing() (quantity, unit string) {
	method, _, _ := strings.Cut(r.CostMethod, "+")
	switch method {
	case "ai_credits":
		return new(big.Rat).SetFrac64(r.NanoAIU, 1e9).FloatString(9), PricingUnitAICredits
	case "premium_requests":
		return orZero(r.PremiumRequests), PricingUnitPremiumRequests
	}
	return new(big.Rat).SetFrac64(r.InputTokens+r.OutputTokens, 1e6).FloatString(6), PricingUnitMillionTokens
}

// skuPriceID names the price the row was charged at: the model's price by
// the method (FOCUS: PricingQuantity and ConsumedQuantity are null exactly
// when SkuPriceId is, and Usage rows have both).
func (r *Row) skuPriceID() string {
	method := r.CostMethod
	if method == "" {
		method = "unpriced"
	}
	return r.skuID() + "/" + method
}

// skuID is the model, the SKU of Copilot usage ("unknown" where the
// usage names none: a SkuPriceId has one parent SkuId).
func (r *Row) skuID() string {
	if r.Model == "" {
		return "unknown"
	}
	return r.Model
}

// tags is the row's Tags: the attribution, FOCUS's user-defined tags.
func (r *Row) tags() string {
	m := map[string]string{}
	for k, v := range map[string]string{"team": r.Team, "project": r.Project, "ticket": r.Ticket, "cost_center": r.CostCenter} {
		if v != "" {
			m[k] = v
		}
	}
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m) // sorted keys
	return string(b)
}

// pooled reports whether the row is a share of pooled spend (the
// organisation's AI credits or premium requests, split to sessions by their
// usage): those rows carry FOCUS's Allocated* columns. Token-priced
// (bring-your-own-key) spend is the session's own.
func (r *Row) pooled() bool {
	return strings.HasPrefix(r.CostMethod, "ai_credits") || strings.HasPrefix(r.CostMethod, "premium_requests")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// record is the row's values in Columns order; "" is null.
func (r *Row) record() []string {
	bpStart, bpEnd := billingPeriod(r.Start)
	pq, pu := r.pricing()
	consumed, consumedUnit := itoa(r.InputTokens+r.OutputTokens), ConsumedUnitTokens
	desc := "Copilot usage"
	if r.Model != "" {
		desc += " of " + r.Model
	}
	if r.Agent != "" {
		desc += " by agent " + r.Agent
	}
	// The session is the resource; its display name is the repository it
	// worked in. A session without one has only its system-generated id,
	// which FOCUS forbids repeating as the name, and a row without a
	// session has no resource: no name and no type either.
	var resourceName, resourceType string
	if r.SessionID != "" {
		resourceName, resourceType = r.Repository, ResourceTypeSession
	}
	tags := r.tags()
	var allocMethod, allocDetails, allocID, allocName, allocTags string
	if r.pooled() && r.SessionID != "" {
		allocMethod = "copilot-usage-" + strings.SplitN(r.CostMethod, "+", 2)[0]
		d, _ := json.Marshal(map[string]string{"basis": "usage", "method": r.CostMethod})
		allocDetails = string(d)
		allocID, allocName, allocTags = r.SessionID, resourceName, tags
	}
	v := map[string]string{
		"BilledCost": r.Cost, "EffectiveCost": r.Cost, "ListCost": r.Cost, "ContractedCost": r.Cost,
		"BillingAccountId": r.BillingAccountID, "BillingAccountName": r.BillingAccountName,
		"BillingCurrency":    r.Currency,
		"BillingPeriodStart": bpStart.Format(TimeFormat), "BillingPeriodEnd": bpEnd.Format(TimeFormat),
		"ChargeCategory": ChargeCategoryUsage, "ChargeClass": "", "ChargeDescription": desc,
		"ChargeFrequency":   ChargeFrequencyUsageBased,
		"ChargePeriodStart": r.Start.UTC().Truncate(time.Second).Format(TimeFormat),
		"ChargePeriodEnd":   periodEnd(r.End).Format(TimeFormat),
		"ConsumedQuantity":  consumed, "ConsumedUnit": consumedUnit,
		"HostProviderName": ProviderGitHub, "InvoiceIssuerName": ProviderGitHub,
		"ProviderName": ProviderGitHub, "PublisherName": ProviderGitHub, "ServiceProviderName": ProviderGitHub,
		"PricingCategory": PricingCategoryStandard, "PricingQuantity": pq, "PricingUnit": pu,
		"ResourceId": r.SessionID, "ResourceName": resourceName, "ResourceType": resourceType,
		"ServiceCategory": ServiceCategoryAI, "ServiceName": ServiceNameCopilot, "ServiceSubcategory": ServiceSubcategoryGenAI,
		"SkuId": r.skuID(), "SkuPriceId": r.skuPriceID(), "Tags": tags,
		"AllocatedMethodId": allocMethod, "AllocatedMethodDetails": allocDetails,
		"AllocatedResourceId": allocID, "AllocatedResourceName": allocName, "AllocatedTags": allocTags,

		"x_RowId": r.ID, "x_Collector": r.Collector, "x_SessionId": r.SessionID, "x_UserName": r.User,
		"x_Repository": r.Repository, "x_Branch": r.Branch, "x_Ticket": r.Ticket, "x_Team": r.Team,
		"x_Project": r.Project, "x_CostCenter": r.CostCenter, "x_Agent": r.Agent, "x_Initiator": r.Initiator,
		"x_Model": r.Model, "x_Requests": itoa(r.Requests), "x_InputTokens": itoa(r.InputTokens),
		"x_OutputTokens": itoa(r.OutputTokens), "x_CacheReadTokens": itoa(r.CacheReadTokens),
		"x_CacheWriteTokens": itoa(r.CacheWriteTokens), "x_ReasoningTokens": itoa(r.ReasoningTokens),
		"x_NanoAiu": itoa(r.NanoAIU), "x_PremiumRequests": orZero(r.PremiumRequests),
		"x_ApiDurationMs": itoa(r.APIDurationMs), "x_CostMethod": r.CostMethod,
	}
	out := make([]string, len(Columns))
	for i, c := range Columns {
		out[i] = v[c.Name]
	}
	return out
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// Record is the row's values in Columns order, as the CSV file has them;
// "" is null.
func Record(r *Row) []string { return r.record() }
