// Package ledger is the usage ledger's format: priced, attributed Copilot
// usage as FOCUS 1.3 (FinOps Open Cost and Usage Specification) rows, their
// columns, and the CSV files the usage_ledger exporter writes and the
// report command reads. It imports nothing of the collector, so that the
// lean companion binary can read a ledger.
package ledger // import "github.com/otelcol-copilot/otelcol-copilot/internal/ledger"

// FOCUS data types (the specification's "Data type" of a column).
const (
	TypeString   = "String"
	TypeDecimal  = "Decimal"
	TypeDateTime = "Date/Time"
	TypeJSON     = "JSON"
)

// Column is one column of the ledger: its FOCUS column id (or an
// x_-prefixed custom column), data type, whether it may be null, its unit
// where it has one, and the values it may take where FOCUS fixes them.
type Column struct {
	Name     string
	Type     string
	Nullable bool
	Unit     string
	Allowed  []string
	// Custom is true for the x_-prefixed columns FOCUS leaves to the data
	// generator.
	Custom bool
}

// Values FOCUS allows or the ledger uses in its fixed columns.
const (
	ChargeCategoryUsage        = "Usage"
	ChargeFrequencyUsageBased  = "Usage-Based"
	PricingCategoryStandard    = "Standard"
	ServiceCategoryAI          = "AI and Machine Learning"
	ServiceSubcategoryGenAI    = "Generative AI"
	ServiceNameCopilot         = "GitHub Copilot"
	ProviderGitHub             = "GitHub"
	ResourceTypeSession        = "Copilot CLI Session"
	PricingUnitAICredits       = "AI Credits"
	PricingUnitPremiumRequests = "Premium Requests"
	PricingUnitMillionTokens   = "1000000 Tokens"
	ConsumedUnitTokens         = "Tokens"
)

