// Package usageledgerexporter implements the usage_ledger exporter: it
// writes the priced, attributed Copilot usage the chargeback processor
// emits as FOCUS 1.3 CSV files, one per UTC day and collector, written
// atomically, for FinOps tools and the report command (internal/ledger).
package usageledgerexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/usageledgerexporter"

//go:generate go tool mdatagen metadata.yaml
