package ledger

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleRow() Row {
	r := Row{
		Collector: "gw-1", BillingAccountID: "acme", BillingAccountName: "Acme", Currency: "USD",
		Start: time.Date(2026, 3, 31, 23, 59, 59, 500e6, time.UTC), End: time.Date(2026, 4, 1, 0, 0, 1, 250e6, time.UTC),
		Cost: "0.046357675", CostMethod: "ai_credits",
		SessionID: "0b1e1ed0-0000-0000-0000-000000000002", User: "dev", Repository: "acme/payments-api", Branch: "feature/PAY-4411-x",
		Ticket: "PAY-4411", Team: "payments", Project: "payments-api", CostCenter: "CC-100",
		Agent: "main", Initiator: "user", Model: "claude-sonnet-4.5",
		Requests: 2, InputTokens: 44525, OutputTokens: 250, CacheReadTokens: 40000, ReasoningTokens: 10,
		NanoAIU: 4635767500, PremiumRequests: "2", APIDurationMs: 80,
	}
	r.ComputeID()
	return r
}

// The FOCUS 1.3 requirements of the columns the ledger writes, from the
// specification's column pages (Content Constraints: data type, allows
// nulls, allowed values), checked against the column list and a written
// file.
func TestFOCUSConformance(t *testing.T) {
	type spec struct {
		typ      string
		nullable bool
		allowed  []string
	}
	focus := map[string]spec{
		"BilledCost":         {TypeDecimal, false, nil},
		"BillingAccountId":   {TypeString, false, nil},
		"BillingAccountName": {TypeString, true, nil},
		"BillingCurrency":    {TypeString, false, nil},
		"BillingPeriodStart": {TypeDateTime, false, nil},
		"BillingPeriodEnd":   {TypeDateTime, false, nil},
		"ChargeCategory":     {TypeString, false, []string{"Usage", "Purchase", "Tax", "Credit", "Adjustment"}},
		"ChargeClass":        {TypeString, true, []string{"Correction"}},
		"ChargeDescription":  {TypeString, true, nil},
		"ChargeFrequency":    {TypeString, false, []string{"One-Time", "Recurring", "Usage-Based"}},
		"ChargePeriodStart":  {TypeDateTime, false, nil},
		"ChargePeriodEnd":    {TypeDateTime, false, nil},
		"ConsumedQuantity":   {TypeDecimal, true, nil},
		"ConsumedUnit":       {TypeString, true, nil},
		"ContractedCost":     {TypeDecimal, false, nil},
		"EffectiveCost":      {TypeDecimal, false, nil},
		"HostProviderName":   {TypeString, false, nil},
		"InvoiceIssuerName":  {TypeString, false, nil},
		"ListCost":           {TypeDecimal, false, nil},
		"PricingCategory":    {TypeString, true, []string{"Standard", "Dynamic", "Committed", "Other"}},
		"PricingQuantity":    {TypeDecimal, true, nil},
		"PricingUnit":        {TypeString, true, nil},
		"ServiceCategory": {TypeString, false, []string{"AI and Machine Learning", "Analytics", "Business Applications", "Compute",
			"Databases", "Developer Tools", "Identity", "Integration", "Internet of Things", "Management and Governance",
			"Media", "Migration", "Mobile", "Multicloud", "Networking", "Security", "Storage", "Web", "Other"}},
		"ServiceName":         {TypeString, false, nil},
		"ServiceSubcategory":  {TypeString, false, []string{"AI Platforms", "Bots", "Generative AI", "Machine Learning", "Natural Language Processing", "Other (AI and Machine Learning)"}},
		"ServiceProviderName": {TypeString, false, nil},
		"SkuId":               {TypeString, true, nil},
		"SkuPriceId":          {TypeString, true, nil},
		"Tags":                {TypeJSON, true, nil},
		"AllocatedMethodId":   {TypeString, true, nil},
		"AllocatedResourceId": {TypeString, true, nil},
		"AllocatedTags":       {TypeJSON, true, nil},
	}
	byName := map[string]Column{}
	for _, c := range Columns {
		require.NotContains(t, byName, c.Name, "column twice")
		byName[c.Name] = c
		if c.Custom {
			assert.True(t, strings.HasPrefix(c.Name, "x_"), "custom columns are x_-prefixed: %s", c.Name)
		} else {
			assert.False(t, strings.HasPrefix(c.Name, "x_"), c.Name)
			assert.Regexp(t, `^[A-Z][A-Za-z]+$`, c.Name, "FOCUS column ids are PascalCase")
		}
	}
	for name, s := range focus {
		c, ok := byName[name]
		if !assert.True(t, ok, "missing FOCUS column %s", name) {
			continue
		}
		assert.Equal(t, s.typ, c.Type, name)
		assert.Equal(t, s.nullable, c.Nullable, name)
		if s.allowed != nil && c.Allowed != nil {
			assert.Subset(t, s.allowed, c.Allowed, name)
		}
	}

	// A written file: every value of its type, nulls only where allowed,
	// fixed values among the allowed ones, costs in their currency.
	unpriced := sampleRow()
	unpriced.Cost, unpriced.CostMethod, unpriced.NanoAIU, unpriced.SessionID = "0", "", 0, ""
	unpriced.ComputeID()
	var buf bytes.Buffer
	require.NoError(t, WriteCSV(&buf, []Row{sampleRow(), unpriced}))
	recs, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Equal(t, ColumnNames(), recs[0])
	dateTime := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	for _, rec := range recs[1:] {
		val := map[string]string{}
		for i, c := range Columns {
			v := rec[i]
			val[c.Name] = v
			if v == "" {
				assert.True(t, c.Nullable, "%s is null", c.Name)
				continue
			}
			switch c.Type {
			case TypeDecimal:
				_, err := strconv.ParseFloat(v, 64)
				assert.NoError(t, err, c.Name)
				assert.NotContains(t, v, "e", "decimals are written without exponent: %s", c.Name)
			case TypeDateTime:
				assert.Regexp(t, dateTime, v, c.Name)
			case TypeJSON:
				var obj map[string]any
				assert.NoError(t, json.Unmarshal([]byte(v), &obj), c.Name)
			}
			if c.Allowed != nil {
				assert.Contains(t, c.Allowed, v, c.Name)
			}
		}
		assert.Equal(t, "Usage", val["ChargeCategory"])
		assert.Equal(t, val["BilledCost"], val["EffectiveCost"])
		assert.Less(t, val["ChargePeriodStart"], val["ChargePeriodEnd"])
		assert.LessOrEqual(t, val["BillingPeriodStart"], val["ChargePeriodStart"])
		assert.Equal(t, (val["PricingQuantity"] == ""), (val["PricingUnit"] == ""), "a quantity has a unit")
		assert.Equal(t, (val["ConsumedQuantity"] == ""), (val["ConsumedUnit"] == ""), "a quantity has a unit")
		assert.Equal(t, (val["AllocatedMethodId"] == ""), (val["AllocatedResourceId"] == ""))
		if val["ResourceId"] == "" {
			assert.Empty(t, val["ResourceName"], "ResourceName is null when ResourceId is")
			assert.Empty(t, val["ResourceType"], "ResourceType is null when ResourceId is")
		} else {
			assert.NotEqual(t, val["ResourceId"], val["ResourceName"], "ResourceName does not repeat a generated ResourceId")
			assert.NotEmpty(t, val["ResourceType"])
		}
		assert.Regexp(t, `^([1-9][0-9]* )?[A-Z][A-Za-z]*( [A-Z][A-Za-z]*)*$`, val["PricingUnit"], "UnitFormat: a whole-number quantity")
		// Usage rows (not corrections) have a price id and both quantities.
		assert.NotEmpty(t, val["SkuPriceId"])
		assert.NotEmpty(t, val["SkuId"], "a SkuPriceId has a parent SkuId")
		assert.NotEmpty(t, val["PricingQuantity"])
		assert.NotEmpty(t, val["ConsumedQuantity"])
	}
	first := map[string]string{}
	for i, c := range Columns {
		first[c.Name] = recs[1][i]
	}
	assert.Equal(t, "2026-03-01T00:00:00Z", first["BillingPeriodStart"])
	assert.Equal(t, "2026-04-01T00:00:00Z", first["BillingPeriodEnd"], "exclusive end")
	assert.Equal(t, "2026-03-31T23:59:59Z", first["ChargePeriodStart"])
	assert.Equal(t, "2026-04-01T00:00:02Z", first["ChargePeriodEnd"], "rounded up to contain the window")
	assert.Equal(t, "4.635767500", first["PricingQuantity"])
	assert.Equal(t, PricingUnitAICredits, first["PricingUnit"])
	assert.Equal(t, `{"cost_center":"CC-100","project":"payments-api","team":"payments","ticket":"PAY-4411"}`, first["Tags"])
	assert.Equal(t, first["Tags"], first["AllocatedTags"])
	assert.Equal(t, "claude-sonnet-4.5", first["SkuId"])
	assert.Equal(t, "claude-sonnet-4.5/ai_credits", first["SkuPriceId"])
	assert.Equal(t, "44775", first["ConsumedQuantity"])
}

