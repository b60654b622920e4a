// Package consoleexporter implements the console exporter: it writes one
// line a person can read for each session end (the copilot receiver's
// copilot.session.summary records) and each budget crossing (the
// chargeback processor's copilot.budget.crossing records) to the
// collector's standard output, and nothing for any other record.
package consoleexporter // import "github.com/otelcol-copilot/otelcol-copilot/exporter/consoleexporter"

//go:generate go tool mdatagen metadata.yaml
