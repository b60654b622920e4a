// Package chargebackprocessor implements the chargeback processor: it
// attributes GitHub Copilot CLI spend to team, project, cost center and
// ticket, prices it, tracks budgets, and joins the CLI's own OpenTelemetry
// to the session context seen by the copilot receiver.
package chargebackprocessor // import "github.com/otelcol-copilot/otelcol-copilot/processor/chargebackprocessor"

//go:generate go tool mdatagen metadata.yaml