func TestRoundTripAndDedup(t *testing.T) {
	dir := t.TempDir()
	a := sampleRow()
	b := sampleRow()
	b.Model, b.Cost = "gpt-4.1", "0.01"
	b.ComputeID()
	require.NotEqual(t, a.ID, b.ID)
	again := sampleRow()
	require.Equal(t, a.ID, again.ID, "the same content has the same id")
	again.Collector = "gw-2"
	again.ComputeID()
	require.Equal(t, a.ID, again.ID, "the collector is not part of the id")

	require.NoError(t, WriteFile(filepath.Join(dir, FileName("gw-1", a.Day())), []Row{a, b}))
	require.NoError(t, WriteFile(filepath.Join(dir, FileName("gw-2", a.Day())), []Row{again}))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".copilot-usage-gw-1-x.csv.tmp-1"), []byte("junk"), 0o644))
	rows, err := ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	ids := []string{rows[0].ID, rows[1].ID}
	assert.True(t, slices.Contains(ids, a.ID) && slices.Contains(ids, b.ID))
	for _, r := range rows {
		if r.ID == a.ID {
			assert.Equal(t, a.Cost, r.Cost)
			assert.Equal(t, a.NanoAIU, r.NanoAIU)
			assert.Equal(t, a.Ticket, r.Ticket)
			assert.Equal(t, a.PremiumRequests, r.PremiumRequests)
			assert.Equal(t, a.Start.Truncate(time.Second), r.Start)
		}
	}
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 3, "no temporary files left by a write")
}

func FuzzReadCSV(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteCSV(&buf, []Row{sampleRow()})
	f.Add(buf.Bytes())
	f.Add([]byte("x_RowId,BilledCost\n1,2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ReadCSV(bytes.NewReader(b))
	})
}

// A file's digest is the same written and read back, and another file's
// (its Parquet copy records it, and is rewritten when it differs).
func TestFileDigest(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName("gw-1", "2026-03-31"))
	_, digest, err := ReadFileDigest(path)
	require.NoError(t, err)
	assert.Empty(t, digest, "no file")
	a := sampleRow()
	written, err := WriteFileDigest(path, []Row{a})
	require.NoError(t, err)
	rows, read, err := ReadFileDigest(path)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, written, read)
	b := a
	b.Cost = "0.5"
	b.ComputeID()
	other, err := WriteFileDigest(path, []Row{a, b})
	require.NoError(t, err)
	assert.NotEqual(t, written, other)
}
