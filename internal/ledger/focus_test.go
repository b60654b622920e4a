package ledger

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// values is a row's record by column name.
func values(r Row) map[string]string {
	rec := r.record()
	m := make(map[string]string, len(Columns))
	for i, c := range Columns {
		m[c.Name] = rec[i]
	}
	return m
}

// FOCUS ResourceName and ResourceType: null when ResourceId is null. A row
// without a session has no resource, so no resource name or type, and no
// allocation to one.
func TestResourceColumnsNullWithoutSession(t *testing.T) {
	for _, repository := range []string{"acme/payments-api", ""} {
		r := sampleRow()
		r.SessionID, r.Repository = "", repository
		r.ComputeID()
		v := values(r)
		assert.Empty(t, v["ResourceId"])
		assert.Empty(t, v["ResourceName"], "repository %q", repository)
		assert.Empty(t, v["ResourceType"], "repository %q", repository)
		assert.Empty(t, v["AllocatedResourceId"])
		assert.Empty(t, v["AllocatedResourceName"])
	}
}

// FOCUS ResourceName: it must not repeat a system-generated ResourceId. A
// session's name is its repository; a session without one has no name
// (null), not its id again. Its type stays.
func TestResourceNameIsNotTheSessionID(t *testing.T) {
	r := sampleRow()
	v := values(r)
	assert.Equal(t, r.SessionID, v["ResourceId"])
	assert.Equal(t, "acme/payments-api", v["ResourceName"])
	assert.Equal(t, ResourceTypeSession, v["ResourceType"])

	r.Repository = ""
	r.ComputeID()
	v = values(r)
	assert.Equal(t, r.SessionID, v["ResourceId"])
	assert.Empty(t, v["ResourceName"])
	assert.Empty(t, v["AllocatedResourceName"])
	assert.Equal(t, r.SessionID, v["AllocatedResourceId"])
	assert.Equal(t, ResourceTypeSession, v["ResourceType"])
}

// FOCUS UnitFormat: a unit's quantity is a whole number ("1000 Tokens"),
// so token-priced and unpriced rows count in "1000000 Tokens", not "1M
// Tokens"; the quantity is still in millions.
func TestPricingUnitQuantityIsWholeNumber(t *testing.T) {
	unitFormat := `^([1-9][0-9]* )?[A-Z][A-Za-z]*( [A-Z][A-Za-z]*)*$`
	for _, method := range []string{"ai_credits", "premium_requests", "token_price", "", "ai_credits+token_price"} {
		r := sampleRow()
		r.CostMethod = method
		r.ComputeID()
		v := values(r)
		assert.Regexp(t, unitFormat, v["PricingUnit"], "method %q", method)
		if method == "token_price" || method == "" {
			assert.Equal(t, "1000000 Tokens", v["PricingUnit"])
			assert.Equal(t, "0.044775", v["PricingQuantity"], "44525 + 250 tokens in millions")
		}
	}
}