// Columns are the ledger's columns in file order: the FOCUS 1.3 columns
// that apply to Copilot usage, then the x_ columns. A CSV file's header is
// their names; a reader finds columns by name, so files with columns added
// later still read.
var Columns = []Column{
	{Name: "BilledCost", Type: TypeDecimal, Unit: "BillingCurrency"},
	{Name: "BillingAccountId", Type: TypeString},
	{Name: "BillingAccountName", Type: TypeString, Nullable: true},
	{Name: "BillingCurrency", Type: TypeString},
	{Name: "BillingPeriodStart", Type: TypeDateTime},
	{Name: "BillingPeriodEnd", Type: TypeDateTime},
	{Name: "ChargeCategory", Type: TypeString, Allowed: []string{"Usage", "Purchase", "Tax", "Credit", "Adjustment"}},
	{Name: "ChargeClass", Type: TypeString, Nullable: true, Allowed: []string{"Correction"}},
	{Name: "ChargeDescription", Type: TypeString, Nullable: true},
	{Name: "ChargeFrequency", Type: TypeString, Allowed: []string{"One-Time", "Recurring", "Usage-Based"}},
	{Name: "ChargePeriodStart", Type: TypeDateTime},
	{Name: "ChargePeriodEnd", Type: TypeDateTime},
	{Name: "ConsumedQuantity", Type: TypeDecimal, Nullable: true, Unit: "ConsumedUnit"},
	{Name: "ConsumedUnit", Type: TypeString, Nullable: true},
	{Name: "ContractedCost", Type: TypeDecimal, Unit: "BillingCurrency"},
	{Name: "EffectiveCost", Type: TypeDecimal, Unit: "BillingCurrency"},
	{Name: "HostProviderName", Type: TypeString},
	{Name: "InvoiceIssuerName", Type: TypeString},
	{Name: "ListCost", Type: TypeDecimal, Unit: "BillingCurrency"},
	{Name: "PricingCategory", Type: TypeString, Nullable: true, Allowed: []string{"Standard", "Dynamic", "Committed", "Other"}},
	{Name: "PricingQuantity", Type: TypeDecimal, Nullable: true, Unit: "PricingUnit"},
	{Name: "PricingUnit", Type: TypeString, Nullable: true},
	// ProviderName and PublisherName are deprecated by 1.3 in favour of
	// ServiceProviderName and HostProviderName; kept for tools that load
	// FOCUS 1.0–1.2.
	{Name: "ProviderName", Type: TypeString},
	{Name: "PublisherName", Type: TypeString},
	{Name: "ResourceId", Type: TypeString, Nullable: true},
	{Name: "ResourceName", Type: TypeString, Nullable: true},
	{Name: "ResourceType", Type: TypeString, Nullable: true},
	{Name: "ServiceCategory", Type: TypeString, Allowed: serviceCategories},
	{Name: "ServiceName", Type: TypeString},
	{Name: "ServiceProviderName", Type: TypeString},
	{Name: "ServiceSubcategory", Type: TypeString, Allowed: aiSubcategories},
	{Name: "SkuId", Type: TypeString, Nullable: true},
	{Name: "SkuPriceId", Type: TypeString, Nullable: true},
	{Name: "Tags", Type: TypeJSON, Nullable: true},
	{Name: "AllocatedMethodId", Type: TypeString, Nullable: true},
	{Name: "AllocatedMethodDetails", Type: TypeJSON, Nullable: true},
	{Name: "AllocatedResourceId", Type: TypeString, Nullable: true},
	{Name: "AllocatedResourceName", Type: TypeString, Nullable: true},
	{Name: "AllocatedTags", Type: TypeJSON, Nullable: true},

	{Name: "x_RowId", Type: TypeString, Custom: true},
	{Name: "x_Collector", Type: TypeString, Custom: true},
	{Name: "x_SessionId", Type: TypeString, Nullable: true, Custom: true},
	{Name: "x_UserName", Type: TypeString, Nullable: true, Custom: true},
	{Name: "x_Repository", Type: TypeString, Nullable: true, Custom: true},
	{Name: "x_Branch", Type: TypeString, Nullable: true, Custom: true},
	{Name: "x_Ticket", Type: TypeString, Nullable: true, Custom: true},
	{Name: "x_Team", Type: TypeString, Nullable: true, Custom: true},
	{Name: "x_Project", Type: TypeString, Nullable: true, Custom: true},
	{Name: "x_CostCenter", Type: TypeString, Nullable: true, Custom: true},
	{Name: "x_Agent", Type: TypeString, Nullable: true, Custom: true},
	{Name: "x_Initiator", Type: TypeString, Nullable: true, Custom: true},
	{Name: "x_Model", Type: TypeString, Nullable: true, Custom: true},
	{Name: "x_Requests", Type: TypeDecimal, Unit: "{request}", Custom: true},
	{Name: "x_InputTokens", Type: TypeDecimal, Unit: "{token}", Custom: true},
	{Name: "x_OutputTokens", Type: TypeDecimal, Unit: "{token}", Custom: true},
	{Name: "x_CacheReadTokens", Type: TypeDecimal, Unit: "{token}", Custom: true},
	{Name: "x_CacheWriteTokens", Type: TypeDecimal, Unit: "{token}", Custom: true},
	{Name: "x_ReasoningTokens", Type: TypeDecimal, Unit: "{token}", Custom: true},
	{Name: "x_NanoAiu", Type: TypeDecimal, Unit: "{nanoAIU}", Custom: true},
	{Name: "x_PremiumRequests", Type: TypeDecimal, Unit: "{request}", Custom: true},
	{Name: "x_ApiDurationMs", Type: TypeDecimal, Unit: "ms", Custom: true},
	{Name: "x_CostMethod", Type: TypeString, Nullable: true, Custom: true, Allowed: []string{"ai_credits", "premium_requests", "token_price", "ai_credits+token_price", "premium_requests+token_price"}},
}

// serviceCategories are FOCUS 1.3's ServiceCategory values.
var serviceCategories = []string{"AI and Machine Learning", "Analytics", "Business Applications", "Compute",
	"Databases", "Developer Tools", "Identity", "Integration", "Internet of Things", "Management and Governance",
	"Media", "Migration", "Mobile", "Multicloud", "Networking", "Security", "Storage", "Web", "Other"}

// aiSubcategories are FOCUS 1.3's ServiceSubcategory values under
// "AI and Machine Learning", the only category the ledger writes.
var aiSubcategories = []string{"AI Platforms", "Bots", "Generative AI", "Machine Learning",
	"Natural Language Processing", "Other (AI and Machine Learning)"}

// ColumnNames are the names of Columns, in order: a CSV file's header.
func ColumnNames() []string {
	names := make([]string, len(Columns))
	for i, c := range Columns {
		names[i] = c.Name
	}
	return names
}
